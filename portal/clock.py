"""The portal's clock: instants are kept in UTC, days and times are French.

Every "today" of a rule (a deadline, "in the future", a period still running) is the day
in Paris, not the server's: a certificat signed just after midnight is not dated tomorrow.
This is the one module that knows the time zone; templates show times through the
formatting filters, which call `local`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC (how instants are stored)."""
    return datetime.now(UTC)


def today() -> date:
    """Today in France."""
    return datetime.now(PARIS).date()


def local(moment: datetime) -> datetime:
    """An instant as Paris time; a naive instant is one of the stored UTC ones."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS)


def start_of_day(day: date) -> datetime:
    """Midnight in Paris at the start of `day`, as an aware instant."""
    return datetime.combine(day, time(), PARIS)


def end_of_day(day: date) -> datetime:
    """Midnight in Paris at the end of `day` (the start of the next day)."""
    return start_of_day(day + timedelta(days=1))
