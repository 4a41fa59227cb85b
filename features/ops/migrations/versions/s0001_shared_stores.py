"""The shared stores: API keys, prediction log, claims outcomes, KB searches and feedback.

A database made before migrations existed (the feedback file, created on start) already has some
of these tables: they are kept as they are, and only the missing ones are created. This first
revision creates the tables as `features.ops.stores` defines them; later revisions change them
with explicit `op.*` steps.

Revision ID: s0001 (branch "stores": the database at stores.url)
Revises:
"""

from alembic import op

from features.ops import migrate, stores

revision = "s0001"
down_revision = None
branch_labels = ("stores",)
depends_on = None
TABLES = (stores.api_key, stores.prediction, stores.prediction_block, stores.claim_feedback, stores.kb_search,
          stores.kb_feedback)  # fmt: skip


def upgrade() -> None:
    migrate.create_missing(op.get_bind(), TABLES)


def downgrade() -> None:
    migrate.drop_all(op.get_bind(), TABLES)
