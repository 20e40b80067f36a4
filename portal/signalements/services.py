"""Writing, sending and reviewing signalements: every change goes through here.

No request is read here: the views pass the acting user, what was typed and the files.
Each function checks what it may do (the workflow for transitions, `can_edit` for the
draft), changes the rows, writes the audit event, leaves a notice in the portal for the
other side, and queues the mail, sent after the request's commit (a mail that cannot
leave is logged and undoes nothing). A refusal raises before anything is written, with
no stored file left behind:
`Refused` (field → French messages), `workflow.TransitionRefused` (wrong role or
state), `Stale` (someone changed it meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import select

from portal import audit, clock, rnq
from portal.access import (
    can_view_provider,
    dossiers_scope,
    is_funder_side,
    providers_scope,
    signalements_scope,
)
from portal.clock import utcnow
from portal.errors import Refused, Stale
from portal.extensions import db
from portal.models import (
    DISMISSAL_REASONS,
    AuditEvent,
    Certifier,
    Dossier,
    ListVersion,
    MessageKind,
    Outcome,
    Provider,
    Role,
    Seriousness,
    Side,
    Signalement,
    SignalementEvidence,
    SignalementMessage,
    SignalementSettings,
    SignalementState,
    User,
)
from portal.regions import REGIONS
from portal.routing import database_id
from portal.signalements import evidence, notices, rules, workflow
from portal.signalements.common import MAX_SHORT_TEXT, STALE_VERSION, one_line
from portal.signalements.notices import (  # noqa: F401  (used by the views through here)
    SIDE_LABELS,
    mark_read,
    notifications_for,
    unread_count,
)
from portal.signalements.workflow import Action, TransitionRefused
from portal.storage import Storage, storage_for
from portal.uploads import StoredFile, UploadLike, max_upload_bytes

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 5_000
MAX_DOSSIER_CHOICES = 200
MAX_REFERENCE_LENGTH = 100

NOT_EDITABLE = (
    "Ce signalement n'est plus un brouillon : ses faits, indicateurs et preuves ne peuvent "
    "plus être modifiés."
)
NOT_SUBSTANTIATED = "Le signalement n'est pas encore étayé, rien n'a été envoyé :"
NO_THREAD = (
    "On ne peut écrire dans le fil d'un signalement qu'une fois transmis au ministère, et "
    "tant qu'il n'est pas clos."
)

MESSAGE_KIND_LABELS = {
    MessageKind.MESSAGE: "Message",
    MessageKind.INFO_REQUEST: "Demande de complément",
    MessageKind.ANSWER: "Réponse à la demande de complément",
}


class FormData(Protocol):
    """What the services read of a submitted form (werkzeug's MultiDict has it)."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def getlist(self, key: str) -> list[Any]: ...


def _check_version(signalement: Signalement, version: int | str | None) -> None:
    """The form's version must be the row's: otherwise someone saved in between."""
    if version is None or str(version).strip() == "":
        return
    if str(version).strip() != str(signalement.version):
        raise Stale(STALE_VERSION)


# --- Settings, regions, choices -------------------------------------------------------------


def approval_required(funder_id: int) -> bool:
    return bool(
        db.session.scalar(
            select(SignalementSettings.approval_required).where(
                SignalementSettings.funder_id == funder_id
            )
        )
    )


def save_settings(actor: User, *, approval_required: bool) -> None:
    """A funder admin's setting: approval before sending, or not. Commits."""
    if actor.role != Role.FUNDER_ADMIN or actor.funder_id is None:
        raise Refused(general="Seul un administrateur du financeur règle ceci.")
    row = db.session.get(SignalementSettings, actor.funder_id)
    before = bool(row and row.approval_required)
    if row is None:
        row = SignalementSettings(funder_id=actor.funder_id)
        db.session.add(row)
    row.approval_required = approval_required
    row.updated_at = utcnow()
    row.updated_by_id = actor.id
    audit.record(
        "signalement.settings_changed",
        actor=actor,
        object_type="signalement_settings",
        object_id=actor.funder_id,
        funder_id=actor.funder_id,
        details={"approval_required": [before, approval_required]},
    )


def provider_region(nda: str) -> str | None:
    """The OF's region: the `codeRegion` of its NDA in the latest public list that names
    it. An NDA the list never named falls back on its first two digits when they are a
    region code (they usually are), else None (seen by national liaisons only)."""
    code = db.session.scalar(
        select(ListVersion.region_code)
        .where(ListVersion.nda == nda)
        .order_by(ListVersion.valid_from.desc(), ListVersion.id.desc())
        .limit(1)
    )
    if code:
        return code.strip()
    return nda[:2] if nda[:2] in REGIONS else None


def provider_choices(actor: User) -> list[Provider]:
    """The OF a funder's staff may report: those its funder follows."""
    return list(db.session.scalars(providers_scope(actor).order_by(Provider.name, Provider.id)))


def dossier_choices(actor: User, provider_id: int, keep: Iterable[int] = ()) -> list[Dossier]:
    """The funder's dossiers with this OF, newest first (and those in `keep` in any case)."""
    query = dossiers_scope(actor).where(Dossier.provider_id == provider_id)
    rows = list(
        db.session.scalars(
            query.order_by(Dossier.start_date.desc(), Dossier.id.desc()).limit(MAX_DOSSIER_CHOICES)
        )
    )
    missing = set(keep) - {d.id for d in rows}
    if missing:
        rows.extend(db.session.scalars(query.where(Dossier.id.in_(missing))))
    return rows


def find_provider(actor: User, value: str | None) -> Provider | None:
    """An OF the actor may report, from a query string value: its NDA or its id."""
    text = (value or "").strip().replace(" ", "")
    if not text or not text.isdigit():
        return None
    query = providers_scope(actor)
    found = db.session.scalar(query.where(Provider.nda == text))
    if found is None and len(text) < 11 and (provider_id := database_id(text)) is not None:
        found = db.session.scalar(query.where(Provider.id == provider_id))
    return found


def find_dossier(actor: User, value: str | None) -> Dossier | None:
    dossier_id = database_id(value)
    if dossier_id is None:
        return None
    return db.session.scalar(dossiers_scope(actor).where(Dossier.id == dossier_id))


def certifiers() -> list[Certifier]:
    return list(
        db.session.scalars(select(Certifier).where(Certifier.is_active).order_by(Certifier.name))
    )


# --- The draft ---------------------------------------------------------------------------------


@dataclass
class DraftValues:
    """The draft form as typed, with what could not even be read (bad dates, …)."""

    what: str = ""
    when: str = ""
    where: str = ""
    period_start: date | None = None
    period_end: date | None = None
    indicators: list[int] = field(default_factory=list)
    seriousness: str = Seriousness.SERIOUS.value
    dossier_ids: list[int] = field(default_factory=list)
    evidence_keys: list[str] = field(default_factory=list)
    files_chosen: int = 0
    errors: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, signalement: Signalement) -> DraftValues:
        return cls(
            what=signalement.facts_what,
            when=signalement.facts_when,
            where=signalement.facts_where,
            period_start=signalement.period_start,
            period_end=signalement.period_end,
            indicators=signalement.indicators,
            seriousness=signalement.seriousness,
            dossier_ids=[d.id for d in signalement.dossiers],
            evidence_keys=[evidence.existing_key(e) for e in signalement.evidence],
        )


def _date(value: Any, errors: dict[str, list[str]], label: str) -> date | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.setdefault("period", []).append(
            f"Période : la date de {label} n'est pas une date valide (jj/mm/aaaa)."
        )
        return None


def read_draft(form: FormData) -> DraftValues:
    """The draft's values from a submitted form (field names of the French form)."""
    errors: dict[str, list[str]] = {}
    values = DraftValues(
        what=str(form.get("faits") or "").strip(),
        when=one_line(form.get("quand")),
        where=one_line(form.get("ou")),
        seriousness=str(form.get("gravite") or Seriousness.SERIOUS.value),
    )
    values.period_start = _date(form.get("debut"), errors, "début")
    values.period_end = _date(form.get("fin"), errors, "fin")
    try:
        values.indicators = rnq.parse_indicators(form.getlist("indicateurs"))
    except rnq.InvalidIndicator as error:
        errors["indicators"] = [str(error)]
    if values.seriousness not in {s.value for s in Seriousness}:
        errors["seriousness"] = ["Gravité : choisissez l'une des trois gravités proposées."]
        values.seriousness = Seriousness.SERIOUS.value
    if len(values.what) > rules.MAX_FACTS_LENGTH:
        errors["facts_what"] = [f"Les faits : au plus {rules.MAX_FACTS_LENGTH} caractères."]
    for name, text in (("facts_when", values.when), ("facts_where", values.where)):
        if len(text) > MAX_SHORT_TEXT:
            errors[name] = [f"Au plus {MAX_SHORT_TEXT} caractères."]
    values.dossier_ids = sorted(
        {i for i in map(database_id, form.getlist("dossiers")) if i is not None}
    )
    values.evidence_keys = [str(v) for v in form.getlist("preuves") if str(v).strip()]
    # Files chosen but not sent yet (HTMX posts their names only, for the checklist).
    values.files_chosen = sum(1 for v in form.getlist("fichiers") if str(v or "").strip())
    values.errors = errors
    return values


def create_draft(
    actor: User, provider: Provider, *, dossiers: Sequence[Dossier] = ()
) -> Signalement:
    """A new draft about `provider`, linked to `dossiers` (of the actor's funder and this
    OF); the row is flushed (it has its id)."""
    if not is_funder_side(actor) or actor.funder_id is None:
        raise Refused(general="Seul le personnel d'un financeur rédige un signalement.")
    if not can_view_provider(actor, provider):
        raise Refused(
            {"provider": ["Votre financeur ne suit pas cet organisme : il ne peut le signaler."]}
        )
    for dossier in dossiers:
        if dossier.funder_id != actor.funder_id or dossier.provider_id != provider.id:
            raise Refused(
                {"dossiers": [f"Le dossier {dossier.reference} n'est pas un dossier de cet OF."]}
            )
    signalement = Signalement(
        funder_id=actor.funder_id,
        provider_id=provider.id,
        author_id=actor.id,
        region_code=provider_region(provider.nda),
        state=SignalementState.DRAFT.value,
        dossiers=list(dossiers),
    )
    if len(dossiers) == 1:
        only = dossiers[0]
        signalement.facts_where = f"{only.action_title} (dossier {only.reference})"[:MAX_SHORT_TEXT]
    db.session.add(signalement)
    audit.record(
        "signalement.created",
        actor=actor,
        target=signalement,
        funder_id=actor.funder_id,
        details={
            "provider_id": provider.id,
            "nda": provider.nda,
            "dossier_ids": [d.id for d in dossiers],
        },
    )
    db.session.flush()
    return signalement


# --- Evidence ----------------------------------------------------------------------------------


def record_refusal(actor: User, signalement: Signalement, refused: Refused) -> None:
    """Audit files refused by their content (possibly an attack), kept when the refused
    change is rolled back."""
    if not refused.refused_files:
        return
    audit.record_refusal(
        "signalement.upload_refused",
        actor=actor,
        target=signalement,
        funder_id=signalement.funder_id,
        details={"reasons": [reason for _, reason in refused.refused_files]},
    )


def _require_edit(actor: User, signalement: Signalement) -> None:
    if signalement.funder_id != actor.funder_id or not workflow.can_edit(
        signalement.state, actor.role
    ):
        raise Refused(general=NOT_EDITABLE)


def update_draft(
    actor: User,
    signalement: Signalement,
    values: DraftValues,
    *,
    version: int | str | None = None,
    files: Sequence[UploadLike | None] = (),
    storage: Storage | None = None,
    max_bytes: int | None = None,
) -> Signalement:
    """Save the draft as typed (it need not be substantiated yet): facts, indicators,
    dossiers, the evidence ticked (unticked evidence is removed) and new files. Commits."""
    _require_edit(actor, signalement)
    _check_version(signalement, version)
    errors = {name: list(messages) for name, messages in values.errors.items()}
    dossiers = dossier_choices(actor, signalement.provider_id, keep=values.dossier_ids)
    by_id = {d.id: d for d in dossiers}
    if set(values.dossier_ids) - set(by_id):
        errors["dossiers"] = [
            "Un dossier choisi n'est pas un dossier de votre financeur avec cet OF."
        ]
    chosen = evidence.chosen_files(files, errors)
    if errors:
        raise Refused(errors)
    storage = storage or storage_for(current_app)
    stored = evidence.store_all(storage, chosen, max_bytes or max_upload_bytes())
    try:
        linked = [by_id[i] for i in values.dossier_ids]
        signalement.facts_what = values.what
        signalement.facts_when = values.when
        signalement.facts_where = values.where
        signalement.period_start = values.period_start
        signalement.period_end = values.period_end
        signalement.seriousness = values.seriousness
        signalement.set_indicators(values.indicators)
        signalement.dossiers = linked
        keys = set(values.evidence_keys)
        removed = [e for e in signalement.evidence if evidence.existing_key(e) not in keys]
        for item in removed:
            signalement.evidence.remove(item)
        candidates = {c.key: c for c in evidence.evidence_candidates(linked, signalement.evidence)}
        added = [
            evidence.evidence_from(candidates[k], actor)
            for k in values.evidence_keys
            if k in candidates
        ]
        added.extend(evidence.file_evidence(s, actor) for s in stored)
        signalement.evidence.extend(added)
        signalement.updated_at = utcnow()
        audit.record(
            "signalement.updated",
            actor=actor,
            target=signalement,
            funder_id=signalement.funder_id,
            details={
                "dossier_ids": values.dossier_ids,
                "indicators": values.indicators,
                "seriousness": values.seriousness,
                "evidence_added": [e.title for e in added],
                "evidence_removed": [e.title for e in removed],
                "files": [
                    {"name": s.original_name, "sha256": s.sha256, "size": s.size} for s in stored
                ],
            },
        )
    except BaseException:
        evidence.discard(storage, [s.key for s in stored])
        raise
    return signalement


def facts_of(signalement: Signalement) -> rules.Facts:
    return rules.Facts(
        what=signalement.facts_what,
        when=signalement.facts_when,
        where=signalement.facts_where,
        period_start=signalement.period_start,
        period_end=signalement.period_end,
        indicators=signalement.indicators,
        dossier_count=len(signalement.dossiers),
        evidence_count=len(signalement.evidence),
        seriousness=signalement.seriousness,
    )


def substantiation(signalement: Signalement) -> rules.Substantiation:
    return rules.check(facts_of(signalement))


def typed_substantiation(
    values: DraftValues, signalement: Signalement | None, actor: User, provider_id: int
) -> rules.Substantiation:
    """The checklist of a form being filled in: what is typed, the evidence ticked that
    exists, the files chosen; plus what could not be read."""
    valid_dossiers = {d.id for d in dossier_choices(actor, provider_id, keep=values.dossier_ids)}
    dossier_ids = [i for i in values.dossier_ids if i in valid_dossiers]
    existing = {evidence.existing_key(e) for e in signalement.evidence} if signalement else set()
    ticked = [k for k in values.evidence_keys if k in existing or not k.startswith("preuve-")]
    result = rules.check(
        rules.Facts(
            what=values.what,
            when=values.when,
            where=values.where,
            period_start=values.period_start,
            period_end=values.period_end,
            indicators=values.indicators,
            dossier_count=len(dossier_ids),
            evidence_count=len(ticked) + values.files_chosen,
            seriousness=values.seriousness,
        )
    )
    for name, messages in values.errors.items():
        result.missing.setdefault(name, " ".join(messages))
    return result


# --- Transitions -------------------------------------------------------------------------------


@dataclass
class Payload:
    """What a transition may need besides the action (from the action's form)."""

    message: str = ""
    certifier_id: int | None = None
    certifier_name: str = ""
    sent_on: date | None = None
    reference: str = ""
    reason_code: str = ""
    reason: str = ""
    merge_into: str = ""

    @classmethod
    def read(cls, form: FormData) -> Payload:
        certifier = str(form.get("certificateur") or "").strip()
        sent_on = None
        try:
            sent_on = date.fromisoformat(str(form.get("date_transmission") or "").strip())
        except ValueError:
            sent_on = None
        return cls(
            message=str(form.get("message") or "").strip(),
            certifier_id=database_id(certifier),
            certifier_name=one_line(form.get("autre_certificateur")),
            sent_on=sent_on,
            reference=one_line(form.get("reference_certificateur")),
            reason_code=str(form.get("motif") or "").strip(),
            reason=str(form.get("precision") or "").strip(),
            merge_into=str(form.get("fusion") or "").strip(),
        )


def _message_errors(text: str, missing: str) -> list[str]:
    if not text.strip():
        return [missing]
    if len(text) > MAX_MESSAGE_LENGTH:
        return [f"Au plus {MAX_MESSAGE_LENGTH} caractères."]
    return []


def _merge_target(actor: User, signalement: Signalement, value: str) -> Signalement | None:
    text = value.upper().removeprefix("SIG-").lstrip("0") or "0"
    if not text.isdigit():
        return None
    return db.session.scalar(
        signalements_scope(actor).where(
            Signalement.id == int(text), Signalement.id != signalement.id
        )
    )


def _validate(
    actor: User, signalement: Signalement, action: Action, payload: Payload, today: date
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """Errors in the action's form, and what to record."""
    errors: dict[str, list[str]] = {}
    extra: dict[str, Any] = {}
    if action == Action.RETURN:
        if found := _message_errors(payload.message, "Dites à l'auteur ce qu'il faut revoir."):
            errors["message"] = found
    elif action == Action.REQUEST_INFO:
        if found := _message_errors(payload.message, "Écrivez ce que vous demandez au financeur."):
            errors["message"] = found
    elif action == Action.ANSWER:
        if found := _message_errors(payload.message, "Écrivez votre réponse au ministère."):
            errors["message"] = found
    elif action == Action.FORWARD:
        certifier = (
            db.session.get(Certifier, payload.certifier_id) if payload.certifier_id else None
        )
        if certifier is not None:
            extra["certifier"] = certifier
            extra["certifier_name"] = certifier.name
        elif payload.certifier_name:
            if len(payload.certifier_name) > 200:
                errors["certifier"] = ["Au plus 200 caractères."]
            extra["certifier_name"] = payload.certifier_name
        else:
            errors["certifier"] = ["Choisissez le certificateur dans la liste, ou écrivez son nom."]
        if payload.sent_on is None:
            errors["sent_on"] = ["Indiquez la date de transmission au certificateur."]
        elif payload.sent_on > today:
            errors["sent_on"] = ["La date de transmission ne peut pas être dans le futur."]
        if not payload.reference:
            errors["reference"] = ["Indiquez la référence de la transmission (courrier, envoi)."]
        elif len(payload.reference) > MAX_REFERENCE_LENGTH:
            errors["reference"] = [f"Au plus {MAX_REFERENCE_LENGTH} caractères."]
    elif action == Action.DISMISS:
        if payload.reason_code not in DISMISSAL_REASONS:
            errors["reason_code"] = ["Choisissez le motif du classement sans suite."]
        elif payload.reason_code == "autre" and not payload.reason:
            errors["reason"] = ["Précisez le motif."]
        if len(payload.reason) > MAX_MESSAGE_LENGTH:
            errors["reason"] = [f"Au plus {MAX_MESSAGE_LENGTH} caractères."]
    elif action == Action.MERGE:
        target = _merge_target(actor, signalement, payload.merge_into)
        if target is None:
            errors["merge_into"] = [
                "Indiquez la référence (SIG-…) d'un autre signalement que vous voyez."
            ]
        elif target.provider_id != signalement.provider_id:
            errors["merge_into"] = ["On ne fusionne que des signalements sur le même organisme."]
        elif target.merged_into_id is not None:
            errors["merge_into"] = [
                f"{target.reference} est lui-même fusionné : fusionnez avec "
                f"SIG-{target.merged_into_id:05d}."
            ]
        else:
            extra["merge_target"] = target
    elif action == Action.CLOSE and len(payload.message) > MAX_MESSAGE_LENGTH:
        errors["message"] = [f"Au plus {MAX_MESSAGE_LENGTH} caractères."]
    return errors, extra


def transition(
    actor: User,
    signalement: Signalement,
    action: Action | str,
    payload: Payload | None = None,
    *,
    version: int | str | None = None,
    files: Sequence[UploadLike | None] = (),
    storage: Storage | None = None,
    max_bytes: int | None = None,
    today: date | None = None,
) -> Signalement:
    """Do `action`: checked against the actor's role and the state (the workflow), against
    the substantiation rules when it sends, and against its form; dated, audited, notified
    to the other side in the portal and by mail. Commits."""
    try:
        action = Action(action)
    except ValueError:
        raise TransitionRefused("Action inconnue sur un signalement.") from None
    payload = payload or Payload()
    today = today or clock.today()
    _check_version(signalement, version)
    source = SignalementState(signalement.state)
    approval = approval_required(signalement.funder_id)
    target = workflow.check(source, action, actor.role, approval_required=approval)
    if is_funder_side(actor) and signalement.funder_id != actor.funder_id:
        raise TransitionRefused("Ce signalement n'est pas celui de votre financeur.")
    if action in (Action.SUBMIT, Action.SEND, Action.APPROVE):
        result = substantiation(signalement)
        if not result.ok:
            raise TransitionRefused(" ".join([NOT_SUBSTANTIATED, *result.missing.values()]))
    errors, extra = _validate(actor, signalement, action, payload, today)
    chosen = evidence.chosen_files(files, errors) if action == Action.ANSWER else []
    if errors:
        raise Refused(errors)
    storage = storage or storage_for(current_app)
    stored = evidence.store_all(storage, chosen, max_bytes or max_upload_bytes()) if chosen else []
    try:
        details = _apply(actor, signalement, action, source, target, payload, extra, stored)
        audit.record(
            f"signalement.{action.value}",
            actor=actor,
            target=signalement,
            funder_id=signalement.funder_id,
            details=details,
        )
        notified = notices.notify(signalement, action, actor)
    except BaseException:
        evidence.discard(storage, [s.key for s in stored])
        raise
    notices.mail(signalement, notified, payload.message or payload.reason)
    return signalement


def _apply(
    actor: User,
    signalement: Signalement,
    action: Action,
    source: SignalementState,
    target: SignalementState,
    payload: Payload,
    extra: dict[str, Any],
    stored: Sequence[StoredFile],
) -> dict[str, Any]:
    """Change the row for `action`; return the audit details."""
    now = utcnow()
    spec = workflow.TRANSITIONS[action]
    signalement.state = target.value
    setattr(signalement, spec.stamp, now)
    signalement.updated_at = now
    details: dict[str, Any] = {"from": source.value, "to": target.value}
    if action in (Action.SEND, Action.APPROVE):
        signalement.region_code = provider_region(signalement.provider.nda)
        details["region_code"] = signalement.region_code
        details["dossier_ids"] = [d.id for d in signalement.dossiers]
        details["indicators"] = signalement.indicators
        details["evidence"] = len(signalement.evidence)
        if action == Action.APPROVE or approval_required(signalement.funder_id):
            signalement.approved_at = now
            signalement.approved_by_id = actor.id
            details["approved_by"] = actor.email
    elif action == Action.RETURN:
        details["reason"] = payload.message
    elif action == Action.REQUEST_INFO:
        message = SignalementMessage(
            side=Side.MINISTRY.value,
            kind=MessageKind.INFO_REQUEST.value,
            body=payload.message,
            author_id=actor.id,
        )
        signalement.messages.append(message)
        db.session.flush()
        details["message_id"] = message.id
    elif action == Action.ANSWER:
        message = SignalementMessage(
            side=Side.FUNDER.value,
            kind=MessageKind.ANSWER.value,
            body=payload.message,
            author_id=actor.id,
        )
        signalement.messages.append(message)
        db.session.flush()
        signalement.evidence.extend(evidence.file_evidence(s, actor, message) for s in stored)
        details["message_id"] = message.id
        details["files"] = [
            {"name": s.original_name, "sha256": s.sha256, "size": s.size} for s in stored
        ]
    elif action == Action.FORWARD:
        certifier = extra.get("certifier")
        signalement.certifier_id = certifier.id if certifier is not None else None
        signalement.certifier_name = extra["certifier_name"]
        signalement.certifier_sent_on = payload.sent_on
        signalement.certifier_reference = payload.reference
        signalement.outcome = Outcome.FORWARDED.value
        details.update(
            certifier=signalement.certifier_name,
            sent_on=payload.sent_on,
            reference=payload.reference,
        )
    elif action == Action.DISMISS:
        signalement.outcome = Outcome.NO_FURTHER_ACTION.value
        signalement.outcome_reason_code = payload.reason_code
        signalement.outcome_reason = payload.reason or None
        details.update(reason_code=payload.reason_code, reason=payload.reason)
    elif action == Action.MERGE:
        merged_into: Signalement = extra["merge_target"]
        signalement.outcome = Outcome.MERGED.value
        signalement.merged_into_id = merged_into.id
        signalement.outcome_reason = payload.message or None
        details["merged_into"] = merged_into.id
    elif action == Action.CLOSE and payload.message:
        details["note"] = payload.message
    if actor.role == Role.MINISTRY and (
        action == Action.TAKE or signalement.ministry_assignee_id is None
    ):
        signalement.ministry_assignee_id = actor.id
    return details


# --- The thread --------------------------------------------------------------------------------


def post_message(actor: User, signalement: Signalement, body: str) -> SignalementMessage:
    """A message in the thread, to the other side, then the mail (sent after the commit)."""
    if not workflow.can_write(signalement.state, actor.role):
        raise TransitionRefused(NO_THREAD)
    body = (body or "").strip()
    if errors := _message_errors(body, "Écrivez votre message."):
        raise Refused({"message": errors})
    message = SignalementMessage(
        side=notices.side_of(actor).value,
        kind=MessageKind.MESSAGE.value,
        body=body,
        author_id=actor.id,
    )
    signalement.messages.append(message)
    signalement.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "signalement.message",
        actor=actor,
        target=signalement,
        funder_id=signalement.funder_id,
        details={"message_id": message.id, "side": message.side},
    )
    notified = notices.notify(signalement, None, actor)
    notices.mail(signalement, notified, body)
    return message


# --- History -----------------------------------------------------------------------------------

HISTORY_LABELS = {
    "signalement.created": "Brouillon créé",
    "signalement.updated": "Brouillon modifié",
    "signalement.upload_refused": "Fichier refusé",
    "signalement.message": "Message",
    "signalement.pack_downloaded": "Dossier de transmission téléchargé",
    "signalement.evidence_downloaded": "Preuve téléchargée",
    **{
        f"signalement.{action.value}": spec.done[0].upper() + spec.done[1:]
        for action, spec in workflow.TRANSITIONS.items()
    },
}
#: What the ministry does not see of the funder's own work before sending.
FUNDER_ONLY_EVENTS = frozenset(
    {
        "signalement.created",
        "signalement.updated",
        "signalement.upload_refused",
        "signalement.soumettre",
        "signalement.renvoyer",
    }
)


@dataclass(frozen=True)
class HistoryEntry:
    occurred_at: datetime  # Paris time
    actor: str
    label: str


def history(signalement: Signalement, viewer: User) -> list[HistoryEntry]:
    """The signalement's events, oldest first (one query); the ministry does not see the
    funder's drafting."""
    events = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == Signalement.__tablename__,
            AuditEvent.object_id == str(signalement.id),
            AuditEvent.action.like("signalement.%"),
        )
        .order_by(AuditEvent.id)
    )
    entries = []
    for event in events:
        if viewer.role == Role.MINISTRY and event.action in FUNDER_ONLY_EVENTS:
            continue
        if event.action.endswith("_downloaded"):
            continue
        entries.append(
            HistoryEntry(
                occurred_at=clock.local(event.occurred_at),
                actor=event.actor_label,
                label=HISTORY_LABELS.get(event.action, event.action),
            )
        )
    return entries


def record_download(actor: User, signalement: Signalement, item: SignalementEvidence) -> None:
    """Who downloaded which evidence file (the caller commits)."""
    audit.record(
        "signalement.evidence_downloaded",
        actor=actor,
        target=signalement,
        funder_id=signalement.funder_id,
        details={"evidence_id": item.id, "title": item.title},
    )
