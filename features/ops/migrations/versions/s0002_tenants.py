"""Tenants: the tenant and tenant_usage tables; keys get a key id, a tenant, an expiry and the
hash they had before their last rotation; served predictions, outcomes, KB searches and feedback
get the tenant that sent them, and a KB search whether it had a confident answer. Existing keys
go to the root tenant ("insurer"), which may hold every role.

A database made by s0001 after these columns were defined already has them: only what is
missing is added.

Revision ID: s0002 (branch "stores")
Revises: s0001
"""

import secrets
import time

import sqlalchemy as sa
from alembic import op

from features.ops import migrate, stores

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None
TABLES = (stores.tenant, stores.tenant_usage)
KEY_COLUMNS = ("key_id", "tenant", "expires", "previous_sha256", "previous_until")
TENANT_COLUMN = ("prediction", "prediction_block", "claim_feedback", "kb_search", "kb_feedback")
ALL_ROLES = "claims_system,agent_assist,data_scientist,admin,tenant_admin"


def upgrade() -> None:
    bind = op.get_bind()
    migrate.create_missing(bind, TABLES)
    migrate.add_missing_columns(bind, stores.api_key, KEY_COLUMNS)
    for name in TENANT_COLUMN:
        migrate.add_missing_columns(bind, stores.metadata.tables[name], ("tenant",))
    migrate.add_missing_columns(bind, stores.kb_search, ("confident",))
    if "api_key_key_id" not in {i["name"] for i in sa.inspect(bind).get_indexes("api_key")}:
        op.create_index("api_key_key_id", "api_key", ["key_id"], unique=True)
    keys = sa.table("api_key", sa.column("name"), sa.column("key_id"))
    for (name,) in bind.execute(sa.select(keys.c.name).where(keys.c.key_id.is_(None))).all():
        bind.execute(keys.update().where(keys.c.name == name).values(key_id=secrets.token_hex(8)))
    if (
        bind.execute(
            sa.select(stores.tenant.c.name).where(stores.tenant.c.name == stores.ROOT_TENANT)
        ).first()
        is None
    ):
        bind.execute(stores.tenant.insert().values(
            name=stores.ROOT_TENANT, kind="insurer", parent=None, roles=ALL_ROLES, created=time.time()
        ))  # fmt: skip


def downgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("api_key") as batch:
        batch.drop_index("api_key_key_id")
        for column in KEY_COLUMNS:
            batch.drop_column(column)
    for name in TENANT_COLUMN:
        with op.batch_alter_table(name) as batch:
            batch.drop_column("tenant")
            if name == "kb_search":
                batch.drop_column("confident")
    migrate.drop_all(bind, TABLES)
