"""Forms of the funder's dossier pages.

The dossier form only collects what was typed (and carries the CSRF token): the rules are
checked by the service (:mod:`portal.dossiers.rules` through
:func:`portal.dossiers.services.create_dossier`), which the import uses too, and its
messages are put back next to each field (:meth:`DossierForm.add_errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional

from portal import formatting
from portal.dossiers.rules import CATEGORY_LABELS, FIELD_LABELS, FIELDS, MAX_INSTALMENTS
from portal.dossiers.services import MAX_IMPORT_LINES
from portal.forms import DateField, Form, SingleLine, VersionField, choices
from portal.models import (
    DOSSIER_STATUS_LABELS,
    MODALITY_LABELS,
    PAYMENT_RHYTHM_LABELS,
    SCHEME_LABELS,
)

CHOOSE = ("", "— Choisir —")
MAX_LINES_LABEL = formatting.number(MAX_IMPORT_LINES)


class Needed:
    """Marks a field as required (a star on its label, `required` on the input); the
    check itself is the rules'."""

    field_flags = {"required": True}  # noqa: RUF012  (WTForms reads a plain dict)

    def __call__(self, form: Any, field: Any) -> None:
        return None


def _labelled(labels: Mapping[Any, str]) -> list:
    return choices([CHOOSE, *((str(key), label) for key, label in labels.items())])


class DossierForm(Form):
    reference = StringField(
        FIELD_LABELS["reference"],
        validators=[Needed()],
        description="La référence de votre financeur : lettres, chiffres, - _ / . (50 au plus).",
    )
    provider = StringField(
        FIELD_LABELS["provider"],
        validators=[Needed()],
        description=(
            "Le SIRET de l'établissement qui réalise l'action (14 chiffres) ou le numéro de "
            "déclaration d'activité (11 chiffres). Un organisme absent du portail est repris "
            "de la liste publique."
        ),
    )
    beneficiary_last_name = StringField(
        FIELD_LABELS["beneficiary_last_name"], [Needed(), SingleLine()]
    )
    beneficiary_first_name = StringField(
        FIELD_LABELS["beneficiary_first_name"], [Needed(), SingleLine()]
    )
    action_title = StringField(FIELD_LABELS["action_title"], [Needed()])
    category = SelectField(
        FIELD_LABELS["category"],
        choices=_labelled(CATEGORY_LABELS),
        validators=[Needed()],
        validate_choice=False,
    )
    scheme = SelectField(
        FIELD_LABELS["scheme"],
        choices=_labelled(SCHEME_LABELS),
        validators=[Needed()],
        validate_choice=False,
    )
    rncp_code = StringField(
        FIELD_LABELS["rncp_code"], description="Facultatif : RNCP12345 ou RS1234."
    )
    modality = SelectField(
        FIELD_LABELS["modality"],
        choices=_labelled(MODALITY_LABELS),
        validators=[Needed()],
        validate_choice=False,
    )
    start_date = StringField(
        FIELD_LABELS["start_date"], [Needed()], description="jj/mm/aaaa", render_kw={"type": "date"}
    )
    end_date = StringField(
        FIELD_LABELS["end_date"], [Needed()], description="jj/mm/aaaa", render_kw={"type": "date"}
    )
    planned_hours = StringField(
        FIELD_LABELS["planned_hours"],
        [Needed()],
        description="En heures, au plus 2 décimales : 35 ou 35,5.",
        render_kw={"inputmode": "decimal"},
    )
    agreed_amount = StringField(
        FIELD_LABELS["agreed_amount"],
        [Needed()],
        description="En euros, centimes compris : 1 234,50.",
        render_kw={"inputmode": "decimal"},
    )
    payment_rhythm = SelectField(
        FIELD_LABELS["payment_rhythm"],
        choices=_labelled(PAYMENT_RHYTHM_LABELS),
        validators=[Needed()],
        validate_choice=False,
        description="Un projet de transition professionnelle (PTP) est payé mensuellement.",
    )
    instalments = StringField(
        FIELD_LABELS["instalments"],
        description=f"Pour un paiement par échéances : de 2 à {MAX_INSTALMENTS}.",
        render_kw={"inputmode": "numeric"},
    )
    subcontracted = BooleanField("Une partie de l'action est sous-traitée")

    def raw(self) -> dict[str, Any]:
        """What was typed, by field of the rules."""
        return {name: getattr(self, name).data for name in FIELDS}

    def add_errors(self, errors: Mapping[str, list[str]]) -> None:
        """Show the service's messages next to their fields."""
        for name, messages in errors.items():
            field = getattr(self, name, None)
            if field is None:
                continue
            field.errors = [*field.errors, *messages]


class DossierEditForm(DossierForm):
    status = SelectField(
        FIELD_LABELS["status"],
        choices=choices((str(key), label) for key, label in DOSSIER_STATUS_LABELS.items()),
        validators=[Needed()],
        validate_choice=False,
    )
    version = VersionField()

    def raw(self) -> dict[str, Any]:
        return {**super().raw(), "status": self.status.data}


class ListFilterForm(Form):
    """Filters of the dossier list (GET, no CSRF); field names are the URL's parameters."""

    class Meta:
        csrf = False

    q = StringField("Référence ou nom du bénéficiaire", [Optional(), Length(max=100)])
    organisme = StringField("Organisme : nom, SIRET ou NDA", [Optional(), Length(max=120)])
    statut = SelectField(
        "Statut",
        choices=choices(
            [("", "Tous"), *((str(k), label) for k, label in DOSSIER_STATUS_LABELS.items())]
        ),
        validators=[Optional()],
    )
    dispositif = SelectField(
        "Dispositif",
        choices=choices([("", "Tous"), *((str(k), label) for k, label in SCHEME_LABELS.items())]),
        validators=[Optional()],
    )
    du = DateField("Période : du", [Optional()])
    au = DateField("au", [Optional()])
    manquantes = BooleanField("Pièces manquantes seulement")


class ImportForm(Form):
    file = FileField(
        "Fichier des dossiers (CSV ou XLSX)",
        validators=[FileRequired("Choisissez un fichier CSV ou XLSX.")],
        description=(
            "Une ligne par dossier sous la ligne des noms de colonnes, comme dans le modèle. "
            f"Au plus {MAX_LINES_LABEL} dossiers par fichier."
        ),
    )
