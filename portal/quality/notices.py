"""The OF's notice of the non-conformities waiting for its action plan (home page),
registered with `portal.notices` by the quality blueprint."""

from __future__ import annotations

from portal import clock
from portal.models import User
from portal.notices import Notice
from portal.quality import corrective


def awaiting_plan(user: User) -> list[Notice]:
    waiting = corrective.awaiting_answer(user)
    if not waiting:
        return []
    today = clock.today()
    rows = [(finding, corrective.overdue(finding, today)) for finding in waiting]
    return [
        Notice(
            "quality_nonconformities",
            "quality/_provider_notice.html",
            {"rows": rows, "late": sum(1 for _, late in rows if late)},
        )
    ]
