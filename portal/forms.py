"""Form base classes shared by every blueprint."""

import unicodedata
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_wtf import FlaskForm
from wtforms import DateField as _DateField
from wtforms import Field, HiddenField, SelectChoice
from wtforms.validators import ValidationError


class Form(FlaskForm):
    """A CSRF-protected form whose built-in messages are in French (WTForms' own catalogue)."""

    class Meta:
        locales = ("fr_FR", "fr")


class EmptyForm(Form):
    """A bare POST button still carries its CSRF token."""


def int_or_zero(value: str | None) -> int:
    """A hidden form field's number (a version), 0 when missing or not a number: a version
    that matches no row is then refused as stale."""
    try:
        return int(value or 0)
    except ValueError:
        return 0


class VersionField(HiddenField):
    """The version of the record the form was shown with (optimistic locking): `show` puts
    the record's version in the form, `expected` reads back what was posted (0 when
    missing or not a number, which matches no row and is refused as stale)."""

    def show(self, version: int) -> None:
        self.data = str(version)

    @property
    def expected(self) -> int:
        return int_or_zero(self.data)


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """`(value, label)` pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class EmailAddress:
    """An email address, checked by email-validator (syntax only, no DNS look-up).

    Outside production, the reserved `.test` domain of the demo accounts is accepted.
    """

    def __init__(self, message: str = "Adresse électronique invalide.") -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        try:
            validate_email(
                field.data or "",
                check_deliverability=False,
                test_environment=current_app.config["PORTAL_ENV"] != "production",
            )
        except EmailNotValidError as error:
            raise ValidationError(self.message) from error


def has_control_characters(text: str) -> bool:
    """Line breaks, tabs and other control characters (Unicode category Cc), and the
    invisible format characters that can reverse a text's direction (Cf)."""
    return any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


SINGLE_LINE_MESSAGE = (
    "Ce nom doit tenir sur une ligne, sans retour à la ligne, tabulation ni caractère de contrôle."
)


class SingleLine:
    """A name on one line: no line break, tab or control character."""

    def __init__(self, message: str = SINGLE_LINE_MESSAGE) -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        if field.data and has_control_characters(str(field.data)):
            raise ValidationError(self.message)


#: The dates a form accepts: outside them a date is a typing error, never a real one.
FIRST_YEAR, LAST_YEAR = 1900, 2100


class DateField(_DateField):
    """A date from 01/01/1900 to 31/12/2100; another year is refused with a French message
    (and leaves no date), so that no computation ever runs on year 1 or 9999."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        if self.data is not None and not FIRST_YEAR <= self.data.year <= LAST_YEAR:
            self.data = None
            raise ValueError(f"Saisissez une date entre {FIRST_YEAR} et {LAST_YEAR}.")
