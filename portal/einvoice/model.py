"""What a file says of itself: the typed results of :mod:`portal.einvoice.reader`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from portal import formatting


class Source(StrEnum):
    """Where a piece's figures come from (stored with the piece)."""

    EINVOICE = "einvoice"  # read in an electronic invoice (Factur-X, CII, UBL)
    PDF_FORM = "pdf_form"  # read in the fields of a fillable PDF (certificat)
    PDF_TEXT = "pdf_text"  # suggested by the text layer of a PDF
    TYPED = "typed"  # typed by the OF only


SOURCE_LABELS: dict[str, str] = {
    Source.EINVOICE: "lues dans la facture électronique",
    Source.PDF_FORM: "lues dans le formulaire du PDF",
    Source.PDF_TEXT: "suggérées par le texte du PDF",
    Source.TYPED: "saisies par l'organisme",
}


class Syntax(StrEnum):
    CII = "CII"
    UBL = "UBL"


#: Factur-X profiles (BT-24 guideline ids, the factur-x library's levels) as users read them.
PROFILE_LABELS: dict[str, str] = {
    "minimum": "Factur-X MINIMUM",
    "basicwl": "Factur-X BASIC WL",
    "basic": "Factur-X BASIC",
    "en16931": "EN 16931",
    "extended": "Factur-X EXTENDED",
}


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    description: str
    quantity: Decimal | None
    unit: str | None  # UN/ECE rec. 20 code: HUR (hour), DAY (day), C62 (one)…
    net_amount: Decimal | None


@dataclass(frozen=True, slots=True)
class InvoiceData:
    """The figures of an electronic invoice (EN 16931 business terms)."""

    syntax: Syntax
    profile: str | None  # a PROFILE_LABELS key, None when unknown
    number: str | None  # BT-1
    issue_date: date | None  # BT-2
    type_code: str | None  # BT-3 (380 invoice, 381 credit note)
    currency: str | None  # BT-5
    seller_name: str | None  # BT-27
    seller_siren: str | None  # BT-30 with ICD 0002
    seller_siret: str | None  # BT-29/BT-30 with ICD 0009
    seller_vat: str | None  # BT-31
    buyer_name: str | None  # BT-44
    buyer_id: str | None  # BT-47 / BT-46
    period_start: date | None  # BT-73
    period_end: date | None  # BT-74
    line_total: Decimal | None  # BT-106
    net_total: Decimal | None  # BT-109 (total without VAT)
    tax_total: Decimal | None  # BT-110
    gross_total: Decimal | None  # BT-112 (total with VAT)
    lines: tuple[InvoiceLine, ...] = ()
    schema_valid: bool = True
    schema_error: str | None = None

    @property
    def hours(self) -> Decimal | None:
        """Hours billed: the quantities of the lines in hours (HUR), None when none is."""
        quantities = [x.quantity for x in self.lines if x.unit == "HUR" and x.quantity is not None]
        return sum(quantities, Decimal(0)) if quantities else None

    @property
    def days(self) -> Decimal | None:
        quantities = [x.quantity for x in self.lines if x.unit == "DAY" and x.quantity is not None]
        return sum(quantities, Decimal(0)) if quantities else None

    @property
    def siren(self) -> str | None:
        if self.seller_siren:
            return self.seller_siren
        return self.seller_siret[:9] if self.seller_siret else None

    def total_problems(self) -> list[str]:
        """Where the totals do not add up (French, naming the figures)."""
        problems = []
        amounts = [x.net_amount for x in self.lines]
        if self.lines and all(a is not None for a in amounts) and self.line_total is not None:
            total = sum((a for a in amounts if a is not None), Decimal(0))
            if total != self.line_total:
                problems.append(
                    f"la somme des lignes fait {formatting.money(total)}, le total des lignes "
                    f"indiqué est de {formatting.money(self.line_total)}"
                )
        if None not in (self.net_total, self.tax_total, self.gross_total):
            assert self.net_total is not None and self.tax_total is not None
            expected = self.net_total + self.tax_total
            if expected != self.gross_total:
                problems.append(
                    f"total HT {formatting.money(self.net_total)} + TVA "
                    f"{formatting.money(self.tax_total)} = {formatting.money(expected)}, la "
                    f"facture indique {formatting.money(self.gross_total)} TTC"
                )
        return problems


@dataclass(frozen=True, slots=True)
class CertificateData:
    """The fields of a fillable certificat de réalisation."""

    period_start: date | None = None
    period_end: date | None = None
    hours_completed: Decimal | None = None
    nature: str | None = None  # a Category value
    signatory: str | None = None
    signed_on: date | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What was read in one file.

    `source` says what kind of reading it is; `figures` maps piece fields
    (``invoice_number``, ``amount_incl_tax``, ``hours_completed``…) to the values read;
    `message` is a French notice for the OF when the file could not be read as it claims to
    be (the piece is then kept with the typed figures); `refused` is True when the file is
    not acceptable at all (an XML that is no invoice). `xml` is the invoice's XML, to be kept
    beside the PDF.
    """

    source: Source
    figures: dict[str, Any] = field(default_factory=dict)
    invoice: InvoiceData | None = None
    certificate: CertificateData | None = None
    message: str | None = None
    refused: bool = False
    xml: bytes | None = field(default=None, repr=False)

    @property
    def read(self) -> bool:
        """Figures were read (not merely suggested)."""
        return self.source in (Source.EINVOICE, Source.PDF_FORM) and bool(self.figures)

    def stored(self) -> dict[str, Any]:
        """A JSON-ready record kept with the piece."""
        record: dict[str, Any] = {
            "source": self.source.value,
            "figures": {k: _json(v) for k, v in self.figures.items()},
        }
        if self.message:
            record["message"] = self.message
        if self.invoice is not None:
            invoice = asdict(self.invoice)
            invoice["lines"] = [asdict(line) for line in self.invoice.lines]
            record["invoice"] = {k: _json(v) for k, v in invoice.items()}
            record["invoice"]["hours"] = _json(self.invoice.hours)
            record["invoice"]["days"] = _json(self.invoice.days)
            record["invoice"]["total_problems"] = self.invoice.total_problems()
        if self.certificate is not None:
            record["certificate"] = {k: _json(v) for k, v in asdict(self.certificate).items()}
        return record


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, StrEnum):
        return value.value
    return value
