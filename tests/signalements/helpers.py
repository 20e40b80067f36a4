"""Helpers of the signalements tests: a funder following an OF of region 76, with a dossier,
its pieces and control results; the funder's staff, the OF's user, another funder, and
ministry liaisons (region 76, another region, national); clients logged in as any of them;
and signalements brought to a given state through the services."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import unescape
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict

from portal import clock
from portal.dossiers import pieces as pieces_service
from portal.extensions import db
from portal.models import (
    CheckFinding,
    Dossier,
    Funder,
    InvoiceDecision,
    Piece,
    Provider,
    Role,
    ServiceFaitControl,
    Signalement,
    User,
)
from portal.signalements import services
from tests.dossiers.piece_helpers import first_month, make_dossier, make_pdf
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.support.auth import client_as  # noqa: F401 (re-exported)

FACTS = (
    "Lors du contrôle sur place, les feuilles d'émargement de mars étaient signées d'avance "
    "pour toute la session, y compris les demi-journées à venir."
)


@dataclass
class World:
    funder: Funder
    provider: Provider
    dossier: Dossier
    controller: User
    admin: User
    provider_user: User
    liaison: User  # region 76, the OF's
    national: User  # no region: sees every region
    far_liaison: User  # region 11
    other_funder: Funder
    other_controller: User
    other_dossier: Dossier  # the other funder's, with the same OF


def make_world() -> World:
    funder = FunderFactory(name="Transitions Pro Test")
    provider = ProviderFactory(nda="76310000001", name="Formation Témoin")
    dossier = make_dossier(funder, provider)
    other_funder = FunderFactory(name="OPCO Test")
    other_dossier = make_dossier(other_funder, provider)  # it follows the OF too
    return World(
        funder=funder,
        provider=provider,
        dossier=dossier,
        controller=UserFactory(role=Role.CONTROLLER.value, funder=funder, full_name="Claire"),
        admin=UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder, full_name="Fabien"),
        provider_user=UserFactory(role=Role.PROVIDER.value, provider=provider),
        liaison=UserFactory(role=Role.MINISTRY.value, region_code="76", full_name="Marie"),
        national=UserFactory(role=Role.MINISTRY.value, region_code=None),
        far_liaison=UserFactory(role=Role.MINISTRY.value, region_code="11"),
        other_funder=other_funder,
        other_controller=UserFactory(role=Role.CONTROLLER.value, funder=other_funder),
        other_dossier=other_dossier,
    )


def add_invoice(world: World, dossier: Dossier | None = None) -> Piece:
    dossier = dossier or world.dossier
    start, end = first_month(dossier)
    (piece,) = pieces_service.add_pieces(
        world.provider_user,
        dossier,
        "facture",
        {
            "period_start": date.fromisoformat(start),
            "period_end": date.fromisoformat(end),
            "invoice_number": "F-77",
            "invoice_date": date.fromisoformat(end),
            "amount_excl_tax": Decimal("1000"),
            "amount_incl_tax": Decimal("1200"),
            "hours_billed": Decimal("70"),
        },
        [FileStorage(io.BytesIO(make_pdf("Facture F-77")), filename="facture-mars.pdf")],
    )
    db.session.commit()
    return piece


def add_finding(world: World, piece: Piece | None = None) -> CheckFinding:
    control = db.session.scalar(
        db.select(ServiceFaitControl).where(ServiceFaitControl.dossier_id == world.dossier.id)
    )
    if control is None:
        control = ServiceFaitControl(dossier_id=world.dossier.id, funder_id=world.funder.id)
        db.session.add(control)
        db.session.flush()
    finding = CheckFinding(
        control_id=control.id,
        dossier_id=world.dossier.id,
        code="emargement_incomplet",
        severity="bloquant",
        severity_rank=0,
        label="Demi-journées sans signature",
        explanation="3 demi-journées de mars n'ont pas de signature du stagiaire.",
        piece_id=piece.id if piece else None,
    )
    db.session.add(finding)
    db.session.commit()
    return finding


def add_decision(world: World, invoice: Piece) -> InvoiceDecision:
    decision = InvoiceDecision(
        dossier_id=world.dossier.id,
        invoice_id=invoice.id,
        outcome="partiellement_conforme",
        amount_invoiced=Decimal("1200"),
        amount_validated=Decimal("900"),
        reason_code="emargement_incomplet",
        note="Trois demi-journées non justifiées.",
        decided_by_id=world.controller.id,
    )
    db.session.add(decision)
    db.session.commit()
    return decision


def draft_form(**values: Any) -> dict[str, Any]:
    """The draft form as a browser posts it (a list for a repeated field)."""
    data: dict[str, Any] = {
        "faits": FACTS,
        "quand": "mars 2026",
        "ou": "Session de Toulouse",
        "gravite": "serieuse",
        "indicateurs": ["10", "11"],
    }
    data.update(values)
    return {key: value for key, value in data.items() if value is not None}


def as_multidict(data: dict[str, Any]) -> MultiDict:
    """What the services read from a posted form."""
    multi = MultiDict()
    for key, value in data.items():
        for item in value if isinstance(value, list) else [value]:
            multi.add(key, item)
    return multi


def substantiated(world: World, author: User | None = None, **values: Any) -> Signalement:
    """A draft about the world's OF with facts, indicators and one piece as evidence."""
    author = author or world.controller
    dossier = world.dossier if author.funder_id == world.funder.id else world.other_dossier
    signalement = services.create_draft(author, world.provider, dossiers=[dossier])
    piece = add_invoice(world, dossier)
    form = draft_form(dossiers=[str(dossier.id)], preuves=[f"piece-{piece.id}"], **values)
    services.update_draft(author, signalement, services.read_draft(as_multidict(form)))
    assert services.substantiation(signalement).ok
    return signalement


def bring_to(world: World, state: str) -> Signalement:
    """A signalement brought to `state` by the normal path."""
    s = substantiated(world)
    if state == "brouillon":
        return s
    services.transition(world.controller, s, "transmettre")
    if state == "transmis":
        return s
    services.transition(world.liaison, s, "prendre_en_charge")
    if state == "en_examen":
        return s
    if state == "complement_demande":
        payload = services.Payload(message="Pouvez-vous joindre les feuilles de mars ?")
        services.transition(world.liaison, s, "demander_complement", payload)
        return s
    if state in ("transmis_certificateur", "clos"):
        services.transition(
            world.liaison,
            s,
            "transmettre_certificateur",
            services.Payload(
                certifier_name="AFNOR Certification",
                sent_on=clock.today(),
                reference="DREETS-2026-12",
            ),
        )
        if state == "clos":
            services.transition(world.liaison, s, "clore")
        return s
    if state == "classe_sans_suite":
        services.transition(
            world.liaison, s, "classer_sans_suite", services.Payload(reason_code="regularise")
        )
        return s
    raise AssertionError(state)


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
