"""Helpers of the pieces tests: dossiers written straight to the database, small real files,
uploads through the web client, and what the file store holds."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from flask import Flask

from portal.models import Dossier, Funder, Provider
from tests.factories import DossierFactory, month_end, month_start  # noqa: F401  (re-exported)
from tests.test_uploads import make_pdf, make_png  # noqa: F401  (re-exported)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def make_dossier(
    funder: Funder | None = None, provider: Provider | None = None, **values: Any
) -> Dossier:
    """A PTP paid monthly, begun three months ago and ending in two, written straight to
    the database with its `first_missing_due`; the funder follows the OF (`DossierFactory`)."""
    if funder is not None:
        values["funder"] = funder
    if provider is not None:
        values["provider"] = provider
    return DossierFactory(**values)


def first_month(dossier: Dossier) -> tuple[str, str]:
    start = dossier.start_date
    return start.isoformat(), month_end(start, 0).isoformat()


def fields_for(kind: str, dossier: Dossier, **changes: Any) -> dict[str, str]:
    """Valid form values of a piece of `kind` covering the dossier's first month."""
    start, end = first_month(dossier)
    common = {"period_start": start, "period_end": end}
    by_kind = {
        "facture": {
            "invoice_number": "F-2026-001",
            "invoice_date": end,
            "amount_excl_tax": "1 250,50",
            "amount_incl_tax": "1 500,60",
            "hours_billed": "70",
        },
        "certificat_realisation": {
            "nature": "actions_formation",
            "hours_completed": "69h30",
            "signatory": "Sophie Martin, directrice",
            "signed_on": end,
        },
        "feuille_emargement": {
            "half_days_planned": "20",
            "half_days_signed": "19",
            "hours_attended": "66,5",
        },
        "releve_depenses": {"amount": "310,20"},
    }
    data = {**common, **by_kind[kind], **changes}
    return {key: value for key, value in data.items() if value is not None}


def new_piece_path(dossier_id: int, kind: str) -> str:
    return f"/dossiers/{dossier_id}/pieces/nouvelle?type={kind}"


def post_piece(
    auth, dossier_id: int, kind: str, fields: dict[str, str], files: list[tuple[str, bytes]], **kw
):
    """The upload form sent as a browser sends it (multipart, CSRF token)."""
    data: dict[str, Any] = dict(fields)
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return auth.post(
        new_piece_path(dossier_id, kind), data, content_type="multipart/form-data", **kw
    )


def stored_files(app: Flask) -> set[str]:
    """The keys of the files in the store of the application serving the requests."""
    root = Path(app.config["STORAGE_DIR"])
    return {
        name
        for _dir, _subdirs, names in os.walk(root)
        for name in names
        if not name.startswith(".tmp-")
    } | {f".tmp:{n}" for _d, _s, names in os.walk(root) for n in names if n.startswith(".tmp-")}
