"""durations in whole minutes (planned hours of a dossier, hours billed, completed and
attended of its pieces), and a funder's choice to block payment on a Qualiopi
certification lost during an action

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 09:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# (table, old column in decimal hours, new column in minutes)
DURATIONS = (
    ('dossiers', 'planned_hours', 'planned_minutes'),
    ('pieces', 'hours_billed', 'minutes_billed'),
    ('pieces', 'hours_completed', 'minutes_completed'),
    ('pieces', 'hours_attended', 'minutes_attended'),
)


def _foreign_keys(on):
    """SQLite: batch mode copies a table and drops the old one, which the other tables'
    foreign keys would forbid while they are enforced (the copy keeps every row and id)."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def upgrade():
    _foreign_keys(False)
    op.add_column(
        'funders',
        sa.Column(
            'qualiopi_loss_blocks_payment',
            sa.Boolean(),
            nullable=False,
            server_default=sa.false(),
        ),
    )

    for table, old, new in DURATIONS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(new, sa.Integer(), nullable=True))
        # Hours were kept to the hundredth (7 h 20 as 7,33): the nearest whole minute is
        # what was meant (440), and a whole number of minutes converts exactly.
        op.execute(
            f'UPDATE {table} SET {new} = CAST(ROUND({old} * 60) AS INTEGER) '
            f'WHERE {old} IS NOT NULL'
        )

    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_dossiers_planned_hours'), type_='check')
        batch_op.alter_column('planned_minutes', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('planned_hours')
        batch_op.create_check_constraint('planned_minutes', 'planned_minutes > 0')
    with op.batch_alter_table('pieces', schema=None) as batch_op:
        batch_op.drop_column('hours_billed')
        batch_op.drop_column('hours_completed')
        batch_op.drop_column('hours_attended')
    _foreign_keys(True)


def downgrade():
    _foreign_keys(False)
    for table, old, new in DURATIONS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(old, sa.Numeric(precision=8, scale=2), nullable=True)
            )
        op.execute(
            f'UPDATE {table} SET {old} = ROUND({new} / 60.0, 2) '
            f'WHERE {new} IS NOT NULL'
        )
    with op.batch_alter_table('dossiers', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_dossiers_planned_minutes'), type_='check')
        batch_op.alter_column(
            'planned_hours', existing_type=sa.Numeric(precision=8, scale=2), nullable=False
        )
        batch_op.drop_column('planned_minutes')
        batch_op.create_check_constraint('planned_hours', 'planned_hours > 0')
    with op.batch_alter_table('pieces', schema=None) as batch_op:
        batch_op.drop_column('minutes_billed')
        batch_op.drop_column('minutes_completed')
        batch_op.drop_column('minutes_attended')
    with op.batch_alter_table('funders', schema=None) as batch_op:
        batch_op.drop_column('qualiopi_loss_blocks_payment')
    _foreign_keys(True)
