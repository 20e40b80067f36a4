"""Routes of the dossiers section, funder side: the list (filters, sort, pages, exports),
creation by form and by import, edit. The OF's space ("Mes dossiers") and each dossier's
page are in `pieces.py`."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from portal import audit, clock, formatting
from portal.access import deny, get_dossier_or_404, roles_required
from portal.blueprints.dossiers import SECTION, bp
from portal.blueprints.dossiers.forms import (
    DossierEditForm,
    DossierForm,
    ImportForm,
    ListFilterForm,
)
from portal.blueprints.dossiers.mine import my_dossiers
from portal.dossiers import rules, services
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.identifiers import classify
from portal.models import (
    DOSSIER_STATUS_LABELS,
    MODALITY_LABELS,
    PAYMENT_RHYTHM_LABELS,
    SCHEME_LABELS,
    Role,
)
from portal.pagination import page_from
from portal.public_list import lookup
from portal.public_list.history import CATEGORY_KEYS
from portal.rendering import render_page
from portal.web import actor as current_actor

FUNDER_SIDE = (Role.FUNDER_ADMIN, Role.CONTROLLER)
MAX_ERRORS_SHOWN = 1000

# What each import column holds, for the import page (choices are listed from the labels).
VALUE_HELP = {
    "reference": "lettres, chiffres, - _ / . (50 au plus), sans espace",
    "provider": "SIRET (14 chiffres) ou NDA (11 chiffres)",
    "rncp_code": "RNCP12345 ou RS1234",
    "start_date": "jj/mm/aaaa",
    "end_date": "jj/mm/aaaa, au plus tôt la date de début",
    "planned_hours": "35, 35h30, 35:30 ou 35,5 (plus de 0)",
    "agreed_amount": "1 234,50 ou 1234.50 (euros)",
    "instalments": f"de 2 à {rules.MAX_INSTALMENTS}",
    "subcontracted": "oui ou non (vide : non)",
}


def _labels() -> dict[str, Any]:
    return {
        "category_labels": {str(k): v for k, v in rules.CATEGORY_LABELS.items()},
        "scheme_labels": {str(k): v for k, v in SCHEME_LABELS.items()},
        "modality_labels": {str(k): v for k, v in MODALITY_LABELS.items()},
        "rhythm_labels": {str(k): v for k, v in PAYMENT_RHYTHM_LABELS.items()},
        "status_labels": {str(k): v for k, v in DOSSIER_STATUS_LABELS.items()},
    }


# --- List ----------------------------------------------------------------------------------------


def _list_state() -> tuple[ListFilterForm, services.DossierFilters, str, dict[str, str]]:
    """The filter form read from the query string, the filters, the sort, and the query
    arguments that reproduce them in links (sort headers, pages, exports)."""
    form = ListFilterForm(request.args)
    form.validate()

    def valid(field: Any) -> Any:
        return None if field.errors else field.data

    filters = services.DossierFilters(
        q=(valid(form.q) or "").strip(),
        of=(valid(form.organisme) or "").strip(),
        status=valid(form.statut) or "",
        scheme=valid(form.dispositif) or "",
        start=valid(form.du),
        end=valid(form.au),
        missing=bool(form.manquantes.data),
    )
    sort = services.parse_sort(request.args.get("tri"))
    args = {
        "q": filters.q,
        "organisme": filters.of,
        "statut": filters.status,
        "dispositif": filters.scheme,
        "du": filters.start.isoformat() if filters.start else "",
        "au": filters.end.isoformat() if filters.end else "",
        "manquantes": "1" if filters.missing else "",
        "tri": sort if sort != services.DEFAULT_SORT else "",
    }
    return form, filters, sort, {key: value for key, value in args.items() if value}


@bp.get("/")
@roles_required(*SECTION.roles)
def index() -> Response | str:
    if current_user.role == Role.PROVIDER:
        return my_dossiers()  # "Mes dossiers": the OF's space
    form, filters, sort, args = _list_state()
    page = services.list_dossiers(current_actor(), filters, sort, page=page_from(request.args))
    return render_page(
        "dossiers/index.html",
        block="results",
        section=SECTION,
        form=form,
        page=page,
        sort=sort,
        args=args,
        today=clock.today(),
        **_labels(),
    )


def _export(extension: str) -> Response:
    actor = current_actor()
    _form, filters, sort, args = _list_state()
    rows = list(services.export_rows(actor, filters, sort))
    if extension == "csv":
        body, content_type = services.to_csv(rows), "text/csv; charset=utf-8"
    else:
        body, content_type = services.to_xlsx(rows), services.XLSX_TYPE
    audit.record(
        "dossier.exported",
        actor=actor,
        funder_id=actor.funder_id,
        details={"format": extension, "filters": args, "count": len(rows)},
    )
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="dossiers-{clock.today():%Y-%m-%d}.{extension}"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/export.csv")
@roles_required(*FUNDER_SIDE)
def export_csv() -> Response:
    return _export("csv")


@bp.get("/export.xlsx")
@roles_required(*FUNDER_SIDE)
def export_xlsx() -> Response:
    return _export("xlsx")


# --- Create and edit -----------------------------------------------------------------------------


@bp.route("/nouveau", methods=["GET", "POST"])
@roles_required(*FUNDER_SIDE)
def new() -> Response | str:
    form = DossierForm()
    if form.validate_on_submit():
        try:
            dossier = services.create_dossier(current_actor(), form.raw())
        except Refused as invalid:
            form.add_errors(invalid.errors)
        except IntegrityError:  # the same reference saved at the same time
            form.add_errors({"reference": [services.REFERENCE_TAKEN]})
        else:
            flash(f"Dossier {dossier.reference} créé.", "success")
            return redirect(url_for("dossiers.detail", dossier_id=dossier.id), code=303)
    return render_template("dossiers/form.html", form=form, dossier=None)


@bp.route("/<int:dossier_id>/modifier", methods=["GET", "POST"])
@roles_required(*FUNDER_SIDE)
def edit(dossier_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    dossier = get_dossier_or_404(dossier_id, actor, need="edit")
    status = 200
    if request.method == "GET":
        form = DossierEditForm(data=services.form_values(dossier))
        form.version.show(dossier.version)
    else:
        form = DossierEditForm()
        if form.validate_on_submit():
            try:
                services.update_dossier(
                    actor, dossier, form.raw(), expected_version=form.version.expected
                )
            except NotAllowed:
                deny(actor, "dossier : modification refusée", dossier_id=dossier_id)
            except Stale:
                flash(
                    "Ce dossier a été modifié par quelqu'un d'autre pendant votre saisie. "
                    "Voici sa version actuelle : reportez vos changements.",
                    "error",
                )
                dossier = get_dossier_or_404(dossier_id, actor, need="edit")
                db.session.refresh(dossier)
                form = DossierEditForm(formdata=None, data=services.form_values(dossier))
                form.version.show(dossier.version)
                status = 409
            except Refused as invalid:
                form.add_errors(invalid.errors)
                dossier = get_dossier_or_404(dossier_id, actor, need="edit")
            except IntegrityError:
                form.add_errors({"reference": [services.REFERENCE_TAKEN]})
                dossier = get_dossier_or_404(dossier_id, actor, need="edit")
            else:
                flash(f"Dossier {dossier.reference} enregistré.", "success")
                return redirect(url_for("dossiers.detail", dossier_id=dossier.id), code=303)
    return render_template("dossiers/form.html", form=form, dossier=dossier), status


@bp.get("/organisme")
@roles_required(*FUNDER_SIDE)
def check_provider() -> str:
    """Inline check of the OF field: who it is, and its Qualiopi status in the list in
    force today (an HTMX fragment, also usable alone)."""
    text = (request.args.get("provider") or "").strip()
    category = request.args.get("category") or ""
    context: dict[str, Any] = {"text": text, "category": category, "error": None}
    if text:
        try:
            choice = services.find_provider(rules.parse_provider(text))
        except rules.RuleError as error:
            context["error"] = str(error)
        else:
            result = lookup.check(classify(choice.nda), clock.today())
            entry = next((m for m in result.matches if m.matched_on == "nda"), None)
            context.update(
                choice=choice,
                entry=entry,
                list_as_of=result.list_as_of,
                category_keys=CATEGORY_KEYS,
            )
    return render_template("dossiers/_provider_check.html", **context, **_labels())


# --- Import --------------------------------------------------------------------------------------


def _import_page(form: ImportForm, report: services.ImportReport | None = None) -> str:
    labels = _labels()
    return render_template(
        "dossiers/import.html",
        choice_values={
            "category": labels["category_labels"],
            "scheme": labels["scheme_labels"],
            "modality": labels["modality_labels"],
            "payment_rhythm": labels["rhythm_labels"],
        },
        form=form,
        report=report,
        columns=services.IMPORT_COLUMNS,
        field_labels=rules.FIELD_LABELS,
        value_help=VALUE_HELP,
        max_errors=MAX_ERRORS_SHOWN,
        max_lines=formatting.number(services.MAX_IMPORT_LINES),
    )


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*FUNDER_SIDE)
def import_file() -> Response | str:
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        upload = form.file.data
        filename = (upload.filename or "fichier").replace("\\", "/").rsplit("/", 1)[-1][:200]
        try:
            lines, ignored = services.read_import(upload.stream.read(services.MAX_IMPORT_BYTES + 1))
        except Refused as refusal:
            form.file.errors = [*form.file.errors, str(refusal)]
        else:
            try:
                report = services.import_dossiers(current_actor(), lines, filename=filename)
            except IntegrityError:  # a reference saved meanwhile by someone else
                form.file.errors = [
                    *form.file.errors,
                    "Un dossier de ce fichier a été créé entre-temps par quelqu'un "
                    "d'autre : aucun dossier n'a été importé. Déposez de nouveau le fichier.",
                ]
                return _import_page(form)
            report.ignored_columns = ignored
            if report.ok:
                count = len(report.created)
                flash(
                    f"{count} dossier{'s' if count > 1 else ''} importé{'s' if count > 1 else ''}"
                    f" depuis « {filename} ».",
                    "success",
                )
                if ignored:
                    flash("Colonnes ignorées : " + ", ".join(ignored) + ".", "info")
                return redirect(url_for("dossiers.index"), code=303)
    return _import_page(form, report)


def _template_download(body: bytes, content_type: str, extension: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="modele-import-dossiers.{extension}"'
    )
    return response


@bp.get("/import/modele.csv")
@roles_required(*FUNDER_SIDE)
def import_template_csv() -> Response:
    return _template_download(services.template_csv(), "text/csv; charset=utf-8", "csv")


@bp.get("/import/modele.xlsx")
@roles_required(*FUNDER_SIDE)
def import_template_xlsx() -> Response:
    return _template_download(services.template_xlsx(), services.XLSX_TYPE, "xlsx")
