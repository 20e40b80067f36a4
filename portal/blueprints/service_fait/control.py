"""The control page of a dossier (figures side by side, checks, Qualiopi, pieces,
decisions, requests), the decision on an invoice, its reopening, and the statistics.

Funder side only (the section's roles); another funder's dossier answers 404, audited
(`get_dossier_or_404`). Reopening a decision is a funder admin's.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_htmx import make_response as htmx_response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal import clock, confirmation
from portal import formatting as fmt
from portal.access import deny, get_dossier_or_404, get_piece_or_404, roles_required
from portal.blueprints.service_fait import bp
from portal.blueprints.service_fait.control_forms import (
    DecisionForm,
    ReopenForm,
    StatisticsFilterForm,
)
from portal.blueprints.service_fait.routes import SECTION
from portal.dossiers import locks, piece_rules
from portal.dossiers import pieces as pieces_service
from portal.dossiers.calendar import SLOT_STATUS_LABELS
from portal.dossiers.rules import CATEGORY_LABELS
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.models import (
    CONTROL_STATUS_LABELS,
    DECISION_OUTCOME_LABELS,
    PIECE_KIND_LABELS,
    SCHEME_LABELS,
    Category,
    ControlStatus,
    Dossier,
    InvoiceDecision,
    Piece,
    PieceKind,
    Role,
    ServiceFaitControl,
    User,
)
from portal.rendering import render_page, wants_fragment
from portal.service_fait import decisions, figures, reasons
from portal.service_fait import document_requests as requests_service
from portal.service_fait import statistics as stats_service
from portal.web import actor as current_actor

FUNDER_STAFF = tuple(SECTION.roles)
#: `?calendrier=complet`: the figures table with every period, the future ones too.
FULL_CALENDAR_ARG, FULL_CALENDAR = "calendrier", "complet"


def _names(user_ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in user_ids if i}
    if not wanted:
        return {}
    return dict(
        db.session.execute(select(User.id, User.full_name).where(User.id.in_(wanted))).all()
    )


def _control(dossier: Dossier) -> ServiceFaitControl | None:
    return db.session.scalar(
        select(ServiceFaitControl)
        .options(joinedload(ServiceFaitControl.assigned_to))
        .where(ServiceFaitControl.dossier_id == dossier.id)
    )


def decision_prefix(invoice_id: int) -> str:
    return f"facture-{invoice_id}"


def reopen_prefix(decision_id: int) -> str:
    return f"reouvrir-{decision_id}"


def _page_context(
    dossier: Dossier,
    actor: User,
    *,
    posted: DecisionForm | None = None,
    posted_invoice: int | None = None,
    reopen_posted: ReopenForm | None = None,
    reopen_posted_id: int | None = None,
    message: str | None = None,
    general: str | None = None,
    full_calendar: bool = False,
) -> dict[str, Any]:
    """Everything the control page shows (a bounded number of queries). `full_calendar`:
    every period of the figures table, the future ones too (folded away by default)."""
    today = clock.today()
    control = _control(dossier)
    version = control.version if control is not None else 0
    current = figures.current_pieces(dossier)
    active = decisions.active_decisions(dossier.id)
    history = decisions.dossier_decisions(dossier.id)
    rows, totals = figures.period_figures(dossier, current, active, today)
    finding_groups = figures.findings_by_severity(dossier)
    requests_panel = requests_service.panel_context(dossier, actor)
    qualiopi = figures.qualiopi_status(dossier, [p for p in current if p.kind == PieceKind.INVOICE])
    invoices = [p for p in current if p.kind == PieceKind.INVOICE]
    forms: dict[int, DecisionForm] = {}
    for invoice in invoices:
        if invoice.id in active:
            continue
        if posted is not None and posted_invoice == invoice.id:
            posted.version.show(version)
            forms[invoice.id] = posted
        else:
            form = DecisionForm(formdata=None, prefix=decision_prefix(invoice.id))
            form.version.show(version)
            forms[invoice.id] = form
    can_reopen = decisions.can_reopen(actor, dossier)
    reopen_forms: dict[int, ReopenForm] = {}
    if can_reopen:
        for decision in active.values():
            if reopen_posted is not None and reopen_posted_id == decision.id:
                reopen_forms[decision.id] = reopen_posted
            else:
                reopen_forms[decision.id] = ReopenForm(
                    formdata=None, prefix=reopen_prefix(decision.id)
                )
    return {
        "section": SECTION,
        "dossier": dossier,
        "control": control,
        "status": control.status if control is not None else ControlStatus.TO_CONTROL.value,
        "today": today,
        "rows": rows,
        "calendar": figures.fold_calendar(rows, today, full=full_calendar),
        "full_calendar": full_calendar,
        "summary": figures.control_summary(
            rows, totals, finding_groups, requests_panel["open_count"]
        ),
        "totals": totals,
        "current": current,
        "provenance": {p.id: pieces_service.provenance(p) for p in current},
        "invoices": invoices,
        "active": active,
        "history": history,
        "locks": locks.locking_decisions(p.id for p in current),
        "finding_groups": finding_groups,
        "qualiopi": qualiopi,
        "qualiopi_verdict": figures.qualiopi_verdict(qualiopi),
        "forms": forms,
        "reopen_forms": reopen_forms,
        "can_reopen": can_reopen,
        "names": _names({d.decided_by_id for d in history} | {d.reopened_by_id for d in history}),
        "requests_panel": requests_panel,
        "message": message,
        "general": general,
        "invoiced_amount": decisions.invoiced_amount,
        "outcome_labels": {str(k): v for k, v in DECISION_OUTCOME_LABELS.items()},
        "reason_label": reasons.label,
        "status_labels": {str(k): v for k, v in CONTROL_STATUS_LABELS.items()},
        "kind_labels": PIECE_KIND_LABELS,
        "slot_status_labels": SLOT_STATUS_LABELS,
        "category_label": CATEGORY_LABELS.get(Category(dossier.category), dossier.category),
        "scheme_label": SCHEME_LABELS.get(dossier.scheme, dossier.scheme),
    }


@bp.get("/dossiers/<int:dossier_id>")
@roles_required(*FUNDER_STAFF)
def control(dossier_id: int) -> Response:
    """The control page of a dossier."""
    actor = current_actor()
    dossier = get_dossier_or_404(dossier_id, actor)
    full = request.args.get(FULL_CALENDAR_ARG) == FULL_CALENDAR
    return render_page(
        "service_fait/control.html", **_page_context(dossier, actor, full_calendar=full)
    )


def _control_url(dossier_id: int, anchor: str = "decisions") -> str:
    return url_for("service_fait.control", dossier_id=dossier_id, _anchor=anchor)


def _after_success(url: str) -> Response:
    """303 for a plain form; for HTMX, a reload of the page (figures, status and locks
    changed with the decision). A reload, not HX-Redirect: the page's own address with
    another anchor would only scroll, not load."""
    if wants_fragment():
        return htmx_response("", refresh=True)
    return redirect(url, code=303)


def _decisions_block(context: dict[str, Any], status: int) -> Response:
    """The decisions section alone for HTMX (always 200: htmx swaps no 4xx), the whole
    page otherwise, with `status`."""
    response = render_page("service_fait/control.html", block="decisions", **context)
    if not wants_fragment():
        response.status_code = status
    return response


@bp.post("/dossiers/<int:dossier_id>/factures/<int:invoice_id>/decision")
@roles_required(*FUNDER_STAFF)
def decide(dossier_id: int, invoice_id: int) -> Response:
    actor = current_actor()
    dossier = get_dossier_or_404(dossier_id, actor)
    invoice = get_piece_or_404(dossier, invoice_id, actor)  # another dossier's: 404, audited
    form = DecisionForm(prefix=decision_prefix(invoice_id))
    if not form.validate_on_submit():
        context = _page_context(dossier, actor, posted=form, posted_invoice=invoice_id)
        return _decisions_block(context, 200 if "csrf_token" not in form.errors else 400)
    if not confirmation.confirmed():
        return _confirm_decision(dossier, invoice, form)
    data = decisions.DecisionInput(
        outcome=form.outcome.data,
        amount_validated=form.amount_validated.data,
        reason_code=form.reason_code.data,
        note=form.note.data or "",
    )
    try:
        decision = decisions.decide(
            actor, dossier, invoice_id, data, expected_version=form.version.expected
        )
    except NotAllowed:
        deny(actor, "service fait : décision refusée", dossier_id=dossier_id)
    except Refused as refused:
        dossier = get_dossier_or_404(dossier_id, actor)
        form.add_errors(refused.errors)
        context = _page_context(
            dossier, actor, posted=form, posted_invoice=invoice_id, general=refused.general
        )
        return _decisions_block(context, 200)
    except (Stale, IntegrityError) as conflict:
        dossier = get_dossier_or_404(dossier_id, actor)
        message = conflict.message if isinstance(conflict, Stale) else decisions.CONFLICT
        context = _page_context(
            dossier, actor, posted=form, posted_invoice=invoice_id, general=message
        )
        return _decisions_block(context, 409)
    outcome = DECISION_OUTCOME_LABELS.get(decision.outcome, decision.outcome)
    flash(
        f"Décision enregistrée : {outcome.lower()}, "
        f"{piece_rules.format_money(decision.amount_validated)} validés.",
        "success",
    )
    return _after_success(_control_url(dossier.id))


def _confirm_decision(dossier: Dossier, invoice: Piece, form: DecisionForm) -> Response:
    outcome = DECISION_OUTCOME_LABELS.get(form.outcome.data or "", form.outcome.data or "")
    number = f"n° {invoice.invoice_number}" if invoice.invoice_number else "sans numéro"
    lines = [
        f"Dossier {dossier.reference}, facture {number} "
        f"{fmt.period(invoice.period_start, invoice.period_end)}, "
        f"{fmt.money(invoice.amount_excl_tax)} HT.",
        f"Décision : {outcome.lower()}"
        + (f", {form.amount_validated.data} € validés." if form.amount_validated.data else "."),
        "Les pièces sur lesquelles elle s'appuie seront verrouillées ; seul un administrateur "
        "du financeur pourra la rouvrir.",
    ]
    return confirmation.ask(
        "Confirmer la décision sur la facture",
        lines,
        "enregistrer la décision",
        _control_url(dossier.id),
    )


@bp.post("/decisions/<int:decision_id>/reouvrir")
@roles_required(Role.FUNDER_ADMIN)
def reopen(decision_id: int) -> Response:
    actor = current_actor()
    decision = db.session.get(InvoiceDecision, decision_id)
    if decision is None:
        abort(404)
    dossier = get_dossier_or_404(decision.dossier_id, actor)
    form = ReopenForm(prefix=reopen_prefix(decision_id))
    general = None
    if form.validate_on_submit():
        try:
            decisions.reopen(actor, decision, form.reason.data or "")
        except NotAllowed:
            deny(actor, "service fait : réouverture refusée", dossier_id=dossier.id)
        except Refused as refused:
            form.reason.errors = [*form.reason.errors, *refused.errors.get("reason", [])]
        except Stale as conflict:
            general = getattr(conflict, "message", decisions.CONFLICT)
        else:
            flash(
                "Décision rouverte : la facture attend une nouvelle décision, et les pièces "
                "sur lesquelles elle s'appuyait peuvent de nouveau être remplacées.",
                "success",
            )
            return _after_success(_control_url(dossier.id))
    dossier = get_dossier_or_404(decision.dossier_id, actor)
    context = _page_context(
        dossier, actor, reopen_posted=form, reopen_posted_id=decision_id, general=general
    )
    return _decisions_block(context, 409 if general else 200)


# --- Statistics -------------------------------------------------------------------------------


@bp.get("/statistiques")
@roles_required(*FUNDER_STAFF)
def statistics() -> Response:
    actor = current_actor()
    form = StatisticsFilterForm(request.args)
    form.validate()
    start = None if form.du.errors else form.du.data
    end = None if form.au.errors else form.au.data
    return render_page(
        "service_fait/statistics.html",
        block="figures",
        section=SECTION,
        form=form,
        report=stats_service.report(actor, start, end),
        reason_label=reasons.label,
        reason_codes=list(reasons.REASONS),
    )
