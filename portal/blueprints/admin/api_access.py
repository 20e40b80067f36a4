"""The funder admin's « Accès API » pages: the funder's API tokens (created, shown once,
revoked) and its webhook endpoints (registered, disabled, their deliveries logged and
redelivered). The services are portal.api.tokens and portal.webhooks.endpoints."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, make_response, render_template, url_for
from werkzeug.wrappers import Response

from portal.access import deny, roles_required
from portal.api import tokens as token_service
from portal.blueprints.admin import bp
from portal.blueprints.admin.forms import ApiTokenForm, WebhookForm
from portal.clock import utcnow
from portal.forms import EmptyForm
from portal.models import (
    DELIVERY_STATE_LABELS,
    WEBHOOK_EVENT_LABELS,
    DeliveryState,
    Role,
    WebhookEndpoint,
)
from portal.web import actor as current_actor
from portal.web import redirect_after_post
from portal.webhooks import endpoints as endpoint_service


def _endpoint_rows(funder_id: int) -> list[dict[str, Any]]:
    return [
        {
            "endpoint": endpoint,
            "events": sorted(endpoint.event_set),
            "state": "Actif" if endpoint.is_active else "Désactivé",
            "active": endpoint.is_active,
        }
        for endpoint in endpoint_service.endpoints_of(funder_id)
    ]


def _page(
    *,
    token_form: ApiTokenForm | None = None,
    webhook_form: WebhookForm | None = None,
    new_token: str | None = None,
    new_secret: str | None = None,
) -> Response:
    user = current_actor()
    response = make_response(
        render_template(
            "admin/api_access.html",
            tokens=token_service.token_rows(token_service.funder_tokens(user.funder_id), utcnow()),
            endpoints=_endpoint_rows(user.funder_id),
            token_form=token_form or ApiTokenForm(formdata=None),
            webhook_form=webhook_form or WebhookForm(formdata=None),
            action_form=EmptyForm(),
            new_token=new_token,
            new_secret=new_secret,
            docs_url=url_for("api_docs.docs"),
        )
    )
    if new_token or new_secret:
        response.headers["Cache-Control"] = "no-store"  # the plaintext is in this page only
    return response


@bp.get("/acces-api")
@roles_required(Role.FUNDER_ADMIN)
def api_access() -> Response:
    return _page()


@bp.post("/acces-api/jetons")
@roles_required(Role.FUNDER_ADMIN)
def create_funder_token() -> Response:
    user = current_actor()
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _page(token_form=form)
    try:
        _token, plaintext = token_service.create_funder_token(
            user, form.label.data or "", form.scopes.data or [], form.expires_on.data
        )
    except token_service.TokenRefused as refused:
        for name, messages in refused.errors.items():
            getattr(form, name).errors = list(messages)
        return _page(token_form=form)
    return _page(new_token=plaintext)


@bp.post("/acces-api/jetons/<int:token_id>/revoquer")
@roles_required(Role.FUNDER_ADMIN)
def revoke_funder_token(token_id: int) -> Response:
    user = current_actor()
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        token = token_service.revoke_funder_token(user, token_id)
    except token_service.TokenNotFound:
        deny(user, "jeton d'API d'un autre financeur ou inexistant", status=404, token_id=token_id)
    flash(f"Le jeton « {token.name} » est révoqué : il n'ouvre plus l'API.", "success")
    return redirect_after_post(url_for("admin.api_access"), anchor="jetons")


@bp.post("/acces-api/recepteurs")
@roles_required(Role.FUNDER_ADMIN)
def create_webhook() -> Response:
    user = current_actor()
    form = WebhookForm()
    if not form.validate_on_submit():
        return _page(webhook_form=form)
    try:
        _endpoint, secret = endpoint_service.register(
            user,
            user.funder_id,
            form.url.data or "",
            form.events.data or [],
            form.description.data or "",
            current_app.config["SECRET_KEY"],
        )
    except endpoint_service.EndpointRefused as refused:
        for name, messages in refused.errors.items():
            getattr(form, name).errors = list(messages)
        return _page(webhook_form=form)
    return _page(new_secret=secret)


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    user = current_actor()
    try:
        return endpoint_service.endpoint_of(user.funder_id, endpoint_id)
    except endpoint_service.NotFound:
        deny(user, "récepteur d'un autre financeur", status=404, endpoint_id=endpoint_id)


@bp.post("/acces-api/recepteurs/<int:endpoint_id>/desactiver")
@roles_required(Role.FUNDER_ADMIN)
def disable_webhook(endpoint_id: int) -> Response:
    user = current_actor()
    if not EmptyForm().validate_on_submit():
        abort(400)
    endpoint = _endpoint_or_404(endpoint_id)
    endpoint_service.disable(user, user.funder_id, endpoint.id)
    flash("Le récepteur est désactivé : il ne recevra plus de notification.", "success")
    return redirect_after_post(url_for("admin.api_access"), anchor="recepteurs")


@bp.get("/acces-api/recepteurs/<int:endpoint_id>")
@roles_required(Role.FUNDER_ADMIN)
def webhook_deliveries(endpoint_id: int) -> str:
    user = current_actor()
    endpoint = _endpoint_or_404(endpoint_id)
    deliveries = endpoint_service.deliveries_of(user.funder_id, endpoint.id)
    rows = [
        {
            "delivery": delivery,
            "event": WEBHOOK_EVENT_LABELS.get(delivery.event.type, delivery.event.type),
            "state": DELIVERY_STATE_LABELS[DeliveryState(delivery.state)],
            "redeliverable": delivery.state != DeliveryState.PENDING,
            "attempts": endpoint_service.attempts_of(delivery.id),
        }
        for delivery in deliveries
    ]
    return render_template(
        "admin/webhook_deliveries.html",
        endpoint=endpoint,
        rows=rows,
        action_form=EmptyForm(),
    )


@bp.post("/acces-api/envois/<int:delivery_id>/renvoyer")
@roles_required(Role.FUNDER_ADMIN)
def redeliver_webhook(delivery_id: int) -> Response:
    user = current_actor()
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        delivery = endpoint_service.redeliver(user, user.funder_id, delivery_id)
    except endpoint_service.NotFound:
        deny(user, "envoi d'un autre financeur", status=404, delivery_id=delivery_id)
    flash("La notification sera envoyée de nouveau dans quelques instants.", "success")
    return redirect_after_post(
        url_for("admin.webhook_deliveries", endpoint_id=delivery.endpoint_id)
    )
