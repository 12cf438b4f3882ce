"""one contact's referrals along an index that SQLite chooses

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 08:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # Queries for one contact's referrals also check the professional (user_id).
    # With contact_id alone in an index, SQLite (no statistics) saw a tie with the
    # professional's indexes, settled by the order the indexes were created in
    # (batch migrations recreate them in Python's hash order), and on some
    # databases read every referral they have. This index starts with both, so it
    # wins on any database, and it also gives the newest-first order.
    op.create_index(
        'ix_referral_contact_user_created', 'referral', ['contact_id', 'user_id', 'created_at']
    )
    op.drop_index('ix_referral_contact_id', table_name='referral')


def downgrade():
    op.create_index('ix_referral_contact_id', 'referral', ['contact_id'])
    op.drop_index('ix_referral_contact_user_created', table_name='referral')
