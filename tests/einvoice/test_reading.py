"""Reading the files themselves (portal.einvoice): the project's own samples, at every
profile and syntax, and the bad files, each with what a user is told."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from portal.einvoice import reader
from portal.einvoice.model import Source, Syntax
from portal.einvoice.xml import MAX_XML_BYTES
from portal.models import PieceKind
from tests.fixtures.make_einvoice_samples import build

INVOICE = PieceKind.INVOICE
CERTIFICATE = PieceKind.COMPLETION_CERTIFICATE
PDF, XML = "application/pdf", "application/xml"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("einvoice"))


def read(files, name: str, kind=INVOICE):
    content_type = XML if name.endswith(".xml") else PDF
    return reader.read_document(files[name].read_bytes(), content_type, kind)


MARCH = {"period_start": date(2026, 3, 1), "period_end": date(2026, 3, 31)}
COMMON = {
    "invoice_number": "FA-2026-0042",
    "invoice_date": date(2026, 3, 31),
    "amount_excl_tax": Decimal("700.00"),
    "amount_incl_tax": Decimal("700.00"),
}


@pytest.mark.parametrize(
    ("name", "profile", "syntax", "figures"),
    [
        ("facturx-minimum.pdf", "minimum", Syntax.CII, COMMON),
        ("facturx-basic.pdf", "basic", Syntax.CII, {**COMMON, **MARCH, "hours_billed": 14}),
        (
            "facturx-en16931.pdf",
            "en16931",
            Syntax.CII,
            {
                **MARCH,
                "invoice_number": "FA-2026-0043",
                "invoice_date": date(2026, 3, 31),
                "amount_excl_tax": Decimal("1330.00"),
                "amount_incl_tax": Decimal("1596.00"),
                "hours_billed": Decimal("10.5"),
            },
        ),
        ("facture.cii.xml", "en16931", Syntax.CII, {**COMMON, **MARCH, "hours_billed": 14}),
        ("facture.ubl.xml", "en16931", Syntax.UBL, {**COMMON, **MARCH, "hours_billed": 14}),
    ],
)
def test_electronic_invoices_are_read_at_every_profile(files, name, profile, syntax, figures):
    reading = read(files, name)

    assert reading.source == Source.EINVOICE and reading.message is None
    assert reading.figures == figures
    invoice = reading.invoice
    assert invoice.profile == profile and invoice.syntax == syntax
    assert invoice.schema_valid, invoice.schema_error
    assert invoice.siren == "812345676"
    assert invoice.buyer_name == "Transitions Pro Occitanie"
    assert invoice.total_problems() == []
    assert reading.xml and reading.xml.lstrip().startswith(b"<?xml")


def test_lines_in_hours_and_days_and_the_seller_ids(files):
    invoice = read(files, "facturx-en16931.pdf").invoice

    assert [(x.unit, x.quantity) for x in invoice.lines] == [
        ("HUR", Decimal("10.5")),
        ("DAY", Decimal("2")),
    ]
    assert invoice.hours == Decimal("10.5") and invoice.days == Decimal("2")
    assert (invoice.seller_siren, invoice.seller_siret) == ("812345676", "81234567600017")
    assert invoice.tax_total == Decimal("266.00")


def test_the_minimum_profile_gives_the_siren_through_the_siret(files):
    invoice = read(files, "facturx-minimum.pdf").invoice

    assert invoice.seller_siren is None and invoice.seller_siret == "81234567600017"
    assert invoice.siren == "812345676"
    assert invoice.lines == () and invoice.period_start is None


def test_a_fillable_certificat_has_its_fields_read(files):
    reading = read(files, "certificat-formulaire.pdf", CERTIFICATE)

    assert reading.source == Source.PDF_FORM
    assert reading.figures == {
        **MARCH,
        "hours_completed": Decimal("14.00"),
        "nature": "actions_formation",
        "signatory": "Jeanne Dupont, directrice",
        "signed_on": date(2026, 4, 1),
    }


def test_a_pdf_with_text_gives_suggestions_only(files):
    reading = read(files, "facture-texte.pdf")

    assert reading.source == Source.PDF_TEXT and not reading.read
    assert reading.figures == {**COMMON, **MARCH, "hours_billed": Decimal("14.00")}


KEPT = "La pièce sera enregistrée avec les chiffres que vous saisissez."


@pytest.mark.parametrize(
    ("name", "kind", "refused", "message"),
    [
        ("not-an-invoice.xml", INVOICE, True, "n'est pas une facture électronique"),
        ("broken.xml", INVOICE, True, "n'est pas un fichier XML lisible"),
        ("entity-attack.xml", INVOICE, True, "refusé par sécurité"),
        ("two-invoices.xml", INVOICE, True, "plusieurs factures"),
        ("facture.cii.xml", CERTIFICATE, True, "n'est accepté que pour une facture"),
        ("facturx-without-xml.pdf", INVOICE, False, "ne contient pas son fichier XML"),
        ("facturx-broken-xml.pdf", INVOICE, False, "illisible"),
        ("two-invoices.pdf", INVOICE, False, "plusieurs factures"),
        ("form-without-fields.pdf", CERTIFICATE, False, "aucun des champs attendus"),
    ],
)
def test_bad_files_are_told_in_french(files, name, kind, refused, message):
    reading = read(files, name, kind)

    assert reading.refused is refused
    assert message in reading.message
    assert reading.figures == {}
    if not refused:  # a PDF is kept as a plain piece, with the typed figures
        assert KEPT in reading.message


def test_an_external_entity_is_never_resolved(files):
    reading = read(files, "entity-attack.xml")

    assert "root:" not in (reading.message or "")


def test_an_oversized_xml_is_refused_before_parsing():
    data = b"<?xml version='1.0'?><r>" + b" " * MAX_XML_BYTES + b"</r>"

    reading = reader.read_document(data, XML, INVOICE)

    assert reading.refused and "trop volumineux" in reading.message


def test_totals_that_do_not_add_up_are_named(files):
    invoice = read(files, "totals-wrong.xml").invoice

    assert invoice.total_problems() == [
        "total HT 700,00\u00a0€ + TVA 0,00\u00a0€ = 700,00\u00a0€, la facture indique "
        "840,00\u00a0€ TTC"
    ]


def test_an_invoice_invalid_against_its_schema_is_read_and_flagged(files):
    reading = read(files, "schema-invalid.xml")

    assert reading.source == Source.EINVOICE
    assert reading.invoice.schema_valid is False
    assert "TypeCode" in reading.invoice.schema_error


def test_an_image_or_unreadable_pdf_is_a_plain_piece():
    assert reader.read_document(b"\xff\xd8\xff", "image/jpeg", INVOICE).source == Source.TYPED
    reading = reader.read_document(b"%PDF-1.4 garbage", PDF, INVOICE)
    assert reading.source == Source.TYPED and not reading.refused
