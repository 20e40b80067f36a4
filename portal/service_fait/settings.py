"""A funder's settings of the service-fait checks.

One setting so far: whether a Qualiopi certification **lost after the start of an action**
blocks the payment. Certification on the start date is always required
(``QUALIOPI_START``, blocking); a loss during the action is, by default, an alert the
controller looks at before paying (``QUALIOPI_PERIOD`` in warning): the action was
engaged with a certified OF. A funder may choose to block the payment then.

The service changes the funder, writes the audit entry and re-runs the checks of the
funder's dossiers in the caller's transaction (flush only: the request commits).
"""

from __future__ import annotations

from sqlalchemy import select

from portal import audit
from portal.errors import NotAllowed
from portal.extensions import db
from portal.models import Dossier, Funder, Role, User
from portal.service_fait import runner


def qualiopi_loss_blocks_payment(funder_id: int) -> bool:
    funder = db.session.get(Funder, funder_id)
    return bool(funder and funder.qualiopi_loss_blocks_payment)


def save_qualiopi_loss_setting(actor: User, *, blocks_payment: bool) -> bool:
    """Set the funder's choice; re-run its dossiers' checks when it changed. Returns
    whether it changed."""
    if actor.role != Role.FUNDER_ADMIN or actor.funder_id is None:
        raise NotAllowed("Seul un administrateur du financeur règle ceci.")
    funder = db.session.get(Funder, actor.funder_id)
    if funder is None:  # pragma: no cover - a funder admin always has a funder
        raise NotAllowed("Financeur introuvable.")
    before = bool(funder.qualiopi_loss_blocks_payment)
    if before == blocks_payment:
        return False
    funder.qualiopi_loss_blocks_payment = blocks_payment
    audit.record(
        "service_fait.settings_changed",
        actor=actor,
        target=funder,
        funder_id=funder.id,
        details={"qualiopi_loss_blocks_payment": [before, blocks_payment]},
    )
    db.session.flush()
    runner.recheck(db.session.scalars(select(Dossier.id).where(Dossier.funder_id == funder.id)))
    return True
