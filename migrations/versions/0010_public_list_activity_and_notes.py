"""public list: the activity figures of each version, the notes of each import, and
search names that ignore punctuation and runs of spaces

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from portal.public_list.history import search_key


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade():
    with op.batch_alter_table('public_list_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('date_derniere_declaration', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('nb_stagiaires', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('nb_stagiaires_confies', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('effectif_formateurs', sa.Integer(), nullable=True))
    with op.batch_alter_table('public_list_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.JSON(), nullable=True))

    # The search key now folds punctuation and runs of spaces ("BNP  PARIBAS", "BNP-Paribas"
    # and "bnp paribas" are one key): the stored keys are computed again.
    conn = op.get_bind()
    versions = sa.table(
        'public_list_versions',
        sa.column('id', sa.Integer()),
        sa.column('denomination', sa.String()),
        sa.column('search_name', sa.String()),
    )
    last_id = 0
    while True:
        rows = conn.execute(
            sa.select(versions.c.id, versions.c.denomination, versions.c.search_name)
            .where(versions.c.id > last_id)
            .order_by(versions.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        changed = [
            {'row_id': row.id, 'key': key}
            for row in rows
            if (key := search_key(row.denomination)) != row.search_name
        ]
        if changed:
            conn.execute(
                versions.update()
                .where(versions.c.id == sa.bindparam('row_id'))
                .values(search_name=sa.bindparam('key')),
                changed,
            )


def downgrade():
    with op.batch_alter_table('public_list_imports', schema=None) as batch_op:
        batch_op.drop_column('notes')
    with op.batch_alter_table('public_list_versions', schema=None) as batch_op:
        batch_op.drop_column('effectif_formateurs')
        batch_op.drop_column('nb_stagiaires_confies')
        batch_op.drop_column('nb_stagiaires')
        batch_op.drop_column('date_derniere_declaration')
