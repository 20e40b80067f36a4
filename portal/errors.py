"""Error pages in French; an incident id instead of a traceback."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.extensions import db, limiter

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Requête invalide", "La requête n'a pas pu être comprise."),
    401: ("Connexion requise", "Veuillez vous connecter."),
    403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n'existe pas ou vous n'y avez pas accès."),
    405: ("Méthode non autorisée", "Cette action n'est pas possible de cette manière."),
    409: ("Conflit", "Les données ont changé entre-temps. Rechargez la page."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    429: (
        "Trop de tentatives",
        "Trop de tentatives en peu de temps. Patientez quelques minutes avant de réessayer.",
    ),
    500: (
        "Erreur interne",
        "Une erreur inattendue s'est produite. L'équipe technique peut la retrouver "
        "grâce au numéro d'incident ci-dessous.",
    ),
}

#: Codes of API errors: stable, English, snake_case (programs test them; messages are French).
API_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
    500: "internal_error",
}

CSRF_MESSAGE = (
    "Le formulaire a expiré ou ne provient pas du portail. Rechargez la page et recommencez."
)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _render(status: int, message: str | None = None, incident: str | None = None) -> Response:
    title, default_message = MESSAGES.get(status, (f"Erreur {status}", "Une erreur est survenue."))
    message = message or default_message
    if _wants_json():
        payload = {"error": {"code": API_CODES.get(status, f"http_{status}"), "message": message}}
        if incident:
            payload["error"]["incident"] = incident
        response = jsonify(payload)
    else:
        response = Response(
            render_template(
                "errors/error.html", status=status, title=title, message=message, incident=incident
            )
        )
    response.status_code = status
    return response


def _seconds_before_retry() -> int:
    """When the limit that refused the request lets a new try through."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()))


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> Response:
        return _render(400, CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if isinstance(error, InternalServerError):
            return server_error(error)
        response = _render(error.code or 500)
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        if error.code == 429:
            response.headers["Retry-After"] = str(_seconds_before_retry())
        return response

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> Response:
        original = getattr(error, "original_exception", None) or error
        incident = uuid.uuid4().hex[:12].upper()
        db.session.rollback()
        log.error("Incident %s on %s %s", incident, request.method, request.path, exc_info=original)
        return _render(500, incident=incident)
