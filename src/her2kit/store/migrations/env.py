"""Alembic environment: runs on the connection that her2kit.store.db.migrate passes in.

Alembic runs this file itself; imported any other way (pytest's doctest collection) it
does nothing.
"""

from alembic import context

from her2kit.store.schema import metadata

if hasattr(context, "config"):
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
