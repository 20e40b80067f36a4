"""The control bundle of a dossier ("dossier de contrôle"): one ZIP that shows the control
to a third party months later.

- ``recapitulatif.html``: a printable, self-contained summary (identity of the dossier,
  figures period by period, Qualiopi on the relevant dates, results of the automatic checks,
  decisions with their reasons, requests for documents and the whole thread);
- ``pieces/…``: every piece's file, current and replaced versions, named clearly;
- ``echanges/…``: the files attached to the messages of the thread;
- ``manifest.csv``: each file's path, SHA-256 and size as written in the archive (and the
  SHA-256 recorded when it was received, to show it has not changed since).

`prepare` reads everything from the database (a handful of queries) and renders the
summary; `stream_zip` then writes the archive chunk by chunk, reading each file from the
store as it goes: no file is held in memory whole, and the database is not touched while
the response streams.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal import audit, clock, formatting
from portal.clock import utcnow
from portal.dossiers import pieces as pieces_service
from portal.dossiers.calendar import Period
from portal.dossiers.rules import CATEGORY_LABELS
from portal.extensions import db
from portal.models import (
    CONTROL_STATUS_LABELS,
    DOSSIER_STATUS_LABELS,
    MODALITY_LABELS,
    PAYMENT_RHYTHM_LABELS,
    SCHEME_LABELS,
    SEVERITY_LABELS,
    CheckFinding,
    ControlStatus,
    Dossier,
    InvoiceDecision,
    Piece,
    PieceKind,
    ServiceFaitControl,
    Severity,
    User,
)
from portal.packs import PackFile, stream_pack
from portal.service_fait import decisions as decisions_service
from portal.service_fait import document_requests as requests_service
from portal.service_fait import figures as figures_service
from portal.service_fait import reasons
from portal.storage import Storage

SUMMARY_NAME = "recapitulatif.html"

_UNSAFE = re.compile(r"[^\w.\- ]+", flags=re.UNICODE)


def safe_name(name: str, *, fallback: str = "fichier") -> str:
    """A file name safe in any archive tool: no separators nor control characters."""
    text = unicodedata.normalize("NFC", name or "")
    text = _UNSAFE.sub("_", text).strip(" ._")
    return text[:120] or fallback


@dataclass(frozen=True)
class BundleEntry:
    """One file of the archive: stored content (`storage_key`) or generated (`content`)."""

    path: str
    description: str
    storage_key: str | None = None
    content: bytes | None = None
    recorded_sha256: str = ""
    size: int = 0
    modified: datetime | None = None


@dataclass
class Bundle:
    dossier_id: int
    reference: str
    filename: str
    entries: list[BundleEntry] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # files absent from the store

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)


# --- Reading what the bundle shows --------------------------------------------------------


def _piece_path(piece: Piece, superseded: bool) -> str:
    kind = PieceKind(piece.kind).value
    state = "remplacee" if superseded else "actuelle"
    return (
        f"pieces/{piece.period_start.isoformat()}_{kind}_piece-{piece.id}_{state}_"
        f"{safe_name(piece.document.original_name)}"
    )


def _local(moment: datetime | None) -> datetime | None:  # a missing instant stays missing
    return clock.local(moment) if moment else None


def prepare(dossier: Dossier, actor: User, storage: Storage) -> tuple[Bundle, dict[str, Any]]:
    """Everything the archive holds, and the summary's context (for tests and the page)."""
    today = clock.today()
    now = utcnow()
    pieces = pieces_service.dossier_pieces(dossier)  # every version, with its document
    current = [p for p in pieces if p.superseded_at is None]
    piece_paths = {p.id: _piece_path(p, p.superseded_at is not None) for p in pieces}
    control = db.session.scalar(
        select(ServiceFaitControl)
        .where(ServiceFaitControl.dossier_id == dossier.id)
        .options(joinedload(ServiceFaitControl.assigned_to))
    )
    findings = list(
        db.session.scalars(
            select(CheckFinding)
            .where(CheckFinding.dossier_id == dossier.id)
            .order_by(CheckFinding.severity_rank, CheckFinding.code, CheckFinding.id)
        )
    )
    decisions = list(
        db.session.scalars(
            select(InvoiceDecision)
            .where(InvoiceDecision.dossier_id == dossier.id)
            .options(
                joinedload(InvoiceDecision.decided_by),
                joinedload(InvoiceDecision.reopened_by),
                selectinload(InvoiceDecision.pieces),
            )
            .order_by(InvoiceDecision.decided_at, InvoiceDecision.id)
        ).unique()
    )
    active = {d.invoice_id: d for d in decisions if d.reopened_at is None}
    rows, totals = figures_service.period_figures(dossier, current, active, today)
    invoices = [p for p in current if p.kind == PieceKind.INVOICE]
    qualiopi = figures_service.qualiopi_status(dossier, invoices)
    thread = requests_service.thread_context(dossier, today)
    by_piece_id = {p.id: p for p in pieces}

    bundle = Bundle(
        dossier_id=dossier.id,
        reference=dossier.reference,
        filename=f"dossier-de-controle-{safe_name(dossier.reference)}.zip",
    )
    attachment_paths: dict[int, str] = {}
    files: list[BundleEntry] = []
    for piece in pieces:
        document = piece.document
        kind_label = piece.kind_label
        period = Period(piece.period_start, piece.period_end).label()
        state = "remplacée" if piece.superseded_at else "actuelle"
        files.append(
            BundleEntry(
                path=piece_paths[piece.id],
                description=f"{kind_label} {period} (pièce n° {piece.id}, version {state})",
                storage_key=document.storage_key,
                recorded_sha256=document.sha256,
                size=document.size,
                modified=_local(document.uploaded_at),
            )
        )
    messages = [m for v in thread["requests"] for m in v.messages] + thread["loose_messages"]
    for message in messages:
        for document in message.documents:
            path = (
                f"echanges/message-{message.id}_document-{document.id}_"
                f"{safe_name(document.original_name)}"
            )
            attachment_paths[document.id] = path
            files.append(
                BundleEntry(
                    path=path,
                    description=(
                        f"Fichier joint au message n° {message.id} "
                        f"({requests_service.SIDE_LABELS.get(message.side, message.side)})"
                    ),
                    storage_key=document.storage_key,
                    recorded_sha256=document.sha256,
                    size=document.size,
                    modified=_local(document.uploaded_at),
                )
            )
    for entry in files:
        if entry.storage_key and not storage.exists(entry.storage_key):
            bundle.missing.append(entry.path)
        else:
            bundle.entries.append(entry)

    context = {
        "dossier": dossier,
        "actor": actor,
        "generated_at": _local(now),
        "today": today,
        "control": control,
        "control_status_label": (
            CONTROL_STATUS_LABELS.get(ControlStatus(control.status), control.status)
            if control
            else "Contrôle non commencé"
        ),
        "labels": {
            "category": _label(CATEGORY_LABELS, dossier.category),
            "scheme": _label(SCHEME_LABELS, dossier.scheme),
            "modality": _label(MODALITY_LABELS, dossier.modality),
            "rhythm": _label(PAYMENT_RHYTHM_LABELS, dossier.payment_rhythm),
            "status": _label(DOSSIER_STATUS_LABELS, dossier.status),
        },
        "rows": rows,
        "totals": totals,
        "qualiopi": qualiopi,
        "category_labels": CATEGORY_LABELS,
        "findings": findings,
        "severity_labels": {s.value: SEVERITY_LABELS[s] for s in Severity},
        "decisions": decisions,
        "outcome_label": decisions_service.outcome_label,
        "reason_label": reasons.label,
        "pieces_by_id": by_piece_id,
        "piece_paths": piece_paths,
        "attachment_paths": attachment_paths,
        "pieces": pieces,
        "figures": pieces_service.figures,
        "thread": thread,
        "side_labels": requests_service.SIDE_LABELS,
        "entries": bundle.entries,
        "missing": bundle.missing,
    }
    summary = render_template("service_fait/bundle_summary.html", **context).encode("utf-8")
    bundle.entries.insert(
        0,
        BundleEntry(
            path=SUMMARY_NAME,
            description="Récapitulatif imprimable du contrôle",
            content=summary,
            size=len(summary),
            modified=_local(now),
        ),
    )
    return bundle, context


def _label(labels: Any, value: str) -> str:
    return labels.get(value, value)


def _money(value: Any) -> str:
    return formatting.money(value) or "—"


def record_export(actor: User, dossier: Dossier, bundle: Bundle) -> None:
    """Audit the export (the caller commits)."""
    audit.record(
        "service_fait.bundle_exported",
        actor=actor,
        object_type="dossiers",
        object_id=dossier.id,
        funder_id=dossier.funder_id,
        details={
            "dossier_id": dossier.id,
            "files": len(bundle.entries),
            "bytes": bundle.total_size,
            "missing": bundle.missing,
        },
    )


# --- Writing the archive -----------------------------------------------------------------------


def stream_zip(bundle: Bundle, storage: Storage) -> Iterator[bytes]:
    """The archive, chunk by chunk (`portal.packs.stream_pack`): each file's SHA-256 is
    computed from the bytes written and listed in the manifest, written last."""

    def opener(key: str) -> Callable[[], BinaryIO]:
        return lambda: storage.open(key)

    files = (
        PackFile(
            path=entry.path,
            content=entry.content if entry.content is not None else opener(entry.storage_key),
            description=entry.description,
            recorded_sha256=entry.recorded_sha256,
            modified=entry.modified,
        )
        for entry in bundle.entries
        if entry.content is not None or entry.storage_key is not None
    )
    return stream_pack(files, missing=bundle.missing)
