"""Demo data of the signalements (`flask demo seed`): the certifiers a liaison may forward
a signalement to. The demo controller (controleur@demo.test) and the demo liaison
(ministere@demo.test, region 76) need nothing else: the demo OF is in region 76 of the
demo public list, and the demo funder follows it."""

from __future__ import annotations

from sqlalchemy import select

from portal import audit
from portal.extensions import db
from portal.models import Certifier

#: Certifiers named in the sources of the field (an accredited certifier and a labelling
#: body recognised by France compétences); the ministry may type any other.
DEMO_CERTIFIERS = ("AFNOR Certification", "Certif'Région")


def seed_demo_certifiers() -> list[str]:
    """Create the demo certifiers that do not exist yet; the caller commits."""
    existing = set(db.session.scalars(select(Certifier.name)))
    created = []
    for name in DEMO_CERTIFIERS:
        if name in existing:
            continue
        certifier = Certifier(name=name)
        db.session.add(certifier)
        audit.record("certifier.created", actor_label="cli demo seed", target=certifier)
        created.append(f"certificateur {name}")
    return created
