"""superlite: keep ML models in the database you already run, versioned, and serve them.

Everything a user needs is importable from here::

    import superlite
    from superlite import ObjectModel

    db = superlite.connect()                       # SQLite under ./.superlite/, in-process compute
    model = db.apply(ObjectModel("double", object=lambda x: 2 * x))
    db.load("model", "double").predict(21)         # 42
"""

from superlite import errors
from superlite.components import Component, Model, ObjectModel, RemoteModel
from superlite.components.batching import Batching
from superlite.components.composites import Ensemble, Pipeline, Router
from superlite.components.reference import Resolved, Selector
from superlite.config import Settings
from superlite.datalayer import Datalayer, connect
from superlite.listeners import Listener

__version__ = "0.1.0"

__all__ = [
    "Batching",
    "Component",
    "Datalayer",
    "Ensemble",
    "Listener",
    "Model",
    "ObjectModel",
    "Pipeline",
    "RemoteModel",
    "Resolved",
    "Router",
    "Selector",
    "Settings",
    "connect",
    "errors",
    "__version__",
]
