"""the indexes on referral_event.email_id and outbound_email.batch_key leave out rows without one

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 19:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Most events and most emails have no email and no batch key, and they are only
# ever looked up by an equal value, which a partial index serves: a referrer's
# submission then writes two fewer index entries for its events and emails.
EVENT_EMAIL = sa.text('email_id IS NOT NULL')
EMAIL_BATCH = sa.text('batch_key IS NOT NULL')


def upgrade():
    op.drop_index('ix_referral_event_email_id', table_name='referral_event')
    op.create_index(
        'ix_referral_event_email_id', 'referral_event', ['email_id'],
        sqlite_where=EVENT_EMAIL, postgresql_where=EVENT_EMAIL,
    )
    op.drop_index('ix_outbound_email_batch_state', table_name='outbound_email')
    op.create_index(
        'ix_outbound_email_batch_state', 'outbound_email', ['batch_key', 'state'],
        sqlite_where=EMAIL_BATCH, postgresql_where=EMAIL_BATCH,
    )


def downgrade():
    op.drop_index('ix_outbound_email_batch_state', table_name='outbound_email')
    op.create_index('ix_outbound_email_batch_state', 'outbound_email', ['batch_key', 'state'])
    op.drop_index('ix_referral_event_email_id', table_name='referral_event')
    op.create_index('ix_referral_event_email_id', 'referral_event', ['email_id'])
