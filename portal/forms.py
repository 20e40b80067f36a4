"""Form base classes shared by every blueprint."""

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import SelectChoice


class Form(FlaskForm):
    """A CSRF-protected form whose built-in messages are in French (WTForms' own catalogue)."""

    class Meta:
        locales = ("fr_FR", "fr")


class EmptyForm(Form):
    """A bare POST button still carries its CSRF token."""


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """`(value, label)` pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
