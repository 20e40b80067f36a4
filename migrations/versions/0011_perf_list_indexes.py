"""national scale: indexes of the list pages (issue 19)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('service_fait_findings', schema=None) as batch_op:
        batch_op.create_index(
            'ix_sf_findings_dossier_code_severity', ['dossier_id', 'code', 'severity'], unique=False
        )
        batch_op.drop_index('ix_sf_findings_dossier_code')


def downgrade():
    with op.batch_alter_table('service_fait_findings', schema=None) as batch_op:
        batch_op.create_index('ix_sf_findings_dossier_code', ['dossier_id', 'code'], unique=False)
        batch_op.drop_index('ix_sf_findings_dossier_code_severity')
