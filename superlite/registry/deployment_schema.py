"""The shape of a deployment file, validated with pydantic (imported only when a file is read)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CanarySpec(BaseModel):
    """A canary on one of the model's aliases: ``percent`` of its requests go to ``version``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    alias: str
    version: int = Field(ge=0)
    percent: int = Field(ge=1, le=99)


class ModelSpec(BaseModel):
    """Where one model's aliases point (``{alias: version}``), at most one canary, and where it runs.

    ``serving``: ``"local"`` runs its predictions in the caller's process even when the caller
    has a broker; ``"remote"`` (or nothing) sends them to workers when there is a broker.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    type: str = "model"
    aliases: dict[str, int] = Field(default_factory=dict)
    canary: CanarySpec | None = None
    serving: Literal["local", "remote"] | None = None


class DeploymentSpec(BaseModel):
    """A deployment file: its ``name`` (what it is stored as) and its models by identifier."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    models: dict[str, ModelSpec]
