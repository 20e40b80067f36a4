"""Routes of the service_fait section: the blueprint, and the controller's queue (filters,
sort, pages, counts per status, exports, bulk actions on a selection).

The other pages register on the same blueprint from their modules (imported by the
package): `control` (the control page, decisions, statistics), `requests`, `bundle`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode

from flask import abort, flash, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from portal import audit, clock, confirmation, exports
from portal.access import roles_required
from portal.blueprints.service_fait import bp
from portal.blueprints.service_fait.control_forms import QueueFilterForm
from portal.dossiers import rules
from portal.errors import Refused, Stale
from portal.forms import EmptyForm
from portal.models import SCHEME_LABELS, SCHEME_SHORT_LABELS, User
from portal.navigation import section
from portal.pagination import page_from
from portal.rendering import render_page
from portal.routing import database_id
from portal.service_fait import decisions, queue
from portal.web import actor as current_actor
from portal.web import redirect_after_post

SECTION = section("service_fait")
FUNDER_STAFF = tuple(SECTION.roles)  # funder admins and controllers

#: Query parameters of the queue that links and the bulk form's way back keep.
QUEUE_ARGS = (
    "statut",
    "organisme",
    "dispositif",
    "anomalie",
    "gravite",
    "du",
    "au",
    "montant_min",
    "montant_max",
    "assigne",
    "demande",
    "tri",
    "page",
)


def _amount(field: Any) -> Decimal | None:
    """An amount filter typed the French way ("1 234,50"); an error is shown on the field."""
    text = (field.data or "").strip()
    if not text or field.errors:
        return None
    try:
        return rules.parse_amount(text)
    except rules.RuleError as error:
        field.errors = [*field.errors, str(error)]
        return None


def queue_state(
    staff: list[User] | None = None,
) -> tuple[Any, queue.QueueFilters, str, dict[str, str]]:
    """The filter form read from the query string, the filters, the sort, and the query
    arguments that reproduce them in links (tabs, sort headers, pages, exports)."""
    actor = current_actor()
    form = QueueFilterForm(request.args)
    form.set_choices(queue.anomaly_codes(), staff if staff is not None else queue.staff(actor))
    form.validate()

    def valid(field: Any) -> Any:
        return None if field.errors else field.data

    status = valid(form.statut) or queue.DEFAULT_STATUS
    filters = queue.QueueFilters(
        status=status,
        of=(valid(form.organisme) or "").strip(),
        scheme=valid(form.dispositif) or "",
        code=valid(form.anomalie) or "",
        severity=valid(form.gravite) or "",
        start=valid(form.du),
        end=valid(form.au),
        amount_min=_amount(form.montant_min),
        amount_max=_amount(form.montant_max),
        assignee=valid(form.assigne) or "",
        documents_differ=bool(valid(form.differents)),
        request=valid(form.demande) or "",
        today=clock.today(),
    )
    sort = queue.parse_sort(request.args.get("tri"))
    args = {
        "statut": filters.status if filters.status != queue.DEFAULT_STATUS else "",
        "organisme": filters.of,
        "dispositif": filters.scheme,
        "anomalie": filters.code,
        "gravite": filters.severity,
        "du": filters.start.isoformat() if filters.start else "",
        "au": filters.end.isoformat() if filters.end else "",
        "montant_min": _plain(filters.amount_min),
        "montant_max": _plain(filters.amount_max),
        "assigne": filters.assignee,
        "differents": "1" if filters.documents_differ else "",
        "demande": filters.request,
        "tri": sort if sort != queue.DEFAULT_SORT else "",
    }
    return form, filters, sort, {key: value for key, value in args.items() if value}


def _status_tabs(args: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(status, label, query arguments of its link) of each tab: the other filters kept."""
    tabs = []
    for value, label in [*queue.status_labels().items(), (queue.STATUS_ALL, "Tous")]:
        tab_args = {key: v for key, v in args.items() if key != "statut"}
        if value != queue.DEFAULT_STATUS:
            tab_args["statut"] = value
        tabs.append((value, label, tab_args))
    return tabs


def _plain(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> Response:
    """The controller's queue."""
    actor = current_actor()
    staff = queue.staff(actor)
    form, filters, sort, args = queue_state(staff)
    # Creates the controls of dossiers the checks never saw (committed at the edge).
    page = queue.list_queue(actor, filters, sort, page=page_from(request.args))
    return render_page(
        "service_fait/index.html",
        block="results",
        section=SECTION,
        form=form,
        filters=filters,
        page=page,
        sort=sort,
        args=args,
        staff=staff,
        bulk_form=EmptyForm(),
        status_tabs=_status_tabs(args),
        more_filters=any(
            args.get(name)
            for name in ("dispositif", "gravite", "du", "au", "montant_min", "montant_max")
        ),
        status_labels=queue.status_labels(),
        severity_labels=queue.severity_labels(),
        scheme_labels={str(k): v for k, v in SCHEME_LABELS.items()},
        scheme_short={str(k): v for k, v in SCHEME_SHORT_LABELS.items()},
        default_status=queue.DEFAULT_STATUS,
        back=urlencode({**args, **({"page": str(page.page)} if page.page > 1 else {})}),
    )


# --- Exports ----------------------------------------------------------------------------------


def _download(
    actor: User,
    extension: str,
    details: dict[str, Any],
    filters: queue.QueueFilters | None = None,
    sort: str | None = None,
    ids: list[int] | None = None,
) -> Response:
    """The export, streamed: audited (with its count) first, then the rows
    read in batches as the file is sent (constant memory, first bytes at once). The edge
    (`portal.unit_of_work`) commits the audit record before the body streams."""
    count = queue.export_count(actor, filters, ids=ids)
    audit.record(
        "service_fait.queue_exported",
        actor=actor,
        funder_id=actor.funder_id,
        details={"format": extension, "count": count, **details},
    )
    rows = queue.export_rows(actor, filters, sort, ids=ids)
    return exports.stream(
        queue.export_chunks(rows, extension),
        exports.CSV_TYPE if extension == "csv" else exports.XLSX_TYPE,
        f"controles-service-fait-{clock.today():%Y-%m-%d}.{extension}",
    )


def _export(extension: str) -> Response:
    actor = current_actor()
    _form, filters, sort, args = queue_state()
    return _download(actor, extension, {"filters": args}, filters, sort)


@bp.get("/export.csv")
@roles_required(*FUNDER_STAFF)
def export_csv() -> Response:
    return _export("csv")


@bp.get("/export.xlsx")
@roles_required(*FUNDER_STAFF)
def export_xlsx() -> Response:
    return _export("xlsx")


# --- Bulk actions -------------------------------------------------------------------------------


def _back_url(query: str) -> str:
    """The queue as it was (its filters, sort and page), from the form's hidden field."""
    parsed = parse_qs(query or "", keep_blank_values=False)
    kept = {key: values[0] for key, values in parsed.items() if key in QUEUE_ARGS and values}
    return url_for("service_fait.index", **kept)


def _references(dossiers: list[Any]) -> str:
    return ", ".join(d.reference for d in dossiers)


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


@bp.post("/selection")
@roles_required(*FUNDER_STAFF)
def bulk() -> Response:
    """Bulk actions on the checked rows: assign, validate as conforming, export."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    actor = current_actor()
    back = _back_url(request.form.get("retour", ""))
    action = request.form.get("action", "")
    ids = [i for i in map(database_id, request.form.getlist("dossier")) if i is not None]
    try:
        selected = queue.selected_dossiers(actor, ids)
    except Refused as refusal:
        flash(str(refusal), "error")
        return redirect_after_post(back)
    if not selected:
        flash("Aucun des dossiers cochés n'est dans votre file : rien n'a été fait.", "error")
        return redirect_after_post(back)
    if action in ("exporter_csv", "exporter_xlsx"):
        return _download(
            actor,
            action.removeprefix("exporter_"),
            {"selection": len(ids)},
            ids=[d.id for d in selected],
        )
    if action == "assigner":
        return _bulk_assign(actor, selected, back)
    if action == "valider":
        if not confirmation.confirmed():
            count = len(selected)
            return confirmation.ask(
                "Confirmer la validation des dossiers cochés",
                [
                    f"{_plural(count, 'dossier coché', 'dossiers cochés')} : "
                    f"{_references(selected)}.",
                    "Chaque facture en attente de décision y sera décidée conforme, pour son "
                    "montant facturé ; un dossier qui a une anomalie bloquante ne sera pas "
                    "validé.",
                ],
                "valider conformes",
                back,
                submitter=("action", "valider"),
            )
        return _bulk_validate(actor, selected, back)
    abort(400)


def _bulk_assign(actor: User, selected: list[Any], back: str) -> Response:
    raw = request.form.get("assigne_a", "")
    try:
        assignee = queue.assignable(actor, database_id(raw))
    except Refused as refusal:
        flash(str(refusal), "error")
        return redirect_after_post(back)
    try:
        changed = queue.assign(actor, selected, assignee)
    except (Stale, IntegrityError):
        flash(
            "Un dossier de la sélection a été modifié entre-temps : rien n'a été assigné. "
            "Recommencez.",
            "error",
        )
        return redirect_after_post(back)
    who = assignee.full_name if assignee is not None else "personne"
    flash(f"{_plural(changed, 'dossier assigné', 'dossiers assignés')} à {who}.", "success")
    return redirect_after_post(back)


def _bulk_validate(actor: User, selected: list[Any], back: str) -> Response:
    blocked = queue.blocked_ids([d.id for d in selected])
    try:
        result = decisions.validate_conforming(actor, selected, blocked)
    except (Stale, IntegrityError):
        flash(
            "Un dossier de la sélection a été décidé ou modifié entre-temps par quelqu'un "
            "d'autre : rien n'a été validé. Rechargez la file et recommencez.",
            "error",
        )
        return redirect_after_post(back)
    if result.validated:
        flash(
            f"{_plural(len(result.validated), 'dossier validé', 'dossiers validés')} conforme"
            f"{'s' if len(result.validated) > 1 else ''} "
            f"({_plural(result.invoices, 'facture', 'factures')}) : "
            f"{_references(result.validated)}.",
            "success",
        )
    if result.blocked:
        flash(
            "Non validés, car ils ont une anomalie bloquante à examiner : "
            f"{_references(result.blocked)}.",
            "warning",
        )
    if result.nothing_to_decide:
        flash(
            "Sans facture en attente de décision, donc rien à valider : "
            f"{_references(result.nothing_to_decide)}.",
            "info",
        )
    return redirect_after_post(back)
