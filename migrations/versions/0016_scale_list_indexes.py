"""national scale: indexes of the dossier lists (issue 19)

The funder's list: scheme filter (funder, scheme, start date), period filter (the end date
in the start-date index), missing pieces sorted by start date (the start date in the
missing-pieces index), search by the beginning of a beneficiary's name (funder,
lower(name)); "Mes dossiers", missing pieces only (OF, status, missing-pieces due date).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 13:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.create_index(
            'ix_dossiers_funder_start_end', ['funder_id', 'start_date', 'end_date'], unique=False
        )
        batch_op.drop_index('ix_dossiers_funder_start')
        batch_op.create_index(
            'ix_dossiers_funder_scheme_start', ['funder_id', 'scheme', 'start_date'], unique=False
        )
        batch_op.create_index(
            'ix_dossiers_funder_missing_start',
            ['funder_id', 'first_missing_due', 'start_date'],
            unique=False,
        )
        batch_op.drop_index('ix_dossiers_funder_missing')
        batch_op.create_index(
            'ix_dossiers_provider_status_missing',
            ['provider_id', 'status', 'first_missing_due'],
            unique=False,
        )
    # An index on an expression: outside the batch (SQLite's batch mode would rebuild the
    # table to add it).
    op.create_index(
        'ix_dossiers_funder_last_name',
        'dossiers',
        ['funder_id', sa.func.lower(sa.column('beneficiary_last_name')).label('last_name_lower')],
        unique=False,
        postgresql_ops={'last_name_lower': 'text_pattern_ops'},
    )


def downgrade():
    op.drop_index('ix_dossiers_funder_last_name', table_name='dossiers')
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_index('ix_dossiers_provider_status_missing')
        batch_op.create_index(
            'ix_dossiers_funder_missing', ['funder_id', 'first_missing_due'], unique=False
        )
        batch_op.drop_index('ix_dossiers_funder_missing_start')
        batch_op.drop_index('ix_dossiers_funder_scheme_start')
        batch_op.create_index('ix_dossiers_funder_start', ['funder_id', 'start_date'], unique=False)
        batch_op.drop_index('ix_dossiers_funder_start_end')
