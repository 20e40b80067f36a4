"""One-time submission keys: a form is done once, whatever the double clicks and replays."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.extensions import db
from portal.models.types import UTCDateTime


class SubmissionKey(db.Model):
    """A key posted by a form and consumed with its work (same transaction); the unique
    constraint on (`key`, `target`) makes a second submission, even a concurrent one, find
    the first."""

    __tablename__ = "submission_keys"
    __table_args__ = (UniqueConstraint("key", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))  # the address posted to
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(String(120))
    # Where the first submission led (its redirect, or the page it was posted from).
    result_url: Mapped[str | None] = mapped_column(String(2000))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
