"""What the signalements' modules share: small text and time helpers (the refusals are
`portal.errors.Refused` and `Stale`)."""

from __future__ import annotations

MAX_SHORT_TEXT = 300

STALE_VERSION = (
    "Ce signalement a été modifié entre-temps par quelqu'un d'autre : rien n'a été "
    "enregistré. Rechargez la page pour voir sa version actuelle."
)


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())
