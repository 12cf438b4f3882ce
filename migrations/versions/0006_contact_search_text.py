"""contacts search reads a stored lowercase text, along an index

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Rows per UPDATE batch while filling the new column.
CHUNK = 5000


def searchable_text(name, email, category):
    """As app.models.searchable_text (migrations do not import the app)."""
    return "\n".join((name or "", email or "", category or "")).lower()


def upgrade():
    # Not in batch mode: both databases add a column with a constant default in place.
    op.add_column(
        'contact', sa.Column('search_text', sa.Text(), server_default='', nullable=False)
    )
    contact = sa.table(
        'contact',
        sa.column('id', sa.Integer),
        sa.column('name', sa.String),
        sa.column('email', sa.String),
        sa.column('category', sa.String),
        sa.column('search_text', sa.Text),
    )
    connection = op.get_bind()
    update = (
        contact.update()
        .where(contact.c.id == sa.bindparam('contact_id'))
        .values(search_text=sa.bindparam('text'))
    )
    after = 0
    while True:
        rows = connection.execute(
            sa.select(contact.c.id, contact.c.name, contact.c.email, contact.c.category)
            .where(contact.c.id > after)
            .order_by(contact.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        connection.execute(
            update,
            [
                {'contact_id': row.id, 'text': searchable_text(row.name, row.email, row.category)}
                for row in rows
            ],
        )
        after = rows[-1].id
    op.create_index('ix_contact_user_search', 'contact', ['user_id', 'search_text'])


def downgrade():
    op.drop_index('ix_contact_user_search', table_name='contact')
    # SQLite (3.35 and later) drops a column in place too.
    op.drop_column('contact', 'search_text')
