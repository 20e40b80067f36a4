"""Sampling plans (funder admins): draw a random sample of dossiers or OF to control, see a
draw (its seed, parameters and selection), put the selection in the controllers' queue.
The draw is `portal.service_fait.sampling`'s."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from portal import clock
from portal.access import deny, roles_required
from portal.blueprints.service_fait import bp
from portal.blueprints.service_fait.routes import SECTION
from portal.dossiers import rules
from portal.extensions import db
from portal.forms import Form, choices
from portal.models import (
    CONTROL_STATUS_LABELS,
    FUNDER_ROLES,
    SCHEME_LABELS,
    ControlStatus,
    Role,
    SamplingDraw,
    User,
)
from portal.routing import coerce_id
from portal.service_fait import sampling as service
from portal.web import actor as current_actor

DRAWS_SHOWN = 50


def _decimal(field: Any, *, required: bool) -> Decimal | None:
    text = (field.data or "").strip()
    if not text:
        if required:
            field.errors = [*field.errors, "Indiquez un nombre."]
        return None
    try:
        return rules.parse_decimal(text)
    except rules.RuleError as error:
        field.errors = [*field.errors, str(error)]
        return None


class DrawForm(Form):
    unit = RadioField(
        "Tirer au sort",
        choices=choices(service.UNIT_LABELS.items()),
        default=service.UNIT_DOSSIER,
        validators=[InputRequired("Choisissez ce qui est tiré au sort.")],
    )
    rate = StringField(
        "Taux de contrôle (%)",
        default="10",
        description="Par exemple 5 ou 12,5 : le nombre tiré est arrondi à l'unité supérieure.",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    weighted = BooleanField("Pondérer par le risque (poids ci-dessous)", default=True)
    w_blocking = StringField(service.WEIGHT_LABELS["blocking"], default="3")
    w_warning = StringField(service.WEIGHT_LABELS["warning"], default="1")
    w_rejection = StringField(service.WEIGHT_LABELS["rejection"], default="2")
    w_new_provider = StringField(service.WEIGHT_LABELS["new_provider"], default="2")
    w_lost_certification = StringField(service.WEIGHT_LABELS["lost_certification"], default="5")
    new_provider_months = IntegerField(
        "Organisme nouveau : premier dossier commencé depuis (mois)",
        default=service.DEFAULT_NEW_PROVIDER_MONTHS,
        validators=[NumberRange(min=0, max=120)],
    )
    lost_certification_days = IntegerField(
        "Perte de certification récente : alerte Qualiopi depuis (jours)",
        default=service.DEFAULT_LOST_CERTIFICATION_DAYS,
        validators=[NumberRange(min=0, max=3650)],
    )
    scheme = SelectField("Dispositif", validate_choice=True)
    start_from = StringField(
        "Dossiers commencés du", validators=[Optional()], render_kw={"type": "date"}
    )
    start_to = StringField("au", validators=[Optional()], render_kw={"type": "date"})
    open_only = BooleanField("Dossiers en cours seulement")
    seed = StringField(
        "Graine (facultatif)",
        description="Laissez vide pour une graine tirée au hasard ; reprenez celle d'un tirage "
        "pour le reproduire.",
        render_kw={"maxlength": service.MAX_SEED_LENGTH, "autocomplete": "off"},
    )

    WEIGHT_FIELDS = (
        ("blocking", "w_blocking"),
        ("warning", "w_warning"),
        ("rejection", "w_rejection"),
        ("new_provider", "w_new_provider"),
        ("lost_certification", "w_lost_certification"),
    )

    def draw_request(self) -> service.DrawRequest | None:
        """The draw asked for, or None with errors on the fields."""
        rate = _decimal(self.rate, required=True)
        weights: dict[str, Decimal] = {}
        for name, field_name in self.WEIGHT_FIELDS:
            value = _decimal(self[field_name], required=True)
            if value is not None:
                weights[name] = value
        dates = {}
        for name in ("start_from", "start_to"):
            text = (self[name].data or "").strip()
            try:
                dates[name] = date.fromisoformat(text) if text else None
            except ValueError:
                self[name].errors = [*self[name].errors, "Date invalide (jj/mm/aaaa)."]
        if any(f.errors for f in self) or rate is None or len(weights) != len(self.WEIGHT_FIELDS):
            return None
        request = service.DrawRequest(
            unit=self.unit.data or "",
            rate_percent=rate,
            weighted=bool(self.weighted.data),
            weights=service.Weights(**weights),
            filters=service.Filters(
                scheme=self.scheme.data or None,
                start_from=dates.get("start_from"),
                start_to=dates.get("start_to"),
                open_only=bool(self.open_only.data),
            ),
            new_provider_months=self.new_provider_months.data or 0,
            lost_certification_days=self.lost_certification_days.data or 0,
            seed=(self.seed.data or "").strip() or None,
        )
        errors = service.check_request(request)
        targets = {
            "unit": self.unit,
            "rate": self.rate,
            "weights": self.w_blocking,
            "seed": self.seed,
            "windows": self.new_provider_months,
            "filters": self.start_from,
        }
        for key, messages in errors.items():
            field = targets[key]
            field.errors = [*field.errors, *messages]
        return None if errors else request


class ApplyForm(Form):
    assignee = SelectField("Assigner les dossiers à", coerce=coerce_id, validate_choice=True)


def _draw_form() -> DrawForm:
    form = DrawForm()
    form.scheme.choices = choices([("", "Tous les dispositifs"), *SCHEME_LABELS.items()])
    return form


def _staff(actor: User) -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(
                User.funder_id == actor.funder_id,
                User.role.in_([r.value for r in FUNDER_ROLES]),
                User.is_active.is_(True),
            )
            .order_by(User.full_name, User.id)
        )
    )


def _get_draw_or_404(draw_id: int, actor: User) -> SamplingDraw:
    row = db.session.get(SamplingDraw, draw_id)
    if row is None:
        abort(404)
    if row.funder_id != actor.funder_id:
        deny(actor, "tirage d'un autre financeur", status=404, draw_id=draw_id)
    return row


def _draws(actor: User) -> list[SamplingDraw]:
    return list(
        db.session.scalars(
            select(SamplingDraw)
            .where(SamplingDraw.funder_id == actor.funder_id)
            .order_by(SamplingDraw.created_at.desc(), SamplingDraw.id.desc())
            .limit(DRAWS_SHOWN)
        )
    )


@bp.route("/echantillonnage", methods=["GET", "POST"])
@roles_required(Role.FUNDER_ADMIN)
def sampling() -> Response | str:
    actor = current_actor()
    form = _draw_form()
    if form.validate_on_submit():
        request = form.draw_request()
        if request is not None:
            row = service.run_draw(actor, request, today=clock.today())
            flash(
                f"Tirage enregistré : {len(row.selected_ids)} sur {row.population_size} "
                f"(graine {row.seed}).",
                "success",
            )
            return redirect(url_for("service_fait.sampling_draw", draw_id=row.id), code=303)
    return render_template(
        "service_fait/sampling.html",
        section=SECTION,
        form=form,
        draws=_draws(actor),
        unit_labels=service.UNIT_LABELS,
        weight_fields=DrawForm.WEIGHT_FIELDS,
    )


@bp.get("/echantillonnage/<int:draw_id>")
@roles_required(Role.FUNDER_ADMIN)
def sampling_draw(draw_id: int) -> str:
    actor = current_actor()
    row = _get_draw_or_404(draw_id, actor)
    apply_form = ApplyForm()
    apply_form.assignee.choices = choices(
        [(0, "— Personne (mettre en contrôle seulement) —")]
        + [(u.id, u.full_name) for u in _staff(actor)]
    )
    parameters = row.parameters or {}
    return render_template(
        "service_fait/sampling_draw.html",
        section=SECTION,
        draw=row,
        parameters=parameters,
        filters=parameters.get("filters", {}),
        weights=parameters.get("weights", {}),
        weight_labels=service.WEIGHT_LABELS,
        rows=service.selection_rows(row),
        reproduced=service.reproduce(row) == list(row.selected_ids),
        apply_form=apply_form,
        unit_labels=service.UNIT_LABELS,
        scheme_labels=SCHEME_LABELS,
        status_labels={s.value: CONTROL_STATUS_LABELS[s] for s in ControlStatus},
        control_url=_control_url,
    )


def _control_url(dossier_id: int) -> str:
    return url_for("service_fait.control", dossier_id=dossier_id)


@bp.post("/echantillonnage/<int:draw_id>/mettre-en-controle")
@roles_required(Role.FUNDER_ADMIN)
def apply_sampling_draw(draw_id: int) -> Response:
    actor = current_actor()
    row = _get_draw_or_404(draw_id, actor)
    form = ApplyForm()
    staff = {u.id: u for u in _staff(actor)}
    form.assignee.choices = choices([(0, ""), *((i, u.full_name) for i, u in staff.items())])
    if not form.validate_on_submit():
        flash("Choisissez à qui assigner les dossiers.", "error")
    else:
        assignee = staff.get(form.assignee.data or 0)
        ids = service.apply_draw(actor, row, assignee=assignee)
        flash(
            f"{len(ids)} dossier(s) mis en contrôle"
            + (f", assignés à {assignee.full_name}." if assignee else "."),
            "success",
        )
    return redirect(url_for("service_fait.sampling_draw", draw_id=row.id), code=303)
