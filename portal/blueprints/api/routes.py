"""Routes of the JSON API. Each declares its schemas (portal.blueprints.api.schemas) with
flask-smorest: requests are validated by them, answers serialised through them, and the
OpenAPI document is written from them. Errors are `ApiError` (portal.blueprints.api.errors)
with a stable code; 404, 405, 413, 429 and 500 come from portal.errors in the same form.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import current_app, url_for

from portal import clock
from portal.access import ALL_ROLES, get_dossier_or_404, get_piece_or_404
from portal.api import resources
from portal.api.tokens import TokenActor
from portal.blueprints.api import bp
from portal.blueprints.api import schemas as s
from portal.blueprints.api.auth import api_actor, token_required
from portal.blueprints.api.errors import ApiError
from portal.dossiers.pieces import record_download
from portal.dossiers.services import DossierFilters
from portal.dossiers.services import dossiers_after as _dossiers_after
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.identifiers import InvalidIdentifier, classify
from portal.models import ApiScope, Funder
from portal.navigation import section
from portal.public_list.lookup import check
from portal.storage import storage_for
from portal.uploads import send_stored

QUALIOPI_ROLES = section("public_list").roles
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

#: What every protected route may answer besides its success.
_AUTH_ERRORS = (
    (401, "Jeton absent, inconnu, expiré ou révoqué (code `unauthenticated`)."),
    (403, "Rôle ou droit du jeton insuffisant (codes `forbidden`, `insufficient_scope`)."),
    (429, "Trop de requêtes pour ce jeton (code `too_many_requests`, en-tête `Retry-After`)."),
    (405, "Méthode non permise à cette adresse (code `method_not_allowed`)."),
)


def _errors(*extra: tuple[int, str]):
    """Document the error answers of a route (schema `Error`)."""

    def decorator(view):
        for status, description in (*_AUTH_ERRORS, *extra):
            view = bp.alt_response(status, schema=s.Error, description=description)(view)
        return view

    return decorator


_BAD_QUERY = (400, "Paramètre inconnu (`unknown_parameter`), répété ou invalide (`bad_request`).")
_NOT_FOUND = (404, "Inconnu, ou hors du périmètre du jeton (code `not_found`).")
_REFUSED = (422, "Champ inconnu (`unknown_field`) ou refusé (`invalid_fields`), par champ.")
_UNREADABLE = (400, "Corps qui n'est pas du JSON lisible (`bad_request`).")


def _funder_actor() -> TokenActor:
    actor = api_actor()
    assert isinstance(actor, TokenActor)
    return actor


def _after(cursor: str | None) -> int:
    try:
        return resources.after_of(cursor)
    except resources.BadCursor:
        raise ApiError(
            400, "invalid_cursor", "Curseur illisible : reprenez le `next_cursor` d'une page."
        ) from None


# --- The API itself ----------------------------------------------------------------------


@bp.route("/", methods=["GET"])
@bp.doc(tags=["api"], summary="Version de l'API et titulaire du jeton")
@token_required(personal_roles=ALL_ROLES)
@bp.arguments(s.Strict, location="query", as_kwargs=True)
@bp.response(200, s.Index)
@_errors(_BAD_QUERY)
def index() -> dict[str, Any]:
    actor = api_actor()
    if isinstance(actor, TokenActor):
        funder = db.session.get(Funder, actor.funder_id)
        return {
            "version": "v1",
            "token": {
                "label": actor.label,
                "funder": funder.name if funder else "",
                "scopes": sorted(actor.scopes),
            },
        }
    return {"version": "v1", "user": {"email": actor.email, "role": actor.role}}


# --- Qualiopi --------------------------------------------------------------------------------


@bp.route("/qualiopi/<ident>", methods=["GET"])
@bp.doc(
    tags=["qualiopi"],
    summary="Certification Qualiopi d'un organisme à une date",
    description="Ce que disait la liste publique en vigueur à la date `on` du SIRET, du "
    "SIREN ou du numéro de déclaration d'activité demandé : la même réponse que `flask "
    "qualiopi check IDENT --on DATE --json`. `ident` : SIRET (14 chiffres), SIREN (9) ou NDA "
    "(11) ; espaces, points et tirets ignorés ; clé de Luhn valide pour SIREN et SIRET.",
    parameters=[
        {
            "name": "ident",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "siren-siret-nda"},
            "description": "Un SIRET, un SIREN ou un NDA.",
        },
        {
            "name": "on",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "format": "date"},
            "description": "La date à vérifier (AAAA-MM-JJ ; par défaut, ce jour).",
        },
    ],
)
@token_required(ApiScope.QUALIOPI_READ, personal_roles=QUALIOPI_ROLES)
@bp.arguments(s.QualiopiQuery, location="query", as_kwargs=True)
@bp.response(200, s.CheckResult)
@_errors(
    (
        400,
        "Identifiant invalide (`invalid_identifier`), date invalide (`invalid_date`), "
        "paramètre inconnu (`unknown_parameter`) ou répété (`bad_request`).",
    ),
    (404, "Chemin inconnu (code `not_found`)."),
)
def qualiopi_check(ident: str, on: str | None = None) -> dict[str, Any]:
    if on is None:
        day = clock.today()
    else:
        try:
            if not _ISO_DATE.fullmatch(on):
                raise ValueError(on)
            day = date.fromisoformat(on)
        except ValueError:
            raise ApiError(
                400, "invalid_date", f"Le paramètre on attend une date AAAA-MM-JJ, pas « {on} »."
            ) from None
    try:
        identifier = classify(ident)
    except InvalidIdentifier as error:
        raise ApiError(400, "invalid_identifier", str(error)) from None
    return check(identifier, day, query=ident).as_json()


@bp.route("/qualiopi/alerts", methods=["GET"])
@bp.doc(
    tags=["qualiopi"],
    summary="Alertes Qualiopi du financeur",
    description="Les OF financés qui ont perdu la catégorie de leurs dossiers en cours ou "
    "quitté la liste publique, à chaque import (pages par curseur).",
)
@token_required(ApiScope.QUALIOPI_READ)
@bp.arguments(s.AlertQuery, location="query", as_kwargs=True)
@bp.response(200, s.AlertPage)
@_errors(_BAD_QUERY)
def qualiopi_alerts(limit: int, cursor: str | None = None, since=None) -> dict[str, Any]:
    actor = _funder_actor()
    items = resources.alerts_of(actor.funder_id, since, _after(cursor), limit + 1)
    return resources.page(items, limit, resources.alert_value)


# --- Dossiers ------------------------------------------------------------------------------------


@bp.route("/dossiers", methods=["GET"])
@bp.doc(
    tags=["dossiers"],
    summary="Dossiers du financeur",
    description="Les filtres de la liste des dossiers ; pages par curseur, dans l'ordre de "
    "création : un dossier créé pendant la lecture arrive en fin de liste, aucune page n'en "
    "saute ni n'en répète.",
)
@token_required(ApiScope.DOSSIERS_READ)
@bp.arguments(s.DossierQuery, location="query", as_kwargs=True)
@bp.response(200, s.DossierPage)
@_errors(_BAD_QUERY)
def dossiers_list(limit: int, cursor: str | None = None, **query: Any) -> dict[str, Any]:
    actor = _funder_actor()
    filters = DossierFilters(
        q=query.get("q") or "",
        of=query.get("of") or "",
        status=query.get("status") or "",
        scheme=query.get("scheme") or "",
        start=query.get("start"),
        end=query.get("end"),
    )
    items = _dossiers_after(
        actor,  # type: ignore[arg-type]
        filters,
        after_id=_after(cursor),
        limit=limit + 1,
        updated_since=query.get("updated_since"),
    )
    return resources.page(items, limit, resources.dossier_value)


@bp.route("/dossiers", methods=["POST"])
@bp.doc(
    tags=["dossiers"],
    summary="Créer un dossier",
    description="Avec un en-tête `Idempotency-Key`, une requête répétée (même clé, même "
    "contenu) répond le dossier déjà créé (200) au lieu d'en créer un second ; la même clé "
    "avec un autre contenu est refusée (409, `idempotency_key_reused`).",
)
@token_required(ApiScope.DOSSIERS_WRITE)
@bp.arguments(s.IdempotencyHeader, location="headers", as_kwargs=True)
@bp.arguments(s.DossierCreate, location="json")
@bp.response(201, s.Dossier, description="Le dossier créé.")
@bp.alt_response(200, schema=s.Dossier, description="Le dossier déjà créé avec cette clé.")
@_errors(
    _UNREADABLE,
    _REFUSED,
    (409, "Clé d'idempotence déjà utilisée pour un autre contenu (`idempotency_key_reused`)."),
    (413, "Corps trop grand (`payload_too_large`)."),
    (415, "Corps qui n'est pas du JSON (`unsupported_media_type`)."),
)
def dossiers_create(data: dict[str, Any], idempotency_key: str | None = None):
    actor = _funder_actor()
    try:
        dossier, created = resources.create_dossier(actor, data, idempotency_key)
    except Refused as error:
        raise ApiError(
            422, "invalid_fields", "Des champs sont refusés : voir « fields ».", fields=error.errors
        ) from None
    except resources.IdempotencyConflict:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "Cette clé d'idempotence a déjà servi pour un autre contenu : choisissez-en une "
            "nouvelle pour un nouveau dossier.",
        ) from None
    headers = {"Location": url_for("api.dossiers_read", dossier_id=dossier.id)}
    return resources.dossier_value(dossier), 201 if created else 200, headers


@bp.route("/dossiers/<int:dossier_id>", methods=["GET"])
@bp.doc(tags=["dossiers"], summary="Un dossier")
@token_required(ApiScope.DOSSIERS_READ)
@bp.arguments(s.Strict, location="query", as_kwargs=True)
@bp.response(200, s.Dossier)
@_errors(_BAD_QUERY, _NOT_FOUND)
def dossiers_read(dossier_id: int) -> dict[str, Any]:
    dossier = get_dossier_or_404(dossier_id, api_actor())  # type: ignore[arg-type]
    return resources.dossier_value(dossier)


@bp.route("/dossiers/<int:dossier_id>", methods=["PATCH"])
@bp.doc(
    tags=["dossiers"],
    summary="Modifier un dossier",
    description="Envoyez la `version` lue et les champs qui changent. Si le dossier a changé "
    "depuis, rien n'est enregistré : 409 (`stale_version`) avec la version actuelle.",
)
@token_required(ApiScope.DOSSIERS_WRITE)
@bp.arguments(s.DossierUpdate, location="json")
@bp.response(200, s.Dossier)
@_errors(
    _UNREADABLE,
    _NOT_FOUND,
    _REFUSED,
    (409, "Version périmée (`stale_version`, avec `current_version`)."),
    (413, "Corps trop grand (`payload_too_large`)."),
    (415, "Corps qui n'est pas du JSON (`unsupported_media_type`)."),
)
def dossiers_update(data: dict[str, Any], dossier_id: int) -> dict[str, Any]:
    actor = api_actor()
    dossier = get_dossier_or_404(dossier_id, actor, need="edit")  # type: ignore[arg-type]
    try:
        resources.update_dossier(actor, dossier, data)
        db.session.flush()
    except Stale:
        raise ApiError(
            409,
            "stale_version",
            f"Le dossier a changé depuis la version {data.get('version')} : relisez-le "
            f"(version actuelle : {dossier.version}) et refaites la modification.",
            current_version=dossier.version,
        ) from None
    except Refused as error:
        raise ApiError(
            422, "invalid_fields", "Des champs sont refusés : voir « fields ».", fields=error.errors
        ) from None
    except NotAllowed:
        raise ApiError(403, "forbidden", "Ce dossier ne peut pas être modifié.") from None
    return resources.dossier_value(dossier)


# --- Pieces ------------------------------------------------------------------------------


@bp.route("/dossiers/<int:dossier_id>/pieces", methods=["GET"])
@bp.doc(
    tags=["dossiers"],
    summary="Pièces d'un dossier",
    description="Toutes les pièces, versions remplacées comprises (`current`), avec leurs "
    "chiffres saisis et l'empreinte SHA-256 de leur fichier.",
)
@token_required(ApiScope.DOSSIERS_READ)
@bp.arguments(s.Strict, location="query", as_kwargs=True)
@bp.response(200, s.PieceList)
@_errors(_BAD_QUERY, _NOT_FOUND)
def pieces_list(dossier_id: int) -> dict[str, Any]:
    dossier = get_dossier_or_404(dossier_id, api_actor())  # type: ignore[arg-type]
    return {
        "items": [
            resources.piece_value(
                piece,
                url_for("api.pieces_file", dossier_id=dossier.id, piece_id=piece.id),
            )
            for piece in resources.dossier_pieces(dossier)
        ]
    }


@bp.route("/dossiers/<int:dossier_id>/pieces/<int:piece_id>/file", methods=["GET"])
@bp.doc(
    tags=["dossiers"],
    summary="Fichier d'une pièce",
    responses={
        "200": {
            "description": "Le fichier (PDF, image…), en pièce jointe.",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
@token_required(ApiScope.DOSSIERS_READ)
@bp.arguments(s.Strict, location="query", as_kwargs=True)
@_errors(_BAD_QUERY, _NOT_FOUND)
def pieces_file(dossier_id: int, piece_id: int):
    actor = api_actor()
    dossier = get_dossier_or_404(dossier_id, actor)  # type: ignore[arg-type]
    piece = get_piece_or_404(dossier, piece_id, actor)  # type: ignore[arg-type]
    document = piece.document
    key, name, content_type, size = (
        document.storage_key,
        document.original_name,
        document.content_type,
        document.size,
    )
    record_download(actor, piece)  # type: ignore[arg-type]
    return send_stored(
        storage_for(current_app), key, download_name=name, content_type=content_type, size=size
    )


# --- Controls and decisions -------------------------------------------------------------


@bp.route("/dossiers/<int:dossier_id>/control", methods=["GET"])
@bp.doc(
    tags=["controles"],
    summary="Contrôle de service fait d'un dossier",
    description="Statut, anomalies avec leurs codes, demandes de pièces et leur état, "
    "décisions par facture avec montants validés et motifs.",
)
@token_required(ApiScope.CONTROLS_READ)
@bp.arguments(s.Strict, location="query", as_kwargs=True)
@bp.response(200, s.Control)
@_errors(_BAD_QUERY, _NOT_FOUND)
def control_read(dossier_id: int) -> dict[str, Any]:
    dossier = get_dossier_or_404(dossier_id, api_actor())  # type: ignore[arg-type]
    return resources.control_value(dossier)


@bp.route("/decisions", methods=["GET"])
@bp.doc(
    tags=["controles"],
    summary="Décisions prises depuis une date",
    description="Pour le système de paiement : les décisions par facture prises ou rouvertes "
    "depuis `since`, dans l'ordre où elles ont été prises (pages par curseur). Une décision "
    "rouverte (`active` faux) est remplacée par une nouvelle.",
)
@token_required(ApiScope.CONTROLS_READ)
@bp.arguments(s.DecisionQuery, location="query", as_kwargs=True)
@bp.response(200, s.DecisionPage)
@_errors(_BAD_QUERY)
def decisions_feed(since, limit: int, cursor: str | None = None) -> dict[str, Any]:
    actor = _funder_actor()
    rows = resources.decisions_since(actor.funder_id, since, _after(cursor), limit + 1)

    class _Row:
        def __init__(self, row) -> None:
            self.row = row
            self.id = row[0].id

    wrapped = [_Row(row) for row in rows]
    return resources.page(wrapped, limit, lambda item: resources.decision_value(*item.row))
