"""Helpers of the corrective-action tests: a reported quality control built straight with the
models (no control service), its funders, its OF and the users of each, and small helpers
to post the forms of a non-conformity as a browser does."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

from flask import Flask

from portal import clock
from portal.clock import utcnow
from portal.dossiers import pieces as pieces_service
from portal.extensions import db
from portal.models import (
    Document,
    Dossier,
    Funder,
    FunderProvider,
    Piece,
    Provider,
    QualityControl,
    QualityControlPartner,
    QualityControlStatus,
    QualityEvidence,
    QualityFinding,
    Role,
    User,
)
from portal.quality import rules
from portal.storage import storage_for
from portal.uploads import store_upload
from tests.dossiers.piece_helpers import first_month, make_dossier, make_pdf
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.support.auth import client_as  # noqa: F401 (re-exported)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class World:
    funder: Funder  # leads the control
    controller: User
    admin: User
    partner: Funder  # controls with the lead (joint control)
    partner_controller: User
    reader: Funder  # follows the OF: reads the control when shared
    reader_controller: User
    stranger_controller: User  # a funder that does not follow the OF
    provider: Provider
    provider_user: User
    other_provider_user: User  # another OF
    dossier: Dossier  # the lead funder's, sampled
    partner_dossier: Dossier  # the partner's, sampled too


def make_world() -> World:
    funder = FunderFactory(name="Transitions Pro Occitanie")
    partner = FunderFactory(name="OPCO Santé")
    reader = FunderFactory(name="Région Occitanie")
    provider = ProviderFactory(nda="76310000042", name="Centre de formation Témoin")
    dossier = make_dossier(funder, provider)
    partner_dossier = make_dossier(partner, provider)
    db.session.add(FunderProvider(funder_id=reader.id, provider_id=provider.id))
    db.session.commit()
    return World(
        funder=funder,
        controller=UserFactory(role=Role.CONTROLLER.value, funder=funder, full_name="Claire"),
        admin=UserFactory(role=Role.FUNDER_ADMIN.value, funder=funder, full_name="Fabien"),
        partner=partner,
        partner_controller=UserFactory(role=Role.CONTROLLER.value, funder=partner),
        reader=reader,
        reader_controller=UserFactory(role=Role.CONTROLLER.value, funder=reader),
        stranger_controller=UserFactory(role=Role.CONTROLLER.value),
        provider=provider,
        provider_user=UserFactory(role=Role.PROVIDER.value, provider=provider, full_name="Olivier"),
        other_provider_user=UserFactory(role=Role.PROVIDER.value),
        dossier=dossier,
        partner_dossier=partner_dossier,
    )


#: The grid of the default control: (code, finding, observations).
GRID = (
    ("1", "conforme", ""),
    ("2", "nc_mineure", "Les indicateurs de résultats ne sont pas publiés sur le site."),
    ("4", "nc_majeure", "Aucune analyse du besoin n'est formalisée pour les stagiaires vus."),
    ("5", "non_applicable", ""),
    ("CR-A", "nc_mineure", "Pas d'attestation des compétences acquises."),
)


def make_control(
    world: World,
    *,
    control_date: date | None = None,
    grid: tuple[tuple[str, str, str], ...] = GRID,
    status: str = QualityControlStatus.REPORTED.value,
    shared: bool = False,
    partner: bool = True,
) -> QualityControl:
    """A control of the world's OF led by its funder (with the partner), its grid filled,
    NC deadlines computed by the rules, its report issued."""
    control_date = control_date or clock.today() - timedelta(days=30)
    control = QualityControl(
        funder_id=world.funder.id,
        provider_id=world.provider.id,
        created_by_id=world.controller.id,
        mode="sur_site",
        control_date=control_date,
        scope_actions="Titre professionnel Comptable assistant, session de Toulouse",
        participants="Claire (contrôleuse)",
        certif_region=any(not code.isdigit() for code, _, _ in grid),
        shared=shared,
        status=status,
        reported_at=utcnow() if status != QualityControlStatus.PLANNED.value else None,
    )
    control.dossiers = [world.dossier, world.partner_dossier]
    if partner:
        control.partners = [QualityControlPartner(funder_id=world.partner.id)]
    for position, (code, finding, observations) in enumerate(grid):
        row = QualityFinding(
            code=code,
            position=position,
            finding=finding,
            observations=observations,
            not_applicable_reason="Pas de sous-traitance." if finding == "non_applicable" else "",
        )
        if finding in ("nc_mineure", "nc_majeure"):
            row.deadline = rules.nc_deadline(control_date, finding)
            row.nc_status = rules.NcStatus.OPEN.value
        control.findings.append(row)
    db.session.add(control)
    db.session.commit()
    return control


def row(control: QualityControl, code: str) -> QualityFinding:
    return next(f for f in control.findings if f.code == code)


def store_document(app: Flask, name: str = "preuve.pdf", text: str = "Preuve") -> Document:
    """A file in the store and its Document row (as the control's evidence is kept)."""
    stored = store_upload(
        storage_for(app),
        _Upload(make_pdf(text), name),
        max_bytes=10 * 1024 * 1024,
    )
    document = Document(
        storage_key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        content_type=stored.content_type,
        original_name=stored.original_name,
    )
    db.session.add(document)
    db.session.commit()
    return document


class _Upload:
    def __init__(self, content: bytes, filename: str) -> None:
        self.stream = io.BytesIO(content)
        self.filename = filename


def add_piece(world: World, dossier: Dossier | None = None) -> Piece:
    dossier = dossier or world.dossier
    start, end = first_month(dossier)
    from werkzeug.datastructures import FileStorage

    (piece,) = pieces_service.add_pieces(
        world.provider_user,
        dossier,
        "facture",
        {
            "period_start": date.fromisoformat(start),
            "period_end": date.fromisoformat(end),
            "invoice_number": f"F-{dossier.id}",
            "invoice_date": date.fromisoformat(end),
            "amount_excl_tax": Decimal("1000"),
            "amount_incl_tax": Decimal("1200"),
            "hours_billed": Decimal("70"),
        },
        [FileStorage(io.BytesIO(make_pdf("Facture")), filename=f"facture-{dossier.id}.pdf")],
    )
    db.session.commit()
    return piece


def add_evidence(finding: QualityFinding, *, document: Document | None = None, piece=None):
    item = QualityEvidence(
        document_id=document.id if document else None,
        piece_id=piece.id if piece else None,
        title=document.original_name if document else f"Pièce {piece.id}",
    )
    finding.evidence.append(item)
    db.session.commit()
    return item


def text_of(response) -> str:
    """The page as a user reads it: tags removed, entities decoded, spaces collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


HTMX = {"HX-Request": "true"}


def answer_path(control: QualityControl, finding: QualityFinding) -> str:
    return f"/qualite/controles/{control.id}/non-conformites/{finding.id}/reponse"


def decision_path(control: QualityControl, finding: QualityFinding) -> str:
    return f"/qualite/controles/{control.id}/non-conformites/{finding.id}/decision"


def fresh(finding: QualityFinding) -> QualityFinding:
    db.session.expire_all()
    return db.session.get(QualityFinding, finding.id)
