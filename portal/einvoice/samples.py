"""Sample documents made by the project: invoices drawn as PDF (with a text layer), their
CII and UBL XML, Factur-X invoices at the MINIMUM, BASIC and EN 16931 profiles (built with
the factur-x library from the drawn PDF), and a fillable certificat de réalisation.

Used by the demo (`flask demo seed`), the test fixtures (tests/fixtures/build_einvoice.py)
and the benchmark (bench/einvoice.py). Deterministic for given inputs.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

import facturx
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from portal import formatting

CENT = Decimal("0.01")
GUIDELINES = {
    "minimum": "urn:factur-x.eu:1p0:minimum",
    "basic": "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic",
    "en16931": "urn:cen.eu:en16931:2017",
}


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit: str  # HUR, DAY, C62
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT)


@dataclass(frozen=True)
class InvoiceSpec:
    number: str = "FA-2026-0042"
    issue_date: date = date(2026, 3, 31)
    seller_name: str = "Formapro Occitanie"
    seller_siren: str = "812345676"
    seller_siret: str = "81234567600017"
    buyer_name: str = "Transitions Pro Occitanie"
    buyer_siren: str = "130026032"
    period_start: date = date(2026, 3, 1)
    period_end: date = date(2026, 3, 31)
    lines: tuple[Line, ...] = field(
        default_factory=lambda: (
            Line("Formation : module 1", Decimal("14"), "HUR", Decimal("50.00")),
        )
    )
    vat_rate: Decimal = Decimal("0")  # training is usually exempt from VAT
    # For broken samples: totals written as given instead of computed.
    gross_override: Decimal | None = None

    @property
    def net(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0)).quantize(CENT)

    @property
    def tax(self) -> Decimal:
        return (self.net * self.vat_rate / 100).quantize(CENT)

    @property
    def gross(self) -> Decimal:
        return self.gross_override if self.gross_override is not None else self.net + self.tax

    @property
    def hours(self) -> Decimal:
        return sum((x.quantity for x in self.lines if x.unit == "HUR"), Decimal(0))


def _d(day: date) -> str:
    return day.strftime("%Y%m%d")


def _a(amount: Decimal) -> str:
    return f"{amount.quantize(CENT)}"


def _e(text: str) -> str:
    return escape(text)


def _tax_block(spec: InvoiceSpec, basis: Decimal, tax: Decimal, *, header: bool) -> str:
    category = "S" if spec.vat_rate else "E"
    reason = (
        ""
        if spec.vat_rate
        else "<ram:ExemptionReason>Exonération de TVA, article 261-4-4° du CGI"
        "</ram:ExemptionReason>"
    )
    if not header:
        return (
            "<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode>"
            f"<ram:CategoryCode>{category}</ram:CategoryCode>"
            f"<ram:RateApplicablePercent>{spec.vat_rate}</ram:RateApplicablePercent>"
            "</ram:ApplicableTradeTax>"
        )
    return (
        f"<ram:ApplicableTradeTax><ram:CalculatedAmount>{_a(tax)}</ram:CalculatedAmount>"
        f"<ram:TypeCode>VAT</ram:TypeCode>{reason}<ram:BasisAmount>{_a(basis)}</ram:BasisAmount>"
        f"<ram:CategoryCode>{category}</ram:CategoryCode>"
        f"<ram:RateApplicablePercent>{spec.vat_rate}</ram:RateApplicablePercent>"
        "</ram:ApplicableTradeTax>"
    )


def _address(city: str, postcode: str) -> str:
    return (
        f"<ram:PostalTradeAddress><ram:PostcodeCode>{postcode}</ram:PostcodeCode>"
        f"<ram:LineOne>1 place du Capitole</ram:LineOne><ram:CityName>{city}</ram:CityName>"
        "<ram:CountryID>FR</ram:CountryID></ram:PostalTradeAddress>"
    )


def cii_xml(spec: InvoiceSpec, profile: str = "en16931") -> bytes:
    """The invoice in CII (the XML of Factur-X) at `profile` (minimum, basic, en16931)."""
    minimum = profile == "minimum"
    lines = ""
    if not minimum:
        for index, line in enumerate(spec.lines, 1):
            lines += (
                "<ram:IncludedSupplyChainTradeLineItem>"
                f"<ram:AssociatedDocumentLineDocument><ram:LineID>{index}</ram:LineID>"
                "</ram:AssociatedDocumentLineDocument>"
                f"<ram:SpecifiedTradeProduct><ram:Name>{_e(line.description)}</ram:Name>"
                "</ram:SpecifiedTradeProduct>"
                "<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>"
                f"<ram:ChargeAmount>{_a(line.unit_price)}</ram:ChargeAmount>"
                "</ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement>"
                "<ram:SpecifiedLineTradeDelivery>"
                f'<ram:BilledQuantity unitCode="{line.unit}">{line.quantity}</ram:BilledQuantity>'
                "</ram:SpecifiedLineTradeDelivery>"
                "<ram:SpecifiedLineTradeSettlement>"
                f"{_tax_block(spec, line.amount, spec.tax, header=False)}"
                "<ram:SpecifiedTradeSettlementLineMonetarySummation>"
                f"<ram:LineTotalAmount>{_a(line.amount)}</ram:LineTotalAmount>"
                "</ram:SpecifiedTradeSettlementLineMonetarySummation>"
                "</ram:SpecifiedLineTradeSettlement>"
                "</ram:IncludedSupplyChainTradeLineItem>"
            )
    if minimum:
        seller = (
            f"<ram:SellerTradeParty><ram:Name>{_e(spec.seller_name)}</ram:Name>"
            "<ram:SpecifiedLegalOrganization>"
            f'<ram:ID schemeID="0009">{spec.seller_siret}</ram:ID>'
            "</ram:SpecifiedLegalOrganization>"
            "<ram:PostalTradeAddress><ram:CountryID>FR</ram:CountryID></ram:PostalTradeAddress>"
            "</ram:SellerTradeParty>"
        )
        buyer = (
            f"<ram:BuyerTradeParty><ram:Name>{_e(spec.buyer_name)}</ram:Name>"
            "<ram:SpecifiedLegalOrganization>"
            f'<ram:ID schemeID="0002">{spec.buyer_siren}</ram:ID>'
            "</ram:SpecifiedLegalOrganization></ram:BuyerTradeParty>"
        )
    else:
        seller = (
            f'<ram:SellerTradeParty><ram:GlobalID schemeID="0009">{spec.seller_siret}'
            f"</ram:GlobalID><ram:Name>{_e(spec.seller_name)}</ram:Name>"
            "<ram:SpecifiedLegalOrganization>"
            f'<ram:ID schemeID="0002">{spec.seller_siren}</ram:ID>'
            f"</ram:SpecifiedLegalOrganization>{_address('Toulouse', '31000')}"
            "</ram:SellerTradeParty>"
        )
        buyer = (
            f"<ram:BuyerTradeParty><ram:Name>{_e(spec.buyer_name)}</ram:Name>"
            "<ram:SpecifiedLegalOrganization>"
            f'<ram:ID schemeID="0002">{spec.buyer_siren}</ram:ID>'
            f"</ram:SpecifiedLegalOrganization>{_address('Montpellier', '34000')}"
            "</ram:BuyerTradeParty>"
        )
    settlement = "<ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>"
    if not minimum:
        settlement += _tax_block(spec, spec.net, spec.tax, header=True)
        settlement += (
            "<ram:BillingSpecifiedPeriod>"
            f'<ram:StartDateTime><udt:DateTimeString format="102">{_d(spec.period_start)}'
            "</udt:DateTimeString></ram:StartDateTime>"
            f'<ram:EndDateTime><udt:DateTimeString format="102">{_d(spec.period_end)}'
            "</udt:DateTimeString></ram:EndDateTime></ram:BillingSpecifiedPeriod>"
        )
    summation = "<ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
    if not minimum:
        summation += f"<ram:LineTotalAmount>{_a(spec.net)}</ram:LineTotalAmount>"
    summation += (
        f"<ram:TaxBasisTotalAmount>{_a(spec.net)}</ram:TaxBasisTotalAmount>"
        f'<ram:TaxTotalAmount currencyID="EUR">{_a(spec.tax)}</ram:TaxTotalAmount>'
        f"<ram:GrandTotalAmount>{_a(spec.gross)}</ram:GrandTotalAmount>"
        f"<ram:DuePayableAmount>{_a(spec.gross)}</ram:DuePayableAmount>"
        "</ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
    )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
        'CrossIndustryInvoice:100" xmlns:qdt="urn:un:unece:uncefact:data:standard:'
        'QualifiedDataType:100" xmlns:ram="urn:un:unece:uncefact:data:standard:'
        'ReusableAggregateBusinessInformationEntity:100" xmlns:udt="urn:un:unece:uncefact:'
        'data:standard:UnqualifiedDataType:100">'
        "<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>"
        f"<ram:ID>{GUIDELINES[profile]}</ram:ID>"
        "</ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>"
        f"<rsm:ExchangedDocument><ram:ID>{_e(spec.number)}</ram:ID>"
        "<ram:TypeCode>380</ram:TypeCode><ram:IssueDateTime>"
        f'<udt:DateTimeString format="102">{_d(spec.issue_date)}</udt:DateTimeString>'
        "</ram:IssueDateTime></rsm:ExchangedDocument>"
        f"<rsm:SupplyChainTradeTransaction>{lines}"
        f"<ram:ApplicableHeaderTradeAgreement>{seller}{buyer}</ram:ApplicableHeaderTradeAgreement>"
        "<ram:ApplicableHeaderTradeDelivery/>"
        f"<ram:ApplicableHeaderTradeSettlement>{settlement}{summation}"
        "</ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction>"
        "</rsm:CrossIndustryInvoice>\n"
    )
    return xml.encode()


def ubl_xml(spec: InvoiceSpec) -> bytes:
    """The invoice in UBL 2.1 (EN 16931)."""
    eur = 'currencyID="EUR"'
    category = "S" if spec.vat_rate else "E"
    tax_category = (
        f"<cac:ClassifiedTaxCategory><cbc:ID>{category}</cbc:ID>"
        f"<cbc:Percent>{spec.vat_rate}</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID>"
        "</cac:TaxScheme></cac:ClassifiedTaxCategory>"
    )
    lines = "".join(
        f"<cac:InvoiceLine><cbc:ID>{index}</cbc:ID>"
        f'<cbc:InvoicedQuantity unitCode="{line.unit}">{line.quantity}</cbc:InvoicedQuantity>'
        f"<cbc:LineExtensionAmount {eur}>{_a(line.amount)}</cbc:LineExtensionAmount>"
        f"<cac:Item><cbc:Name>{_e(line.description)}</cbc:Name>{tax_category}</cac:Item>"
        f"<cac:Price><cbc:PriceAmount {eur}>{_a(line.unit_price)}</cbc:PriceAmount></cac:Price>"
        "</cac:InvoiceLine>"
        for index, line in enumerate(spec.lines, 1)
    )

    def party(name: str, siren: str, siret: str | None, city: str) -> str:
        identification = (
            f'<cac:PartyIdentification><cbc:ID schemeID="0009">{siret}</cbc:ID>'
            "</cac:PartyIdentification>"
            if siret
            else ""
        )
        return (
            f"<cac:Party>{identification}<cac:PostalAddress><cbc:CityName>{city}</cbc:CityName>"
            "<cac:Country><cbc:IdentificationCode>FR</cbc:IdentificationCode></cac:Country>"
            f"</cac:PostalAddress><cac:PartyLegalEntity><cbc:RegistrationName>{_e(name)}"
            f'</cbc:RegistrationName><cbc:CompanyID schemeID="0002">{siren}</cbc:CompanyID>'
            "</cac:PartyLegalEntity></cac:Party>"
        )

    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
        'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
        'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
        "<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>"
        f"<cbc:ID>{_e(spec.number)}</cbc:ID>"
        f"<cbc:IssueDate>{spec.issue_date.isoformat()}</cbc:IssueDate>"
        "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
        "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>"
        f"<cac:InvoicePeriod><cbc:StartDate>{spec.period_start.isoformat()}</cbc:StartDate>"
        f"<cbc:EndDate>{spec.period_end.isoformat()}</cbc:EndDate></cac:InvoicePeriod>"
        "<cac:AccountingSupplierParty>"
        f"{party(spec.seller_name, spec.seller_siren, spec.seller_siret, 'Toulouse')}"
        "</cac:AccountingSupplierParty><cac:AccountingCustomerParty>"
        f"{party(spec.buyer_name, spec.buyer_siren, None, 'Montpellier')}"
        "</cac:AccountingCustomerParty>"
        f"<cac:TaxTotal><cbc:TaxAmount {eur}>{_a(spec.tax)}</cbc:TaxAmount></cac:TaxTotal>"
        f"<cac:LegalMonetaryTotal><cbc:LineExtensionAmount {eur}>{_a(spec.net)}"
        f"</cbc:LineExtensionAmount><cbc:TaxExclusiveAmount {eur}>{_a(spec.net)}"
        f"</cbc:TaxExclusiveAmount><cbc:TaxInclusiveAmount {eur}>{_a(spec.gross)}"
        f"</cbc:TaxInclusiveAmount><cbc:PayableAmount {eur}>{_a(spec.gross)}"
        "</cbc:PayableAmount></cac:LegalMonetaryTotal>"
        f"{lines}</Invoice>\n"
    )
    return xml.encode()


# --- PDFs ---------------------------------------------------------------------------------


def _money(amount: Decimal) -> str:
    return formatting.money(amount).replace("\u202f", " ").replace("\u00a0", " ")


def invoice_pdf(spec: InvoiceSpec, *, padding: bytes = b"") -> bytes:
    """The invoice drawn as a one-page PDF with a text layer. `padding` (random bytes) is
    embedded as an image-like stream to make a large file (for the benchmark)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setTitle(f"Facture {spec.number}")
    y = 800
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(50, y, f"Facture n° {spec.number}")
    pdf.setFont("Helvetica", 11)
    rows = [
        f"{spec.seller_name} — SIRET {spec.seller_siret}",
        f"Client : {spec.buyer_name}",
        f"Date de la facture : {formatting.date_fr(spec.issue_date)}",
        f"Période facturée : du {formatting.date_fr(spec.period_start)} "
        f"au {formatting.date_fr(spec.period_end)}",
        "",
    ]
    for line in spec.lines:
        unit = {"HUR": "heures", "DAY": "jours"}.get(line.unit, "")
        rows.append(
            f"{line.description} : {line.quantity} {unit} x {_money(line.unit_price)}"
            f" = {_money(line.amount)}"
        )
    rows += [
        "",
        f"Total HT : {_money(spec.net)}",
        f"TVA : {_money(spec.tax)}",
        f"Total TTC : {_money(spec.gross)}",
    ]
    for row in rows:
        y -= 22
        pdf.drawString(50, y, row)
    if padding:
        from PIL import Image
        from reportlab.lib.utils import ImageReader

        side = int((len(padding) / 3) ** 0.5)
        image = Image.frombytes("RGB", (side, side), padding[: side * side * 3])
        pdf.drawImage(ImageReader(image), 50, 100, width=200, height=200)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def facturx_pdf(spec: InvoiceSpec, profile: str = "en16931", *, padding: bytes = b"") -> bytes:
    """A Factur-X invoice: the drawn PDF with its CII XML, by the factur-x library."""
    return facturx.generate_from_binary(
        invoice_pdf(spec, padding=padding),
        cii_xml(spec, profile),
        flavor="factur-x",
        level=profile,
        check_xsd=True,
        pdf_metadata={
            "author": spec.seller_name,
            "keywords": "Factur-X",
            "title": f"Facture {spec.number}",
            "subject": f"Facture {spec.number}",
        },
    )


def pdf_with_attachments(attachments: dict[str, bytes], *, facturx_claim: bool = False) -> bytes:
    """A drawn PDF carrying the given files as attachments (for broken samples); with
    `facturx_claim`, its XMP metadata says it is a Factur-X."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=io.BytesIO(invoice_pdf(InvoiceSpec())))
    for name, data in attachments.items():
        writer.add_attachment(name, data)
    if facturx_claim:
        from pypdf.generic import NameObject, StreamObject

        xmp = StreamObject()
        xmp.set_data(
            b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description rdf:about="" xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:'
            b'invoice:1p0#"><fx:DocumentType>INVOICE</fx:DocumentType><fx:ConformanceLevel>'
            b"EN 16931</fx:ConformanceLevel></rdf:Description></rdf:RDF></x:xmpmeta>"
            b'<?xpacket end="w"?>'
        )
        xmp.update(
            {
                NameObject("/Type"): NameObject("/Metadata"),
                NameObject("/Subtype"): NameObject("/XML"),
            }
        )
        writer._root_object[NameObject("/Metadata")] = writer._add_object(xmp)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass(frozen=True)
class CertificateSpec:
    provider: str = "Formapro Occitanie"
    beneficiary: str = "MARTIN Claire"
    action_title: str = "Titre professionnel Comptable assistant"
    nature: str = "Action de formation"
    period_start: date = date(2026, 3, 1)
    period_end: date = date(2026, 3, 31)
    hours: str = "14"
    signatory: str = "Jeanne Dupont, directrice"
    signed_on: date = date(2026, 4, 1)


#: The fields of the fillable certificat (ministry model), as the reader knows them.
CERTIFICATE_FIELD_NAMES = (
    ("date_debut", "Du"),
    ("date_fin", "Au"),
    ("duree_realisee", "Durée réalisée (heures)"),
    ("nature_action", "Nature de l'action"),
    ("signataire", "Signataire (nom et qualité)"),
    ("date_signature", "Fait le"),
)


def certificate_pdf(
    spec: CertificateSpec | None = None,
    *,
    field_names: tuple[tuple[str, str], ...] = CERTIFICATE_FIELD_NAMES,
    padding: bytes = b"",
) -> bytes:
    """A fillable certificat de réalisation after the ministry model, filled with `spec`."""
    spec = spec or CertificateSpec()
    values = {
        "date_debut": formatting.date_fr(spec.period_start),
        "date_fin": formatting.date_fr(spec.period_end),
        "duree_realisee": spec.hours,
        "nature_action": spec.nature,
        "signataire": spec.signatory,
        "date_signature": formatting.date_fr(spec.signed_on),
    }
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setTitle("Certificat de réalisation")
    pdf.setFont("Helvetica-Bold", 15)
    pdf.drawString(50, 800, "Certificat de réalisation")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(50, 780, f"Organisme : {spec.provider}")
    pdf.drawString(50, 765, f"Bénéficiaire : {spec.beneficiary}")
    pdf.drawString(50, 750, f"Action : {spec.action_title}")
    y = 720
    form = pdf.acroForm
    for name, label in field_names:
        pdf.drawString(50, y + 5, label)
        form.textfield(
            name=name,
            value=values.get(name, ""),
            x=250,
            y=y,
            width=280,
            height=18,
            borderWidth=0.5,
            fontSize=10,
        )
        y -= 30
    if padding:
        from PIL import Image
        from reportlab.lib.utils import ImageReader

        side = int((len(padding) / 3) ** 0.5)
        image = Image.frombytes("RGB", (side, side), padding[: side * side * 3])
        pdf.drawImage(ImageReader(image), 50, 100, width=200, height=200)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
