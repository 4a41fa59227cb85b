"""The audit trail: records, the chain head, the alias states.

A trail made before migrations existed (created on start) is kept as it is; one made before
records carried the request id gets that column, empty for its records (whose hashes do not
cover it). This first revision creates the tables as `features.ops.audit` defines them; later
revisions change them with explicit `op.*` steps.

Revision ID: a0001 (branch "audit": the database at security.audit_url)
Revises:
"""

import sqlalchemy as sa
from alembic import op

from features.ops import audit, migrate

revision = "a0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None
TABLES = (audit.records, audit.head, audit.alias_state)


def upgrade() -> None:
    bind = op.get_bind()
    migrate.create_missing(bind, TABLES)
    if "request_id" not in {c["name"] for c in sa.inspect(bind).get_columns("audit_record")}:
        op.add_column(
            "audit_record", sa.Column("request_id", sa.String(128), nullable=False, server_default="")
        )


def downgrade() -> None:
    migrate.drop_all(op.get_bind(), TABLES)
