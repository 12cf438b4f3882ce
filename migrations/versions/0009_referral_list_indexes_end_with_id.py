"""the pipeline's date indexes end with the id, its sorts' tiebreak

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:20:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# A later page of the pipeline finds its ids first (helpers.paginate), ordered by
# date and then id. Without the id in the index, PostgreSQL read every one of the
# professional's referrals from the table and sorted them (page 2,000 of 100,000:
# 186 ms over HTTP); with it, it reads the index alone, in order (13 ms for the ids
# of that page). SQLite keeps the rowid in every index already: there, the id is
# only stored twice.
INDEXES = {
    'ix_referral_user_created': (['user_id', 'created_at'], ['user_id', 'created_at', 'id']),
    'ix_referral_user_status_created': (
        ['user_id', 'status', 'created_at'],
        ['user_id', 'status', 'created_at', 'id'],
    ),
}


def upgrade():
    for name, (_, columns) in INDEXES.items():
        op.drop_index(name, table_name='referral')
        op.create_index(name, 'referral', columns)


def downgrade():
    for name, (columns, _) in INDEXES.items():
        op.drop_index(name, table_name='referral')
        op.create_index(name, 'referral', columns)
