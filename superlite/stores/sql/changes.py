"""Writing change-feed events: numbered from a locked counter row, in the changing transaction.

Used by every SQL write that changes the registry (records and aliases). On PostgreSQL the
transaction also sends ``NOTIFY superlite_changes`` with the last id, a wake-up for followers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from superlite.stores.sql.schema import change_counter, changes

#: The PostgreSQL ``NOTIFY`` channel a change is announced on.
NOTIFY_CHANNEL = "superlite_changes"


def write_events(connection: Connection, events: list[dict[str, Any]]) -> None:
    """Number ``events`` from the locked counter and write them (call last in the transaction)."""
    if not events:
        return
    counter = sa.select(change_counter.c.last_id).where(change_counter.c.id == 1).with_for_update()
    last = int(connection.scalar(counter) or 0)
    ids = range(last + 1, last + 1 + len(events))
    connection.execute(change_counter.update().where(change_counter.c.id == 1).values(last_id=ids[-1]))
    connection.execute(changes.insert(), [{"id": id_, **event} for id_, event in zip(ids, events)])
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, str(ids[-1]))))
