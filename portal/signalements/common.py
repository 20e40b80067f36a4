"""What the signalements' modules share: the refusals, and small text and time helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

MAX_SHORT_TEXT = 300

STALE_VERSION = (
    "Ce signalement a été modifié entre-temps par quelqu'un d'autre : rien n'a été "
    "enregistré. Rechargez la page pour voir sa version actuelle."
)


class SignalementRefused(Exception):
    """Nothing was written; `errors` maps a field to French messages, `general` is a
    message about the whole, `refused_files` the files refused by their content."""

    def __init__(
        self,
        errors: Mapping[str, list[str]] | None = None,
        *,
        general: str | None = None,
        refused_files: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.errors = dict(errors or {})
        self.general = general
        self.refused_files = list(refused_files)
        super().__init__(general or " ".join(m for ms in self.errors.values() for m in ms))


class Conflict(Exception):
    """The signalement changed since the form was shown (optimistic lock)."""

    message = STALE_VERSION


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())
