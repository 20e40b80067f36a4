"""Forms of the pieces: one class per kind, built from the rules' list of fields.

The fields are plain text boxes (dates as ``type="date"``): what was typed comes back as
typed when the form is shown again, and every rule is `piece_rules.check`'s, for the whole
form as for one field typed (inline validation). WTForms only carries the values, the
labels and the CSRF token here.
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from flask_wtf.file import FileField, MultipleFileField
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, Field, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.dossiers.piece_rules import FIELDS, FieldSpec, FieldType, input_value
from portal.dossiers.rules import CATEGORY_LABELS
from portal.forms import Form, choices
from portal.models import Category, Piece, PieceKind
from portal.routing import coerce_id

ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
ACCEPT_INVOICE = ACCEPT + ",.xml,application/xml,text/xml"


def _field(spec: FieldSpec) -> Field:
    label, help_text = spec.label, spec.help
    match spec.type:
        case FieldType.DATE:
            return StringField(label, description=help_text, render_kw={"type": "date"})
        case FieldType.MONEY | FieldType.HOURS | FieldType.MONTHS:
            return StringField(
                label,
                description=help_text,
                render_kw={"inputmode": "decimal", "autocomplete": "off"},
            )
        case FieldType.COUNT:
            return StringField(
                label,
                description=help_text,
                render_kw={"inputmode": "numeric", "autocomplete": "off"},
            )
        case FieldType.LONG_TEXT:
            return TextAreaField(label, description=help_text, render_kw={"rows": 4})
        case FieldType.CATEGORY:
            return SelectField(
                label,
                description=help_text,
                choices=choices(
                    [("", "Choisir…"), *((c.value, CATEGORY_LABELS[c]) for c in Category)]
                ),
                validate_choice=False,  # the rules say it, in French, at the field
            )
    return StringField(label, description=help_text, render_kw={"maxlength": spec.max_length})


class PieceForm(Form):
    """The fields of one kind of piece, and its file(s)."""

    kind: ClassVar[PieceKind]
    specs: ClassVar[tuple[FieldSpec, ...]]
    replacing: ClassVar[bool]

    def raw_values(self) -> dict[str, Any]:
        return {spec.name: self[spec.name].data for spec in self.specs}

    def set_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            if name in self:
                self[name].errors = list(messages)

    def uploaded_files(self) -> list[FileStorage]:
        """The files chosen (a form sent without a file has one empty part)."""
        data = self["files"].data
        files = data if isinstance(data, list) else [data]
        return [f for f in files if isinstance(f, FileStorage) and f.filename]


@cache
def piece_form_class(kind: PieceKind, *, replacing: bool = False) -> type[PieceForm]:
    attrs: dict[str, Any] = {spec.name: _field(spec) for spec in FIELDS[kind]}
    accept = ACCEPT_INVOICE if kind == PieceKind.INVOICE else ACCEPT
    attrs["files"] = (
        FileField("Nouveau fichier", render_kw={"accept": accept})
        if replacing
        else MultipleFileField("Fichiers", render_kw={"accept": accept, "multiple": True})
    )
    attrs.update(kind=kind, specs=FIELDS[kind], replacing=replacing)
    name = "".join(part.title() for part in kind.value.split("_")) + "Form"
    return type(name, (PieceForm,), attrs)


def initial_from_piece(piece: Piece) -> dict[str, str]:
    """A piece's values as the form shows them, to start a replacement from."""
    return {
        spec.name: input_value(spec, getattr(piece, spec.attribute))
        for spec in FIELDS[PieceKind(piece.kind)]
    }


class MineFilterForm(Form):
    """Filters of "Mes dossiers" (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Référence ou nom du bénéficiaire", validators=[Optional(), Length(max=100)])
    financeur = SelectField("Financeur", coerce=coerce_id, validate_choice=False)
    manquantes = BooleanField("Pièces manquantes seulement")
    page = IntegerField(default=1, validators=[Optional()])
