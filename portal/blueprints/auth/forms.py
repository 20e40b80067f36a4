"""Forms of the authentication pages."""

from __future__ import annotations

from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from portal.forms import EmailAddress, Form
from portal.passwords import password_problems

REQUIRED = "Ce champ est obligatoire."


class LoginForm(Form):
    email = EmailField("Adresse électronique", validators=[DataRequired(REQUIRED), Length(max=254)])
    password = PasswordField("Mot de passe", validators=[DataRequired(REQUIRED)])


class ForgotPasswordForm(Form):
    email = EmailField(
        "Adresse électronique",
        validators=[DataRequired(REQUIRED), EmailAddress(), Length(max=254)],
    )


class NewPasswordForm(Form):
    """Choose a password; `email` is the account's, so that it is not reused as password."""

    password = PasswordField(
        "Nouveau mot de passe",
        validators=[DataRequired(REQUIRED)],
        description="Au moins 12 caractères ; évitez les mots de passe courants.",
    )
    confirm = PasswordField(
        "Confirmez le mot de passe",
        validators=[
            DataRequired(REQUIRED),
            EqualTo("password", "Les deux mots de passe ne sont pas identiques."),
        ],
    )

    def __init__(self, *args, email: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.account_email = email

    def validate_password(self, field: PasswordField) -> None:
        problems = password_problems(field.data or "", email=self.account_email)
        if problems:
            raise ValidationError(" ".join(problems))


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField("Mot de passe actuel", validators=[DataRequired(REQUIRED)])
