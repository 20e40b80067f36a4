"""How the API reads requests (webargs, under flask-smorest): unknown query parameters
and body fields are refused with their names, a parameter given twice is refused, and
every refusal is an `ApiError` with French messages by field."""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

import marshmallow as ma
from webargs.flaskparser import FlaskParser

from portal.blueprints.api.errors import ApiError

UNKNOWN_MESSAGE = "Unknown field."


def _flatten(messages: Any) -> dict[str, list[str]]:
    """marshmallow's messages ({"json": {"a": {"b": [..]}}}) as {"a.b": [..]}."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            flat.setdefault(prefix or "corps", []).extend(value)
        else:
            flat.setdefault(prefix or "corps", []).append(str(value))

    walk("", messages)
    return flat


class ApiParser(FlaskParser):
    DEFAULT_UNKNOWN_BY_LOCATION: ClassVar[dict[str, str | None]] = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": ma.RAISE,
        "querystring": ma.RAISE,
    }

    def load_querystring(self, req, schema: ma.Schema) -> Any:
        for name in sorted(set(req.args)):
            field = schema.fields.get(name)
            if len(req.args.getlist(name)) > 1 and not isinstance(field, ma.fields.List):
                raise ApiError(
                    400, "bad_request", f"Le paramètre « {name} » est donné plusieurs fois."
                )
        return super().load_querystring(req, schema)

    def handle_invalid_json_error(self, error, req, *args: Any, **kwargs: Any) -> NoReturn:
        raise ApiError(400, "bad_request", "Le corps de la requête n'est pas du JSON lisible.")

    def handle_error(
        self, error: ma.ValidationError, req, schema, *, error_status_code, error_headers
    ) -> NoReturn:
        messages = error.messages
        location = "json"
        if isinstance(messages, dict) and len(messages) == 1:
            location, messages = next(iter(messages.items()))
        flat = _flatten(messages)
        if "_schema" in flat:
            flat["corps"] = ["Un objet JSON est attendu."]
            del flat["_schema"]
        unknown = sorted(name for name, msgs in flat.items() if UNKNOWN_MESSAGE in msgs)
        for name in unknown:
            flat[name] = ["Champ inconnu."]
        listed = ", ".join(f"« {name} »" for name in unknown)
        if location in ("query", "querystring"):
            if unknown:
                known = ", ".join(f"« {n} »" for n in schema.fields) or "aucun"
                raise ApiError(
                    400,
                    "unknown_parameter",
                    f"Paramètre inconnu : {listed}. Paramètres acceptés : {known}.",
                )
            raise ApiError(400, "bad_request", "Paramètre invalide.", fields=flat)
        if unknown:
            raise ApiError(422, "unknown_field", f"Champ inconnu : {listed}.", fields=flat)
        raise ApiError(
            422, "invalid_fields", "Des champs sont refusés : voir « fields ».", fields=flat
        )
