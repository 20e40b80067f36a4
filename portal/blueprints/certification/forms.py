"""Forms of the certification pages.

They carry what was typed and the CSRF token; the checks are the service's
(`portal.certification.services`), whose French messages are put back next to each field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_wtf.file import FileField
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.blueprints.dossiers.forms import Needed
from portal.certification import rules
from portal.certification.services import CATEGORY_LABELS, OTHER_CERTIFIER
from portal.forms import Form, VersionField, choices
from portal.models import Certifier
from portal.models.certification import CERTIFICATION_AUDIT_KIND_LABELS

ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
AUDIT_KINDS = CERTIFICATION_AUDIT_KIND_LABELS
CATEGORY_CHOICES = [(c.value, label) for c, label in CATEGORY_LABELS.items()]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class _Errors:
    def add_errors(self, errors: Mapping[str, list[str]]) -> None:
        for name, messages in errors.items():
            if name in self:  # type: ignore[operator]
                field = self[name]  # type: ignore[index]
                field.errors = [*field.errors, *messages]


class CertificateForm(_Errors, Form):
    certifier = SelectField(
        "Organisme certificateur",
        [Needed()],
        validate_choice=False,  # the service says it, in French, at the field
    )
    certifier_other = StringField(
        "Nom de l'organisme certificateur (s'il n'est pas dans la liste)",
        render_kw={"maxlength": 200, "autocomplete": "off"},
    )
    number = StringField(
        "Numéro du certificat",
        description="Tel qu'il figure sur le certificat (facultatif).",
        render_kw={"maxlength": 100, "autocomplete": "off"},
    )
    categories = MultiCheckboxField(
        "Catégories d'actions certifiées",
        [Needed()],
        choices=choices(CATEGORY_CHOICES),
        validate_choice=False,
    )
    start_date = StringField(
        "Début de validité", [Needed()], render_kw={"type": "date"}, description="jj/mm/aaaa"
    )
    end_date = StringField(
        "Fin de validité",
        description=(
            "Laissée vide : 3 ans moins un jour après le début (un certificat du 15/03/2025 "
            "est valable jusqu'au 14/03/2028) ; 4 ans pour un certificat délivré en 2020."
        ),
        render_kw={"type": "date"},
    )
    file = FileField("Le certificat (fichier)", render_kw={"accept": ACCEPT})
    version = VersionField()

    def set_certifiers(self, rows: Sequence[Certifier]) -> None:
        self.certifier.choices = choices(
            [
                ("", "— Choisir —"),
                *((str(row.id), row.name) for row in rows),
                (OTHER_CERTIFIER, "Autre (saisir son nom)"),
            ]
        )

    def raw(self) -> dict[str, Any]:
        return {
            "certifier": self.certifier.data,
            "certifier_other": self.certifier_other.data,
            "number": self.number.data,
            "categories": self.categories.data or [],
            "start_date": self.start_date.data,
            "end_date": self.end_date.data,
        }

    def uploaded(self) -> FileStorage | None:
        data = self.file.data
        return data if isinstance(data, FileStorage) and data.filename else None


class AuditForm(_Errors, Form):
    kind = SelectField(
        "Type d'audit",
        [Needed()],
        choices=choices([("", "— Choisir —"), *((k.value, v) for k, v in AUDIT_KINDS.items())]),
        validate_choice=False,
    )
    audit_date = StringField("Date de l'audit", [Needed()], render_kw={"type": "date"})
    notes = TextAreaField(
        "Notes (facultatif)",
        description="Par exemple : l'auditeur, les écarts relevés.",
        render_kw={"rows": 2, "maxlength": 2000},
    )

    def raw(self) -> dict[str, Any]:
        return {
            "kind": self.kind.data,
            "audit_date": self.audit_date.data,
            "notes": self.notes.data,
        }


class CalculatorForm(Form):
    """Read from the query string (GET): no CSRF token, nothing is written."""

    class Meta:
        csrf = False
        locales = ("fr_FR", "fr")

    turnover = StringField(
        "Chiffre d'affaires du dernier bilan pédagogique et financier (€)",
        description="Par exemple : 420 000. Laissez vide pour choisir la tranche ci-dessous.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    band = SelectField(
        "Ou sa tranche",
        choices=choices(
            [("", "— Choisir —"), *((b.value, v) for b, v in rules.TURNOVER_BAND_LABELS.items())]
        ),
        validate_choice=False,
    )
    categories = MultiCheckboxField(
        "Catégories d'actions certifiées", choices=choices(CATEGORY_CHOICES), validate_choice=False
    )
    sites = StringField(
        "Nombre de sites supplémentaires",
        description="Les sites en plus de la fonction centrale (0 s'il n'y en a pas).",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 5},
    )
    kind = SelectField(
        "Type d'audit",
        choices=choices([(k.value, v) for k, v in rules.AUDIT_KIND_LABELS.items()]),
        validate_choice=False,
    )
    new_entrant = BooleanField(
        "Nouvel entrant (première année, ou nouvelle catégorie) : audit de surveillance"
    )

    def raw(self) -> dict[str, Any]:
        return {
            "turnover": self.turnover.data,
            "band": self.band.data,
            "categories": self.categories.data or [],
            "sites": self.sites.data,
            "kind": self.kind.data,
            "new_entrant": self.new_entrant.data,
        }
