"""Alembic's environment for the shared stores: run on the connection `features.ops.migrate` hands
over (never a URL from an ini file), against `features.ops.stores.metadata`."""

from alembic import context

from features.ops.stores import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
