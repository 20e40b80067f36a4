"""Forms of the subcontracting pages.

They carry what was typed and the CSRF token; the checks are the service's
(`portal.subcontracting.fields` through `services.save_contract`), whose messages are put
back next to each field (:meth:`ContractForm.add_errors`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.blueprints.dossiers.forms import Needed
from portal.dossiers.rules import CATEGORY_LABELS
from portal.forms import Form, SingleLine, VersionField, choices
from portal.models import CONTRACT_MENTIONS
from portal.subcontracting.fields import BOOLEAN_FIELDS, FIELD_LABELS

ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"
TEXT_FIELDS = (
    "subcontractor_nda",
    "subcontractor_siret",
    "subcontractor_name",
    "actions",
    "categories",
    "start_date",
    "end_date",
    "certification_code",
    "price",
    "yearly_amounts",
    "micro_turnover",
)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ContractForm(Form):
    subcontractor_nda = StringField(
        FIELD_LABELS["subcontractor_nda"],
        [Needed()],
        description="11 chiffres, tel qu'il figure dans la liste publique des organismes.",
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    subcontractor_siret = StringField(
        FIELD_LABELS["subcontractor_siret"],
        [Needed()],
        description="14 chiffres : l'établissement du sous-traitant qui réalise les actions.",
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    subcontractor_name = StringField(
        FIELD_LABELS["subcontractor_name"],
        [SingleLine()],
        description=("Reprise de la liste publique : à saisir seulement si le NDA n'y figure pas."),
        render_kw={"maxlength": 250, "autocomplete": "off"},
    )
    actions = TextAreaField(
        FIELD_LABELS["actions"],
        [Needed()],
        description="Les actions confiées : intitulés, sessions, publics.",
        render_kw={"rows": 3, "maxlength": 2000},
    )
    categories = MultiCheckboxField(
        FIELD_LABELS["categories"],
        [Needed()],
        choices=choices((str(key), label) for key, label in CATEGORY_LABELS.items()),
        validate_choice=False,  # the service says it, in French, at the field
    )
    start_date = StringField(FIELD_LABELS["start_date"], [Needed()], render_kw={"type": "date"})
    end_date = StringField(FIELD_LABELS["end_date"], [Needed()], render_kw={"type": "date"})
    is_cpf = BooleanField(FIELD_LABELS["is_cpf"])
    certification_code = StringField(
        FIELD_LABELS["certification_code"],
        description="Si l'action est certifiante : RNCP12345 ou RS1234 ; vide sinon.",
        render_kw={"autocomplete": "off"},
    )
    whole_certification = BooleanField(FIELD_LABELS["whole_certification"])
    price = StringField(
        FIELD_LABELS["price"],
        [Needed()],
        description="En euros, centimes compris : 12 000,00.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    yearly_amounts = TextAreaField(
        FIELD_LABELS["yearly_amounts"],
        description=(
            "Une année par ligne, « 2025 : 12 000,00 » ; leur somme est le prix. Vide : le "
            "prix est réparti au prorata des jours du contrat dans chaque année."
        ),
        render_kw={"rows": 2},
    )
    contract_file = FileField("Contrat signé", render_kw={"accept": ACCEPT})
    micro_entrepreneur = BooleanField(FIELD_LABELS["micro_entrepreneur"])
    micro_turnover = StringField(
        FIELD_LABELS["micro_turnover"],
        description="Son chiffre d'affaires annuel, comparé au seuil d'exemption.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    authorisation_declared = BooleanField(FIELD_LABELS["authorisation_declared"])
    authorisation_file = FileField(
        "Document d'habilitation du certificateur", render_kw={"accept": ACCEPT}
    )
    dereferenced = BooleanField(FIELD_LABELS["dereferenced"])
    version = VersionField()

    def raw(self) -> dict[str, Any]:
        """What was typed and ticked, by field of `portal.subcontracting.fields`."""
        values = {name: self[name].data for name in (*TEXT_FIELDS, *BOOLEAN_FIELDS)}
        values["categories"] = self.categories.data or []
        return values

    def uploaded(self) -> dict[str, FileStorage | None]:
        """The files chosen (a form sent without a file has an empty part)."""
        out: dict[str, FileStorage | None] = {}
        for name in ("contract_file", "authorisation_file"):
            data = self[name].data
            out[name] = data if isinstance(data, FileStorage) and data.filename else None
        return out

    def add_errors(self, errors: Mapping[str, list[str]]) -> None:
        for name, messages in errors.items():
            if name in self:
                self[name].errors = [*self[name].errors, *messages]


# The checklist's fields, added from the list of mandatory mentions.
for _name, _label in CONTRACT_MENTIONS:
    setattr(ContractForm, _name, BooleanField(FIELD_LABELS[_name]))

MENTION_FIELDS: tuple[str, ...] = tuple(name for name, _ in CONTRACT_MENTIONS)


class TurnoverForm(Form):
    year = StringField(
        "Année civile",
        [Needed()],
        description="2024 compte du 1er avril au 31 décembre.",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )
    amount = StringField(
        "Chiffre d'affaires CPF via Mon Compte Formation / EDOF (€)",
        [Needed()],
        description="En euros : 185 000,00.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    as_of = StringField(
        "Arrêté au (facultatif)",
        description=(
            "Pour l'année en cours : la date jusqu'à laquelle ce chiffre est compté (la "
            "projection en fin d'année en part). Vide : l'année entière."
        ),
        render_kw={"type": "date"},
    )

    def add_errors(self, errors: Mapping[str, list[str]]) -> None:
        for name, messages in errors.items():
            if name in self:
                self[name].errors = [*self[name].errors, *messages]


class TurnoverImportForm(Form):
    file = FileField(
        "Fichier CSV des chiffres d'affaires CPF",
        validators=[FileRequired("Choisissez un fichier CSV.")],
        description=(
            "Une ligne par année sous la ligne des noms de colonnes : annee ; "
            "chiffre_affaires_cpf ; arrete_au (facultative)."
        ),
        render_kw={"accept": ".csv,text/csv"},
    )
