"""Forms of the quality-control pages. They carry what was typed and the CSRF token; the
checks that need the database are the service's (`portal.quality.controls`), whose French
messages are put back next to each field."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import Form, VersionField, choices
from portal.models import CONTROL_MODE_LABELS, PROFILE_FIELDS
from portal.quality.controls import PlanData
from portal.quality.rules import FINDING_LABELS
from portal.routing import coerce_id

ACCEPT = ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


class PlanForm(Form):
    provider = SelectField(
        "Organisme contrôlé", coerce=_int_or_none, validate_choice=False, choices=[]
    )
    mode = RadioField(
        "Modalité",
        [InputRequired("Choisissez un contrôle sur site ou à distance.")],
        choices=choices((k.value, v) for k, v in CONTROL_MODE_LABELS.items()),
        default="sur_site",
    )
    control_date = DateField(
        "Date du contrôle",
        [InputRequired("Indiquez la date du contrôle.")],
        description="Les échéances des non-conformités se comptent à partir de cette date.",
    )
    scope_actions = TextAreaField(
        "Périmètre : actions contrôlées",
        [InputRequired("Décrivez les actions contrôlées (intitulés, sessions).")],
        description="Intitulés des actions, sessions, sites visités.",
        render_kw={"rows": 3, "maxlength": 4000},
    )
    dossiers = MultiCheckboxField(
        "Dossiers échantillonnés", coerce=coerce_id, validate_choice=False, choices=[]
    )
    participants = TextAreaField(
        "Participants",
        description="Contrôleurs, personnes de l'organisme rencontrées (noms et fonctions).",
        render_kw={"rows": 2, "maxlength": 4000},
    )
    partners = MultiCheckboxField(
        "Financeurs partenaires (contrôle conjoint)",
        coerce=coerce_id,
        validate_choice=False,
        choices=[],
        description="Ils pourront renseigner la grille avec vous.",
    )
    certifying = BooleanField(PROFILE_FIELDS[0][1])
    apprenticeship = BooleanField(PROFILE_FIELDS[1][1])
    work_based = BooleanField(PROFILE_FIELDS[2][1])
    subcontracting = BooleanField(PROFILE_FIELDS[3][1])
    short_only = BooleanField(PROFILE_FIELDS[4][1])
    certif_region = BooleanField("Ajouter le critère et les indicateurs Certif'Région (Occitanie)")
    shared = BooleanField(
        "Partager ce contrôle (en lecture) avec les autres financeurs de l'organisme"
    )
    version = VersionField()

    def data_for_service(self) -> PlanData:
        return PlanData(
            provider_id=self.provider.data,
            mode=self.mode.data or "",
            control_date=self.control_date.data,
            scope_actions=self.scope_actions.data or "",
            participants=self.participants.data or "",
            dossier_ids=set(self.dossiers.data or []),
            partner_ids=set(self.partners.data or []),
            profile={name: bool(getattr(self, name).data) for name, _ in PROFILE_FIELDS},
            certif_region=bool(self.certif_region.data),
            shared=bool(self.shared.data),
        )

    def add_errors(self, errors: Mapping[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = getattr(self, name, None)
            if field is not None:
                field.errors = [*field.errors, *messages]


class FindingForm(Form):
    finding = SelectField(
        "Constat",
        choices=choices([("", "À renseigner"), *((k.value, v) for k, v in FINDING_LABELS.items())]),
        validate_choice=False,
    )
    not_applicable_reason = TextAreaField(
        "Motif de non-applicabilité", [Optional()], render_kw={"rows": 2, "maxlength": 2000}
    )
    observations = TextAreaField(
        "Observations", [Optional()], render_kw={"rows": 3, "maxlength": 8000}
    )
    version = VersionField()


class EvidenceUploadForm(Form):
    files = MultipleFileField("Fichiers de preuve (PDF, JPEG ou PNG)", render_kw={"accept": ACCEPT})


class EvidencePiecesForm(Form):
    pieces = MultiCheckboxField("Pièces", coerce=coerce_id, validate_choice=False, choices=[])


class VersionForm(Form):
    version = VersionField()


class ShareForm(Form):
    shared = BooleanField("Partager")
    version = VersionField()
