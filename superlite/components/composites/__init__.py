"""Composite models: a :class:`Pipeline`, a :class:`Router` and an :class:`Ensemble` of other models."""

from superlite.components.composites.base import CompositeModel
from superlite.components.composites.ensemble import Ensemble
from superlite.components.composites.pipeline import Pipeline
from superlite.components.composites.router import Router

__all__ = ["CompositeModel", "Ensemble", "Pipeline", "Router"]
