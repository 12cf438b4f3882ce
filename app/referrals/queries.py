"""The pipeline's shared questions, used by the referrals pages and the home page."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from ..models import Referral, ReferralStatus, User

# "More than 100 need your attention" is all a count says past here; a longer
# count reads row after row (a fifth or so of a long history needs attention).
ATTENTION_COUNT_CAP = 100
# Statuses where the professional still owes the person a next step.
OPEN_STATUSES = (ReferralStatus.NEW, ReferralStatus.CONTACTED, ReferralStatus.MEETING_SET)


def stale_before(user: User, now: datetime) -> datetime:
    """Open referrals whose last step is older than this need a nudge."""
    return now - timedelta(days=user.attention_days)


def needs_attention(user: User, now: datetime):
    """Referrals that need the professional: not contacted yet, gone quiet, or not thanked."""
    return sa.or_(
        Referral.status == ReferralStatus.NEW,
        sa.and_(
            Referral.status.in_(OPEN_STATUSES), Referral.last_step_at < stale_before(user, now)
        ),
        Referral.thanked_at.is_(None),
    )


def attention_reasons(referral: Referral, user: User, now: datetime) -> list[str]:
    """Why one referral is on the "needs attention" list, in a few words each."""
    reasons = []
    if referral.status == ReferralStatus.NEW:
        reasons.append("Not contacted yet")
    elif referral.status in OPEN_STATUSES and referral.last_step_at < stale_before(user, now):
        days = (now - referral.last_step_at).days
        reasons.append(f"No step for {days} days")
    if referral.thanked_at is None:
        reasons.append("Referrer not thanked")
    return reasons
