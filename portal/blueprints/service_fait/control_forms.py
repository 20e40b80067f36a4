"""Forms of the queue, the control page's decisions, and the statistics.

The forms collect what was typed and carry the CSRF token; the rules are the services'
(`portal.service_fait.decisions.check`), whose messages are put back next to each field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.forms import DateField, Form, VersionField, choices
from portal.models import (
    CONTROL_STATUS_LABELS,
    DECISION_OUTCOME_LABELS,
    SCHEME_LABELS,
    SEVERITY_LABELS,
)
from portal.service_fait import queue, reasons


class QueueFilterForm(Form):
    """Filters of the queue (GET, no CSRF); field names are the URL's parameters."""

    class Meta:
        csrf = False

    statut = SelectField(
        "Statut",
        choices=choices(
            [
                *((str(k), label) for k, label in CONTROL_STATUS_LABELS.items()),
                (queue.STATUS_ALL, "Tous"),
            ]
        ),
        default=queue.DEFAULT_STATUS,
        validators=[Optional()],
    )
    organisme = StringField("Organisme : nom, SIRET ou NDA", [Optional(), Length(max=120)])
    dispositif = SelectField(
        "Dispositif",
        choices=choices([("", "Tous"), *((str(k), label) for k, label in SCHEME_LABELS.items())]),
        validators=[Optional()],
    )
    anomalie = SelectField("Anomalie", choices=choices([("", "Toutes")]), validators=[Optional()])
    gravite = SelectField(
        "Gravité",
        choices=choices(
            [("", "Toutes"), *((str(k), label) for k, label in SEVERITY_LABELS.items())]
        ),
        validators=[Optional()],
    )
    du = DateField("Période : du", [Optional()])
    au = DateField("au", [Optional()])
    montant_min = StringField(
        "Montant accordé : de", [Optional(), Length(max=20)], render_kw={"inputmode": "decimal"}
    )
    montant_max = StringField("à", [Optional(), Length(max=20)], render_kw={"inputmode": "decimal"})
    assigne = SelectField("Assigné à", choices=choices([("", "Tous")]), validators=[Optional()])
    differents = BooleanField("Chiffres saisis différents du document")
    demande = SelectField(
        "Demande de pièces",
        choices=choices([("", "Toutes"), *queue.REQUEST_FILTER_LABELS.items()]),
        validators=[Optional()],
    )

    def set_choices(self, codes: list[tuple[str, str]], staff: list[Any]) -> None:
        self.anomalie.choices = choices([("", "Toutes"), *codes])
        self.assigne.choices = choices(
            [
                ("", "Tous"),
                (queue.ASSIGNEE_ME, "Moi"),
                (queue.ASSIGNEE_NOBODY, "Personne"),
                (queue.ASSIGNEE_SOMEONE, "Quelqu'un"),
                *((str(user.id), user.full_name) for user in staff),
            ]
        )


class DecisionForm(Form):
    """The decision on one invoice (one form per invoice: prefixed by its id)."""

    version = VersionField()
    outcome = RadioField(
        "Décision",
        choices=choices((str(k), label) for k, label in DECISION_OUTCOME_LABELS.items()),
        validate_choice=False,
    )
    amount_validated = StringField(
        "Montant validé (décision partielle)",
        [Optional(), Length(max=20)],
        description="En euros : plus de 0 et moins que le montant facturé.",
        render_kw={"inputmode": "decimal"},
    )
    reason_code = SelectField(
        "Motif",
        choices=choices(reasons.choices()),
        validate_choice=False,
        description="Obligatoire pour une décision partiellement conforme ou non conforme.",
    )
    note = TextAreaField("Note (facultative)", [Optional(), Length(max=5000)])

    def add_errors(self, errors: Mapping[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = getattr(self, name, None)
            if field is not None:
                field.errors = [*field.errors, *messages]


class ReopenForm(Form):
    """A funder admin reopens a decision, with a reason."""

    reason = TextAreaField(
        "Motif de la réouverture", [Length(max=5000)], render_kw={"required": True}
    )


class StatisticsFilterForm(Form):
    class Meta:
        csrf = False

    du = DateField("Décisions du", [Optional()])
    au = DateField("au", [Optional()])
