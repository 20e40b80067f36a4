"""Forms of the Qualiopi pages."""

from __future__ import annotations

from wtforms import StringField
from wtforms.validators import Length, Optional

from portal.forms import DateField, Form


class SearchForm(Form):
    """The look-up box (GET, no CSRF)."""

    class Meta:
        csrf = False

    q = StringField(
        "SIRET, SIREN, NDA ou nom de l'organisme",
        validators=[Optional(), Length(max=120)],
    )
    on = DateField(
        "À la date du",
        validators=[Optional()],
        description="Laissez vide pour aujourd'hui.",
    )
