"""Audit records carry the tenant they concern (the caller's; for an admin action, the tenant
acted on). Records written before keep an empty tenant, which their hashes do not cover.

Revision ID: a0002 (branch "audit")
Revises: a0001
"""

from alembic import op

from features.ops import audit, migrate

revision = "a0002"
down_revision = "a0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrate.add_missing_columns(op.get_bind(), audit.records, ("tenant",))


def downgrade() -> None:
    with op.batch_alter_table("audit_record") as batch:
        batch.drop_column("tenant")
