"""pieces: the figures read in their file (electronic invoice, PDF form or text) and the
invoice's XML kept beside its PDF

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pieces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('figures_source', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('file_figures', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('xml_document_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_pieces_xml_document_id_documents'),
            'documents', ['xml_document_id'], ['id'],
        )


def downgrade():
    with op.batch_alter_table('pieces', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_pieces_xml_document_id_documents'), type_='foreignkey'
        )
        batch_op.drop_column('xml_document_id')
        batch_op.drop_column('file_figures')
        batch_op.drop_column('figures_source')
