"""The control bundle of a dossier (funder side): one ZIP, streamed, to show the control to
a third party (`portal.service_fait.bundle`)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, current_app
from flask_login import current_user

from portal.access import get_dossier_or_404, roles_required
from portal.blueprints.service_fait import bp
from portal.blueprints.service_fait.routes import SECTION
from portal.service_fait import bundle as service
from portal.storage import storage_for


@bp.get("/dossiers/<int:dossier_id>/dossier-de-controle.zip")
@roles_required(*SECTION.roles)
def control_bundle(dossier_id: int) -> Response:
    actor = current_user._get_current_object()
    dossier = get_dossier_or_404(dossier_id, actor)
    storage = storage_for(current_app)
    bundle, _context = service.prepare(dossier, actor, storage)
    service.record_export(actor, dossier, bundle)
    response = Response(service.stream_zip(bundle, storage), mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{bundle.filename.encode("ascii", "replace").decode()}"; '
        f"filename*=UTF-8''{quote(bundle.filename)}"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
