"""Component classes: the things a Datalayer stores (one idea per module)."""

from superlite.components.component import Component, Encoded
from superlite.components.model import Model
from superlite.components.object_model import ObjectModel
from superlite.components.reference import Reference, is_reference, parse_reference
from superlite.components.remote import RemoteModel

__all__ = ["Component", "Encoded", "Model", "ObjectModel", "Reference", "RemoteModel", "is_reference", "parse_reference"]
