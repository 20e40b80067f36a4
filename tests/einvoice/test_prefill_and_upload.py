"""Electronic invoices and fillable certificats through HTTP: the upload form filled from
the file chosen (with HTMX, and without JavaScript), the reading kept with the piece and
the invoice's XML beside its PDF, bad files told in French with nothing lost, and the
controller's view: provenance, the blocking difference naming both amounts, the queue
filter."""

from __future__ import annotations

import html
import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from portal.einvoice import samples
from portal.extensions import db
from portal.models import CheckFinding, Document, Piece, Role
from tests.dossiers.piece_helpers import (
    fields_for,
    first_month,
    make_dossier,
    post_piece,
    stored_files,
)
from tests.factories import FunderFactory, ProviderFactory, UserFactory
from tests.support.auth import client_as


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return " ".join(html.unescape(body).replace("\u00a0", " ").replace("\u202f", " ").split())


@pytest.fixture
def setup(login_as):
    funder = FunderFactory()
    provider = ProviderFactory()
    dossier = make_dossier(funder=funder, provider=provider)
    user = login_as(Role.PROVIDER, provider=provider)
    return dossier, user


def spec_for(dossier, **changes) -> samples.InvoiceSpec:
    start, end = (date.fromisoformat(d) for d in first_month(dossier))
    provider = dossier.provider
    return replace(
        samples.InvoiceSpec(
            number="FX-2026-7",
            issue_date=end,
            seller_siren=provider.siren,
            seller_siret=provider.siret,
            period_start=start,
            period_end=end,
            lines=(samples.Line("Formation", Decimal("14"), "HUR", Decimal("50.00")),),
        ),
        **changes,
    )


def prefill(auth, dossier, kind: str, name: str, content: bytes, *, htmx: bool, **fields):
    headers = {"HX-Request": "true"} if htmx else {}
    return auth.post(
        f"/dossiers/{dossier.id}/pieces/lire?type={kind}",
        {**fields, "files": [(io.BytesIO(content), name)]},
        content_type="multipart/form-data",
        headers=headers,
    )


def input_value(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert match, name
    value = re.search(r'value="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


# --- Prefill -------------------------------------------------------------------------------


def test_a_facturx_fills_the_form_as_soon_as_it_is_chosen(app, auth, setup):
    dossier, _ = setup
    start, end = first_month(dossier)
    before = stored_files(app)

    response = prefill(
        auth, dossier, "facture", "facture.pdf", samples.facturx_pdf(spec_for(dossier)), htmx=True
    )

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" not in page and page.lstrip().startswith('<div id="piece-fields">')
    assert "HX-Request" in response.headers.get("Vary", "")
    assert "Champs remplis d'après la facture électronique (EN 16931, « facture.pdf »)" in text(
        response
    )
    assert input_value(page, "invoice_number") == "FX-2026-7"
    assert input_value(page, "invoice_date") == end
    assert (input_value(page, "period_start"), input_value(page, "period_end")) == (start, end)
    assert input_value(page, "amount_excl_tax") == "700,00"
    assert input_value(page, "amount_incl_tax") == "700,00"
    assert input_value(page, "hours_billed") == "14"
    assert stored_files(app) == before  # read in memory, nothing stored


def test_without_javascript_the_form_is_filled_by_its_button(auth, setup):
    dossier, _ = setup
    page_html = auth.client.get(f"/dossiers/{dossier.id}/pieces/nouvelle?type=facture")
    assert "<noscript><button" in page_html.get_data(as_text=True)

    response = prefill(
        auth, dossier, "facture", "f.xml", samples.ubl_xml(spec_for(dossier)), htmx=False
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in page
    assert input_value(page, "invoice_number") == "FX-2026-7"
    assert "choisissez de nouveau le fichier, puis envoyez" in text(response)


def test_a_fillable_certificat_fills_its_fields(auth, setup):
    dossier, _ = setup
    start, end = (date.fromisoformat(d) for d in first_month(dossier))
    certificate = samples.certificate_pdf(
        samples.CertificateSpec(period_start=start, period_end=end, hours="13h30")
    )

    response = prefill(
        auth, dossier, "certificat_realisation", "certificat.pdf", certificate, htmx=True
    )

    page = response.get_data(as_text=True)
    assert "Champs remplis d'après le formulaire du certificat" in text(response)
    assert (
        input_value(page, "hours_completed") == "13h30"
    )  # as the form shows a duration, read back as typed
    assert input_value(page, "signatory") == "Jeanne Dupont, directrice"
    assert re.search(
        r'<option[^>]*selected[^>]*value="actions_formation"|'
        r'<option[^>]*value="actions_formation"[^>]*selected',
        page,
    )


def test_a_pdf_text_gives_suggestions_shown_as_such(auth, setup):
    dossier, _ = setup

    response = prefill(
        auth,
        dossier,
        "facture",
        "facture.pdf",
        samples.invoice_pdf(spec_for(dossier)),
        htmx=True,
        invoice_number="",
    )

    page = response.get_data(as_text=True)
    assert "ce sont des suggestions" in text(response)
    assert "Suggestion d'après le texte du PDF : FX-2026-7" in text(response)
    assert input_value(page, "invoice_number") == ""  # not filled


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("casse.xml", b"<?xml version='1.0'?><rsm:Cross", "n'est pas un fichier XML lisible"),
        ("commande.xml", b"<commande/>", "n'est pas une facture électronique"),
        ("page.html", b"\x00\x01binary", "Seuls les fichiers PDF, JPEG et PNG sont acceptés"),
    ],
)
def test_a_bad_file_is_told_in_french_and_what_was_typed_stays(auth, setup, name, content, message):
    dossier, _ = setup

    response = prefill(
        auth, dossier, "facture", name, content, htmx=True, invoice_number="F-TAPE-1"
    )

    assert message in text(response)
    assert input_value(response.get_data(as_text=True), "invoice_number") == "F-TAPE-1"


# --- Upload ----------------------------------------------------------------------------------


def _only_piece(dossier) -> Piece:
    db.session.expire_all()
    return db.session.scalars(select(Piece).where(Piece.dossier_id == dossier.id)).one()


def test_a_facturx_invoice_keeps_its_reading_and_its_xml(app, auth, setup):
    dossier, _ = setup
    spec = spec_for(dossier)
    fields = fields_for(
        "facture",
        dossier,
        invoice_number="FX-2026-7",
        invoice_date=spec.issue_date.isoformat(),
        amount_excl_tax="700",
        amount_incl_tax="700",
        hours_billed="14",
    )

    response = post_piece(
        auth, dossier.id, "facture", fields, [("fx.pdf", samples.facturx_pdf(spec))]
    )

    assert response.status_code == 303
    piece = _only_piece(dossier)
    assert piece.figures_source == "einvoice"
    assert piece.file_figures["invoice"]["seller_siret"] == dossier.provider.siret
    assert piece.xml_document.content_type == "application/xml"
    assert piece.xml_document.original_name == "fx.xml"
    download = auth.client.get(f"/dossiers/{dossier.id}/pieces/{piece.id}/xml")
    assert download.status_code == 200
    assert download.mimetype == "application/xml"
    assert "attachment" in download.headers["Content-Disposition"]
    assert b"CrossIndustryInvoice" in download.get_data()
    download.close()
    detail = auth.client.get(f"/dossiers/{dossier.id}")
    assert "Chiffres lues dans la facture électronique." in text(detail)


def test_an_xml_invoice_is_accepted_by_its_content(auth, setup):
    dossier, _ = setup
    spec = spec_for(dossier)
    fields = fields_for("facture", dossier, invoice_number="FX-2026-7")

    response = post_piece(auth, dossier.id, "facture", fields, [("facture", samples.ubl_xml(spec))])

    assert response.status_code == 303
    piece = _only_piece(dossier)
    assert piece.document.content_type == "application/xml"
    assert piece.figures_source == "einvoice" and piece.xml_document is None


def test_a_broken_xml_is_refused_in_french_with_nothing_lost(app, auth, setup):
    dossier, _ = setup
    before = stored_files(app)
    fields = fields_for("facture", dossier, invoice_number="F-TAPE-9")

    response = post_piece(auth, dossier.id, "facture", fields, [("casse.xml", b"<?xml?><a")])

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "« casse.xml » : Ce fichier n'est pas un fichier XML lisible" in text(response)
    assert input_value(page, "invoice_number") == "F-TAPE-9"
    assert stored_files(app) == before
    assert db.session.scalars(select(Piece).where(Piece.dossier_id == dossier.id)).all() == []


def test_xml_is_refused_for_other_pieces(auth, setup):
    dossier, _ = setup
    fields = fields_for("certificat_realisation", dossier)

    response = post_piece(
        auth,
        dossier.id,
        "certificat_realisation",
        fields,
        [("c.xml", samples.cii_xml(spec_for(dossier)))],
    )

    assert response.status_code == 200
    assert "Seuls les fichiers PDF, JPEG et PNG sont acceptés" in text(response)


def test_a_facturx_without_its_xml_is_kept_as_a_plain_piece_with_a_notice(auth, setup):
    dossier, _ = setup
    fields = fields_for("facture", dossier)
    content = samples.pdf_with_attachments({}, facturx_claim=True)

    response = post_piece(auth, dossier.id, "facture", fields, [("fx.pdf", content)])

    assert response.status_code == 303
    piece = _only_piece(dossier)
    assert piece.figures_source == "typed"
    assert piece.invoice_number == "F-2026-001"
    page = auth.client.get(response.headers["Location"])
    assert "ne contient pas son fichier XML" in text(page)


# --- The controller --------------------------------------------------------------------------


def test_a_typed_total_other_than_the_invoice_s_is_a_blocking_difference(app, auth, setup):
    dossier, _ = setup
    spec = spec_for(dossier)
    fields = fields_for(
        "facture",
        dossier,
        invoice_number="FX-2026-7",
        invoice_date=spec.issue_date.isoformat(),
        amount_excl_tax="700",
        amount_incl_tax="750",
        hours_billed="14",
    )
    post_piece(auth, dossier.id, "facture", fields, [("fx.pdf", samples.facturx_pdf(spec))])

    finding = db.session.scalars(
        select(CheckFinding).where(
            CheckFinding.dossier_id == dossier.id, CheckFinding.code == "EINVOICE_FIGURES_DIFFER"
        )
    ).one()
    assert finding.severity == "bloquant"
    explanation = finding.explanation.replace("\u00a0", " ").replace("\u202f", " ")
    assert "montant TTC saisi 750,00 €, la facture électronique indique 700,00 €" in explanation

    controller = UserFactory(role=Role.CONTROLLER.value, funder=dossier.funder)
    client, _ = client_as(app, controller)
    page = client.get(f"/service-fait/dossiers/{dossier.id}")
    assert "Saisies par l'organisme, différentes de celles de la facture électronique" in text(page)
    assert "XML de la facture électronique" in text(page)
    assert "montant TTC saisi 750,00 €, la facture électronique indique 700,00 €" in text(page)

    listed = client.get("/service-fait/?statut=tous&differents=y")
    assert dossier.reference in text(listed)
    other = make_dossier(funder=dossier.funder)
    assert other.reference not in text(listed)
    assert other.reference in text(client.get("/service-fait/?statut=tous"))


def test_documents_kept_never_leak_to_another_of(app, setup):
    dossier, _ = setup
    stranger = UserFactory(role=Role.PROVIDER.value, provider=ProviderFactory())
    client, _ = client_as(app, stranger)
    assert client.get(f"/dossiers/{dossier.id}/pieces/1/xml").status_code == 404
    response = client.post(f"/dossiers/{dossier.id}/pieces/lire?type=facture")
    assert response.status_code in (400, 404)
    assert db.session.scalar(select(Document.id).limit(1)) is None
