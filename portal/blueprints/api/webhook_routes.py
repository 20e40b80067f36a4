"""The funder's webhook endpoints through the API (scope `webhooks:manage`); the same
services as the administration pages (portal.webhooks.endpoints)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from portal.api.tokens import TokenActor
from portal.blueprints.api import bp
from portal.blueprints.api import schemas as s
from portal.blueprints.api.auth import api_actor, token_required
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.routes import _BAD_QUERY, _NOT_FOUND, _REFUSED, _UNREADABLE, _errors
from portal.models import ApiScope, WebhookEndpoint
from portal.webhooks import endpoints


def _value(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": sorted(endpoint.event_set),
        "description": endpoint.description,
        "active": endpoint.is_active,
        "created_at": endpoint.created_at,
    }


def _actor() -> TokenActor:
    actor = api_actor()
    assert isinstance(actor, TokenActor)
    return actor


@bp.route("/webhooks", methods=["GET"])
@bp.doc(tags=["webhooks"], summary="Récepteurs de notifications du financeur")
@token_required(ApiScope.WEBHOOKS_MANAGE)
@bp.arguments(s.Strict, location="query", as_kwargs=True)
@bp.response(200, s.WebhookEndpointList)
@_errors(_BAD_QUERY)
def webhooks_list() -> dict[str, Any]:
    return {"items": [_value(e) for e in endpoints.endpoints_of(_actor().funder_id)]}


@bp.route("/webhooks", methods=["POST"])
@bp.doc(
    tags=["webhooks"],
    summary="Enregistrer un récepteur",
    description="Chaque notification est un POST JSON signé : `X-Portal-Timestamp` (secondes "
    "Unix) et `X-Portal-Signature: v1=<hex>`, HMAC-SHA256 du secret sur "
    "« <timestamp>.<corps> ». Refusez un horodatage de plus de 5 minutes (rejeu). Le "
    "secret n'est donné que dans cette réponse.",
)
@token_required(ApiScope.WEBHOOKS_MANAGE)
@bp.arguments(s.WebhookEndpointIn, location="json")
@bp.response(201, s.WebhookEndpointCreated)
@_errors(_UNREADABLE, _REFUSED, (413, "Corps trop grand."), (415, "Corps qui n'est pas du JSON."))
def webhooks_create(data: dict[str, Any]) -> dict[str, Any]:
    actor = _actor()
    try:
        endpoint, secret = endpoints.register(
            actor,
            actor.funder_id,
            data["url"],
            data["events"],
            data.get("description", ""),
            current_app.config["SECRET_KEY"],
        )
    except endpoints.EndpointRefused as error:
        raise ApiError(
            422, "invalid_fields", "Des champs sont refusés : voir « fields ».", fields=error.errors
        ) from None
    return {**_value(endpoint), "secret": secret}


@bp.route("/webhooks/<int:endpoint_id>", methods=["DELETE"])
@bp.doc(tags=["webhooks"], summary="Désactiver un récepteur")
@token_required(ApiScope.WEBHOOKS_MANAGE)
@bp.arguments(s.Strict, location="query", as_kwargs=True)
@bp.response(204)
@_errors(_BAD_QUERY, _NOT_FOUND)
def webhooks_disable(endpoint_id: int) -> None:
    actor = _actor()
    try:
        endpoints.disable(actor, actor.funder_id, endpoint_id)
    except endpoints.NotFound:
        raise ApiError(404, "not_found", "Récepteur inconnu.") from None
