"""Forms of the administration pages."""

from __future__ import annotations

from sqlalchemy import func, select
from wtforms import EmailField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.extensions import db
from portal.forms import EmailAddress, Form, VersionField, choices
from portal.identifiers import InvalidIdentifier, classify
from portal.models import FUNDER_KIND_LABELS, ROLE_LABELS, Funder, Role, User
from portal.regions import region_choices
from portal.routing import coerce_id

REQUIRED = "Ce champ est obligatoire."


class FunderForm(Form):
    name = StringField("Nom du financeur", validators=[DataRequired(REQUIRED), Length(max=200)])
    kind = SelectField(
        "Type de financeur",
        choices=choices((kind.value, label) for kind, label in FUNDER_KIND_LABELS.items()),
        validators=[DataRequired(REQUIRED)],
    )
    region_code = SelectField(
        "Région", choices=choices([("", "Nationale / sans région"), *region_choices()]), default=""
    )
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
    full_name = StringField("Nom et prénom", validators=[DataRequired(REQUIRED), Length(max=200)])
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
    name = StringField("Dénomination", validators=[DataRequired(REQUIRED), Length(max=250)])

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
