"""subcontracting: contracts, their amounts per year, CPF turnover, the dossier's contract

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa

import portal.models.types  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cpf_turnovers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('updated_at', portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_cpf_turnovers_amount')),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_cpf_turnovers_provider_id_providers')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_cpf_turnovers_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cpf_turnovers')),
    sa.UniqueConstraint('provider_id', 'year', name=op.f('uq_cpf_turnovers_provider_id_year'))
    )
    with op.batch_alter_table('cpf_turnovers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cpf_turnovers_provider_id'), ['provider_id'], unique=False)

    op.create_table('subcontracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('principal_id', sa.Integer(), nullable=False),
    sa.Column('subcontractor_id', sa.Integer(), nullable=True),
    sa.Column('subcontractor_nda', sa.String(length=11), nullable=False),
    sa.Column('subcontractor_siret', sa.String(length=14), nullable=False),
    sa.Column('subcontractor_name', sa.String(length=250), nullable=False),
    sa.Column('actions', sa.Text(), nullable=False),
    sa.Column('categories', sa.String(length=100), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('is_cpf', sa.Boolean(), nullable=False),
    sa.Column('certification_code', sa.String(length=20), nullable=True),
    sa.Column('whole_certification', sa.Boolean(), nullable=False),
    sa.Column('price', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('contract_document_id', sa.Integer(), nullable=True),
    sa.Column('mentions_missions', sa.Boolean(), nullable=False),
    sa.Column('mentions_content', sa.Boolean(), nullable=False),
    sa.Column('mentions_sanction', sa.Boolean(), nullable=False),
    sa.Column('mentions_means', sa.Boolean(), nullable=False),
    sa.Column('mentions_conditions', sa.Boolean(), nullable=False),
    sa.Column('mentions_duration', sa.Boolean(), nullable=False),
    sa.Column('mentions_period', sa.Boolean(), nullable=False),
    sa.Column('mentions_price', sa.Boolean(), nullable=False),
    sa.Column('micro_entrepreneur', sa.Boolean(), nullable=False),
    sa.Column('micro_turnover', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('authorisation_declared', sa.Boolean(), nullable=False),
    sa.Column('authorisation_document_id', sa.Integer(), nullable=True),
    sa.Column('dereferenced', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', portal.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_subcontracts_period')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_subcontracts_price')),
    sa.ForeignKeyConstraint(['authorisation_document_id'], ['documents.id'], name=op.f('fk_subcontracts_authorisation_document_id_documents')),
    sa.ForeignKeyConstraint(['contract_document_id'], ['documents.id'], name=op.f('fk_subcontracts_contract_document_id_documents')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_subcontracts_created_by_id_users')),
    sa.ForeignKeyConstraint(['principal_id'], ['providers.id'], name=op.f('fk_subcontracts_principal_id_providers')),
    sa.ForeignKeyConstraint(['subcontractor_id'], ['providers.id'], name=op.f('fk_subcontracts_subcontractor_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subcontracts'))
    )
    with op.batch_alter_table('subcontracts', schema=None) as batch_op:
        batch_op.create_index('ix_subcontracts_principal_start', ['principal_id', 'start_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_subcontracts_subcontractor_nda'), ['subcontractor_nda'], unique=False)

    op.create_table('subcontract_year_amounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subcontract_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_subcontract_year_amounts_amount')),
    sa.ForeignKeyConstraint(['subcontract_id'], ['subcontracts.id'], name=op.f('fk_subcontract_year_amounts_subcontract_id_subcontracts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subcontract_year_amounts')),
    sa.UniqueConstraint('subcontract_id', 'year', name=op.f('uq_subcontract_year_amounts_subcontract_id_year'))
    )
    with op.batch_alter_table('subcontract_year_amounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subcontract_year_amounts_subcontract_id'), ['subcontract_id'], unique=False)

    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subcontract_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_dossiers_subcontract_id'), ['subcontract_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_dossiers_subcontract_id_subcontracts'), 'subcontracts', ['subcontract_id'], ['id'])


def downgrade():
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dossiers_subcontract_id_subcontracts'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_dossiers_subcontract_id'))
        batch_op.drop_column('subcontract_id')

    with op.batch_alter_table('subcontract_year_amounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subcontract_year_amounts_subcontract_id'))

    op.drop_table('subcontract_year_amounts')
    with op.batch_alter_table('subcontracts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subcontracts_subcontractor_nda'))
        batch_op.drop_index('ix_subcontracts_principal_start')

    op.drop_table('subcontracts')
    with op.batch_alter_table('cpf_turnovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cpf_turnovers_provider_id'))

    op.drop_table('cpf_turnovers')
