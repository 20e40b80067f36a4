"""A funder admin's settings of the service-fait checks (Réglages du service fait)."""

from __future__ import annotations

from flask import flash, render_template, request, url_for
from werkzeug.wrappers import Response

from portal.access import roles_required
from portal.blueprints.service_fait import bp
from portal.forms import EmptyForm
from portal.models import Role
from portal.navigation import section
from portal.service_fait import settings as service
from portal.web import actor as current_actor
from portal.web import redirect_after_post

SECTION = section("service_fait")


@bp.route("/reglages", methods=["GET", "POST"])
@roles_required(Role.FUNDER_ADMIN)
def settings() -> Response | str:
    actor = current_actor()
    form = EmptyForm()
    if request.method == "POST" and form.validate_on_submit():
        blocks = request.form.get("perte_bloquante") == "1"
        if not service.save_qualiopi_loss_setting(actor, blocks_payment=blocks):
            flash("Aucun changement : le réglage était déjà celui-ci.", "info")
        else:
            flash(
                "Une certification perdue en cours d'action bloque désormais le paiement ; "
                "les vérifications de vos dossiers ont été relancées."
                if blocks
                else "Une certification perdue en cours d'action est désormais une alerte, "
                "à examiner avant de payer ; les vérifications de vos dossiers ont été "
                "relancées.",
                "success",
            )
        return redirect_after_post(url_for("service_fait.settings"))
    assert actor.funder_id is not None
    return render_template(
        "service_fait/settings.html",
        section=SECTION,
        form=form,
        loss_blocks=service.qualiopi_loss_blocks_payment(actor.funder_id),
    )
