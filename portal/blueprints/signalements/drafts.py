"""Writing a signalement (funder side): starting a draft from an OF, a dossier or a control
(the query string says which), and the draft's form, whose checklist of what is still
missing follows the typing (HTMX) and is shown again on saving (without JavaScript).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_htmx import make_response as htmx_response
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from portal import rnq
from portal.access import get_signalement_or_404, roles_required
from portal.blueprints.dossiers.piece_forms import ACCEPT
from portal.blueprints.signalements import bp
from portal.blueprints.signalements.routes import FUNDER_STAFF, SECTION
from portal.errors import Refused, Stale
from portal.models import (
    SERIOUSNESS_LABELS,
    Provider,
    Signalement,
    User,
)
from portal.rendering import render_page, wants_fragment
from portal.routing import database_id
from portal.signalements import evidence, rules, workflow
from portal.signalements import services as service
from portal.submissions import keyless
from portal.uploads import max_files_per_upload, max_size_label, max_upload_bytes
from portal.web import actor as current_actor


def _go(url: str) -> Response:
    """303 for a plain form; for HTMX, a full navigation."""
    if wants_fragment():
        return htmx_response("", redirect=url)
    return redirect(url, code=303)


# --- Starting a draft -----------------------------------------------------------------------


def _start_context(actor: User, provider: Provider | None, ticked: list[int]) -> dict[str, Any]:
    return {
        "section": SECTION,
        "providers": service.provider_choices(actor),
        "provider": provider,
        "dossiers": service.dossier_choices(actor, provider.id, keep=ticked) if provider else [],
        "ticked": set(ticked),
        "source": request.values.get("depuis", ""),
    }


@bp.route("/nouveau", methods=["GET", "POST"])
@roles_required(*FUNDER_STAFF)
def new() -> Response | str:
    """From an OF's page (?organisme=NDA), a dossier or a control (?dossier=id): the OF and
    the dossiers concerned, then the draft is created and its form opens."""
    actor = current_actor()
    values = request.values
    dossier = service.find_dossier(actor, values.get("dossier"))
    provider = service.find_provider(actor, values.get("organisme"))
    if provider is None and dossier is not None:
        provider = dossier.provider
    ticked = [i for i in map(database_id, values.getlist("dossiers")) if i is not None]
    if dossier is not None and dossier.id not in ticked:
        ticked.append(dossier.id)
    if request.method == "POST" and provider is not None:
        chosen = service.dossier_choices(actor, provider.id, keep=ticked)
        linked = [d for d in chosen if d.id in set(ticked)]
        try:
            created = service.create_draft(actor, provider, dossiers=linked)
        except Refused as refused:
            flash(str(refused), "error")
        else:
            flash(
                f"Brouillon {created.reference} créé : décrivez les faits, choisissez les "
                "indicateurs et joignez les preuves.",
                "success",
            )
            return _go(url_for("signalements.edit", signalement_id=created.id))
    elif request.method == "POST":
        flash("Choisissez l'organisme que vous signalez.", "error")
    return render_page(
        "signalements/new.html", block="dossier_choices", **_start_context(actor, provider, ticked)
    )


@bp.get("/nouveau/dossiers")
@roles_required(*FUNDER_STAFF)
def new_dossier_choices() -> Response:
    """HTMX: the dossiers of the OF chosen in the start form."""
    actor = current_actor()
    provider = service.find_provider(actor, request.args.get("organisme"))
    return render_page(
        "signalements/new.html",
        block="dossier_choices",
        **_start_context(actor, provider, []),
    )


# --- The draft's form ------------------------------------------------------------------------


def _uploaded_files() -> list[FileStorage]:
    return [f for f in request.files.getlist("fichiers") if f and f.filename]


def _form_context(
    actor: User,
    signalement: Signalement,
    values: service.DraftValues,
    *,
    errors: dict[str, list[str]] | None = None,
    general: str | None = None,
    checklist: rules.Substantiation | None = None,
) -> dict[str, Any]:
    dossiers = service.dossier_choices(actor, signalement.provider_id, keep=values.dossier_ids)
    ticked_dossiers = [d for d in dossiers if d.id in set(values.dossier_ids)]
    return {
        "section": SECTION,
        "s": signalement,
        "values": values,
        "errors": errors or {},
        "general": general,
        "dossiers": dossiers,
        "ticked_dossiers": {d.id for d in ticked_dossiers},
        "ticked_evidence": set(values.evidence_keys),
        "candidates": evidence.evidence_candidates(ticked_dossiers, signalement.evidence),
        "criteria": rnq.grouped(),
        "seriousness_labels": SERIOUSNESS_LABELS,
        "checklist": checklist
        or service.typed_substantiation(values, signalement, actor, signalement.provider_id),
        "accept": ACCEPT,
        "max_size": max_size_label(max_upload_bytes()),
        "max_files": max_files_per_upload(),
    }


def _editable_or_redirect(actor: User, signalement: Signalement) -> Response | None:
    if not workflow.can_edit(signalement.state, actor.role):
        flash(service.NOT_EDITABLE, "warning")
        return _go(url_for("signalements.detail", signalement_id=signalement.id))
    return None


@bp.route("/<int:signalement_id>/modifier", methods=["GET", "POST"])
@roles_required(*FUNDER_STAFF)
def edit(signalement_id: int) -> Response:
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    if (moved := _editable_or_redirect(actor, signalement)) is not None:
        return moved
    if request.method == "GET":
        return render_page(
            "signalements/form.html",
            **_form_context(actor, signalement, service.DraftValues.of(signalement)),
        )
    values = service.read_draft(request.form)
    try:
        service.update_draft(
            actor,
            signalement,
            values,
            version=request.form.get("version"),
            files=_uploaded_files(),
            max_bytes=max_upload_bytes(),
        )
    except Refused as refused:
        service.record_refusal(actor, signalement, refused)
        response = render_page(
            "signalements/form.html",
            **_form_context(
                actor, signalement, values, errors=refused.errors, general=refused.general
            ),
        )
        response.status_code = 422
        return response
    except Stale:
        flash(service.STALE_VERSION, "warning")
        return _go(url_for("signalements.edit", signalement_id=signalement_id))
    result = service.substantiation(signalement)
    if result.ok:
        flash("Brouillon enregistré : il est étayé et peut être transmis.", "success")
        return _go(url_for("signalements.detail", signalement_id=signalement.id))
    flash(
        "Brouillon enregistré. Il manque encore des éléments avant de pouvoir le transmettre.",
        "info",
    )
    return _go(url_for("signalements.edit", signalement_id=signalement.id))


@bp.post("/<int:signalement_id>/verifier")
@keyless  # reads the form, changes nothing
@roles_required(*FUNDER_STAFF)
def verify(signalement_id: int) -> str:
    """HTMX: the checklist of what is missing, for the form as typed (nothing saved)."""
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    values = service.read_draft(request.form)
    return render_template(
        "signalements/_checklist.html",
        checklist=service.typed_substantiation(values, signalement, actor, signalement.provider_id),
    )


@bp.post("/<int:signalement_id>/preuves-possibles")
@keyless  # reads the form, changes nothing
@roles_required(*FUNDER_STAFF)
def evidence_choices(signalement_id: int) -> Response:
    """HTMX: the evidence that the dossiers ticked offer (the form's evidence block)."""
    actor = current_actor()
    signalement = get_signalement_or_404(signalement_id, actor)
    values = service.read_draft(request.form)
    return render_page(
        "signalements/form.html",
        block="candidates",
        **_form_context(actor, signalement, values),
    )
