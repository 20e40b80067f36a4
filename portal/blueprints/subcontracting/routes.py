"""Routes of the subcontracting section.

- The OF's space ("Ma sous-traitance", at ``/sous-traitance/`` for an OF user): its
  contracts and what each one misses, its ceiling gauge per year; declaring and changing a
  contract with its files; linking its subcontracted dossiers; its CPF turnover, typed or
  imported from a CSV.
- The funder's side (funder admins and controllers): the OF their funder follows whose
  subcontracting is not compliant or whose ceiling is to watch (or all of them), each OF's
  page with the compliance of every contract and its ceiling.
- Exports (CSV, XLSX) of the contracts and of the ceilings in the user's scope.

Every object is loaded with an access check of `portal.access`: another OF's contract, or
an OF the funder does not follow, answers 404 (audited).
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import audit, clock, exports
from portal.access import (
    can_edit_subcontract,
    get_provider_or_404,
    get_subcontract_or_404,
    roles_required,
)
from portal.blueprints.subcontracting import bp
from portal.blueprints.subcontracting.forms import (
    MENTION_FIELDS,
    ContractForm,
    TurnoverForm,
    TurnoverImportForm,
)
from portal.blueprints.subcontracting.gauge import Gauge
from portal.dossiers.rules import CATEGORY_LABELS
from portal.errors import Refused, Stale
from portal.extensions import db
from portal.forms import EmptyForm
from portal.identifiers import InvalidIdentifier, validate
from portal.models import CONTRACT_MENTIONS, Provider, Role, Subcontract, User
from portal.navigation import section
from portal.public_list.history import CATEGORY_KEYS
from portal.rendering import render_page
from portal.routing import database_id
from portal.storage import storage_for
from portal.subcontracting import rules, services
from portal.uploads import ALLOWED_TYPES, max_size_label, max_upload_bytes, send_stored
from portal.web import actor as current_actor

SECTION = section("subcontracting")
VIEWERS = tuple(SECTION.roles)
FUNDER_SIDE = (Role.FUNDER_ADMIN, Role.CONTROLLER)
DOCUMENT_KINDS = {"contrat": "contract_document", "habilitation": "authorisation_document"}


def _common() -> dict[str, Any]:
    config = services.settings()
    return {
        "section": SECTION,
        "outcome_labels": rules.OUTCOME_LABELS,
        "category_labels": {str(k): v for k, v in CATEGORY_LABELS.items()},
        "mentions": CONTRACT_MENTIONS,
        "micro_thresholds": config.micro_thresholds_label(),
        "warning_rate": config.warning_rate,
        "make_gauge": lambda ceiling: Gauge(ceiling, config.warning_rate),
        "today": clock.today(),
    }


# --- Home of the section ------------------------------------------------------------------------


@bp.get("/")
@roles_required(*VIEWERS)
def index() -> Response | str:
    actor = current_actor()
    if actor.role == Role.PROVIDER:
        return _provider_space(actor)
    show_all = request.args.get("tous") == "1"
    q = (request.args.get("q") or "").strip()[:120]
    return render_page(
        "subcontracting/funder_index.html",
        block="results",
        overviews=services.funder_overviews(actor, flagged_only=not show_all, q=q),
        show_all=show_all,
        q=q,
        **_common(),
    )


def _provider_space(actor: User) -> str:
    provider = db.session.get(Provider, actor.provider_id)
    if provider is None:
        abort(404)
    return render_template(
        "subcontracting/mine.html",
        overview=services.overview(provider),
        turnovers=services.turnovers_of(provider.id),
        **_common(),
    )


@bp.get("/organismes/<int:provider_id>")
@roles_required(*FUNDER_SIDE)
def provider_page(provider_id: int) -> str:
    actor = current_actor()
    provider = get_provider_or_404(provider_id, actor)
    return render_template(
        "subcontracting/provider.html",
        overview=services.overview(provider, viewer=actor),
        turnovers=services.turnovers_of(provider.id),
        **_common(),
    )


# --- A contract ----------------------------------------------------------------------------------


@bp.get("/contrats/<int:contract_id>")
@roles_required(*VIEWERS)
def contract_page(contract_id: int) -> str:
    actor = current_actor()
    contract = get_subcontract_or_404(contract_id, actor)
    compliance = services.evaluate([contract])[contract.id]
    can_edit = can_edit_subcontract(actor, contract)
    last_year = min(contract.end_date.year, clock.today().year)
    first_year = max(contract.start_date.year, rules.FIRST_CEILING_YEAR)
    years = {contract.principal_id: range(first_year, last_year + 1) if contract.is_cpf else ()}
    return render_template(
        "subcontracting/contract.html",
        contract=contract,
        compliance=compliance,
        chain_label=rules.chain_label,
        ceilings=services.ceilings(years.keys(), years)[contract.principal_id],
        linked=services.linked_dossiers(contract, actor),
        candidates=services.link_candidates(contract) if can_edit else [],
        can_edit=can_edit,
        form=EmptyForm(),
        **_common(),
    )


def _contract_form_page(
    form: ContractForm, contract: Subcontract | None, status: int = 200
) -> tuple[str, int]:
    limit = max_upload_bytes()
    return (
        render_template(
            "subcontracting/contract_form.html",
            form=form,
            contract=contract,
            mention_fields=MENTION_FIELDS,
            max_file_label=max_size_label(limit),
            type_labels=ALLOWED_TYPES,
            **_common(),
        ),
        status,
    )


@bp.route("/contrats/nouveau", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def new_contract() -> Response | tuple[str, int]:
    actor = current_actor()
    form = ContractForm()
    if form.validate_on_submit():
        try:
            saved = services.save_contract(actor, form.raw(), form.uploaded())
        except Refused as invalid:
            services.record_refusal(actor, None, invalid)
            form.add_errors(invalid.errors)
        else:
            flash(f"Contrat avec « {saved.contract.subcontractor_name} » enregistré.", "success")
            return redirect(
                url_for("subcontracting.contract_page", contract_id=saved.contract.id), code=303
            )
    return _contract_form_page(form, None)


@bp.route("/contrats/<int:contract_id>/modifier", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def edit_contract(contract_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    contract = get_subcontract_or_404(contract_id, actor, need="edit")
    if request.method == "GET":
        form = ContractForm(data=services.form_values(contract))
        form.version.show(contract.version)
        return _contract_form_page(form, contract)
    form = ContractForm()
    if not form.validate_on_submit():
        return _contract_form_page(form, contract)
    try:
        services.save_contract(
            actor,
            form.raw(),
            form.uploaded(),
            contract=contract,
            expected_version=form.version.expected,
        )
    except Refused as invalid:
        services.record_refusal(actor, contract, invalid)
        form.add_errors(invalid.errors)
        return _contract_form_page(form, get_subcontract_or_404(contract_id, actor, "edit"))
    except Stale:
        flash(
            "Ce contrat a été modifié entre-temps (dans une autre fenêtre ?). Voici sa version "
            "actuelle : reportez vos changements.",
            "error",
        )
        contract = get_subcontract_or_404(contract_id, actor, need="edit")
        db.session.refresh(contract)
        form = ContractForm(formdata=None, data=services.form_values(contract))
        form.version.show(contract.version)
        return _contract_form_page(form, contract, 409)
    flash("Contrat enregistré.", "success")
    return redirect(url_for("subcontracting.contract_page", contract_id=contract_id), code=303)


@bp.post("/contrats/<int:contract_id>/dossiers")
@roles_required(Role.PROVIDER)
def link_dossiers(contract_id: int) -> Response:
    actor = current_actor()
    contract = get_subcontract_or_404(contract_id, actor, need="edit")
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    chosen = {i for i in map(database_id, request.form.getlist("dossiers")) if i is not None}
    linked, unlinked = services.set_linked_dossiers(actor, contract, chosen)
    if linked or unlinked:
        flash(
            f"Dossiers couverts par ce contrat : {len(linked)} ajouté(s), "
            f"{len(unlinked)} retiré(s).",
            "success",
        )
    else:
        flash("Aucun changement dans les dossiers couverts par ce contrat.", "info")
    return redirect(
        url_for("subcontracting.contract_page", contract_id=contract_id) + "#dossiers", code=303
    )


@bp.get("/contrats/<int:contract_id>/fichiers/<kind>")
@roles_required(*VIEWERS)
def download(contract_id: int, kind: str) -> Response:
    actor = current_actor()
    contract = get_subcontract_or_404(contract_id, actor)
    if kind not in DOCUMENT_KINDS:
        abort(404)
    document = getattr(contract, DOCUMENT_KINDS[kind])
    if document is None:
        abort(404)
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    services.record_download(actor, contract, document)
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


@bp.get("/sous-traitant")
@roles_required(Role.PROVIDER)
def check_subcontractor() -> str:
    """Inline look-up (HTMX) of the subcontractor typed: its public-list entry, its
    Qualiopi categories today, and whether the SIRET is one of its establishments."""
    nda_text = (request.args.get("subcontractor_nda") or "").strip()
    siret_text = (request.args.get("subcontractor_siret") or "").strip()
    context: dict[str, Any] = {"nda": nda_text, "error": None, "entry": None, "siret_error": None}
    if nda_text:
        try:
            nda = validate(nda_text, "nda")
        except InvalidIdentifier as error:
            context["error"] = str(error)
        else:
            entry = services.list_entry(nda)
            context.update(entry=entry, searched=nda, category_keys=CATEGORY_KEYS)
            if entry is not None and siret_text:
                try:
                    siret = validate(siret_text, "siret")
                except InvalidIdentifier as error:
                    context["siret_error"] = str(error)
                else:
                    if siret[:9] != entry.siren:
                        context["siret_error"] = (
                            f"Ce SIRET n'est pas celui d'un établissement de cet organisme "
                            f"(SIREN {entry.siren})."
                        )
    return render_template("subcontracting/_subcontractor_check.html", **context)


# --- CPF turnover --------------------------------------------------------------------------------


def _turnover_page(form: TurnoverForm, import_form: TurnoverImportForm, report: Any = None) -> str:
    actor = current_actor()
    return render_template(
        "subcontracting/turnover.html",
        form=form,
        import_form=import_form,
        report=report,
        turnovers=services.turnovers_of(actor.provider_id),
        columns=services.TURNOVER_COLUMNS,
        **_common(),
    )


@bp.route("/chiffre-affaires", methods=["GET", "POST"])
@roles_required(Role.PROVIDER)
def turnover() -> Response | str:
    actor = current_actor()
    today = clock.today()
    form = TurnoverForm(data={"year": str(today.year), "as_of": today.isoformat()})
    if form.validate_on_submit():
        try:
            row = services.save_turnover(
                actor,
                {"year": form.year.data, "amount": form.amount.data, "as_of": form.as_of.data},
            )
        except Refused as invalid:
            form.add_errors(invalid.errors)
        else:
            flash(f"Chiffre d'affaires CPF {row.year} enregistré.", "success")
            return redirect(url_for("subcontracting.index"), code=303)
    return _turnover_page(form, TurnoverImportForm(formdata=None))


@bp.post("/chiffre-affaires/import")
@roles_required(Role.PROVIDER)
def import_turnover() -> Response | str:
    actor = current_actor()
    form = TurnoverImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        filename = (upload.filename or "fichier").replace("\\", "/").rsplit("/", 1)[-1][:200]
        try:
            report = services.import_turnovers(
                actor, upload.stream.read(services.MAX_TURNOVER_BYTES + 1), filename=filename
            )
        except Refused as refusal:
            form.file.errors = [*form.file.errors, str(refusal)]
        else:
            if report.ok:
                count = len(report.saved)
                flash(
                    f"{count} année{'s' if count > 1 else ''} importée{'s' if count > 1 else ''}"
                    f" depuis « {filename} ».",
                    "success",
                )
                return redirect(url_for("subcontracting.index"), code=303)
    return _turnover_page(TurnoverForm(formdata=None), form, report)


@bp.get("/chiffre-affaires/modele.csv")
@roles_required(Role.PROVIDER)
def turnover_template() -> Response:
    return exports.download(
        services.TURNOVER_TEMPLATE, exports.CSV_TYPE, "modele-chiffre-affaires-cpf.csv"
    )


# --- Exports -------------------------------------------------------------------------------------


def _export(what: str, extension: str) -> Response:
    actor = current_actor()
    if what == "contrats":
        columns, rows = services.CONTRACT_COLUMNS, list(services.contract_rows(actor))
    else:
        columns, rows = services.CEILING_COLUMNS, list(services.ceiling_rows(actor))
    if extension == "csv":
        body, content_type = exports.to_csv(columns, rows), exports.CSV_TYPE
    else:
        body, content_type = exports.to_xlsx(columns, rows, what.capitalize()), exports.XLSX_TYPE
    audit.record(
        "subcontract.exported",
        actor=actor,
        funder_id=actor.funder_id,
        details={"what": what, "format": extension, "count": len(rows)},
    )
    return exports.download(
        body, content_type, f"sous-traitance-{what}-{clock.today():%Y-%m-%d}.{extension}"
    )


@bp.get("/export/contrats.csv")
@roles_required(*VIEWERS)
def export_contracts_csv() -> Response:
    return _export("contrats", "csv")


@bp.get("/export/contrats.xlsx")
@roles_required(*VIEWERS)
def export_contracts_xlsx() -> Response:
    return _export("contrats", "xlsx")


@bp.get("/export/plafonds.csv")
@roles_required(*VIEWERS)
def export_ceilings_csv() -> Response:
    return _export("plafonds", "csv")


@bp.get("/export/plafonds.xlsx")
@roles_required(*VIEWERS)
def export_ceilings_xlsx() -> Response:
    return _export("plafonds", "xlsx")
