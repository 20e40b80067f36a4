"""Bulk check pages: upload a CSV or XLSX of identifiers, see and download the results.

The checking, the stored results and the columns of the downloads are in
:mod:`portal.public_list.bulk_checks`; only the user who made a check may see it.
"""

from __future__ import annotations

from datetime import date
from pathlib import PureWindowsPath
from types import SimpleNamespace

from flask import abort, redirect, render_template, request, url_for
from flask_wtf.file import FileField, FileRequired
from werkzeug.wrappers import Response
from wtforms.validators import Optional, ValidationError

from portal import clock, formatting
from portal.access import deny, roles_required
from portal.blueprints.public_list import bp
from portal.blueprints.public_list.routes import SECTION
from portal.exports import CSV_TYPE, XLSX_TYPE, download, to_csv, to_xlsx
from portal.extensions import db
from portal.forms import DateField, Form
from portal.models import BulkCheck, User
from portal.pagination import page_from
from portal.public_list.bulk_checks import (
    COLUMNS,
    STATUS_LABELS,
    create_check,
    export_rows,
    line_status,
    recent_checks,
    summary,
)
from portal.public_list.bulk_input import (
    MAX_BYTES,
    MAX_LINES,
    BulkInput,
    BulkInputRefused,
    read_identifiers,
)
from portal.public_list.lookup import MATCHED_BY, NON_DECLARING
from portal.web import actor as _user

PER_PAGE = 500
# Short column headers of the four categories (the full label is in an <abbr title>).
CATEGORY_SHORT: dict[str, str] = {
    "actions_formation": "Formation",
    "bilans_competences": "Bilans",
    "vae": "VAE",
    "apprentissage": "Apprentissage",
}


class BulkCheckForm(Form):
    """The upload form; the file's content is read and checked by `validate_file`."""

    file = FileField(
        "Fichier d'identifiants (CSV ou XLSX)",
        validators=[FileRequired("Choisissez un fichier CSV ou XLSX.")],
        description=(
            "Un SIRET, un SIREN ou un numéro de déclaration d'activité par ligne, en première "
            "colonne ; en deuxième colonne, une date facultative (jj/mm/aaaa ou aaaa-mm-jj). "
            f"Au plus {formatting.number(MAX_LINES)} lignes."
        ),
    )
    on = DateField(
        "Date par défaut",
        validators=[Optional()],
        default=date.today,
        description="Pour les lignes sans date. Laissez vide pour aujourd'hui.",
    )

    bulk_input: BulkInput | None = None

    def validate_file(self, field: FileField) -> None:
        upload = field.data
        data = upload.stream.read(MAX_BYTES + 1)
        try:
            self.bulk_input = read_identifiers(
                data, upload.filename or "", default_on=self.on.data or clock.today()
            )
        except BulkInputRefused as refusal:
            raise ValidationError(str(refusal)) from refusal

    @property
    def filename(self) -> str:
        name = PureWindowsPath(self.file.data.filename or "").name.strip()
        return name[:255] or "fichier"


def get_check_or_404(check_id: int, user: User) -> BulkCheck:
    """A check of `user`; another user's check is as missing (404, audited)."""
    check = db.session.get(BulkCheck, check_id)
    if check is None:
        abort(404)
    if check.user_id != user.id:
        deny(user, "vérification groupée d'un autre utilisateur", status=404, check_id=check_id)
    return check


@bp.route("/verification-groupee", methods=["GET", "POST"])
@roles_required(*SECTION.roles)
def bulk() -> Response | str:
    form = BulkCheckForm()
    if form.validate_on_submit() and form.bulk_input is not None:
        check = create_check(_user(), form.filename, form.bulk_input)
        return redirect(url_for("public_list.bulk_result", check_id=check.id), code=303)
    return render_template(
        "public_list/bulk.html",
        form=form,
        recent=recent_checks(_user()),
        max_lines=formatting.number(MAX_LINES),
    )


@bp.get("/verification-groupee/<int:check_id>")
@roles_required(*SECTION.roles)
def bulk_result(check_id: int) -> str:
    check = get_check_or_404(check_id, _user())
    status = request.args.get("statut", "")
    if status not in STATUS_LABELS:
        status = ""
    rows = check.results
    if status:
        rows = [result for result in rows if line_status(result) == status]
    pages = max(1, -(-len(rows) // PER_PAGE))
    page = min(page_from(request.args), pages)
    return render_template(
        "public_list/bulk_result.html",
        check=check,
        counts=summary(check),
        status=status,
        status_labels=STATUS_LABELS,
        category_short=CATEGORY_SHORT,
        matched_by_labels=MATCHED_BY,
        non_declaring_label=NON_DECLARING,
        rows=rows[(page - 1) * PER_PAGE : page * PER_PAGE],
        total=len(rows),
        page=page,
        pages=pages,
        pager_page=SimpleNamespace(page=page, pages=pages),
    )


@bp.get("/verification-groupee/<int:check_id>.csv")
@roles_required(*SECTION.roles)
def bulk_download_csv(check_id: int) -> Response:
    check = get_check_or_404(check_id, _user())
    body = to_csv(COLUMNS, export_rows(check))
    return download(body, CSV_TYPE, f"verification-qualiopi-{check.id}.csv")


@bp.get("/verification-groupee/<int:check_id>.xlsx")
@roles_required(*SECTION.roles)
def bulk_download_xlsx(check_id: int) -> Response:
    check = get_check_or_404(check_id, _user())
    body = to_xlsx(COLUMNS, export_rows(check), "Vérification Qualiopi")
    return download(body, XLSX_TYPE, f"verification-qualiopi-{check.id}.xlsx")
