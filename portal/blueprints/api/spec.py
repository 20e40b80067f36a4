"""What the OpenAPI document says beyond the routes: its description, the bearer
security scheme, the servers (paths are relative to /api/v1), and error schemas."""

from __future__ import annotations

from typing import Any

from flask_smorest import Api

from portal.blueprints.api.schemas import Error
from portal.models import API_SCOPE_LABELS
from portal.routing import DatabaseIdConverter

#: The largest id a column holds (32-bit integers on PostgreSQL).
JSON_SAFE_MAX_ID = 2**31 - 1

DESCRIPTION = (
    "L'API des systèmes d'information des financeurs : dossiers, pièces, contrôles de "
    "service fait, décisions, certification Qualiopi et notifications (webhooks).\n\n"
    "**Authentification** : un jeton envoyé dans l'en-tête `Authorization: Bearer <jeton>`. "
    "Un jeton du financeur est créé par son administrateur (Administration > Accès API), "
    "avec des droits, une date de fin et un nom ; il voit exactement ce que voient les "
    "contrôleurs du financeur. Droits : "
    + "; ".join(f"`{scope.value}` ({label.lower()})" for scope, label in API_SCOPE_LABELS.items())
    + ". Un jeton personnel (« Mon compte ») ne lit que la certification Qualiopi. Le cookie "
    "de session du site n'ouvre pas l'API.\n\n"
    '**Erreurs** : en JSON, `{"error": {"code": …, "message": …, "fields": …}}`, avec un '
    "`code` stable en anglais, un message en français et, pour un champ refusé ou inconnu, "
    "les messages par champ. Un paramètre ou un champ inconnu est refusé, nommé.\n\n"
    "**Limites** : un nombre de requêtes par jeton et par minute (429 avec `Retry-After`), "
    "200 éléments par page, un corps de 64 Ko au plus.\n\n"
    "**Pages** : par curseur (`next_cursor` → `cursor`), dans l'ordre de création."
)

SPEC: dict[str, Any] = {
    "info": {"description": DESCRIPTION},
    "security": [{"bearer": []}],
    "tags": [
        {"name": "dossiers", "description": "Les dossiers du financeur et leurs pièces."},
        {"name": "controles", "description": "Contrôles de service fait et décisions."},
        {"name": "qualiopi", "description": "La certification Qualiopi des organismes."},
        {"name": "webhooks", "description": "Les notifications envoyées au financeur."},
        {"name": "api", "description": "L'API elle-même."},
    ],
}


class PortalApi(Api):
    """flask-smorest's Api with the portal's error schema (no default error response:
    each route lists its own)."""

    ERROR_SCHEMA = Error
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        """None: portal.errors answers every error, in the API's JSON form."""


def prepare(api: Api) -> None:
    """Before the routes: path identifiers are integers a database can hold."""
    api.register_converter(
        DatabaseIdConverter,
        lambda converter: {"type": "integer", "minimum": 0, "maximum": JSON_SAFE_MAX_ID},
    )


def complete(api: Api) -> None:
    api.spec.components.security_scheme(
        "bearer",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "Un jeton d'API : `pq_` suivi de 43 caractères.",
        },
    )
