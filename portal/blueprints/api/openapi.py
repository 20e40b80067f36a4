"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json.

Written by hand as a dict: the API is small, and tests check that every API route is
described here and that the answers conform to it (schemathesis).
"""

from __future__ import annotations

from typing import Any

from portal.public_list.history import CATEGORY_KEYS

#: A custom `format` for the path parameter: a SIREN, a SIRET or an NDA, which JSON
#: Schema cannot express (Luhn key). Test tools are told how to generate such values.
IDENTIFIER_FORMAT = "siren-siret-nda"

ERROR_CODES = (
    "bad_request",
    "invalid_identifier",
    "invalid_date",
    "unknown_parameter",
    "unauthenticated",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "too_many_requests",
    "internal_error",
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_UNKNOWN_PARAMETER = _error(
    "Paramètre de requête inconnu (code `unknown_parameter`) ou donné plusieurs fois "
    "(code `bad_request`)."
)


_UNAUTHENTICATED = _json(
    _ref("Error"),
    "Jeton absent, inconnu, révoqué, ou appartenant à un compte désactivé "
    "(code `unauthenticated`).",
    headers={
        "WWW-Authenticate": {
            "description": "Toujours `Bearer`.",
            "schema": {"type": "string", "pattern": "^Bearer"},
        }
    },
)

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Toute erreur de l'API.",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {
                        "type": "string",
                        "pattern": "^[a-z][a-z_]*$",
                        "description": "Code stable, en anglais, à tester par les programmes : "
                        + ", ".join(f"`{code}`" for code in ERROR_CODES)
                        + ".",
                        "examples": ["invalid_identifier"],
                    },
                    "message": {
                        "type": "string",
                        "description": "Explication en français, pour un humain.",
                    },
                    "incident": {
                        "type": "string",
                        "description": "Numéro d'incident d'une erreur interne (500).",
                    },
                },
            }
        },
    },
    "Categories": {
        "type": "object",
        "description": "Pour chacune des quatre catégories d'actions (art. L.6313-1 du Code "
        "du travail), si l'organisme est certifié Qualiopi.",
        "required": list(CATEGORY_KEYS),
        "additionalProperties": False,
        "properties": {
            "actions_formation": {"type": "boolean", "description": "Actions de formation."},
            "bilans_competences": {"type": "boolean", "description": "Bilans de compétences."},
            "vae": {
                "type": "boolean",
                "description": "Validation des acquis de l'expérience.",
            },
            "apprentissage": {
                "type": "boolean",
                "description": "Actions de formation par apprentissage.",
            },
        },
    },
    "Match": {
        "type": "object",
        "description": "Ce que disait la liste publique d'un numéro de déclaration d'activité.",
        "required": [
            "nda",
            "siren",
            "siret",
            "denomination",
            "region",
            "certified",
            "categories",
            "matched_by",
        ],
        "additionalProperties": False,
        "properties": {
            "nda": {
                "type": "string",
                "pattern": "^[0-9]{11}$",
                "description": "Numéro de déclaration d'activité (11 chiffres ; peut commencer "
                "par 0).",
                "examples": ["01971234567"],
            },
            "siren": {"type": "string", "description": "SIREN de l'organisme."},
            "siret": {"type": "string", "description": "SIRET de l'établissement déclarant."},
            "denomination": {"type": "string"},
            "region": {"type": "string", "description": "Code INSEE de la région."},
            "certified": {
                "type": "boolean",
                "description": "Certifié pour au moins une catégorie.",
            },
            "categories": _ref("Categories"),
            "matched_by": {
                "type": "string",
                "enum": ["nda", "siret", "siren", "previous_nda"],
                "description": "Comment l'organisme a été trouvé. `nda` : par son numéro de "
                "déclaration d'activité ; `siret` : le SIRET demandé est celui de son "
                "établissement déclarant ; `siren` : par le SIREN demandé, ou, pour un SIRET "
                "absent de la liste (établissement non déclarant, par exemple un lieu de "
                "formation), par le SIREN de ce SIRET — chaque NDA de l'entreprise est alors "
                "donné, car la certification appartient au NDA, pas à l'établissement ; "
                "`previous_nda` : le numéro demandé est un ancien NDA de cet organisme "
                "(remplace `found_as_previous_nda`).",
                "examples": ["siren"],
            },
        },
    },
    "CheckResult": {
        "type": "object",
        "description": "La réponse de `flask qualiopi check IDENT --on DATE --json`.",
        "required": ["query", "on", "list_as_of", "matches"],
        "additionalProperties": False,
        "properties": {
            "query": {"type": "string", "description": "L'identifiant tel que demandé."},
            "on": {"type": "string", "format": "date", "description": "La date vérifiée."},
            "list_as_of": {
                "type": ["string", "null"],
                "format": "date",
                "description": "La date de la liste publique en vigueur ce jour-là ; `null` si "
                "aucune liste n'était encore importée (le portail ne peut pas répondre).",
            },
            "matches": {
                "type": "array",
                "items": _ref("Match"),
                "description": "Les organismes trouvés (plusieurs pour un SIREN qui a plusieurs "
                "NDA) ; vide si l'identifiant n'est pas dans la liste à cette date.",
            },
        },
    },
    "Index": {
        "type": "object",
        "required": ["version", "user"],
        "additionalProperties": False,
        "properties": {
            "version": {"type": "string", "const": "v1"},
            "user": {
                "type": "object",
                "required": ["email", "role"],
                "additionalProperties": False,
                "properties": {
                    "email": {"type": "string"},
                    "role": {
                        "type": "string",
                        "enum": ["admin", "funder_admin", "controller", "provider", "ministry"],
                    },
                },
            },
        },
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "API du portail qualité des financeurs",
        "version": "1",
        "description": (
            "Vérification de la certification Qualiopi des organismes de formation, d'après "
            "l'historique de la liste publique des organismes de formation (DGEFP, "
            "data.gouv.fr) importée par le portail.\n\n"
            "Authentification : un jeton d'accès personnel, créé dans « Mon compte » et envoyé "
            "dans l'en-tête `Authorization: Bearer <jeton>`. Le cookie de session du site "
            "n'ouvre pas l'API. Un paramètre de requête inconnu est refusé (une faute de "
            "frappe dans `on` ne doit pas donner, sans le dire, la réponse du jour).\n\n"
            'Les erreurs sont en JSON : `{"error": {"code": …, "message": …}}`, avec un '
            "`code` stable en anglais et un message en français."
        ),
    },
    "servers": [{"url": "/api/v1", "description": "Ce portail."}],
    "security": [{"bearer": []}],
    "tags": [
        {"name": "qualiopi", "description": "La certification Qualiopi des organismes."},
        {"name": "api", "description": "L'API elle-même."},
    ],
    "paths": {
        "/": {
            "get": {
                "operationId": "index",
                "tags": ["api"],
                "summary": "Version de l'API et compte du jeton",
                "responses": {
                    "200": _json(_ref("Index"), "La version et l'utilisateur du jeton."),
                    "400": _UNKNOWN_PARAMETER,
                    "401": _UNAUTHENTICATED,
                },
            }
        },
        "/qualiopi/{ident}": {
            "get": {
                "operationId": "checkQualiopi",
                "tags": ["qualiopi"],
                "summary": "Certification Qualiopi d'un organisme à une date",
                "description": (
                    "Ce que disait la liste publique en vigueur à la date `on` du SIRET, du "
                    "SIREN ou du numéro de déclaration d'activité demandé : la même réponse "
                    "que `flask qualiopi check IDENT --on DATE --json`. Réservé aux "
                    "administrateurs, aux financeurs et aux correspondants ministériels."
                ),
                "parameters": [
                    {
                        "name": "ident",
                        "in": "path",
                        "required": True,
                        "description": (
                            "Un SIRET (14 chiffres), un SIREN (9) ou un numéro de déclaration "
                            "d'activité (11). Espaces, points et tirets sont ignorés ; SIREN et "
                            "SIRET doivent avoir une clé de contrôle (Luhn) valide."
                        ),
                        "schema": {"type": "string", "format": IDENTIFIER_FORMAT},
                        "examples": {
                            "siret": {"value": "81234567600017"},
                            "siren": {"value": "300123452"},
                            "nda": {"value": "01971234567"},
                        },
                    },
                    {
                        "name": "on",
                        "in": "query",
                        "required": False,
                        "description": "La date à vérifier (AAAA-MM-JJ ; par défaut, ce jour).",
                        "schema": {"type": "string", "format": "date"},
                        "example": "2025-06-30",
                    },
                ],
                "responses": {
                    "200": _json(_ref("CheckResult"), "La réponse de la liste publique."),
                    "400": _error(
                        "Identifiant invalide (code `invalid_identifier`, message qui dit "
                        "pourquoi), date invalide (code `invalid_date`), paramètre inconnu "
                        "(code `unknown_parameter`) ou répété (code `bad_request`)."
                    ),
                    "401": _UNAUTHENTICATED,
                    "403": _error("Le rôle du compte n'ouvre pas cette API (code `forbidden`)."),
                    "404": _error("Chemin inconnu (code `not_found`)."),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["api"],
                "summary": "Ce document OpenAPI",
                "security": [],
                "responses": {
                    "200": _json(
                        {"type": "object", "required": ["openapi", "info", "paths"]},
                        "Le document OpenAPI 3.1 de l'API.",
                    ),
                    "400": _UNKNOWN_PARAMETER,
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "Jeton d'accès personnel (`pq_…`), créé dans « Mon compte ».",
            }
        },
        "schemas": SCHEMAS,
    },
}
