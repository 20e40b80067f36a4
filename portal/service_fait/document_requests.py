"""Requests for documents (demandes de pièces complémentaires) and the thread between the
funder's controllers and the OF on a dossier.

- `create_request`: the controller asks for pieces (expected pieces per period, pieces
  received but wrong, any other document), with a message and a due date; the dossier
  then waits for the OF (`controls.refresh_state`), the OF's users are told by email.
- `answer_request`: the OF answers with a message and files (stored as `Document`s,
  checked by content as every upload is); the request is answered, the dossier back "to
  control", the controllers told by email. A refused file leaves everything as it was.
- `close_request`: the controller settles or withdraws a request.
- `send_reminders`: once the due date has passed without an answer, one reminder (a
  message in the thread and an email), for a daily cron (`flask service-fait reminders`).
- Message templates: the funder's own, and the portal's defaults (created on first use).

Every change is audited and committed here (one transaction per action); mails go out
after the commit. Nothing here reads the Flask request: the views pass the acting user,
the values and the files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload, selectinload

from portal import audit, clock, formatting
from portal.access import is_funder_side
from portal.clock import utcnow
from portal.dossiers import pieces as pieces_service
from portal.dossiers.calendar import SLOT_STATUS_LABELS, Period, SlotStatus
from portal.errors import Refused
from portal.extensions import db
from portal.mailing import absolute_url, send_mail
from portal.models import (
    PIECE_KIND_LABELS,
    REQUEST_STATUS_LABELS,
    ControlMessage,
    DocumentRequest,
    Dossier,
    MessageTemplate,
    Piece,
    PieceKind,
    RequestStatus,
    Role,
    ServiceFaitControl,
    User,
    WebhookEvent,
)
from portal.service_fait.controls import control_for, refresh_state
from portal.storage import Storage, storage_for
from portal.uploads import (
    StoredFile,
    UploadLike,
    UploadsRefused,
    discard_stored,
    max_files_per_upload,
    max_upload_bytes,
    store_all,
    too_many_files,
)
from portal.webhooks import outbox

logger = logging.getLogger(__name__)

DEFAULT_DUE_DAYS = 15
MAX_MESSAGE_LENGTH = 5000
MAX_REASON_LENGTH = 300
OTHER_KIND = "autre"
OTHER_LABEL = "Autre document"
SIDE_FUNDER = "funder"
SIDE_PROVIDER = "provider"
SIDE_LABELS = {SIDE_FUNDER: "Financeur", SIDE_PROVIDER: "Organisme de formation"}

CLOSE_SETTLED = "reglee"
CLOSE_WITHDRAWN = "retiree"
CLOSE_OUTCOMES = {
    CLOSE_SETTLED: "Réglée : les pièces reçues suffisent",
    CLOSE_WITHDRAWN: "Retirée par le financeur",
}

# Portal-wide message templates, offered to every funder (created on first use).
DEFAULT_TEMPLATES: tuple[tuple[str, str], ...] = (
    (
        "Pièces manquantes",
        "Bonjour,\n\nPour contrôler le service fait de ce dossier, il nous manque les pièces "
        "listées ci-dessous. Merci de nous les transmettre avant la date indiquée : sans "
        "elles, le paiement ne peut pas être effectué.\n\nCordialement,",
    ),
    (
        "Heures incohérentes entre les pièces",
        "Bonjour,\n\nLes heures indiquées ne concordent pas entre la convention, le certificat "
        "de réalisation, la facture et les feuilles d'émargement (voir les pièces listées). "
        "Merci de nous transmettre des pièces rectifiées ou tout justificatif expliquant "
        "l'écart.\n\nCordialement,",
    ),
    (
        "Émargement incomplet",
        "Bonjour,\n\nDes demi-journées ne sont pas signées sur les feuilles d'émargement "
        "listées ci-dessous. Merci de nous transmettre des feuilles complètes, ou tout "
        "élément probant de la présence du stagiaire (relevés de connexion, attestations).\n\n"
        "Cordialement,",
    ),
    (
        "Dates hors de la période convenue",
        "Bonjour,\n\nLes pièces listées ci-dessous portent des dates en dehors de la période "
        "de formation convenue. Merci de nous transmettre des pièces corrigées ou une "
        "explication.\n\nCordialement,",
    ),
)

# Messages (French) of refused actions.
NO_ITEM = "Cochez au moins une pièce demandée."
NO_MESSAGE = "Écrivez un message à l'organisme."
NO_ANSWER_MESSAGE = "Écrivez un message pour accompagner votre réponse."
MESSAGE_TOO_LONG = f"Le message ne peut pas dépasser {MAX_MESSAGE_LENGTH} caractères."
NO_DUE_DATE = "Indiquez une date limite (jj/mm/aaaa)."
DUE_IN_PAST = "La date limite ne peut pas être dans le passé."
OTHER_NEEDS_REASON = "Précisez quel autre document est demandé."
UNKNOWN_ITEM = "Une pièce cochée n'existe plus dans ce dossier : rechargez la page."
REQUEST_CLOSED = "Cette demande est close : elle n'attend plus de réponse."
REQUEST_NOT_OPEN = "Cette demande est déjà close."


# --- What can be asked ----------------------------------------------------------------------


@dataclass(frozen=True)
class ItemChoice:
    """One thing the controller may ask for: an expected piece of a period, a piece
    received that is wrong, or another document."""

    key: str
    kind: str
    period_start: date | None
    period_end: date | None
    piece_id: int | None
    label: str
    status_label: str
    group: str  # "attendue", "recue", "autre"

    def as_item(self, reason: str) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "piece_id": self.piece_id,
            "reason": reason,
            "label": self.label,
        }


def _slot_key(kind: str, start: date, end: date) -> str:
    return f"slot:{kind}:{start.isoformat()}:{end.isoformat()}"


def item_choices(dossier: Dossier, today: date) -> list[ItemChoice]:
    """The dossier's expected pieces not received (per period, once the period has begun),
    its current pieces (to correct), and "another document"; two queries."""
    result: list[ItemChoice] = []
    for slot in pieces_service.slots_for(dossier, today):
        if slot.status in (SlotStatus.UPCOMING, SlotStatus.RECEIVED):
            continue  # not due yet; or received, and offered below as a piece to correct
        expected = slot.expected
        kind = PieceKind(expected.kind)
        result.append(
            ItemChoice(
                key=_slot_key(kind.value, expected.period.start, expected.period.end),
                kind=kind.value,
                period_start=expected.period.start,
                period_end=expected.period.end,
                piece_id=None,
                label=f"{PIECE_KIND_LABELS[kind]} {expected.period.label()}",
                status_label=SLOT_STATUS_LABELS[slot.status],
                group="attendue",
            )
        )
    current = db.session.scalars(
        select(Piece)
        .where(Piece.dossier_id == dossier.id, Piece.superseded_at.is_(None))
        .options(joinedload(Piece.document))
        .order_by(Piece.period_start, Piece.kind, Piece.id)
    ).all()
    for piece in current:
        period = Period(piece.period_start, piece.period_end)
        result.append(
            ItemChoice(
                key=f"piece:{piece.id}",
                kind=piece.kind,
                period_start=piece.period_start,
                period_end=piece.period_end,
                piece_id=piece.id,
                label=f"{piece.kind_label} {period.label()} (« {piece.document.original_name} »)",
                status_label="Reçue : à corriger ou à compléter",
                group="recue",
            )
        )
    result.append(
        ItemChoice(
            key=OTHER_KIND,
            kind=OTHER_KIND,
            period_start=None,
            period_end=None,
            piece_id=None,
            label=OTHER_LABEL,
            status_label="Précisez lequel dans le motif",
            group="autre",
        )
    )
    return result


def default_due_date(today: date) -> date:
    return today + timedelta(days=DEFAULT_DUE_DAYS)


# --- Templates ------------------------------------------------------------------------------


def ensure_default_templates() -> bool:
    """Create the portal-wide templates the first time they are needed (no data
    migration; `flask demo seed` creates them too); returns whether it did. The caller
    commits."""
    exists = db.session.scalar(
        select(MessageTemplate.id).where(MessageTemplate.funder_id.is_(None)).limit(1)
    )
    if exists is not None:
        return False
    for title, body in DEFAULT_TEMPLATES:
        db.session.add(MessageTemplate(funder_id=None, title=title, body=body))
    db.session.flush()
    return True


def templates_for(funder_id: int | None) -> list[MessageTemplate]:
    """The funder's own templates first, then the portal's defaults (created and
    committed on first use, whatever page asks first: the ids shown in a form must exist
    when the form comes back)."""
    ensure_default_templates()
    rows = db.session.scalars(
        select(MessageTemplate)
        .where((MessageTemplate.funder_id == funder_id) | MessageTemplate.funder_id.is_(None))
        .order_by(MessageTemplate.funder_id.is_(None), MessageTemplate.title, MessageTemplate.id)
    ).all()
    return list(rows)


def template_for(template_id: int, funder_id: int | None) -> MessageTemplate | None:
    """A template the funder may use (its own or a default), or None."""
    template = db.session.get(MessageTemplate, template_id)
    if template is None or template.funder_id not in (None, funder_id):
        return None
    return template


def save_template(
    actor: User, title: str, body: str, template: MessageTemplate | None = None
) -> MessageTemplate:
    """Create (template None) or change one of the actor's funder's templates; commits."""
    creating = template is None
    if template is None:
        template = MessageTemplate(funder_id=actor.funder_id)
        db.session.add(template)
    elif template.funder_id != actor.funder_id:
        raise Refused(general="Ce modèle n'appartient pas à votre financeur.")
    template.title = title.strip()
    template.body = body.strip()
    audit.record(
        "service_fait.template_created" if creating else "service_fait.template_updated",
        actor=actor,
        target=template,
        funder_id=actor.funder_id,
        details={"title": template.title},
    )
    return template


def delete_template(actor: User, template: MessageTemplate) -> None:
    if template.funder_id != actor.funder_id:
        raise Refused(general="Ce modèle n'appartient pas à votre financeur.")
    audit.record(
        "service_fait.template_deleted",
        actor=actor,
        target=template,
        funder_id=actor.funder_id,
        details={"title": template.title},
    )
    db.session.delete(template)


# --- Reading the thread ---------------------------------------------------------------------


@dataclass(frozen=True)
class ItemView:
    label: str
    reason: str
    kind: str
    period_start: date | None
    period_end: date | None
    piece_id: int | None
    received: bool = False  # a piece answering it arrived after the request


def _answers(item: dict[str, Any], since: datetime, pieces: Sequence[Piece]) -> bool:
    """Whether one of the dossier's current `pieces`, sent after the request (`since`),
    answers the requested `item`: a piece of its kind over its period, or the replacement
    of the piece found wrong."""
    kind = item.get("kind") or OTHER_KIND
    if kind == OTHER_KIND:
        return False  # only the controller can tell
    start = date.fromisoformat(item["period_start"]) if item.get("period_start") else None
    end = date.fromisoformat(item["period_end"]) if item.get("period_end") else None
    for piece in pieces:
        if piece.kind != kind or piece.superseded_at is not None:
            continue
        if piece.created_at < since:
            continue
        if start is None or end is None:
            return True
        if piece.period_start <= end and piece.period_end >= start:
            return True
    return False


def current_pieces(dossier_id: int) -> list[Piece]:
    return list(
        db.session.scalars(
            select(Piece).where(Piece.dossier_id == dossier_id, Piece.superseded_at.is_(None))
        )
    )


@dataclass
class RequestView:
    request: DocumentRequest
    items: list[ItemView]
    status_label: str
    overdue: bool
    messages: list[ControlMessage] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.request.id


def item_views(request: DocumentRequest, pieces: Sequence[Piece] = ()) -> list[ItemView]:
    """The items of a request; `pieces`: the dossier's current pieces, to tell which items
    were received since."""
    views = []
    for item in request.items or []:
        start = date.fromisoformat(item["period_start"]) if item.get("period_start") else None
        end = date.fromisoformat(item["period_end"]) if item.get("period_end") else None
        kind = item.get("kind") or OTHER_KIND
        label = item.get("label")
        if not label:
            label = PIECE_KIND_LABELS.get(kind, OTHER_LABEL)  # type: ignore[call-overload]
            if start and end:
                label += " " + Period(start, end).label()
        views.append(
            ItemView(
                label=label,
                reason=item.get("reason") or "",
                kind=kind,
                period_start=start,
                period_end=end,
                piece_id=item.get("piece_id"),
                received=_answers(item, request.created_at, pieces),
            )
        )
    return views


def request_view(
    request: DocumentRequest, today: date, pieces: Sequence[Piece] = ()
) -> RequestView:
    return RequestView(
        request=request,
        items=item_views(request, pieces),
        status_label=REQUEST_STATUS_LABELS[RequestStatus(request.status)],
        overdue=request.status == RequestStatus.OPEN and request.due_date < today,
    )


def dossier_requests(dossier_id: int) -> list[DocumentRequest]:
    return list(
        db.session.scalars(
            select(DocumentRequest)
            .where(DocumentRequest.dossier_id == dossier_id)
            .order_by(DocumentRequest.created_at.desc(), DocumentRequest.id.desc())
        )
    )


def dossier_messages(dossier_id: int) -> list[ControlMessage]:
    """The thread of a dossier, oldest first, with authors and files (three queries)."""
    return list(
        db.session.scalars(
            select(ControlMessage)
            .where(ControlMessage.dossier_id == dossier_id)
            .options(joinedload(ControlMessage.author), selectinload(ControlMessage.documents))
            .order_by(ControlMessage.created_at, ControlMessage.id)
        ).unique()
    )


def provider_thread(dossier: Dossier, today: date) -> dict[str, Any]:
    """The requests and messages of a dossier, for the OF's page of the dossier."""
    return thread_context(dossier, today) | {"side_labels": SIDE_LABELS}


def thread_context(dossier: Dossier, today: date) -> dict[str, Any]:
    """The requests of a dossier, newest first, each with its messages, and the messages
    that belong to no request."""
    rows = dossier_requests(dossier.id)
    pieces = current_pieces(dossier.id) if rows else []
    requests = [request_view(r, today, pieces) for r in rows]
    by_id = {view.id: view for view in requests}
    loose = []
    for message in dossier_messages(dossier.id):
        view = by_id.get(message.request_id) if message.request_id else None
        if view is None:
            loose.append(message)
        else:
            view.messages.append(message)
    return {
        "requests": requests,
        "loose_messages": loose,
        "open_count": sum(1 for v in requests if v.request.status == RequestStatus.OPEN),
        "message_count": sum(len(v.messages) for v in requests) + len(loose),
    }


def panel_context(dossier: Dossier, actor: User) -> dict[str, Any]:
    """What the control page's requests panel shows: the requests and the thread, and the
    form of a new request (funder side). Rendered by `_requests_panel.html`."""
    today = clock.today()
    funder_side = is_funder_side(actor)
    context = thread_context(dossier, today)
    context.update(
        dossier=dossier,
        today=today,
        side=SIDE_FUNDER if funder_side else SIDE_PROVIDER,
        funder_side=funder_side,
        side_labels=SIDE_LABELS,
        close_outcomes=CLOSE_OUTCOMES,
    )
    if funder_side:
        context["new"] = new_request_context(dossier, actor, today)
    return context


def new_request_context(
    dossier: Dossier,
    actor: User,
    today: date,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The new-request form: the choices, the templates, the values typed and errors."""
    values = dict(values or {})
    values.setdefault("due_date", default_due_date(today).isoformat())
    values.setdefault("selected", [])
    values.setdefault("reasons", {})
    values.setdefault("message", "")
    values.setdefault("template_id", None)
    choices = item_choices(dossier, today)
    return {
        "choices": choices,
        "groups": [
            ("attendue", "Pièces attendues", [c for c in choices if c.group == "attendue"]),
            ("recue", "Pièces reçues à corriger", [c for c in choices if c.group == "recue"]),
            ("autre", "Autre", [c for c in choices if c.group == "autre"]),
        ],
        "templates": templates_for(actor.funder_id),
        "values": values,
        "errors": dict(errors or {}),
        "min_due": today.isoformat(),
    }


# --- Creating a request -------------------------------------------------------------------


def _check_message(message: str, missing: str) -> list[str]:
    text = (message or "").strip()
    if not text:
        return [missing]
    if len(text) > MAX_MESSAGE_LENGTH:
        return [MESSAGE_TOO_LONG]
    return []


def parse_items(
    choices: Sequence[ItemChoice], selected: Iterable[str], reasons: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The items asked for (in the order of the choices) and the errors."""
    by_key = {c.key: c for c in choices}
    selected = [key for key in dict.fromkeys(selected) if key]
    errors: list[str] = []
    if not selected:
        return [], [NO_ITEM]
    if any(key not in by_key for key in selected):
        return [], [UNKNOWN_ITEM]
    items = []
    for choice in choices:
        if choice.key not in selected:
            continue
        reason = " ".join((reasons.get(choice.key) or "").split())[:MAX_REASON_LENGTH]
        if choice.kind == OTHER_KIND and not reason:
            errors.append(OTHER_NEEDS_REASON)
        items.append(choice.as_item(reason))
    return items, errors


def create_request(
    actor: User,
    dossier: Dossier,
    *,
    selected: Iterable[str],
    reasons: Mapping[str, str],
    message: str,
    due_date: date | None,
    today: date | None = None,
) -> DocumentRequest:
    """Ask the OF for pieces; commits, then mails the OF's users. Raises `Refused`
    (nothing written) on a missing item, message or due date."""
    today = today or clock.today()
    items, item_errors = parse_items(item_choices(dossier, today), selected, reasons)
    errors: dict[str, list[str]] = {}
    if item_errors:
        errors["items"] = item_errors
    if message_errors := _check_message(message, NO_MESSAGE):
        errors["message"] = message_errors
    if due_date is None:
        errors["due_date"] = [NO_DUE_DATE]
    elif due_date < today:
        errors["due_date"] = [DUE_IN_PAST]
    if errors:
        raise Refused(errors)
    assert due_date is not None
    request = DocumentRequest(
        dossier_id=dossier.id,
        funder_id=dossier.funder_id,
        requested_by_id=actor.id,
        due_date=due_date,
        items=items,
        message=message.strip(),
        status=RequestStatus.OPEN.value,
    )
    db.session.add(request)
    db.session.add(
        ControlMessage(
            dossier_id=dossier.id,
            request=request,
            author_id=actor.id,
            side=SIDE_FUNDER,
            body=message.strip(),
        )
    )
    db.session.flush()
    refresh_state(control_for(dossier))
    audit.record(
        "service_fait.request_created",
        actor=actor,
        target=request,
        funder_id=dossier.funder_id,
        details={
            "dossier_id": dossier.id,
            "due_date": due_date.isoformat(),
            "items": [{k: v for k, v in item.items() if k != "label"} for item in items],
        },
    )
    _mail_provider_users(
        request,
        subject=(
            f"Dossier {dossier.reference} : pièces demandées avant le "
            f"{formatting.date_fr(due_date)}"
        ),
        template="service_fait/mail_request_created.txt",
    )
    return request


# --- Answering -------------------------------------------------------------------------------


def store_files(storage: Storage, files: Sequence[UploadLike], max_bytes: int) -> list[StoredFile]:
    """Store every file, or none (a refused file: the others are deleted again)."""
    try:
        return store_all(storage, files, max_bytes=max_bytes)
    except UploadsRefused as refused:
        raise Refused({"files": refused.messages}, refused_files=refused.refused) from None


def answer_request(
    actor: User,
    request: DocumentRequest,
    *,
    message: str,
    files: Sequence[UploadLike] = (),
    storage: Storage | None = None,
    max_bytes: int | None = None,
    max_files: int | None = None,
) -> ControlMessage:
    """The OF's answer (a message, and files attached to it); commits, then mails the
    controllers. Raises `Refused` with nothing written and no file left."""
    if request.status == RequestStatus.CLOSED:
        raise Refused(general=REQUEST_CLOSED)
    files = [f for f in files if f is not None and (f.filename or "")]
    errors: dict[str, list[str]] = {}
    if message_errors := _check_message(message, NO_ANSWER_MESSAGE):
        errors["message"] = message_errors
    max_files = max_files or max_files_per_upload()
    if len(files) > max_files:
        errors["files"] = [too_many_files(max_files)]
    if errors:
        raise Refused(errors)
    storage = storage or storage_for(current_app)
    stored = store_files(storage, files, max_bytes or max_upload_bytes())
    try:
        dossier = request.dossier
        documents = [s.as_document(actor.id) for s in stored]
        answer = ControlMessage(
            dossier_id=request.dossier_id,
            request_id=request.id,
            author_id=actor.id,
            side=SIDE_PROVIDER,
            body=message.strip(),
            documents=documents,
        )
        db.session.add(answer)
        first_answer = request.status == RequestStatus.OPEN
        request.status = RequestStatus.ANSWERED.value
        request.answered_at = utcnow()
        db.session.flush()
        refresh_state(control_for(dossier))
        audit.record(
            "service_fait.request_answered",
            actor=actor,
            target=request,
            funder_id=request.funder_id,
            details={
                "dossier_id": request.dossier_id,
                "message_id": answer.id,
                "first_answer": first_answer,
                "files": [
                    {"name": s.original_name, "sha256": s.sha256, "size": s.size} for s in stored
                ],
            },
        )
        outbox.emit(
            WebhookEvent.REQUEST_ANSWERED,
            funder_id=request.funder_id,
            dossier_id=request.dossier_id,
            data={
                "request_id": request.id,
                "dossier_id": request.dossier_id,
                "dossier_reference": dossier.reference,
                "answered_at": request.answered_at.isoformat(),
                "files": [{"name": s.original_name, "sha256": s.sha256} for s in stored],
            },
        )
    except BaseException:
        discard_stored(storage, [s.key for s in stored])
        raise
    _mail_controllers(request, answer)
    return answer


def record_refusal(actor: User, request: DocumentRequest, refused: Refused) -> None:
    """Audit files refused in an answer (a file whose content is not what its name says
    may be an attack). Typing slips are not recorded."""
    if not refused.refused_files:
        return
    audit.record_refusal(
        "service_fait.answer_upload_refused",
        actor=actor,
        target=request,
        funder_id=request.funder_id,
        details={
            "dossier_id": request.dossier_id,
            "reasons": [reason for _, reason in refused.refused_files],
        },
    )


# --- Closing ---------------------------------------------------------------------------------


def close_request(
    actor: User, request: DocumentRequest, *, outcome: str, note: str = ""
) -> DocumentRequest:
    """Settle or withdraw a request; a message says so in the thread. Commits."""
    if outcome not in CLOSE_OUTCOMES:
        raise Refused({"outcome": ["Choisissez comment la demande est close."]})
    if request.status == RequestStatus.CLOSED:
        raise Refused(general=REQUEST_NOT_OPEN)
    note = " ".join((note or "").split())[:MAX_REASON_LENGTH]
    request.status = RequestStatus.CLOSED.value
    request.closed_at = utcnow()
    body = f"Demande close — {CLOSE_OUTCOMES[outcome]}."
    if note:
        body += f" {note}"
    db.session.add(
        ControlMessage(
            dossier_id=request.dossier_id,
            request_id=request.id,
            author_id=actor.id,
            side=SIDE_FUNDER,
            body=body,
        )
    )
    db.session.flush()
    refresh_state(control_for(request.dossier))
    audit.record(
        "service_fait.request_closed",
        actor=actor,
        target=request,
        funder_id=request.funder_id,
        details={"dossier_id": request.dossier_id, "outcome": outcome, "note": note},
    )
    return request


# --- Reminders -----------------------------------------------------------------------------


def due_for_reminder(today: date) -> list[DocumentRequest]:
    return list(
        db.session.scalars(
            select(DocumentRequest)
            .where(
                DocumentRequest.status == RequestStatus.OPEN.value,
                DocumentRequest.due_date < today,
                DocumentRequest.reminded_at.is_(None),
            )
            .options(joinedload(DocumentRequest.dossier))
            .order_by(DocumentRequest.due_date, DocumentRequest.id)
        )
    )


def send_reminders(today: date | None = None, *, actor_label: str = "système") -> list[int]:
    """One reminder per open request whose due date has passed: a message in the thread,
    then an email to the OF's users. Idempotent (`reminded_at`): a request is reminded
    once, even when two runs overlap. Returns the ids of the requests reminded."""
    today = today or clock.today()
    reminded: list[int] = []
    for request in due_for_reminder(today):
        claimed = db.session.execute(
            update(DocumentRequest)
            .where(
                DocumentRequest.id == request.id,
                DocumentRequest.reminded_at.is_(None),
                DocumentRequest.status == RequestStatus.OPEN.value,
            )
            .values(reminded_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            db.session.rollback()
            continue
        days = (today - request.due_date).days
        db.session.add(
            ControlMessage(
                dossier_id=request.dossier_id,
                request_id=request.id,
                author_id=None,
                side=SIDE_FUNDER,
                body=(
                    "Relance automatique : la date limite du "
                    f"{formatting.date_fr(request.due_date)} est "
                    f"passée ({days} jour{'s' if days > 1 else ''}) et les pièces demandées "
                    "n'ont pas été reçues. Sans elles, le paiement ne peut pas être effectué."
                ),
            )
        )
        audit.record(
            "service_fait.request_reminded",
            actor_label=actor_label,
            target=request,
            funder_id=request.funder_id,
            details={"dossier_id": request.dossier_id, "due_date": request.due_date.isoformat()},
        )
        db.session.commit()
        db.session.refresh(request)
        reminded.append(request.id)
        _mail_provider_users(
            request,
            subject=f"Relance — dossier {request.dossier.reference} : pièces attendues depuis le "
            f"{formatting.date_fr(request.due_date)}",
            template="service_fait/mail_request_reminder.txt",
            days_late=days,
        )
    return reminded


# --- Notices ------------------------------------------------------------------------------


def open_requests_for_provider(provider_id: int | None) -> list[DocumentRequest]:
    """The requests waiting for this OF, oldest due date first (one query)."""
    if provider_id is None:
        return []
    return list(
        db.session.scalars(
            select(DocumentRequest)
            .join(Dossier, Dossier.id == DocumentRequest.dossier_id)
            .where(
                Dossier.provider_id == provider_id,
                DocumentRequest.status == RequestStatus.OPEN.value,
            )
            .options(joinedload(DocumentRequest.dossier).joinedload(Dossier.funder))
            .order_by(DocumentRequest.due_date, DocumentRequest.id)
        )
    )


def provider_requests(provider_id: int) -> list[DocumentRequest]:
    """Every request of this OF's dossiers, open first then newest."""
    return list(
        db.session.scalars(
            select(DocumentRequest)
            .join(Dossier, Dossier.id == DocumentRequest.dossier_id)
            .where(Dossier.provider_id == provider_id)
            .options(joinedload(DocumentRequest.dossier).joinedload(Dossier.funder))
            .order_by(
                (DocumentRequest.status == RequestStatus.OPEN.value).desc(),
                DocumentRequest.created_at.desc(),
                DocumentRequest.id.desc(),
            )
        )
    )


# --- Mail --------------------------------------------------------------------------------------


def _recipients(query) -> list[User]:
    return list(
        db.session.scalars(
            query.where(User.is_active.is_(True), User.password_hash.is_not(None)).order_by(User.id)
        )
    )


def provider_users(dossier: Dossier) -> list[User]:
    return _recipients(
        select(User).where(
            User.role == Role.PROVIDER.value, User.provider_id == dossier.provider_id
        )
    )


def controllers_to_tell(request: DocumentRequest) -> list[User]:
    """The dossier's assignee when there is one, otherwise the funder's controllers
    (its administrators when it has no controller)."""
    control = db.session.scalar(
        select(ServiceFaitControl).where(ServiceFaitControl.dossier_id == request.dossier_id)
    )
    if control is not None and control.assigned_to_id is not None:
        assignee = _recipients(select(User).where(User.id == control.assigned_to_id))
        if assignee:
            return assignee
    for role in (Role.CONTROLLER, Role.FUNDER_ADMIN):
        users = _recipients(
            select(User).where(User.role == role.value, User.funder_id == request.funder_id)
        )
        if users:
            return users
    return []


def _mail_provider_users(
    request: DocumentRequest, *, subject: str, template: str, **context: Any
) -> None:
    dossier = request.dossier
    link = absolute_url("service_fait.provider_request", request_id=request.id)
    items = item_views(request)
    for user in provider_users(dossier):
        _send(
            user.email,
            subject,
            template,
            user=user,
            dossier=dossier,
            request=request,
            items=items,
            link=link,
            **context,
        )


def _mail_controllers(request: DocumentRequest, answer: ControlMessage) -> None:
    dossier = request.dossier
    link = absolute_url("service_fait.request_detail", request_id=request.id)
    for user in controllers_to_tell(request):
        _send(
            user.email,
            f"Dossier {dossier.reference} : l'organisme a répondu à votre demande de pièces",
            "service_fait/mail_request_answered.txt",
            user=user,
            dossier=dossier,
            request=request,
            answer=answer,
            items=item_views(request),
            link=link,
        )


def _send(to: str, subject: str, template: str, **context: Any) -> None:
    """Mail once the change is committed: a mail that cannot leave is logged, and does
    not undo what was done."""
    try:
        send_mail(to, subject, template, **context)
    except Exception:
        logger.exception("Échec de l'envoi du courriel « %s » à %s.", subject, to)
