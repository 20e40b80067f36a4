"""security: one-time submission keys, a funder's own label for an OF it follows,
retention period per funder and purge marks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

from portal.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'submission_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=500), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('endpoint', sa.String(length=120), nullable=False),
        sa.Column('result_url', sa.String(length=2000), nullable=True),
        sa.Column('used_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_submission_keys_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_keys')),
        sa.UniqueConstraint('key', 'target', name=op.f('uq_submission_keys_key_target')),
    )
    with op.batch_alter_table('submission_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_keys_used_at'), ['used_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_submission_keys_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('funder_providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=250), nullable=True))
    with op.batch_alter_table('funders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_years', sa.Integer(), server_default='3', nullable=False))
        batch_op.add_column(sa.Column('retention_confirmed', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', UTCDateTime(), nullable=True))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
    with op.batch_alter_table('funders', schema=None) as batch_op:
        batch_op.drop_column('retention_confirmed')
        batch_op.drop_column('retention_years')
    with op.batch_alter_table('funder_providers', schema=None) as batch_op:
        batch_op.drop_column('label')
    op.drop_table('submission_keys')
