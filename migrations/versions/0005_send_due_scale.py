"""send-due finds due work without reading every contact

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The partial index's WHERE, as the rhythm's query writes it (see app/touchpoints/planning.py).
RHYTHM_PENDING_WHERE = {
    'sqlite_where': sa.text("rhythm_pending = 1 AND state != 'planned'"),
    'postgresql_where': sa.text("rhythm_pending AND state != 'planned'"),
}


def upgrade():
    # Not in the batch: SQLite adds a column with a constant default in place, where
    # batch mode would copy the whole table to add one with an expression default.
    op.add_column(
        'touchpoint',
        sa.Column('rhythm_pending', sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    with op.batch_alter_table('touchpoint', schema=None) as batch_op:
        batch_op.drop_index('ix_touchpoint_state_due')
        batch_op.create_index(
            'ix_touchpoint_send_due', ['state', 'auto_send', 'due_on', 'id'], unique=False
        )

    # Every touchpoint starts marked. The rhythm follows a contact's latest touchpoint,
    # so the mark of one that is no longer planned and has a later one is cleared; the
    # latest ones keep it, and the first send-due settles those (planning the next,
    # or clearing the mark where there is no rhythm).
    touchpoint = sa.table(
        'touchpoint',
        sa.column('id', sa.Integer),
        sa.column('contact_id', sa.Integer),
        sa.column('due_on', sa.Date),
        sa.column('state', sa.String),
        sa.column('rhythm_pending', sa.Boolean),
    )
    later = touchpoint.alias('later')
    has_later = (
        sa.select(later.c.id)
        .where(
            later.c.contact_id == touchpoint.c.contact_id,
            sa.or_(
                later.c.due_on > touchpoint.c.due_on,
                sa.and_(later.c.due_on == touchpoint.c.due_on, later.c.id > touchpoint.c.id),
            ),
        )
        .exists()
    )
    op.execute(
        touchpoint.update()
        .where(touchpoint.c.state != 'planned', has_later)
        .values(rhythm_pending=False)
    )

    # Built after the backfill: it then holds only what the rhythm has left to do.
    with op.batch_alter_table('touchpoint', schema=None) as batch_op:
        batch_op.create_index(
            'ix_touchpoint_rhythm_pending', ['due_on', 'id'], unique=False, **RHYTHM_PENDING_WHERE
        )


def downgrade():
    with op.batch_alter_table('touchpoint', schema=None) as batch_op:
        batch_op.drop_index('ix_touchpoint_rhythm_pending', **RHYTHM_PENDING_WHERE)
        batch_op.drop_index('ix_touchpoint_send_due')
        batch_op.create_index('ix_touchpoint_state_due', ['state', 'due_on'], unique=False)
    # On SQLite the table is copied without the column; the tables it refers to are
    # left unreflected (contact has an expression index reflection cannot read).
    with op.batch_alter_table(
        'touchpoint', schema=None, reflect_kwargs={'resolve_fks': False}
    ) as batch_op:
        batch_op.drop_column('rhythm_pending')
