"""Helpers of the quality-control tests (engineer A's): a lead funder with its controller and
admin, an OF followed by it with the OF's user, a partner funder, a third funder following
the OF (it may read shared controls), a funder NOT following the OF, dossiers; clients logged
in as any of them; controls planned and filled through the web pages."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from werkzeug.datastructures import FileStorage

from portal.dossiers import pieces as pieces_service
from portal.extensions import db
from portal.models import Dossier, Funder, Piece, Provider, QualityControl, Role, User
from tests.dossiers.piece_helpers import first_month, make_dossier, make_pdf
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.support.auth import AuthActions, client_as

__all__ = ["client_as", "make_pdf"]


@dataclass
class World:
    funder: Funder
    controller: User
    admin: User
    provider: Provider
    provider_user: User
    dossier: Dossier
    second_dossier: Dossier
    partner: Funder
    partner_controller: User
    follower: Funder  # follows the OF: reads shared controls
    follower_controller: User
    stranger: Funder  # does not follow the OF
    stranger_controller: User
    other_provider: Provider
    other_provider_user: User
    follower_dossier: Dossier


def make_world() -> World:
    funder = FunderFactory(name="Transitions Pro Test")
    provider = ProviderFactory(nda="76310000001", name="Formation Témoin")
    dossier = make_dossier(funder, provider)
    second = make_dossier(funder, provider, action_title="Titre professionnel Secrétaire")
    partner = FunderFactory(name="Région Partenaire")
    follower = FunderFactory(name="OPCO Suiveur")
    follower_dossier = make_dossier(follower, provider)
    stranger = FunderFactory(name="Financeur Étranger")
    other_provider = ProviderFactory(name="Autre Organisme")
    make_dossier(stranger, other_provider)
    return World(
        funder=funder,
        controller=UserFactory(role=Role.CONTROLLER.value, funder=funder, full_name="Claire"),
        admin=UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder, full_name="Fabien"),
        provider=provider,
        provider_user=UserFactory(
            role=Role.PROVIDER.value, provider=provider, full_name="Olivia", email="of@exemple.test"
        ),
        dossier=dossier,
        second_dossier=second,
        partner=partner,
        partner_controller=UserFactory(role=Role.CONTROLLER.value, funder=partner),
        follower=follower,
        follower_controller=UserFactory(role=Role.CONTROLLER.value, funder=follower),
        stranger=stranger,
        stranger_controller=UserFactory(role=Role.CONTROLLER.value, funder=stranger),
        other_provider=other_provider,
        other_provider_user=UserFactory(role=Role.PROVIDER.value, provider=other_provider),
        follower_dossier=follower_dossier,
    )


def plan_form(world: World, **values: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "provider": str(world.provider.id),
        "mode": "sur_site",
        "control_date": "2026-08-31",
        "scope_actions": "Session de Toulouse, titre professionnel Comptable assistant",
        "participants": "Claire (contrôleuse) ; M. Martin, directeur de l'organisme",
        "dossiers": [str(world.dossier.id)],
    }
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


def plan(auth: AuthActions, world: World, **values: Any) -> QualityControl:
    """Plan a control through the page; return it."""
    response = auth.post("/qualite/nouveau", plan_form(world, **values))
    assert response.status_code == 303, response.get_data(as_text=True)
    control_id = int(re.search(r"/controles/(\d+)", response.headers["Location"]).group(1))
    db.session.expire_all()
    return db.session.get(QualityControl, control_id)


def row_of(control: QualityControl, code: str):
    db.session.refresh(control)
    return next(f for f in control.findings if f.code == code)


def set_finding(
    auth: AuthActions,
    control: QualityControl,
    code: str,
    finding: str,
    *,
    reason: str = "",
    observations: str = "",
    htmx: bool = False,
    version: int | None = None,
):
    row = row_of(control, code)
    prefix = f"ind{code}"
    data = {
        f"{prefix}-finding": finding,
        f"{prefix}-not_applicable_reason": reason,
        f"{prefix}-observations": observations,
        f"{prefix}-version": str(row.version if version is None else version),
    }
    headers = {"HX-Request": "true"} if htmx else {}
    return auth.post(f"/qualite/controles/{control.id}/indicateurs/{code}", data, headers=headers)


def fill_all(control: QualityControl, finding: str = "conforme", **specific: str) -> None:
    """Every row gets `finding` (straight to the database), except `specific` codes."""
    from portal.quality import rules

    db.session.refresh(control)
    for row in control.findings:
        value = specific.get(row.code, finding)
        row.finding = value
        if value == "non_applicable":
            row.not_applicable_reason = "Sans objet"
        if value in ("nc_mineure", "nc_majeure"):
            row.deadline = rules.nc_deadline(control.control_date, value)
            row.nc_status = "ouverte"
    db.session.commit()


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


def upload(auth: AuthActions, control: QualityControl, code: str, *files, htmx: bool = False):
    """POST files (name, bytes) as evidence of a row."""
    data = {f"ev{code}-files": [(io.BytesIO(content), name) for name, content in files]}
    headers = {"HX-Request": "true"} if htmx else {}
    return auth.post(
        f"/qualite/controles/{control.id}/indicateurs/{code}/fichiers",
        data,
        headers=headers,
        content_type="multipart/form-data",
    )
