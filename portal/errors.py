"""The portal's error vocabulary, and the one place that maps errors to responses.

Services raise three kinds of errors, whatever their domain:

- `Refused`: the request is refused as typed (field errors and/or a general message, and
  the files refused by their content); nothing was changed. A route that re-renders the
  form catches it; uncaught, it answers 400 with its message.
- `NotAllowed`: the actor may not do this. Uncaught, it answers 403 and is audited; a route
  that wants another reason or a 404 catches it and calls `access.deny`.
- `Stale`: someone else changed the data since the form was shown (optimistic lock, or a
  concurrent write detected at flush, see `portal.unit_of_work`). Uncaught, it answers 409.

A service raises them before it changes anything (it validates first), so a route that
catches one to answer 200 with the form commits nothing but what it records itself (the
refusal's audit event); uncaught, they answer >= 400 and the edge rolls back
(`portal.unit_of_work`). They are plain exceptions: `signalements.workflow.is_allowed`
uses one to answer a question, which must not undo the request.

Error pages are in French; an incident id instead of a traceback.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence

from flask import Flask, Response, jsonify, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal import access
from portal.extensions import Session, db, limiter

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


class PortalError(Exception):
    """The base of the vocabulary."""

    @property
    def message(self) -> str:
        return str(self)


class Refused(PortalError):
    """Refused as typed; nothing was written (and no file is left in the store).

    `errors` holds French messages by field name, `general` one about the whole request,
    `refused_files` the (name, reason) of files refused by their content (audited: a file
    whose content is not what its name says may be an attack). ``Refused("…")`` is a
    general message alone, ``Refused({"field": ["…"]})`` field errors alone.
    """

    def __init__(
        self,
        errors: Mapping[str, Sequence[str]] | str | None = None,
        general: str | None = None,
        *,
        refused_files: Sequence[tuple[str, str]] = (),
    ) -> None:
        if isinstance(errors, str):
            errors, general = None, errors
        self.errors: dict[str, list[str]] = {
            name: list(messages) for name, messages in (errors or {}).items()
        }
        self.general = general or None
        self.refused_files = list(refused_files)
        super().__init__(general or "; ".join(self.all_field_messages))

    @property
    def messages(self) -> list[str]:
        """The general message first, then every field's."""
        return [*([self.general] if self.general else []), *self.all_field_messages]

    @property
    def all_field_messages(self) -> list[str]:
        return [m for ms in self.errors.values() for m in ms]


class NotAllowed(PortalError):
    """The acting user may not do this (403, audited, unless the route denies otherwise)."""


STALE = MESSAGES[409][1]


class Stale(PortalError):
    """Changed meanwhile by someone else: nothing was overwritten (409)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or STALE)


Session.stale_error = Stale  # a StaleDataError at flush is raised as Stale


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def render_error(status: int, message: str | None = None, incident: str | None = None) -> Response:
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
        return render_error(400, CSRF_MESSAGE)

    @app.errorhandler(Refused)
    def refused(error: Refused) -> Response:
        return render_error(400, error.message or None)

    @app.errorhandler(NotAllowed)
    def not_allowed(error: NotAllowed) -> Response:
        if current_user.is_authenticated:
            access.record_denial(current_user, error.message or "action non autorisée")
        return render_error(403)

    @app.errorhandler(Stale)
    def stale(error: Stale) -> Response:
        return render_error(409, error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if isinstance(error, InternalServerError):
            return server_error(error)
        response = render_error(error.code or 500)
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
        return render_error(500, incident=incident)
