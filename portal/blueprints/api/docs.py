"""The browsable documentation of the API, /api/v1/docs: Swagger UI (npm package
swagger-ui-dist, copied into portal/static/vendor by `make setup`) reading the OpenAPI
document generated from the code. Public, as the document itself."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")


@bp.get("/docs")
def docs() -> str:
    return render_template("api/docs.html", spec_url=url_for("api-docs.openapi_json"))
