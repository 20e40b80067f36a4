"""the audit log's seals become keyed (HMAC-SHA256 under AUDIT_KEY): the existing chain is
re-sealed once, and the first keyed event keeps the old head

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 05:50:00

"""
from alembic import op
from flask import current_app

from portal import audit


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Run by `flask db upgrade`, inside the application: its AUDIT_KEY seals the chain.
    audit.reseal(op.get_bind(), current_app.config["AUDIT_KEY"])


def downgrade():
    # The seals stay keyed: an unkeyed chain could be rewritten by anyone holding the
    # database, which is what this revision ended. Nothing to undo in the schema.
    pass
