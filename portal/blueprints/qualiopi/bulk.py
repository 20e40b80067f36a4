"""Bulk check: a CSV or XLSX file of identifiers checked at once against the public list.

The file is read by :func:`portal.public_list.bulk_input.read_identifiers` (format by
content, unreadable lines listed, not fatal); each readable line is checked against the
list in force on its date (the date of the line, or the form's default date); the results
are stored as they were that day (:class:`portal.models.BulkCheck`) and only the user who
made a check may see it or download it.

Downloads (``/qualiopi/verification-groupee/<id>.csv`` and ``.xlsx``) have these columns,
in this order (:data:`COLUMNS`), one row per match, and one row with empty match columns
when the identifier is absent from the list:

========================  ==================================================================
``ligne``                 line number in the uploaded file (the header is line 1)
``identifiant``           the identifier as written in the file
``date``                  the date checked (jj/mm/aaaa in the CSV, a date cell in the XLSX)
``liste_du``              the date of the public list in force on that date (empty: none)
``nda``                   numéro de déclaration d'activité of the match (11 digits, as text)
``siren``                 SIREN of the match
``siret``                 SIRET of the declaring establishment
``denomination``          the name in the list
``region``                INSEE region code (``76``, ``01``…)
``certifie``              ``oui`` when certified for at least one category, else ``non``
``actions_formation``     ``oui``/``non``: certified for actions de formation
``bilans_competences``    ``oui``/``non``: certified for bilans de compétences
``vae``                   ``oui``/``non``: certified for VAE
``apprentissage``         ``oui``/``non``: certified for actions de formation par apprentissage
========================  ==================================================================

The CSV is ``;``-separated UTF-8 with a BOM (so that Excel reads accents), CRLF line ends;
a text cell starting with ``=``, ``+``, ``-`` or ``@`` is prefixed with ``'`` so that a
spreadsheet never runs it as a formula. Open the XLSX in a spreadsheet: identifiers are
text cells there and keep their leading zeros, which Excel drops when it opens a CSV.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import PureWindowsPath
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms import DateField
from wtforms.validators import Optional, ValidationError

from portal import audit
from portal.access import deny, roles_required
from portal.blueprints.qualiopi.routes import SECTION, bp
from portal.extensions import db
from portal.forms import Form
from portal.models import BulkCheck, ImportStatus, ListImport, User
from portal.public_list import lookup
from portal.public_list.bulk_input import (
    MAX_BYTES,
    MAX_LINES,
    BulkInput,
    BulkInputRefused,
    BulkItem,
    read_identifiers,
)
from portal.public_list.history import CATEGORY_KEYS

COLUMNS: tuple[str, ...] = (
    "ligne",
    "identifiant",
    "date",
    "liste_du",
    "nda",
    "siren",
    "siret",
    "denomination",
    "region",
    "certifie",
    *CATEGORY_KEYS,  # actions_formation, bilans_competences, vae, apprentissage
)
RECENT_CHECKS = 10
PER_PAGE = 500
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Short column headers of the four categories (the full label is in an <abbr title>).
CATEGORY_SHORT: dict[str, str] = {
    "actions_formation": "Formation",
    "bilans_competences": "Bilans",
    "vae": "VAE",
    "apprentissage": "Apprentissage",
}
# The status of one line of results, for the summary and the filter.
STATUS_LABELS: dict[str, str] = {
    "certifie": "Certifié (au moins une catégorie)",
    "non_certifie": "Dans la liste, non certifié",
    "absent": "Absent de la liste",
    "sans_liste": "Aucune liste publique à cette date",
}


def _thousands(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


@bp.app_template_filter("iso_date_fr")
def iso_date_fr(value: str | None) -> str:
    """An ISO date of the stored results, written jj/mm/aaaa ("" for None)."""
    return date.fromisoformat(value).strftime("%d/%m/%Y") if value else ""


class BulkCheckForm(Form):
    """The upload form; the file's content is read and checked by `validate_file`."""

    file = FileField(
        "Fichier d'identifiants (CSV ou XLSX)",
        validators=[FileRequired("Choisissez un fichier CSV ou XLSX.")],
        description=(
            "Un SIRET, un SIREN ou un numéro de déclaration d'activité par ligne, en première "
            "colonne ; en deuxième colonne, une date facultative (jj/mm/aaaa ou aaaa-mm-jj). "
            f"Au plus {_thousands(MAX_LINES)} lignes."
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
                data, upload.filename or "", default_on=self.on.data or date.today()
            )
        except BulkInputRefused as refusal:
            raise ValidationError(str(refusal)) from refusal

    @property
    def filename(self) -> str:
        name = PureWindowsPath(self.file.data.filename or "").name.strip()
        return name[:255] or "fichier"


# --- Services --------------------------------------------------------------------------------


def lists_in_force_dates() -> list[date]:
    """The dates of the lists that were in force one day or another, in order (one query)."""
    return list(
        db.session.scalars(
            select(ListImport.as_of)
            .where(ListImport.status.in_(ImportStatus.IN_FORCE))
            .distinct()
            .order_by(ListImport.as_of)
        )
    )


def list_date_on(list_dates: Sequence[date], on: date) -> date | None:
    """The date of the list in force on `on` (as `list_in_force`), from the sorted dates."""
    index = bisect_right(list_dates, on)
    return list_dates[index - 1] if index else None


def check_items(items: Sequence[BulkItem]) -> list[dict[str, Any]]:
    """The results of the readable lines, as stored in `BulkCheck.results`.

    Versions change only on the dates of lists, so the list in force on a date says what
    it said on its own date: each line is checked on the date of its list, which keeps the
    number of queries bounded by the number of lists involved, not of lines or of dates.
    """
    list_dates = lists_in_force_dates()
    list_of = {on: list_date_on(list_dates, on) for on in {item.on for item in items}}
    checked = [item for item in items if list_of[item.on] is not None]
    found = lookup.check_many([(item.identifier, list_of[item.on]) for item in checked])
    matches_of = {id(item): matches for item, matches in zip(checked, found, strict=True)}
    results = []
    for item in items:
        list_as_of = list_of[item.on]
        results.append(
            {
                "line": item.line,
                "query": item.raw,
                "on": item.on.isoformat(),
                "list_as_of": list_as_of.isoformat() if list_as_of else None,
                "matches": [match.as_json() for match in matches_of.get(id(item), [])],
            }
        )
    return results


def line_status(result: dict[str, Any]) -> str:
    if result["list_as_of"] is None:
        return "sans_liste"
    if not result["matches"]:
        return "absent"
    if any(match["certified"] for match in result["matches"]):
        return "certifie"
    return "non_certifie"


def summary(check: BulkCheck) -> dict[str, int]:
    counts = Counter(line_status(result) for result in check.results)
    return {
        "lines": len(check.results),
        "unreadable": len(check.unreadable),
        **{status: counts.get(status, 0) for status in STATUS_LABELS},
    }


def create_check(user: User, filename: str, bulk_input: BulkInput) -> BulkCheck:
    """Check the lines read from a file and store the results (the caller commits)."""
    check = BulkCheck(
        user_id=user.id,
        filename=filename[:255],
        results=check_items(bulk_input.items),
        unreadable=[line.as_json() for line in bulk_input.unreadable],
    )
    db.session.add(check)
    audit.record(
        "qualiopi.bulk_check",
        actor=user,
        target=check,
        funder_id=user.funder_id,
        details={"filename": check.filename, "format": bulk_input.format, **summary(check)},
    )
    return check


def get_check_or_404(check_id: int, user: User) -> BulkCheck:
    """A check of `user`; another user's check is as missing (404, audited)."""
    check = db.session.get(BulkCheck, check_id)
    if check is None:
        abort(404)
    if check.user_id != user.id:
        deny(user, "vérification groupée d'un autre utilisateur", status=404, check_id=check_id)
    return check


def recent_checks(user: User, limit: int = RECENT_CHECKS) -> list[Any]:
    """The user's last checks, without loading their results (one query)."""
    return list(
        db.session.execute(
            select(
                BulkCheck.id,
                BulkCheck.created_at,
                BulkCheck.filename,
                func.json_array_length(BulkCheck.results).label("lines"),
                func.json_array_length(BulkCheck.unreadable).label("unreadable"),
            )
            .where(BulkCheck.user_id == user.id)
            .order_by(BulkCheck.id.desc())
            .limit(limit)
        )
    )


# --- Exports ---------------------------------------------------------------------------------


def export_rows(check: BulkCheck) -> Iterator[tuple[Any, ...]]:
    """The rows of the downloads, in :data:`COLUMNS` order, with Python values."""
    empty = (None,) * (len(COLUMNS) - 4)
    for result in check.results:
        list_as_of = result["list_as_of"]
        head = (
            result["line"],
            result["query"],
            date.fromisoformat(result["on"]),
            date.fromisoformat(list_as_of) if list_as_of else None,
        )
        if not result["matches"]:
            yield head + empty
        for match in result["matches"]:
            yield (
                *head,
                match["nda"],
                match["siren"],
                match["siret"],
                match["denomination"],
                match["region"],
                match["certified"],
                *(match["categories"].get(key, False) for key in CATEGORY_KEYS),
            )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_START):
        return "'" + text
    return text


def to_csv(check: BulkCheck) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([_csv_value(v) for v in row] for row in export_rows(check))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(check: BulkCheck) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Vérification Qualiopi")
    sheet.append(COLUMNS)

    # A styled cell per date, reused: a write-only sheet writes each cell as soon as it is
    # placed, so one object may serve many rows (and saves thousands of cell objects).
    date_cells: dict[date, Any] = {}

    def cell(value: Any) -> Any:
        if isinstance(value, bool):
            return "oui" if value else "non"
        if isinstance(value, date):
            dated = date_cells.get(value)
            if dated is None:
                dated = date_cells[value] = WriteOnlyCell(sheet, value=value)
                dated.number_format = "DD/MM/YYYY"
            return dated
        if isinstance(value, str) and value.startswith("="):
            text = WriteOnlyCell(sheet, value=value)
            text.data_type = "s"  # text, never a formula
            return text
        return value

    for row in export_rows(check):
        sheet.append([cell(value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _download(body: bytes, content_type: str, check: BulkCheck, extension: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="verification-qualiopi-{check.id}.{extension}"'
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- Routes ----------------------------------------------------------------------------------


def _user() -> User:
    return current_user._get_current_object()


@bp.route("/verification-groupee", methods=["GET", "POST"])
@roles_required(*SECTION.roles)
def bulk() -> Response | str:
    form = BulkCheckForm()
    if form.validate_on_submit() and form.bulk_input is not None:
        check = create_check(_user(), form.filename, form.bulk_input)
        db.session.commit()
        return redirect(url_for("qualiopi.bulk_result", check_id=check.id), code=303)
    return render_template(
        "qualiopi/bulk.html",
        form=form,
        recent=recent_checks(_user()),
        max_lines=_thousands(MAX_LINES),
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
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    return render_template(
        "qualiopi/bulk_result.html",
        check=check,
        counts=summary(check),
        status=status,
        status_labels=STATUS_LABELS,
        category_short=CATEGORY_SHORT,
        rows=rows[(page - 1) * PER_PAGE : page * PER_PAGE],
        total=len(rows),
        page=page,
        pages=pages,
    )


@bp.get("/verification-groupee/<int:check_id>.csv")
@roles_required(*SECTION.roles)
def bulk_download_csv(check_id: int) -> Response:
    check = get_check_or_404(check_id, _user())
    return _download(to_csv(check), "text/csv; charset=utf-8", check, "csv")


@bp.get("/verification-groupee/<int:check_id>.xlsx")
@roles_required(*SECTION.roles)
def bulk_download_xlsx(check_id: int) -> Response:
    check = get_check_or_404(check_id, _user())
    return _download(to_xlsx(check), XLSX_TYPE, check, "xlsx")
