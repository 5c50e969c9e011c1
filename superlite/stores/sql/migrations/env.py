"""Alembic's environment for superlite's SQL schema: run only through :mod:`superlite.stores.sql.migrate`.

That module passes an open connection (already holding the schema lock) as
``config.attributes["connection"]``; the revisions run inside the caller's transaction, which
commits them. There is no offline (SQL script) mode and no ``alembic.ini``.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("superlite's migrations run through `superlite db upgrade`, not the alembic command")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
