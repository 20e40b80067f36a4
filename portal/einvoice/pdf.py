"""PDF files: the invoice XML a Factur-X carries, the fields of a fillable certificat, and
figures found in the text layer (suggestions). Read with pypdf, from bytes."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

from portal import formatting
from portal.dossiers import piece_rules
from portal.dossiers.rules import RuleError
from portal.einvoice.model import CertificateData
from portal.models.dossiers import Category, PieceKind

#: Names under which a PDF/A-3 carries its invoice XML (Factur-X, ZUGFeRD, XRechnung).
INVOICE_XML_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "order-x.xml")
TEXT_PAGES = 3  # the text layer is searched on the first pages only
MAX_TEXT = 200_000


logger = logging.getLogger(__name__)


class PdfUnreadable(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class PdfContent:
    xml_attachments: list[tuple[str, bytes]]
    claims_facturx: bool  # its XMP metadata says Factur-X (or ZUGFeRD)
    fields: dict[str, str]  # fillable form fields with a value, by name
    field_count: int  # fields of the form, filled or not
    reader: PdfReader


def open_pdf(data: bytes | BinaryIO) -> PdfContent:
    """`data`: the PDF's bytes, or a seekable stream, read where it lies."""
    try:
        reader = PdfReader(io.BytesIO(data) if isinstance(data, bytes) else data)
        attachments = []
        for attachment in reader.attachment_list:
            name = (attachment.name or "").lower()
            if name.endswith(".xml"):
                attachments.append((name, attachment.content or b""))
        claims = _claims_facturx(reader)
        raw_fields = reader.get_fields() or {}
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PdfUnreadable(str(error)) from None
    fields = {}
    for name, value in raw_fields.items():
        text = value.get("/V") if hasattr(value, "get") else None
        if text is not None and str(text).strip() not in ("", "/Off"):
            fields[name] = str(text).strip()
    return PdfContent(attachments, claims, fields, len(raw_fields), reader)


def _claims_facturx(reader: PdfReader) -> bool:
    try:
        xmp = reader.xmp_metadata
    except Exception:
        return False
    if xmp is None:
        return False
    try:
        data = xmp.stream.get_data()
    except Exception:
        return False
    lowered = data.lower()
    return b"urn:factur-x" in lowered or b"zugferd" in lowered


def invoice_attachments(content: PdfContent) -> list[tuple[str, bytes]]:
    """The attachments that should be the invoice's XML: by their standard names, else any
    XML attachment of a PDF that says it is a Factur-X."""
    named = [(n, d) for n, d in content.xml_attachments if n in INVOICE_XML_NAMES]
    if named:
        return named
    return content.xml_attachments if content.claims_facturx else []


# --- Fillable certificat ---------------------------------------------------------------------


def _key(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text.rsplit(".", 1)[-1])


#: Normalised field names (no accent, case, space or punctuation) of each certificat field;
#: the names of the ministry's model and their usual variants.
CERTIFICATE_FIELDS: dict[str, frozenset[str]] = {
    "period_start": frozenset(
        {"du", "datedebut", "debut", "periodedebut", "debutperiode", "periodedu", "datedu"}
    ),
    "period_end": frozenset(
        {"au", "datefin", "fin", "periodefin", "finperiode", "periodeau", "dateau"}
    ),
    "hours_completed": frozenset(
        {"heures", "dureerealisee", "dureeheures", "nbheures", "heuresrealisees", "duree"}
    ),
    "nature": frozenset({"nature", "natureaction", "naturedelaction", "categorie"}),
    "signatory": frozenset(
        {"signataire", "nomsignataire", "representantlegal", "representant", "nomqualite"}
    ),
    "signed_on": frozenset({"datesignature", "faitle", "signele", "datedesignature"}),
}

_NATURES: tuple[tuple[str, Category], ...] = (
    ("apprentissage", Category.APPRENTISSAGE),
    ("bilan", Category.BILANS_COMPETENCES),
    ("vae", Category.VAE),
    ("validation des acquis", Category.VAE),
    ("formation", Category.ACTIONS_FORMATION),
)


def _nature(value: str) -> str | None:
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    if text in {c.value for c in Category}:
        return text
    for word, category in _NATURES:
        if word in text:
            return category.value
    return None


def certificate_fields(content: PdfContent) -> tuple[CertificateData | None, dict[str, Any]]:
    """The certificat's fields read from the form (None when the form has none of them)."""
    by_key = {_key(name): value for name, value in content.fields.items()}
    found: dict[str, Any] = {}
    for name, aliases in CERTIFICATE_FIELDS.items():
        value = next((by_key[k] for k in aliases if k in by_key), None)
        if value is None:
            continue
        if name == "nature":
            nature = _nature(value)
            if nature:
                found[name] = nature
            continue
        spec = piece_rules.SPECS_BY_NAME[name]
        try:
            found[name] = piece_rules.parse_field(spec, value)
        except RuleError:
            continue
        if spec.type == piece_rules.FieldType.HOURS:  # kept in hours, like Factur-X's
            found[name] = formatting.hours_decimal(found[name])
    if not found:
        return None, {}
    return CertificateData(**found), found


# --- Text layer ------------------------------------------------------------------------------


def page_text(content: PdfContent) -> str:
    parts: list[str] = []
    size = 0
    for page in content.reader.pages[:TEXT_PAGES]:
        try:
            text = page.extract_text() or ""
        except Exception:  # a page pypdf cannot read: the others still count
            logger.info("Page illisible dans un PDF : texte ignoré.")
            continue
        parts.append(text)
        size += len(text)
        if size > MAX_TEXT:
            break
    return "\n".join(parts)[:MAX_TEXT]


_DATE = r"(\d{1,2}[/.-]\d{1,2}[/.-]\d{4})"
_PERIOD = re.compile(rf"\bdu\s+{_DATE}\s+au\s+{_DATE}", re.IGNORECASE)
_NUMBER = re.compile(
    r"\bfacture\s*(?:n\s*[°o]|num[ée]ro|no\.?)\s*:?\s*([A-Z0-9][A-Z0-9/_.-]{1,49})", re.IGNORECASE
)
_AMOUNT = r"(\d{1,3}(?:[ \u00a0\u202f.]\d{3})*(?:,\d{1,2})?|\d+(?:[.,]\d{1,2})?)\s*(?:€|eur)"
_NET = re.compile(rf"total\s+h\.?\s*t\.?\s*:?\s*{_AMOUNT}", re.IGNORECASE)
_GROSS = re.compile(rf"total\s+t\.?\s*t\.?\s*c\.?\s*:?\s*{_AMOUNT}", re.IGNORECASE)
_HOURS = re.compile(
    r"(\d{1,4}(?:[,.]\d{1,2})?)\s*(?:h(?:eures?)?)\b\s*(\d{2})?(?!\s*\d)", re.IGNORECASE
)
_INVOICE_DATE = re.compile(
    rf"\b(?:date\s+(?:de\s+(?:la\s+)?facture|d'émission)|facturée?\s+le)\s*:?\s*{_DATE}",
    re.IGNORECASE,
)


def _date(text: str) -> date | None:
    try:
        return piece_rules.parse_date(text.replace(".", "/").replace("-", "/"))
    except RuleError:
        return None


def _money(text: str) -> Decimal | None:
    try:
        return piece_rules.parse_money(text)
    except RuleError:
        return None


def text_suggestions(text: str, kind: PieceKind) -> dict[str, Any]:
    """Figures found in a PDF's text, as suggestions for the fields of `kind`."""
    found: dict[str, Any] = {}
    if match := _PERIOD.search(text):
        start, end = _date(match.group(1)), _date(match.group(2))
        if start and end and start <= end:
            found["period_start"], found["period_end"] = start, end
    if kind == PieceKind.INVOICE:
        if match := _NUMBER.search(text):
            found["invoice_number"] = match.group(1).rstrip(".")
        if (match := _INVOICE_DATE.search(text)) and (day := _date(match.group(1))):
            found["invoice_date"] = day
        if (match := _NET.search(text)) and (amount := _money(match.group(1))) is not None:
            found["amount_excl_tax"] = amount
        if (match := _GROSS.search(text)) and (amount := _money(match.group(1))) is not None:
            found["amount_incl_tax"] = amount
    hours_field = {
        PieceKind.INVOICE: "hours_billed",
        PieceKind.COMPLETION_CERTIFICATE: "hours_completed",
        PieceKind.ATTENDANCE_SHEET: "hours_attended",
    }.get(kind)
    if hours_field:
        for match in _HOURS.finditer(text):
            value = match.group(1) + (f"h{match.group(2)}" if match.group(2) else "")
            try:
                hours = piece_rules.parse_piece_hours(value)
            except RuleError:
                continue
            if hours > 0:  # minutes; a file's readings are kept in hours, like Factur-X's
                found[hours_field] = formatting.hours_decimal(hours)
                break
    return found
