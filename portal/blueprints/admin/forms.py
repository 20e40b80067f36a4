"""Forms of the administration pages."""

from __future__ import annotations

from sqlalchemy import func, select
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.extensions import db
from portal.forms import DateField, EmailAddress, Form, SingleLine, VersionField, choices
from portal.identifiers import InvalidIdentifier, classify
from portal.models import (
    API_SCOPE_LABELS,
    FUNDER_KIND_LABELS,
    ROLE_LABELS,
    WEBHOOK_EVENT_LABELS,
    Funder,
    Role,
    User,
)
from portal.regions import region_choices
from portal.routing import coerce_id

REQUIRED = "Ce champ est obligatoire."


class FunderForm(Form):
    name = StringField(
        "Nom du financeur", validators=[DataRequired(REQUIRED), Length(max=200), SingleLine()]
    )
    kind = SelectField(
        "Type de financeur",
        choices=choices((kind.value, label) for kind, label in FUNDER_KIND_LABELS.items()),
        validators=[DataRequired(REQUIRED)],
    )
    region_code = SelectField(
        "Région", choices=choices([("", "Nationale / sans région"), *region_choices()]), default=""
    )
    retention_years = IntegerField(
        "Durée de conservation (années)",
        default=3,
        validators=[NumberRange(1, 30, "Entre 1 et 30 ans.")],
        description="Après la fin de l'année du dernier paiement : les noms des bénéficiaires "
        "et les fichiers des dossiers clos sont alors effacés (flask retention purge). "
        "Durée à confirmer avec le financeur (son délégué à la protection des données).",
    )
    retention_confirmed = BooleanField("Durée confirmée par le financeur")
    version = VersionField()

    def __init__(self, *args, funder: Funder | None = None, **kwargs) -> None:
        super().__init__(*args, obj=funder, **kwargs)
        self.funder = funder

    def validate_name(self, field: StringField) -> None:
        name = (field.data or "").strip()
        query = select(Funder.id).where(func.lower(Funder.name) == name.lower())
        if self.funder is not None:
            query = query.where(Funder.id != self.funder.id)
        if db.session.scalar(query) is not None:
            raise ValidationError("Un financeur porte déjà ce nom.")


class InviteForm(Form):
    """Invite someone; the role choices are those the inviting user may give."""

    email = EmailField(
        "Adresse électronique",
        validators=[DataRequired(REQUIRED), EmailAddress(), Length(max=254)],
    )
    full_name = StringField(
        "Nom et prénom", validators=[DataRequired(REQUIRED), Length(max=200), SingleLine()]
    )
    role = SelectField("Rôle", validators=[DataRequired(REQUIRED)])
    funder_id = SelectField("Financeur", coerce=coerce_id, validators=[Optional()])
    provider_id = SelectField("Organisme de formation", coerce=coerce_id, validators=[Optional()])
    region_code = SelectField("Périmètre (correspondant ministériel)", default="")

    def __init__(
        self,
        *args,
        roles: tuple[Role, ...],
        funders: list[Funder],
        providers: list[tuple[int, str]],
        choose_funder: bool,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.choose_funder = choose_funder
        self.role.choices = choices((role.value, ROLE_LABELS[role]) for role in roles)
        self.funder_id.choices = choices([(0, "—"), *((f.id, f.name) for f in funders)])
        self.provider_id.choices = choices([(0, "—"), *providers])
        self.region_code.choices = choices([("", "Toutes régions"), *region_choices()])

    def validate_email(self, field: EmailField) -> None:
        email = (field.data or "").strip().lower()
        if db.session.scalar(select(User.id).where(User.email == email)) is not None:
            raise ValidationError("Un compte existe déjà avec cette adresse.")

    def validate_funder_id(self, field: SelectField) -> None:
        if self.role.data == Role.FUNDER_ADMIN and self.choose_funder and not field.data:
            raise ValidationError(
                "Choisissez le financeur de cet administrateur "
                "(créez-le d'abord s'il n'existe pas)."
            )

    def validate_provider_id(self, field: SelectField) -> None:
        if self.role.data == Role.PROVIDER and not field.data:
            raise ValidationError("Choisissez l'organisme de formation de cet utilisateur.")


class ProviderForm(Form):
    """Follow an OF: identified by its NDA, SIREN and SIRET."""

    nda = StringField(
        "Numéro de déclaration d'activité (NDA)",
        validators=[DataRequired(REQUIRED)],
        description="11 chiffres, par exemple 76311234567.",
    )
    siret = StringField(
        "SIRET de l'établissement déclarant",
        validators=[DataRequired(REQUIRED)],
        description="14 chiffres ; le SIREN en est déduit.",
    )
    name = StringField(
        "Dénomination",
        validators=[DataRequired(REQUIRED), Length(max=250), SingleLine()],
        description="Pour un organisme absent de la liste publique, ce nom reste le libellé "
        "de votre financeur : les autres voient celui de la liste ou de l'organisme.",
    )

    def _identifier(self, field: StringField, kind: str) -> None:
        try:
            ident = classify(field.data or "")
        except InvalidIdentifier as error:
            raise ValidationError(str(error)) from error
        if ident.kind != kind:
            label = {"nda": "un NDA (11 chiffres)", "siret": "un SIRET (14 chiffres)"}[kind]
            raise ValidationError(f"Saisissez {label}.")
        field.data = ident.value

    def validate_nda(self, field: StringField) -> None:
        self._identifier(field, "nda")

    def validate_siret(self, field: StringField) -> None:
        self._identifier(field, "siret")


class ListFilterForm(Form):
    """Filters of the user list (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Rechercher", validators=[Optional(), Length(max=100)])
    role = SelectField("Rôle", validators=[Optional()])
    status = SelectField(
        "Statut",
        choices=choices(
            [
                ("", "Tous"),
                ("active", "Actifs"),
                ("pending", "Invitation en attente"),
                ("inactive", "Désactivés"),
            ]
        ),
        validators=[Optional()],
    )
    page = IntegerField(default=1, validators=[Optional()])


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ApiTokenForm(Form):
    label = StringField(
        "Nom du jeton",
        validators=[Length(max=100, message="100 caractères au plus.")],
        description="Le système qui l'utilisera, par exemple « Système de paiement ».",
        id="nom-jeton",
    )
    scopes = CheckboxesField(
        "Droits",
        choices=choices((scope.value, label) for scope, label in API_SCOPE_LABELS.items()),
        validate_choice=False,
        id="droits-jeton",
    )
    expires_on = DateField(
        "Fin de validité",
        validators=[Optional()],
        description="Le jeton cesse de fonctionner après ce jour (deux ans au plus).",
        id="fin-jeton",
    )


class WebhookForm(Form):
    url = StringField(
        "Adresse du récepteur",
        validators=[Length(max=500, message="500 caractères au plus.")],
        description="L'adresse https://… de votre système qui recevra les notifications.",
        id="adresse-recepteur",
    )
    events = CheckboxesField(
        "Événements",
        choices=choices((event.value, label) for event, label in WEBHOOK_EVENT_LABELS.items()),
        validate_choice=False,
        id="evenements",
    )
    description = StringField(
        "Description",
        validators=[Length(max=200, message="200 caractères au plus.")],
        id="description-recepteur",
    )
