"""One entry point: :func:`read_document` reads what a file says of itself, for a kind of
piece. Never raises on a bad file: a file that cannot be read as it claims to be gives a
:class:`Reading` with a French `message` (the piece is kept with the typed figures), and an
XML file that is no invoice gives a refused reading (an XML is accepted for an invoice only).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, BinaryIO

from portal.einvoice import pdf
from portal.einvoice.model import InvoiceData, Reading, Source
from portal.einvoice.xml import MAX_XML_BYTES, TWO_INVOICES, XmlRefused, read_invoice
from portal.models.dossiers import PieceKind

XML_TYPE = "application/xml"
PDF_TYPE = "application/pdf"

KEPT = "La pièce sera enregistrée avec les chiffres que vous saisissez."
PDF_UNREADABLE = "Le portail n'a pas pu lire le contenu de ce PDF. " + KEPT
XML_ONLY_INVOICES = (
    "Un fichier XML n'est accepté que pour une facture électronique : pour cette pièce, "
    "envoyez un PDF, un JPEG ou un PNG."
)
FACTURX_WITHOUT_XML = (
    "Ce PDF se présente comme une facture Factur-X, mais il ne contient pas son fichier XML : "
    "ses chiffres n'ont pas pu être lus. " + KEPT
)
FACTURX_BROKEN = (
    "Ce PDF contient un fichier XML de facture électronique illisible ou qui n'est pas une "
    "facture : ses chiffres n'ont pas pu être lus. " + KEPT
)
FORM_WITHOUT_FIELDS = (
    "Ce PDF est un formulaire, mais il n'a aucun des champs attendus d'un certificat de "
    "réalisation (période, durée réalisée, nature de l'action, signataire, date). " + KEPT
)
MIXED = TWO_INVOICES + " " + KEPT
CENT = Decimal("0.01")


def invoice_figures(invoice: InvoiceData) -> dict[str, Any]:
    """The piece fields an electronic invoice fills."""
    figures: dict[str, Any] = {
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "invoice_number": invoice.number,
        "invoice_date": invoice.issue_date,
        "amount_excl_tax": _cents(invoice.net_total),
        "amount_incl_tax": _cents(invoice.gross_total),
        "hours_billed": _cents(invoice.hours),
    }
    return {name: value for name, value in figures.items() if value is not None}


def _cents(value: Decimal | None) -> Decimal | None:
    return value.quantize(CENT) if value is not None else None


def read_document(data: bytes | BinaryIO, content_type: str, kind: PieceKind | str) -> Reading:
    """What the file says of itself. `data`: its bytes, or a seekable binary stream (a
    stored file: a PDF is then read where it lies, never copied whole into memory)."""
    kind = PieceKind(kind)
    if content_type == XML_TYPE:
        if not isinstance(data, bytes):
            data = data.read(MAX_XML_BYTES + 1)
        if kind != PieceKind.INVOICE:
            return Reading(Source.TYPED, message=XML_ONLY_INVOICES, refused=True)
        try:
            invoice = read_invoice(data)
        except XmlRefused as error:
            return Reading(Source.TYPED, message=str(error), refused=True)
        return Reading(Source.EINVOICE, invoice_figures(invoice), invoice=invoice, xml=data)
    if content_type != PDF_TYPE:
        return Reading(Source.TYPED)
    try:
        content = pdf.open_pdf(data)
    except pdf.PdfUnreadable:
        return Reading(Source.TYPED, message=PDF_UNREADABLE)
    if kind == PieceKind.INVOICE:
        attachments = pdf.invoice_attachments(content)
        if attachments:
            return _embedded_invoice(attachments)
        if content.claims_facturx:
            return Reading(Source.TYPED, message=FACTURX_WITHOUT_XML)
    if kind == PieceKind.COMPLETION_CERTIFICATE and content.field_count:
        certificate, figures = pdf.certificate_fields(content)
        if certificate is None:
            return Reading(Source.TYPED, message=FORM_WITHOUT_FIELDS)
        return Reading(Source.PDF_FORM, figures, certificate=certificate)
    suggestions = pdf.text_suggestions(pdf.page_text(content), kind)
    if suggestions:
        return Reading(Source.PDF_TEXT, suggestions)
    return Reading(Source.TYPED)


def _embedded_invoice(attachments: list[tuple[str, bytes]]) -> Reading:
    invoices: list[tuple[InvoiceData, bytes]] = []
    for _name, xml in attachments:
        try:
            invoices.append((read_invoice(xml), xml))
        except XmlRefused:
            continue
    if not invoices:
        return Reading(Source.TYPED, message=FACTURX_BROKEN)
    if len({invoice.number for invoice, _ in invoices}) > 1:
        return Reading(Source.TYPED, message=MIXED)
    invoice, xml = invoices[0]
    return Reading(Source.EINVOICE, invoice_figures(invoice), invoice=invoice, xml=xml)
