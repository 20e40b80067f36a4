"""The outbox listens to the dossiers' signals: pieces added or replaced in a dossier
are told to the funder's endpoints (`dossier.pieces_changed`), in the same transaction."""

from __future__ import annotations

from typing import Any

from portal.dossiers import signals
from portal.models import WebhookEvent
from portal.webhooks.outbox import emit


def _pieces_changed(dossier, pieces=(), **_: Any) -> None:
    emit(
        WebhookEvent.DOSSIER_PIECES_CHANGED,
        funder_id=dossier.funder_id,
        dossier_id=dossier.id,
        data={
            "dossier_id": dossier.id,
            "dossier_reference": dossier.reference,
            "pieces": [
                {"id": piece.id, "kind": piece.kind, "current": piece.superseded_at is None}
                for piece in sorted(
                    (p for p in pieces if getattr(p, "id", None) is not None),
                    key=lambda p: p.id,
                )
            ],
        },
    )


signals.pieces_changed.connect(_pieces_changed, weak=False)
