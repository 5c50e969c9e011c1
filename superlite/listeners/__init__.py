"""Listeners: a model's outputs kept next to the rows of a table or collection, and kept current.

``db.apply(Listener("review-sentiment", model=model, table="reviews", key="text"))`` installs
change capture on ``reviews`` and back-fills ``_outputs__review-sentiment``; ``db.catch_up``
processes what is pending now, ``superlite listen`` follows changes for as long as it runs. See
``docs/listeners.md``.
"""

from superlite.listeners.component import Listener, outputs_table
from superlite.listeners.runner import ListenerBusyError, ListenerRunner, ListenerStatus
from superlite.listeners.source import ListenerSource

__all__ = ["Listener", "ListenerBusyError", "ListenerRunner", "ListenerSource", "ListenerStatus", "outputs_table"]
