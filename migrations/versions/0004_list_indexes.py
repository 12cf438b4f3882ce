"""indexes for the signed-in lists at scale

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    # Each list reads one page in the order it shows, along an index, instead of
    # sorting every row the professional has (see the models' __table_args__).
    # Plain index operations, no batch mode. SQLite cannot reflect expression
    # indexes, so a later batch migration that rebuilds contact or referral on
    # SQLite must create ix_*_lower_name again afterwards.
    op.drop_index('ix_contact_user_name', table_name='contact')
    op.create_index(
        'ix_contact_user_lower_name', 'contact', ['user_id', sa.text('lower(name)'), 'id']
    )
    op.create_index('ix_referral_user_last_step', 'referral', ['user_id', 'last_step_at', 'id'])
    op.create_index(
        'ix_referral_user_lower_name', 'referral', ['user_id', sa.text('lower(name)'), 'id']
    )


def downgrade():
    op.drop_index('ix_referral_user_lower_name', table_name='referral')
    op.drop_index('ix_referral_user_last_step', table_name='referral')
    op.drop_index('ix_contact_user_lower_name', table_name='contact')
    op.create_index('ix_contact_user_name', 'contact', ['user_id', 'name'])
