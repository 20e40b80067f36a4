"""The automatic checks of a dossier's service fait: pure functions, no database, no request.

Each check reads the facts of one dossier (:class:`DossierFacts`: the dossier, its current
pieces, what the public list's history says of its OF, the files and invoice numbers it
shares with other dossiers, the compliance of its subcontracting) and returns
:class:`Finding` rows, each with a stable code, a French label, a severity and an
explanation that names the figures compared. :func:`run_all` runs every check of
:data:`CHECKS`, in the registry's order (then by piece), so that a run is deterministic.
The runner (:mod:`portal.service_fait.runner`) gathers the facts in batches and stores the
findings.

Severities, as a funder's controller reads them:

- **bloquant**: the invoice cannot be paid as it stands (public funds pay only certified
  OF, never above the agreed amount, never for days outside the agreement, never for
  hours the certificat de réalisation does not prove, never twice): the controller must
  decide (partly or not conforming) or obtain a document first. A dossier with a blocking
  finding is never validated in bulk.
  ``QUALIOPI_START``, ``AMOUNT_OVER_AGREED``,
  ``INVOICE_OUTSIDE_DOSSIER``, ``INVOICE_WITHOUT_CERTIFICATE``,
  ``HOURS_BILLED_OVER_COMPLETED`` (cumulatively: every invoice of the same days against
  every certificat of those days, in whole minutes), ``HALF_DAYS_MISSING`` (an unsigned
  half-day is not proven: the most frequent rejection), ``NATURE_MISMATCH``,
  ``DUPLICATE_INVOICE_NUMBER``, ``SUBCONTRACTOR_NOT_COMPLIANT`` (CPF contracts only:
  décret n° 2023-1350); and what an electronic invoice says against what was
  typed or agreed: ``EINVOICE_FIGURES_DIFFER`` (number, date or totals typed that are not
  the invoice's), ``EINVOICE_SELLER_NOT_PROVIDER`` (a seller whose SIREN is not the OF's),
  ``EINVOICE_PERIOD_OUTSIDE_DOSSIER``, ``EINVOICE_TOTALS_INCONSISTENT`` (lines or VAT that
  do not add up to the totals).
- **alerte**: an inconsistency that may have an innocent explanation and that the
  controller looks at before paying: ``INVOICE_BEFORE_PERIOD_END``,
  ``HOURS_COMPLETED_OVER_PLANNED``, ``HOURS_COMPLETED_UNDER_PLANNED`` (to pay pro rata),
  ``HOURS_ATTENDED_MISMATCH``, ``PTP_CERTIFICATE_GAP``, ``PTP_CERTIFICATE_NOT_MONTHLY``,
  ``PTP_WITHOUT_CERTIFICATION_CODE`` (Transitions Pro funds certifying actions),
  ``DUPLICATE_FILE`` (a collective attendance sheet is legitimately shared by the
  dossiers of one group), ``SUBCONTRACTOR_ATTENTION`` (outside the CPF no text makes the
  subcontractor's certification a condition of payment: indicator 27, a point of
  attention), ``QUALIOPI_PERIOD`` when the OF was certified on the start date and lost
  the category afterwards (blocking when the funder chose so, or when it was not
  certified on the start date either: ``QUALIOPI_START`` then blocks too);
  ``EINVOICE_DETAILS_DIFFER`` (period or hours typed that are not the electronic
  invoice's), ``CERTIFICATE_FORM_DIFFERS`` (figures typed that are not those of the
  certificat's PDF form), ``PDF_TEXT_DIFFERS`` (figures typed that are not those found in
  the PDF's text: a suggestion may be wrong), ``EINVOICE_HOURS_OVER_PLANNED``,
  ``EINVOICE_SCHEMA_INVALID`` (the XML is not valid against its schema).
- **information**: what the portal cannot check: ``QUALIOPI_UNKNOWN`` (dates before the
  first public list the portal imported: the list has no history of its own); and
  ``EINVOICE_SELLER_OTHER_ESTABLISHMENT`` (the invoice comes from another establishment,
  SIRET, of the OF: usual, a training site).

Conventions: the amount of an invoice is its amount incl. tax (training is usually exempt
from VAT, so both are equal), compared with the agreed amount; only current pieces count
(a replaced piece is history); invoice numbers are compared without spaces or case; the
pieces of another dossier are those the runner passes (the funder's own dossiers: a funder
never learns of another funder's dossiers, see :mod:`portal.dossiers.pieces`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from portal import formatting
from portal.dossiers.calendar import Period, month_periods, uncovered
from portal.dossiers.rules import CATEGORY_LABELS
from portal.einvoice import compare
from portal.models.dossiers import Modality, PieceKind, Scheme
from portal.models.service_fait import Severity

# The kinds, schemes and modalities as plain strings (compared for every piece).
INVOICE = PieceKind.INVOICE.value
CERTIFICATE = PieceKind.COMPLETION_CERTIFICATE.value
SHEET = PieceKind.ATTENDANCE_SHEET.value
PTP = Scheme.PTP.value
DISTANCE = Modality.DISTANCE.value
BLENDED = Modality.BLENDED.value

NBSP = "\u00a0"
NNBSP = "\u202f"
ZERO = Decimal("0")

# --- Formatting the figures ------------------------------------------------------------------
# The findings are text for users: written by `portal.formatting`, as the pages write them.

fr_date = formatting.date_fr
fr_period = formatting.period
fr_month = formatting.month
fr_int = formatting.number
fr_hours = formatting.minutes  # durations are whole minutes: 7 h 20 × 3 is 22 h exactly
fr_money = formatting.money


def category_label(category: str | None) -> str:
    if category is None:
        return "non indiquée"
    return CATEGORY_LABELS.get(category, category)  # type: ignore[call-overload]


def _plural(count: int, one: str, many: str) -> str:
    return f"{fr_int(count)} {one if abs(count) < 2 else many}"  # « 0 jour », « 1 jour »


def _and(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _of(text: str) -> str:
    """« de » before a noun group: « du certificat », « de la facture »."""
    if text.startswith("le "):
        return "du " + text[3:]
    if text.startswith("les "):
        return "des " + text[4:]
    return "de " + text


# --- The comparisons the checks make, shared with the control page's figures -------------


def exceeds(value: Decimal | int | None, bound: Decimal | int | None) -> bool:
    """Whether a figure goes beyond its bound (hours billed beyond the hours completed,
    completed beyond planned, invoiced beyond agreed); an unknown figure exceeds nothing.
    The checks raise their anomalies on it, and the control page marks its cells with it."""
    return value is not None and bound is not None and value > bound


def normalize_invoice_number(number: str) -> str:
    """What makes two invoice numbers the same: no spaces, no case (« f 2026-01 » is
    « F2026-01 »)."""
    return "".join(number.split()).upper()


# --- Facts -----------------------------------------------------------------------------------


@dataclass(slots=True)
class PieceFacts:
    """A current piece of the dossier, with the figures typed next to its file (read-only
    by convention: not frozen, a slotted class is built 7 times faster, and a run builds
    hundreds of thousands)."""

    id: int
    kind: str  # a PieceKind value
    period_start: date
    period_end: date
    sha256: str | None = None
    invoice_number: str | None = None
    invoice_date: date | None = None
    amount_excl_tax: Decimal | None = None
    amount_incl_tax: Decimal | None = None
    minutes_billed: int | None = None
    minutes_completed: int | None = None
    months_completed: Decimal | None = None
    nature: str | None = None
    half_days_planned: int | None = None
    half_days_signed: int | None = None
    minutes_attended: int | None = None
    # What the piece's file says of itself (portal.einvoice): the source of the reading
    # and its stored record (None: nothing read).
    figures_source: str | None = None
    file_figures: dict | None = None

    @property
    def amount(self) -> Decimal | None:
        """The amount invoiced (incl. tax, else excl. tax)."""
        return self.amount_incl_tax if self.amount_incl_tax is not None else self.amount_excl_tax

    @property
    def period(self) -> str:
        return fr_period(self.period_start, self.period_end)

    def name(self) -> str:
        """« la facture n° F-1 », « le certificat de réalisation »."""
        if self.kind == INVOICE and self.invoice_number:
            return f"la facture n°{NBSP}{self.invoice_number}"
        return KIND_NOUNS.get(self.kind, "la pièce")

    def describe(self) -> str:
        """« la facture n° F-1 du 01/03/2026 au 31/03/2026 », « le certificat de réalisation
        du … »."""
        return f"{self.name()} {self.period}"

    def bills(self) -> str:
        """« La facture n° F-1 porte sur la période du … au … »."""
        return f"{_capital(self.name())} porte sur la période {self.period}"

    def overlaps(self, start: date, end: date) -> bool:
        return self.period_start <= end and self.period_end >= start

    def within(self, start: date, end: date) -> bool:
        return self.period_start >= start and self.period_end <= end


KIND_NOUNS = {
    PieceKind.INVOICE.value: "la facture",
    PieceKind.COMPLETION_CERTIFICATE.value: "le certificat de réalisation",
    PieceKind.ATTENDANCE_SHEET.value: "la feuille d'émargement",
    PieceKind.EXPENSE_STATEMENT.value: "le relevé de dépenses",
}


@dataclass(frozen=True)
class ListSpan:
    """What the public list said of the OF from `valid_from` to `valid_to` (excluded; None
    while it holds): the categories it was certified for (a `ListVersion`)."""

    valid_from: date
    valid_to: date | None
    categories: frozenset[str]

    def holds_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class QualiopiFacts:
    """The history of the public list for the dossier's OF.

    `known_from` is the date of the first list the portal imported (None: none yet): the
    list keeps no history, so nothing is known before it. `spans` are the versions of the
    OF's entry; a day that no span covers (after `known_from`) is a day the OF was not in
    the list.
    """

    nda: str
    known_from: date | None
    spans: tuple[ListSpan, ...] = ()

    def known_on(self, day: date) -> bool:
        return self.known_from is not None and day >= self.known_from

    def categories_on(self, day: date) -> frozenset[str] | None:
        """The categories certified on `day`; None when the OF was not in the list."""
        for span in self.spans:
            if span.holds_on(day):
                return span.categories
        return None

    def certified(self, category: str, day: date) -> bool | None:
        """Certified for `category` on `day`? None when the OF was not in the list."""
        categories = self.categories_on(day)
        return None if categories is None else category in categories

    def not_certified(self, category: str, start: date, end: date) -> list[tuple[date, date, bool]]:
        """The parts of [start, end] (both included; from `known_from` only) when the OF was
        not certified for `category`, each with whether it was in the list (True: listed
        without the category; False: absent from the list), consecutive days merged."""
        if self.known_from is None:
            return []
        start = max(start, self.known_from)
        if start > end:
            return []
        for span in self.spans:  # the usual case: one version covers the whole period
            if span.holds_on(start) and (span.valid_to is None or span.valid_to > end):
                if category in span.categories:
                    return []
                break
        parts: list[tuple[date, date, str]] = []  # state: certified, listed, absent
        day = start
        spans = sorted(
            (
                s
                for s in self.spans
                if s.valid_from <= end and (s.valid_to is None or s.valid_to > start)
            ),
            key=lambda s: s.valid_from,
        )
        for span in spans:
            span_start = max(span.valid_from, start)
            if span_start > day:
                parts.append((day, span_start - timedelta(days=1), "absent"))
            span_end = end if span.valid_to is None else min(end, span.valid_to - timedelta(days=1))
            if span_end < span_start:
                continue
            state = "certified" if category in span.categories else "listed"
            parts.append((max(span_start, day), span_end, state))
            day = span_end + timedelta(days=1)
        if day <= end:
            parts.append((day, end, "absent"))
        gaps: list[tuple[date, date, bool]] = []
        for first, last, state in parts:
            if state == "certified" or last < first:
                continue
            listed = state == "listed"
            if gaps and gaps[-1][2] == listed and gaps[-1][1] + timedelta(days=1) == first:
                gaps[-1] = (gaps[-1][0], last, listed)
            else:
                gaps.append((first, last, listed))
        return gaps


@dataclass(slots=True)
class OtherPiece:
    """A current piece of another dossier (of the same funder), as the duplicate checks
    see it."""

    dossier_id: int
    reference: str
    piece_id: int
    kind: str
    period_start: date
    period_end: date
    invoice_number: str | None = None
    sha256: str | None = None

    def describe(self) -> str:
        noun = KIND_NOUNS.get(self.kind, "la pièce")
        return f"{noun} {fr_period(self.period_start, self.period_end)} du dossier {self.reference}"


@dataclass(frozen=True)
class DuplicateFacts:
    """Pieces of other dossiers that may share something with this dossier's (the runner
    may pass more than the matches: the checks compare).

    `invoices`: current invoices of the same OF in the funder's other dossiers;
    `files`: current pieces of the funder's other dossiers with one of the SHA-256 of this
    dossier's current pieces.
    """

    invoices: tuple[OtherPiece, ...] = ()
    files: tuple[OtherPiece, ...] = ()


@dataclass(frozen=True)
class SubcontractFacts:
    """Whether the dossier's subcontracting complies (see `portal.subcontracting`), with the
    French reasons when it does not. `cpf`: the contract is for CPF actions, whose rules
    (décret n° 2023-1350, art. R.6333-6-2) bar the payment; outside the CPF the ordering OF
    answers for its subcontractor through indicator 27, a point of attention only."""

    compliant: bool
    reasons: tuple[str, ...] = ()
    subcontractor: str = ""
    cpf: bool = True


def _piece_order(piece: PieceFacts) -> tuple[date, date, int]:
    return (piece.period_start, piece.period_end, piece.id)


@dataclass(slots=True)
class DossierFacts:
    """What the checks know of one dossier (read-only by convention, as PieceFacts)."""

    id: int
    reference: str
    category: str
    scheme: str
    start_date: date
    end_date: date
    planned_minutes: int
    agreed_amount: Decimal
    payment_rhythm: str
    provider_nda: str
    subcontracted: bool = False
    provider_siren: str = ""
    provider_siret: str = ""  # the establishment named on the dossier
    modality: str = Modality.ON_SITE.value
    rncp_code: str | None = None
    # The funder's choice: a certification lost after the start of the action blocks the
    # payment (True) or is an alert (False, the default; see QUALIOPI_PERIOD).
    qualiopi_loss_blocking: bool = False
    pieces: tuple[PieceFacts, ...] = ()
    # None: not checked (e.g. a test of other checks); the runner always gives it.
    qualiopi: QualiopiFacts | None = None
    duplicates: DuplicateFacts = field(default_factory=DuplicateFacts)
    # None: not subcontracted, or the subcontracting is not known to the portal.
    subcontract: SubcontractFacts | None = None

    # The current pieces of each kind, by period then id (set once: the checks read them
    # many times).
    invoices: tuple[PieceFacts, ...] = field(init=False, repr=False, compare=False)
    certificates: tuple[PieceFacts, ...] = field(init=False, repr=False, compare=False)
    sheets: tuple[PieceFacts, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kind: dict[str, list[PieceFacts]] = {INVOICE: [], CERTIFICATE: [], SHEET: []}
        for piece in sorted(self.pieces, key=_piece_order):
            if piece.kind in by_kind:
                by_kind[piece.kind].append(piece)
        self.invoices = tuple(by_kind[INVOICE])
        self.certificates = tuple(by_kind[CERTIFICATE])
        self.sheets = tuple(by_kind[SHEET])

    @property
    def period(self) -> str:
        return fr_period(self.start_date, self.end_date)


# --- Findings and the registry ------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    label: str
    explanation: str
    piece_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None


@dataclass(frozen=True)
class Found:
    """What a check function yields: the explanation, and the piece or period concerned."""

    explanation: str
    piece: PieceFacts | None = None
    period: tuple[date, date] | None = None


CheckFunction = Callable[[DossierFacts], Iterable[Found]]


@dataclass(frozen=True)
class Check:
    code: str
    label: str
    severity: Severity  # the default (the one the queue's filters list)
    function: CheckFunction
    # The severity on a given dossier, when it depends on it (a funder's setting).
    severity_for: Callable[[DossierFacts], Severity] | None = None

    def severity_on(self, facts: DossierFacts) -> Severity:
        return self.severity_for(facts) if self.severity_for is not None else self.severity

    def run(self, facts: DossierFacts) -> list[Finding]:
        severity = self.severity_on(facts)
        return [self.finding(found, severity) for found in self.function(facts)]

    def finding(self, found: Found, severity: Severity | None = None) -> Finding:
        period = found.period
        if period is None and found.piece is not None:
            period = (found.piece.period_start, found.piece.period_end)
        return Finding(
            code=self.code,
            severity=severity or self.severity,
            label=self.label,
            explanation=found.explanation,
            piece_id=found.piece.id if found.piece is not None else None,
            period_start=period[0] if period else None,
            period_end=period[1] if period else None,
        )


#: Every check, by code, in the order they run (and the order of a dossier's findings).
CHECKS: dict[str, Check] = {}

SEVERITY_RANK = {Severity.BLOCKING: 0, Severity.WARNING: 1, Severity.INFO: 2}


def check(
    code: str,
    label: str,
    severity: Severity,
    severity_for: Callable[[DossierFacts], Severity] | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        assert code not in CHECKS, code
        CHECKS[code] = Check(code, label, severity, function, severity_for)
        return function

    return register


def run_all(facts: DossierFacts) -> list[Finding]:
    """Every check on one dossier, in the registry's order."""
    return [finding for item in CHECKS.values() for finding in item.run(facts)]


# --- Qualiopi ----------------------------------------------------------------------------------


def _listed_categories(categories: frozenset[str]) -> str:
    labels = [category_label(c) for c in sorted(categories)]
    return _and([f"« {label} »" for label in labels]) if labels else "aucune"


@check(
    "QUALIOPI_START",
    "Organisme non certifié pour la catégorie au début de l'action",
    Severity.BLOCKING,
)
def qualiopi_start(facts: DossierFacts) -> Iterator[Found]:
    qualiopi = facts.qualiopi
    day = facts.start_date
    if qualiopi is None or not qualiopi.known_on(day):
        return
    categories = qualiopi.categories_on(day)
    if categories is not None and facts.category in categories:
        return
    label = category_label(facts.category)
    if categories is None:
        explanation = (
            f"Le {fr_date(day)}, début de l'action, l'organisme (NDA {qualiopi.nda}) ne figure "
            f"pas dans la liste publique des organismes de formation : il ne peut pas être "
            f"certifié « {label} »."
        )
    else:
        explanation = (
            f"Le {fr_date(day)}, début de l'action, la liste publique ne certifie pas "
            f"l'organisme (NDA {qualiopi.nda}) pour « {label} », catégorie du dossier "
            f"(catégories certifiées ce jour-là : {_listed_categories(categories)})."
        )
    yield Found(explanation, period=(day, day))


def _gap_text(gaps: Sequence[tuple[date, date, bool]], start: date, end: date) -> str:
    parts = []
    for first, last, listed in gaps:
        when = (
            "sur toute la période"
            if (first, last) == (start, end)
            else (f"le {fr_date(first)}" if first == last else fr_period(first, last))
        )
        why = "présent dans la liste sans cette catégorie" if listed else "absent de la liste"
        parts.append(f"{when} ({why})")
    return _and(parts)


def _certified_at_start(facts: DossierFacts) -> bool:
    qualiopi = facts.qualiopi
    return (
        qualiopi is not None
        and qualiopi.known_on(facts.start_date)
        and bool(qualiopi.certified(facts.category, facts.start_date))
    )


def _loss_severity(facts: DossierFacts) -> Severity:
    """Days billed without certification: blocking when the OF was not certified on the
    start date either (QUALIOPI_START says it too); a certification held on the start date
    and lost afterwards is an alert, unless the funder chose to block the payment."""
    if facts.qualiopi_loss_blocking or not _certified_at_start(facts):
        return Severity.BLOCKING
    return Severity.WARNING


@check(
    "QUALIOPI_PERIOD",
    "Organisme non certifié pour la catégorie pendant une période facturée",
    Severity.WARNING,
    _loss_severity,
)
def qualiopi_period(facts: DossierFacts) -> Iterator[Found]:
    qualiopi = facts.qualiopi
    if qualiopi is None:
        return
    label = category_label(facts.category)
    at_start = _certified_at_start(facts)
    for invoice in facts.invoices:
        gaps = qualiopi.not_certified(facts.category, invoice.period_start, invoice.period_end)
        if not gaps:
            continue
        note = ""
        if at_start:
            consequence = (
                "le financeur bloque alors le paiement"
                if facts.qualiopi_loss_blocking
                else "à examiner avant de payer, sans bloquer le paiement (choix du financeur)"
            )
            note = (
                f" L'organisme était certifié le {fr_date(facts.start_date)}, au début de "
                f"l'action : la certification a été perdue en cours d'action ; {consequence}."
            )
        yield Found(
            f"{invoice.bills()} : l'organisme (NDA {qualiopi.nda}) n'est pas certifié pour "
            f"« {label} » {_gap_text(gaps, invoice.period_start, invoice.period_end)}.{note}",
            invoice,
        )


@check("QUALIOPI_UNKNOWN", "Statut Qualiopi invérifiable à ces dates", Severity.INFO)
def qualiopi_unknown(facts: DossierFacts) -> Iterator[Found]:
    qualiopi = facts.qualiopi
    if qualiopi is None:
        return
    dates: list[str] = []
    first_day: date | None = None
    if not qualiopi.known_on(facts.start_date):
        dates.append(f"le {fr_date(facts.start_date)} (début de l'action)")
        first_day = facts.start_date
    for invoice in facts.invoices:
        if not qualiopi.known_on(invoice.period_start):
            last = invoice.period_end
            if qualiopi.known_from is not None:
                last = min(last, qualiopi.known_from - timedelta(days=1))
            dates.append(f"{fr_period(invoice.period_start, last)} ({invoice.describe()})")
            first_day = min(first_day or invoice.period_start, invoice.period_start)
    if not dates:
        return
    if qualiopi.known_from is None:
        why = "Aucune liste publique n'a encore été importée dans le portail"
        last_day = facts.end_date
    else:
        why = (
            "Le portail conserve l'historique de la liste publique depuis la liste du "
            f"{fr_date(qualiopi.known_from)}"
        )
        last_day = qualiopi.known_from - timedelta(days=1)
    assert first_day is not None
    yield Found(
        f"{why} : la certification de l'organisme (NDA {qualiopi.nda}) ne peut pas être "
        f"vérifiée {_and(dates)}. Vérifiez-la sur l'attestation de certification Qualiopi.",
        period=(first_day, max(first_day, last_day)),
    )


# --- Subcontracting ---------------------------------------------------------------------------


@check(
    "SUBCONTRACTOR_NOT_COMPLIANT",
    "Sous-traitance non conforme",
    Severity.BLOCKING,
)
def subcontractor_not_compliant(facts: DossierFacts) -> Iterator[Found]:
    subcontract = facts.subcontract
    if subcontract is None or subcontract.compliant or not subcontract.cpf:
        return
    yield Found(
        f"Le dossier est sous-traité pour une action CPF et {_subcontractor(subcontract)} "
        f"n'est pas conforme : {_reasons(subcontract)}.",
        period=(facts.start_date, facts.end_date),
    )


def _subcontractor(subcontract: SubcontractFacts) -> str:
    if subcontract.subcontractor:
        return f"le sous-traitant « {subcontract.subcontractor} »"
    return "le sous-traitant"


def _reasons(subcontract: SubcontractFacts) -> str:
    return " ; ".join(r.rstrip(". ") for r in subcontract.reasons) or "raison non précisée"


@check(
    "SUBCONTRACTOR_ATTENTION",
    "Sous-traitance hors CPF : point d'attention (indicateur 27)",
    Severity.WARNING,
)
def subcontractor_attention(facts: DossierFacts) -> Iterator[Found]:
    """Outside the CPF no text makes the subcontractor's certification a condition of the
    payment: the ordering OF answers for it (indicator 27). Never blocking."""
    subcontract = facts.subcontract
    if subcontract is None or subcontract.compliant or subcontract.cpf:
        return
    yield Found(
        f"Le dossier est sous-traité hors CPF : {_reasons(subcontract)}. L'organisme donneur "
        "d'ordre reste responsable du respect du référentiel par son sous-traitant "
        "(indicateur 27) ; ce point ne bloque pas le paiement.",
        period=(facts.start_date, facts.end_date),
    )


# --- Amounts and dates of the invoices ------------------------------------------------------------


@check("AMOUNT_OVER_AGREED", "Montant facturé supérieur au montant accordé", Severity.BLOCKING)
def amount_over_agreed(facts: DossierFacts) -> Iterator[Found]:
    invoices = sorted(
        (i for i in facts.invoices if i.amount is not None),
        key=lambda i: (i.period_start, i.invoice_date or i.period_end, i.id),
    )
    total = ZERO
    crossing: PieceFacts | None = None
    for invoice in invoices:
        total += invoice.amount or ZERO
        if crossing is None and exceeds(total, facts.agreed_amount):
            crossing = invoice
    if crossing is None:
        return
    count = _plural(len(invoices), "facture", "factures")
    yield Found(
        f"{fr_money(facts.agreed_amount)} accordés à la convention, {fr_money(total)} TTC "
        f"facturés au total ({count}) : {fr_money(total - facts.agreed_amount)} de plus. Le "
        f"montant accordé est dépassé avec {crossing.describe()}.",
        crossing,
    )


@check(
    "INVOICE_OUTSIDE_DOSSIER",
    "Période facturée hors de la période de la convention",
    Severity.BLOCKING,
)
def invoice_outside_dossier(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        if invoice.within(facts.start_date, facts.end_date):
            continue
        yield Found(
            f"{invoice.bills()}, hors de la période de la convention ({facts.period}).",
            invoice,
        )


@check(
    "INVOICE_BEFORE_PERIOD_END",
    "Facture datée avant la fin de la période facturée",
    Severity.WARNING,
)
def invoice_before_period_end(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        if invoice.invoice_date is None or invoice.invoice_date >= invoice.period_end:
            continue
        days = (invoice.period_end - invoice.invoice_date).days
        yield Found(
            f"{_capital(invoice.name())} est datée du {fr_date(invoice.invoice_date)}, "
            f"{_plural(days, 'jour', 'jours')} avant la fin de la période qu'elle facture "
            f"({invoice.period}).",
            invoice,
        )


# --- Hours -----------------------------------------------------------------------------------


def _uncovered(start: date, end: date, pieces: Iterable[PieceFacts]) -> list[tuple[date, date]]:
    """The parts of [start, end] that no piece's period covers (pieces together: the
    calendar's own rule, `portal.dossiers.calendar.uncovered`)."""
    return [(gap.start, gap.end) for gap in uncovered(Period(start, end), pieces)]


def _certificates_text(certificates: Sequence[PieceFacts]) -> str:
    """« au certificat de réalisation du … au … » / « aux certificats de réalisation du …
    et du … »."""
    if len(certificates) == 1:
        return f"au certificat de réalisation {certificates[0].period}"
    periods = _and([c.period for c in certificates])
    return f"aux {fr_int(len(certificates))} certificats de réalisation ({periods})"


@check(
    "INVOICE_WITHOUT_CERTIFICATE",
    "Période facturée sans certificat de réalisation",
    Severity.BLOCKING,
)
def invoice_without_certificate(facts: DossierFacts) -> Iterator[Found]:
    certificates = facts.certificates
    for invoice in facts.invoices:
        overlapping = [
            c for c in certificates if c.overlaps(invoice.period_start, invoice.period_end)
        ]
        gaps = _uncovered(invoice.period_start, invoice.period_end, overlapping)
        if not gaps:
            continue
        if not overlapping:
            explanation = f"{invoice.bills()} : aucun certificat de réalisation pour cette période."
        else:
            missing = _and([fr_period(a, b) for a, b in gaps])
            explanation = (
                f"{invoice.bills()} : aucun certificat de réalisation ne couvre la période "
                f"{missing}."
            )
        yield Found(explanation, invoice)


def billing_groups(
    invoices: Sequence[PieceFacts], certificates: Sequence[PieceFacts]
) -> list[tuple[list[PieceFacts], list[PieceFacts]]]:
    """The invoices and certificats that bill and prove the same days, compared together:
    the connected groups of pieces whose periods overlap (an invoice with the certificats of
    the periods it bills, two invoices of one period with each other's certificats). Each
    group is (invoices, certificats), by period; only groups with an invoice."""
    pieces = sorted((*invoices, *certificates), key=_piece_order)
    groups: list[list[PieceFacts]] = []
    end: date | None = None
    for piece in pieces:  # by start: a piece joins the group while it overlaps its reach
        if end is not None and piece.period_start <= end:
            groups[-1].append(piece)
            end = max(end, piece.period_end)
        else:
            groups.append([piece])
            end = piece.period_end
    result = []
    for group in groups:
        billed = [p for p in group if p.kind == INVOICE]
        if billed:
            result.append((billed, [p for p in group if p.kind == CERTIFICATE]))
    return result


def _invoices_text(invoices: Sequence[PieceFacts]) -> str:
    if len(invoices) == 1:
        return invoices[0].describe()
    return f"{fr_int(len(invoices))} factures : {_and([i.describe() for i in invoices])}"


def _overlapping(invoices: Sequence[PieceFacts]) -> list[tuple[PieceFacts, PieceFacts]]:
    return [
        (first, second)
        for index, first in enumerate(invoices)
        for second in invoices[index + 1 :]
        if first.overlaps(second.period_start, second.period_end)
    ]


@check(
    "HOURS_BILLED_OVER_COMPLETED",
    "Heures facturées supérieures aux heures réalisées",
    Severity.BLOCKING,
)
def hours_billed_over_completed(facts: DossierFacts) -> Iterator[Found]:
    """Cumulatively: the hours billed by the invoices of the same days against the hours
    completed on the certificats of those days (two invoices of 14 h for one certificat of
    14 h is 28 h billed for 14 h done), in whole minutes (3 × 7 h 20 proves 22 h)."""
    invoices = [i for i in facts.invoices if i.minutes_billed is not None]
    certificates = [c for c in facts.certificates if c.minutes_completed is not None]
    for billed, proved in billing_groups(invoices, certificates):
        if not proved:
            continue  # INVOICE_WITHOUT_CERTIFICATE says it
        total = sum(i.minutes_billed or 0 for i in billed)
        completed = sum(c.minutes_completed or 0 for c in proved)
        if not exceeds(total, completed):
            continue
        ordered = sorted(billed, key=lambda i: (i.invoice_date or i.period_end, i.id))
        crossing, running = ordered[-1], 0
        for invoice in ordered:
            running += invoice.minutes_billed or 0
            if running > completed:
                crossing = invoice
                break
        twice = _overlapping(billed)
        note = ""
        if twice:
            pairs = _and([f"{a.name()} et {b.name()}" for a, b in twice])
            note = (
                f" {_capital(pairs)} facturent des périodes qui se recouvrent : les mêmes "
                "heures sont facturées deux fois."
            )
        yield Found(
            f"{fr_hours(total)} facturées ({_invoices_text(billed)}), {fr_hours(completed)} "
            f"{_certificates_text(proved)} : {fr_hours(total - completed)} facturées sans "
            f"être réalisées.{note}",
            crossing,
        )


def _completed(facts: DossierFacts) -> tuple[list[PieceFacts], int]:
    certificates = [c for c in facts.certificates if c.minutes_completed is not None]
    return certificates, sum(c.minutes_completed or 0 for c in certificates)


@check(
    "HOURS_COMPLETED_OVER_PLANNED",
    "Heures réalisées supérieures aux heures prévues",
    Severity.WARNING,
)
def hours_completed_over_planned(facts: DossierFacts) -> Iterator[Found]:
    """The hours completed to date (every certificat) against the planned total; the
    planned hours of a period, shared out by days, are estimates and raise nothing."""
    certificates, completed = _completed(facts)
    if not certificates or not exceeds(completed, facts.planned_minutes):
        return
    yield Found(
        f"{fr_hours(facts.planned_minutes)} prévues à la convention, {fr_hours(completed)} "
        f"{_certificates_text(certificates)} : {fr_hours(completed - facts.planned_minutes)} "
        "de plus que prévu.",
        period=(certificates[0].period_start, max(c.period_end for c in certificates)),
    )


@check(
    "HOURS_COMPLETED_UNDER_PLANNED",
    "Action terminée avec moins d'heures réalisées que prévu",
    Severity.WARNING,
)
def hours_completed_under_planned(facts: DossierFacts) -> Iterator[Found]:
    """Only once the certificates reach the end of the action (before, hours are still to
    come)."""
    certificates, completed = _completed(facts)
    if not certificates or completed >= facts.planned_minutes:
        return
    if max(c.period_end for c in certificates) < facts.end_date:
        return
    yield Found(
        f"{fr_hours(facts.planned_minutes)} prévues à la convention, {fr_hours(completed)} "
        f"{_certificates_text(certificates)} : {fr_hours(facts.planned_minutes - completed)} "
        "non réalisées (paiement au prorata des heures réalisées).",
        period=(certificates[0].period_start, max(c.period_end for c in certificates)),
    )


@check(
    "HOURS_ATTENDED_MISMATCH",
    "Heures d'émargement différentes des heures réalisées",
    Severity.WARNING,
)
def hours_attended_mismatch(facts: DossierFacts) -> Iterator[Found]:
    """Per certificat, the attendance sheets of its period (all within it: otherwise the
    figures do not compare). Distance learning has no sheets; for blended learning, the
    sheets prove only the on-site part: only more attended than completed is flagged."""
    if facts.modality == DISTANCE:
        return
    sheets = [s for s in facts.sheets if s.minutes_attended is not None]
    for certificate in facts.certificates:
        completed = certificate.minutes_completed
        if completed is None:
            continue
        start, end = certificate.period_start, certificate.period_end
        same = [s for s in sheets if s.overlaps(start, end)]
        if not same or not all(s.within(start, end) for s in same):
            continue
        attended = sum(s.minutes_attended or 0 for s in same)
        if attended == completed or (facts.modality == BLENDED and attended < completed):
            continue
        sheets_text = (
            f"à la feuille d'émargement {same[0].period}"
            if len(same) == 1
            else f"aux {fr_int(len(same))} feuilles d'émargement de la période"
        )
        yield Found(
            f"{fr_hours(completed)} au certificat de réalisation {certificate.period}, "
            f"{fr_hours(attended)} {sheets_text} (écart de {fr_hours(abs(completed - attended))}).",
            certificate,
        )


@check(
    "HALF_DAYS_MISSING",
    "Demi-journées sans signature sur la feuille d'émargement",
    Severity.BLOCKING,
)
def half_days_missing(facts: DossierFacts) -> Iterator[Found]:
    for sheet in facts.sheets:
        planned, signed = sheet.half_days_planned, sheet.half_days_signed
        if planned is None or signed is None or signed >= planned:
            continue
        missing = planned - signed
        yield Found(
            f"{_plural(signed, 'demi-journée signée', 'demi-journées signées')} sur "
            f"{_plural(planned, 'prévue', 'prévues')} ({sheet.describe()}) : "
            f"{_plural(missing, 'demi-journée', 'demi-journées')} sans signature.",
            sheet,
        )


# --- The certificats de réalisation ------------------------------------------------------------


@check(
    "NATURE_MISMATCH",
    "Nature de l'action du certificat différente de la catégorie du dossier",
    Severity.BLOCKING,
)
def nature_mismatch(facts: DossierFacts) -> Iterator[Found]:
    for certificate in facts.certificates:
        if certificate.nature is None or certificate.nature == facts.category:
            continue
        yield Found(
            f"Nature « {category_label(certificate.nature)} » au certificat de réalisation "
            f"{certificate.period}, catégorie « {category_label(facts.category)} » au dossier.",
            certificate,
        )


@check(
    "PTP_CERTIFICATE_GAP",
    "PTP : mois sans certificat de réalisation",
    Severity.WARNING,
)
def ptp_certificate_gap(facts: DossierFacts) -> Iterator[Found]:
    """For a PTP, one certificat per month: the days between the start of the action and
    the end of the latest certificate that no certificate covers (later months are
    awaited, not missing: the calendar follows them)."""
    if facts.scheme != PTP:
        return
    certificates = facts.certificates
    if not certificates:
        return
    last = min(max(c.period_end for c in certificates), facts.end_date)
    latest = max(certificates, key=lambda c: (c.period_end, c.id))
    for first, end in _uncovered(facts.start_date, last, certificates):
        months = _and([fr_month(m.start) for m in month_periods(first, end)])
        yield Found(
            f"Aucun certificat de réalisation {fr_period(first, end)} ({months}), alors que "
            f"{latest.describe()} a été envoyé : un certificat par mois est attendu pour un "
            "PTP.",
            period=(first, end),
        )


@check(
    "PTP_WITHOUT_CERTIFICATION_CODE",
    "PTP sans code RNCP ou RS",
    Severity.WARNING,
)
def ptp_without_certification_code(facts: DossierFacts) -> Iterator[Found]:
    """Transitions Pro funds certifying actions de formation (RNCP, RS, CléA…, art.
    L.6323-17-1): a PTP dossier without an RNCP or RS code is to be looked at."""
    if facts.scheme != PTP or facts.rncp_code:
        return
    yield Found(
        "Le dossier est un projet de transition professionnelle sans code RNCP ni RS : un "
        "PTP finance une action de formation certifiante (RNCP, RS, CléA…). Vérifiez la "
        "certification visée.",
        period=(facts.start_date, facts.end_date),
    )


@check(
    "PTP_CERTIFICATE_NOT_MONTHLY",
    "PTP : certificat de réalisation couvrant plusieurs mois",
    Severity.WARNING,
)
def ptp_certificate_not_monthly(facts: DossierFacts) -> Iterator[Found]:
    if facts.scheme != PTP:
        return
    for certificate in facts.certificates:
        start, end = certificate.period_start, certificate.period_end
        if (start.year, start.month) == (end.year, end.month):
            continue
        months = month_periods(start, end)
        yield Found(
            f"Le certificat de réalisation {certificate.period} couvre "
            f"{_plural(len(months), 'mois', 'mois')} "
            f"({_and([fr_month(m.start) for m in months])}) : un certificat par mois est "
            "attendu pour un PTP.",
            certificate,
        )


# --- Duplicates --------------------------------------------------------------------------------


@check(
    "DUPLICATE_INVOICE_NUMBER",
    "Numéro de facture déjà utilisé par l'organisme",
    Severity.BLOCKING,
)
def duplicate_invoice_number(facts: DossierFacts) -> Iterator[Found]:
    invoices = [i for i in facts.invoices if i.invoice_number]
    mine: dict[str, list[PieceFacts]] = {}
    for invoice in invoices:
        mine.setdefault(normalize_invoice_number(invoice.invoice_number or ""), []).append(invoice)
    if not facts.duplicates.invoices and len(mine) == len(invoices):
        return  # no other dossier's, and no number twice in this one
    others_by_number: dict[str, list[OtherPiece]] = {}
    for other in facts.duplicates.invoices:
        if other.dossier_id == facts.id or not other.invoice_number:
            continue
        key = normalize_invoice_number(other.invoice_number)
        others_by_number.setdefault(key, []).append(other)
    for invoice in invoices:
        key = normalize_invoice_number(invoice.invoice_number or "")
        places = [i.describe() for i in mine[key] if i.id != invoice.id]
        places += [
            o.describe()
            for o in sorted(
                others_by_number.get(key, []),
                key=lambda o: (o.reference, o.period_start, o.piece_id),
            )
        ]
        if not places:
            continue
        yield Found(
            f"Le numéro {invoice.invoice_number} de la facture {invoice.period} figure aussi "
            f"sur {_and(places)}.",
            invoice,
        )


@check(
    "DUPLICATE_FILE",
    "Même fichier envoyé pour un autre dossier",
    Severity.WARNING,
)
def duplicate_file(facts: DossierFacts) -> Iterator[Found]:
    if not facts.duplicates.files:
        return
    by_sha: dict[str, list[OtherPiece]] = {}
    for other in facts.duplicates.files:
        if other.dossier_id != facts.id and other.sha256:
            by_sha.setdefault(other.sha256, []).append(other)
    for piece in sorted(facts.pieces, key=lambda p: (p.period_start, p.kind, p.id)):
        others = by_sha.get(piece.sha256 or "")
        if not others:
            continue
        others = sorted(others, key=lambda o: (o.reference, o.period_start, o.piece_id))
        yield Found(
            f"Le fichier {_of(piece.describe())} (SHA-256 {(piece.sha256 or '')[:12]}…) est le "
            f"même que celui {_of(_and([o.describe() for o in others]))}.",
            piece,
        )


# --- What the files say of themselves (portal.einvoice) ------------------------------------------

EINVOICE = "einvoice"
PDF_FORM = "pdf_form"
PDF_TEXT = "pdf_text"

#: The checks of figures typed against those of the file ("chiffres saisis différents du
#: document", a filter of the queue).
DOCUMENT_MISMATCH_CODES = (
    "EINVOICE_FIGURES_DIFFER",
    "EINVOICE_DETAILS_DIFFER",
    "CERTIFICATE_FORM_DIFFERS",
    "PDF_TEXT_DIFFERS",
)
FIGURE_NAMES = {
    "invoice_number": "numéro",
    "invoice_date": "date",
    "amount_excl_tax": "montant HT",
    "amount_incl_tax": "montant TTC",
    "period_start": "début de période",
    "period_end": "fin de période",
    "hours_billed": "heures facturées",
    "hours_completed": "durée réalisée",
    "nature": "nature de l'action",
    "signatory": "signataire",
    "signed_on": "date de signature",
}
EINVOICE_KEY_FIELDS = frozenset(
    {"invoice_number", "invoice_date", "amount_excl_tax", "amount_incl_tax"}
)


def _figure(name: str, value: object) -> str:
    if value is None:
        return "—"
    if name in ("amount_excl_tax", "amount_incl_tax"):
        return fr_money(Decimal(str(value)))
    if name in ("hours_billed", "hours_completed"):
        return formatting.hours(Decimal(str(value)))
    if isinstance(value, date):
        return fr_date(value)
    if name == "nature":
        return f"« {category_label(str(value))} »"
    return f"« {value} »"


def _typed(piece: PieceFacts) -> dict[str, object]:
    typed = {name: getattr(piece, name, None) for name in FIGURE_NAMES}
    # Durations are kept in minutes, the readings of files in hours (compared to the minute).
    typed["hours_billed"] = compare.hours_of_minutes(piece.minutes_billed)
    typed["hours_completed"] = compare.hours_of_minutes(piece.minutes_completed)
    return typed


def _differences(
    piece: PieceFacts,
    source: str,
    fields: frozenset[str] | None,
    exclude: frozenset[str] = frozenset(),
) -> list:

    if piece.figures_source != source or not piece.file_figures:
        return []
    read = compare.read_values(piece.file_figures)
    return [
        d
        for d in compare.differences(_typed(piece), read)
        if (fields is None or d.name in fields) and d.name not in exclude
    ]


def _differ_text(piece: PieceFacts, differences, document: str) -> str:
    parts = [
        f"{FIGURE_NAMES[d.name]} {_TYPED_WORD.get(d.name, 'saisi')} "
        f"{_figure(d.name, d.typed)}, {document} indique {_figure(d.name, d.read)}"
        for d in differences
    ]
    return f"{_capital(piece.describe())} : {' ; '.join(parts)}."


_TYPED_WORD = {
    "invoice_date": "saisie",
    "period_end": "saisie",
    "hours_billed": "saisies",
    "hours_completed": "saisie",
    "nature": "saisie",
    "signed_on": "saisie",
}


def _invoice_record(piece: PieceFacts) -> dict:
    if piece.figures_source != EINVOICE or not piece.file_figures:
        return {}
    return piece.file_figures.get("invoice") or {}


@check(
    "EINVOICE_FIGURES_DIFFER",
    "Numéro, date ou montants saisis différents de la facture électronique",
    Severity.BLOCKING,
)
def einvoice_figures_differ(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        found = _differences(invoice, EINVOICE, EINVOICE_KEY_FIELDS)
        if found:
            yield Found(_differ_text(invoice, found, "la facture électronique"), invoice)


@check(
    "EINVOICE_DETAILS_DIFFER",
    "Période ou heures saisies différentes de la facture électronique",
    Severity.WARNING,
)
def einvoice_details_differ(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        found = _differences(invoice, EINVOICE, None, EINVOICE_KEY_FIELDS)
        if found:
            yield Found(_differ_text(invoice, found, "la facture électronique"), invoice)


@check(
    "CERTIFICATE_FORM_DIFFERS",
    "Chiffres saisis différents du formulaire du certificat de réalisation",
    Severity.WARNING,
)
def certificate_form_differs(facts: DossierFacts) -> Iterator[Found]:
    for certificate in facts.certificates:
        found = _differences(certificate, PDF_FORM, None)
        if found:
            yield Found(_differ_text(certificate, found, "le formulaire du PDF"), certificate)


@check(
    "PDF_TEXT_DIFFERS",
    "Chiffres saisis différents de ceux trouvés dans le texte du PDF",
    Severity.WARNING,
)
def pdf_text_differs(facts: DossierFacts) -> Iterator[Found]:
    for piece in sorted(facts.pieces, key=_piece_order):
        found = _differences(piece, PDF_TEXT, None)
        if found:
            yield Found(_differ_text(piece, found, "le texte du PDF"), piece)


def _seller(record: dict) -> tuple[str, str]:
    siret = "".join(ch for ch in str(record.get("seller_siret") or "") if ch.isdigit())
    siren = "".join(ch for ch in str(record.get("seller_siren") or "") if ch.isdigit())
    return siren or siret[:9], siret


def _seller_name(record: dict) -> str:
    name = record.get("seller_name")
    return f"« {name} »" if name else "le vendeur"


@check(
    "EINVOICE_SELLER_NOT_PROVIDER",
    "Facture électronique émise par une autre entreprise que l'organisme",
    Severity.BLOCKING,
)
def einvoice_seller_not_provider(facts: DossierFacts) -> Iterator[Found]:
    if not facts.provider_siren:
        return
    for invoice in facts.invoices:
        record = _invoice_record(invoice)
        siren, _siret = _seller(record)
        if record and siren and siren != facts.provider_siren:
            yield Found(
                f"{_capital(invoice.describe())} est émise par {_seller_name(record)}, SIREN "
                f"{siren} ; l'organisme du dossier a le SIREN {facts.provider_siren}.",
                invoice,
            )


@check(
    "EINVOICE_SELLER_OTHER_ESTABLISHMENT",
    "Facture électronique émise par un autre établissement de l'organisme",
    Severity.INFO,
)
def einvoice_seller_other_establishment(facts: DossierFacts) -> Iterator[Found]:
    if not facts.provider_siret:
        return
    for invoice in facts.invoices:
        record = _invoice_record(invoice)
        siren, siret = _seller(record)
        if siret and siren == facts.provider_siren and siret != facts.provider_siret:
            yield Found(
                f"{_capital(invoice.describe())} est émise par l'établissement de SIRET "
                f"{siret} ; le dossier nomme l'établissement {facts.provider_siret} (même "
                f"SIREN {siren}).",
                invoice,
            )


def _record_date(record: dict, name: str) -> date | None:
    try:
        return date.fromisoformat(str(record.get(name))) if record.get(name) else None
    except ValueError:
        return None


@check(
    "EINVOICE_PERIOD_OUTSIDE_DOSSIER",
    "Période de la facture électronique hors de la période de la convention",
    Severity.BLOCKING,
)
def einvoice_period_outside_dossier(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        record = _invoice_record(invoice)
        start, end = _record_date(record, "period_start"), _record_date(record, "period_end")
        if start is None or end is None:
            continue
        if start >= facts.start_date and end <= facts.end_date:
            continue
        yield Found(
            f"{_capital(invoice.name())} porte, dans sa facture électronique, sur la période "
            f"{fr_period(start, end)}, hors de la période de la convention ({facts.period}).",
            invoice,
        )


@check(
    "EINVOICE_HOURS_OVER_PLANNED",
    "Heures de la facture électronique au-delà des heures prévues",
    Severity.WARNING,
)
def einvoice_hours_over_planned(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        record = _invoice_record(invoice)
        try:
            hours = Decimal(str(record["hours"])) if record.get("hours") else None
        except ArithmeticError:
            hours = None
        if hours is None or not exceeds(compare.minutes_of_hours(hours), facts.planned_minutes):
            continue
        yield Found(
            f"{_capital(invoice.describe())} facture {formatting.hours(hours)} dans sa facture "
            f"électronique, pour {fr_hours(facts.planned_minutes)} prévues à la convention.",
            invoice,
        )


@check(
    "EINVOICE_TOTALS_INCONSISTENT",
    "Totaux de la facture électronique incohérents",
    Severity.BLOCKING,
)
def einvoice_totals_inconsistent(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        problems = _invoice_record(invoice).get("total_problems") or []
        if problems:
            yield Found(f"{_capital(invoice.describe())} : {' ; '.join(problems)}.", invoice)


@check(
    "EINVOICE_SCHEMA_INVALID",
    "Facture électronique non conforme à son schéma XML",
    Severity.WARNING,
)
def einvoice_schema_invalid(facts: DossierFacts) -> Iterator[Found]:
    for invoice in facts.invoices:
        record = _invoice_record(invoice)
        if record and record.get("schema_valid") is False:
            yield Found(
                f"Le fichier XML {_of(invoice.name())} n'est pas valide au regard du schéma de "
                f"sa norme : {record.get('schema_error') or 'erreur non précisée'}.",
                invoice,
            )
