"""Electronic invoices in XML (EN 16931): CII (the syntax of Factur-X) and UBL 2.1.

The parser is hardened: no DTD (so no entity of any kind, internal or external), no network,
no huge tree, and a size cap (:data:`MAX_XML_BYTES`) checked before parsing. Schema
validation is the factur-x library's (its XSD for each Factur-X profile and for UBL 2.1).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import facturx
from lxml import etree

from portal.einvoice.model import InvoiceData, InvoiceLine, Syntax

MAX_XML_BYTES = 5 * 1024 * 1024

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
CII_ROOT = f"{{{NS['rsm']}}}CrossIndustryInvoice"
UBL_ROOTS = {f"{{{NS['inv']}}}Invoice", f"{{{NS['cn']}}}CreditNote"}

NOT_XML = "Ce fichier n'est pas un fichier XML lisible : il est peut-être tronqué ou abîmé."
WITH_DTD = (
    "Ce fichier XML contient une déclaration de type de document (DOCTYPE) : une facture "
    "électronique n'en a pas, il est refusé par sécurité."
)
TOO_LARGE = "Ce fichier XML est trop volumineux pour une facture électronique (5 Mo au plus)."
NOT_INVOICE = (
    "Ce fichier XML n'est pas une facture électronique : le portail lit les factures au "
    "format CII (Factur-X) ou UBL (norme EN 16931)."
)
TWO_INVOICES = "Ce fichier contient plusieurs factures : envoyez une facture par fichier."

logging.getLogger("factur-x").setLevel(logging.CRITICAL)  # its errors are ours, in French


class XmlRefused(ValueError):
    """The XML is not a readable invoice; the message is French, for the OF."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(data: bytes) -> etree._Element:
    """The root element of a hardened parse; `XmlRefused` on a bad, dangerous or huge file."""
    if len(data) > MAX_XML_BYTES:
        raise XmlRefused(TOO_LARGE)
    try:
        root = etree.fromstring(data, parser=_parser())  # hardened parser
    except etree.XMLSyntaxError:
        raise XmlRefused(NOT_XML) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise XmlRefused(WITH_DTD)
    return root


def syntax_of(root: etree._Element) -> Syntax | None:
    if root.tag == CII_ROOT:
        return Syntax.CII
    if root.tag in UBL_ROOTS:
        return Syntax.UBL
    return None


def count_invoices(root: etree._Element) -> int:
    """How many invoices the document holds (a wrapper holding several is refused)."""
    if syntax_of(root) is not None:
        return 1
    found = 0
    for element in root.iter():
        if element.tag == CII_ROOT or element.tag in UBL_ROOTS:
            found += 1
    return found


def read_invoice(data: bytes) -> InvoiceData:
    """The invoice in `data`, a CII or UBL XML; `XmlRefused` if it is not one."""
    root = parse(data)
    syntax = syntax_of(root)
    if syntax is None:
        raise XmlRefused(TWO_INVOICES if count_invoices(root) > 1 else NOT_INVOICE)
    reader = _Cii(root) if syntax == Syntax.CII else _Ubl(root)
    invoice = reader.invoice()
    valid, error = _validate(root, syntax)
    if not valid:
        from dataclasses import replace

        invoice = replace(invoice, schema_valid=False, schema_error=error)
    return invoice


def _validate(root: etree._Element, syntax: Syntax) -> tuple[bool, str | None]:
    """Through the factur-x library's XSD (the profile's own for CII)."""
    try:
        if syntax == Syntax.CII:
            facturx.xml_check_xsd(root, flavor="factur-x")
        else:
            flavor = "ubl-2.1-creditnote" if root.tag.endswith("CreditNote") else "ubl-2.1-invoice"
            facturx.xml_check_xsd(root, flavor=flavor)
    except Exception as error:  # the library raises plain Exception / ValueError
        return False, _short(str(error))
    return True, None


def _short(text: str) -> str:
    marker = "the problem: "
    if marker in text:
        text = text.split(marker, 1)[1]
    return text.strip().rstrip(".")[:300]


def level_of(root: etree._Element) -> str | None:
    try:
        return facturx.get_level(root, "factur-x")
    except Exception:
        return None


# --- Values ---------------------------------------------------------------------------------


def _text(node: etree._Element | None) -> str | None:
    if node is None or node.text is None:
        return None
    text = " ".join(node.text.split())
    return text or None


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _cii_date(text: str | None) -> date | None:
    if not text:
        return None
    for pattern in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    return None


def _digits(text: str | None) -> str | None:
    if not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits or None


class _Reader:
    def __init__(self, root: etree._Element) -> None:
        self.root = root

    def first(self, path: str, node: etree._Element | None = None) -> etree._Element | None:
        found = (node if node is not None else self.root).xpath(path, namespaces=NS)
        return found[0] if found else None

    def text(self, path: str, node: etree._Element | None = None) -> str | None:
        return _text(self.first(path, node))

    def amount(self, path: str, node: etree._Element | None = None) -> Decimal | None:
        return _decimal(self.text(path, node))


class _Cii(_Reader):
    SETTLEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
    AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"

    def _party_ids(self, party: etree._Element | None) -> dict[str, str]:
        ids: dict[str, str] = {}
        if party is None:
            return ids
        for node in party.xpath(
            "ram:SpecifiedLegalOrganization/ram:ID | ram:GlobalID | ram:ID", namespaces=NS
        ):
            scheme = node.get("schemeID") or ""
            value = _text(node)
            if value and scheme not in ids:
                ids[scheme] = value
        return ids

    def _tax_total(self, summation: str) -> Decimal | None:
        currency = self.text(
            "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
            "/ram:InvoiceCurrencyCode"
        )
        nodes = self.root.xpath(f"{summation}/ram:TaxTotalAmount", namespaces=NS)
        for node in nodes:  # one per currency: the invoice's currency first
            if currency is None or node.get("currencyID") in (None, currency):
                return _decimal(_text(node))
        return _decimal(_text(nodes[0])) if nodes else None

    def invoice(self) -> InvoiceData:
        seller = self.first(f"{self.AGREEMENT}/ram:SellerTradeParty")
        buyer = self.first(f"{self.AGREEMENT}/ram:BuyerTradeParty")
        seller_ids, buyer_ids = self._party_ids(seller), self._party_ids(buyer)
        summation = f"{self.SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
        period = f"{self.SETTLEMENT}/ram:BillingSpecifiedPeriod"
        lines = []
        for item in self.root.xpath(
            "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem", namespaces=NS
        ):
            quantity = self.first("ram:SpecifiedLineTradeDelivery/ram:BilledQuantity", item)
            lines.append(
                InvoiceLine(
                    description=self.text("ram:SpecifiedTradeProduct/ram:Name", item) or "",
                    quantity=_decimal(_text(quantity)),
                    unit=quantity.get("unitCode") if quantity is not None else None,
                    net_amount=self.amount(
                        "ram:SpecifiedLineTradeSettlement/"
                        "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount",
                        item,
                    ),
                )
            )
        siret = seller_ids.get("0009")
        return InvoiceData(
            syntax=Syntax.CII,
            profile=level_of(self.root),
            number=self.text("rsm:ExchangedDocument/ram:ID"),
            issue_date=_cii_date(
                self.text("rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
            ),
            type_code=self.text("rsm:ExchangedDocument/ram:TypeCode"),
            currency=self.text(f"{self.SETTLEMENT}/ram:InvoiceCurrencyCode"),
            seller_name=self.text("ram:Name", seller) if seller is not None else None,
            seller_siren=_digits(seller_ids.get("0002")),
            seller_siret=_digits(siret),
            seller_vat=self.text("ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']", seller)
            if seller is not None
            else None,
            buyer_name=self.text("ram:Name", buyer) if buyer is not None else None,
            buyer_id=next(iter(buyer_ids.values()), None),
            period_start=_cii_date(self.text(f"{period}/ram:StartDateTime/udt:DateTimeString")),
            period_end=_cii_date(self.text(f"{period}/ram:EndDateTime/udt:DateTimeString")),
            line_total=self.amount(f"{summation}/ram:LineTotalAmount"),
            net_total=self.amount(f"{summation}/ram:TaxBasisTotalAmount"),
            tax_total=self._tax_total(summation),
            gross_total=self.amount(f"{summation}/ram:GrandTotalAmount"),
            lines=tuple(lines),
        )


class _Ubl(_Reader):
    def invoice(self) -> InvoiceData:
        seller = self.first("cac:AccountingSupplierParty/cac:Party")
        buyer = self.first("cac:AccountingCustomerParty/cac:Party")
        ids: dict[str, str] = {}
        if seller is not None:
            for node in seller.xpath(
                "cac:PartyLegalEntity/cbc:CompanyID | cac:PartyIdentification/cbc:ID",
                namespaces=NS,
            ):
                value = _text(node)
                if value and (node.get("schemeID") or "") not in ids:
                    ids[node.get("schemeID") or ""] = value
        credit = self.root.tag.endswith("CreditNote")
        line_tag, quantity_tag = (
            ("cac:CreditNoteLine", "cbc:CreditedQuantity")
            if credit
            else ("cac:InvoiceLine", "cbc:InvoicedQuantity")
        )
        lines = []
        for item in self.root.xpath(line_tag, namespaces=NS):
            quantity = self.first(quantity_tag, item)
            lines.append(
                InvoiceLine(
                    description=self.text("cac:Item/cbc:Name", item) or "",
                    quantity=_decimal(_text(quantity)),
                    unit=quantity.get("unitCode") if quantity is not None else None,
                    net_amount=self.amount("cbc:LineExtensionAmount", item),
                )
            )
        buyer_id = None
        if buyer is not None:
            buyer_id = self.text("cac:PartyLegalEntity/cbc:CompanyID", buyer) or self.text(
                "cac:PartyIdentification/cbc:ID", buyer
            )
        return InvoiceData(
            syntax=Syntax.UBL,
            profile="en16931",
            number=self.text("cbc:ID"),
            issue_date=_cii_date(self.text("cbc:IssueDate")),
            type_code=self.text("cbc:InvoiceTypeCode") or self.text("cbc:CreditNoteTypeCode"),
            currency=self.text("cbc:DocumentCurrencyCode"),
            seller_name=(
                self.text("cac:PartyLegalEntity/cbc:RegistrationName", seller)
                or self.text("cac:PartyName/cbc:Name", seller)
            )
            if seller is not None
            else None,
            seller_siren=_digits(ids.get("0002")),
            seller_siret=_digits(ids.get("0009")),
            seller_vat=self.text("cac:PartyTaxScheme/cbc:CompanyID", seller)
            if seller is not None
            else None,
            buyer_name=(
                self.text("cac:PartyLegalEntity/cbc:RegistrationName", buyer)
                or self.text("cac:PartyName/cbc:Name", buyer)
            )
            if buyer is not None
            else None,
            buyer_id=buyer_id,
            period_start=_cii_date(self.text("cac:InvoicePeriod/cbc:StartDate")),
            period_end=_cii_date(self.text("cac:InvoicePeriod/cbc:EndDate")),
            line_total=self.amount("cac:LegalMonetaryTotal/cbc:LineExtensionAmount"),
            net_total=self.amount("cac:LegalMonetaryTotal/cbc:TaxExclusiveAmount"),
            tax_total=self.amount("cac:TaxTotal/cbc:TaxAmount"),
            gross_total=self.amount("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
            lines=tuple(lines),
        )
