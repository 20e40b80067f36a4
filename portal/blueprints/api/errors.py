"""The API's errors: JSON `{"error": {"code", "message", …}}`, a stable English code and a
French message (schema `schemas.Error`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        self.headers = dict(headers or {})
        self.extra = extra


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    fields: Mapping[str, list[str]] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = {name: list(messages) for name, messages in fields.items()}
    body.update(extra)
    response = jsonify({"error": body})
    response.status_code = status
    response.headers.update(dict(headers or {}))
    return response


def as_response(error: ApiError) -> Response:
    return error_response(
        error.status, error.code, error.message, error.headers, fields=error.fields, **error.extra
    )
