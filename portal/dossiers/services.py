"""Dossiers on the funder's side: creation (by form and by import), edit, list and export.

Each service takes the acting user, changes models, writes the audit log, and leaves the
commit to the route. The rules of each field are :mod:`portal.dossiers.rules` (shared by
the form and the import); this module adds what needs the database: the OF (found among
the portal's OF, or created from the public list), the reference's uniqueness per funder,
the expected-pieces calendar (``first_missing_due``), access, and the audit trail.

The OF of a dossier
-------------------
Given by a SIRET or an NDA (:func:`find_provider`): an OF already known to the portal (by
NDA, by the SIRET of its declaring establishment, or, for another establishment's SIRET,
by its SIREN when only one OF has it); otherwise the entry of the public list in force
today (by NDA, or by the declaring establishment's SIRET, or, for the SIRET of an
establishment that is not in the list, by its SIREN when the company has a single NDA:
"établissement non déclarant", the dossier is tied to the company's entry), from which the
OF is created (name, NDA, SIREN, SIRET). Anything else is refused with a message asking
for the NDA and the SIRET as the list writes them. The OF is then followed by the funder
(:class:`~portal.models.FunderProvider`) if it was not yet. The dossier records the SIRET
typed (the establishment that delivers the action), or the declaring establishment's.

Import file (:func:`read_import`, :func:`import_dossiers`)
-----------------------------------------------------------
A CSV (``;``, ``,`` or tab; UTF-8 with or without BOM, or Windows-1252) or an XLSX (first
sheet), recognised by its content. The first non-blank line holds the column names below
(in any order, any case, accents optional; the French labels of the form are accepted
too); other columns are ignored and listed; blank lines are skipped. Line numbers are
those a spreadsheet shows. Every line is checked; if any line has an error, nothing is
created and the errors are listed by line and column. At most :data:`MAX_IMPORT_LINES`
lines and :data:`MAX_IMPORT_BYTES` bytes.

========================  ========  ========================================================
column                    required  content
========================  ========  ========================================================
``reference``             yes       the funder's reference, unique per funder and in the file
``organisme``             yes       the OF's SIRET (14 digits) or NDA (11 digits)
``beneficiaire_nom``      yes       the beneficiary's last name
``beneficiaire_prenom``   yes       the beneficiary's first name
``intitule``              yes       the title of the action
``categorie``             yes       ``actions_formation``, ``bilans_competences``, ``vae``,
                                    ``apprentissage``
``dispositif``            yes       ``ptp``, ``cpf``, ``plan``, ``alternance``, ``autre``
``code_rncp_rs``          no        ``RNCP12345`` or ``RS1234`` (empty: none)
``modalite``              yes       ``presentiel``, ``distance``, ``mixte``,
                                    ``situation_travail``
``date_debut``            yes       jj/mm/aaaa (or aaaa-mm-jj, or a date cell)
``date_fin``              yes       jj/mm/aaaa, on or after the start
``heures_prevues``        yes       hours, > 0: ``35``, ``35,5``, ``35h30``, ``35:30`` (in minutes)
``montant_accorde``       yes       euros, ≥ 0, at most 2 decimals (``1 234,50``, ``1234.50``)
``rythme_paiement``       yes       ``mensuel`` (always for a PTP), ``fin_de_formation``,
                                    ``echeances``
``nombre_echeances``      no        2 to 60, required when ``echeances``
``sous_traitance``        no        ``oui`` / ``non`` (empty: ``non``)
========================  ========  ========================================================

The choice columns also take the French labels (``Présentiel``, ``Mensuel``…).

Export (:func:`export_rows`, :data:`EXPORT_COLUMNS`)
------------------------------------------------------
``/dossiers/export.csv`` and ``.xlsx`` hold the dossiers of the list's filters, in its
order, with these columns, in this order (stable: new columns are only ever added at the
end):

==============================  ===================================================================
``reference``                   the funder's reference
``organisme_nda``               NDA of the OF (11 digits, as text)
``organisme_siret``             SIRET of the establishment recorded on the dossier
``organisme_denomination``      name of the OF
``beneficiaire_nom``            beneficiary's last name
``beneficiaire_prenom``         beneficiary's first name
``intitule``                    title of the action
``categorie``                   category key (as in the import)
``dispositif``                  scheme key
``code_rncp_rs``                RNCP or RS code (empty: none)
``modalite``                    modality key
``date_debut``                  start date
``date_fin``                    end date
``heures_prevues``              planned hours (decimal hours to the hundredth: 7 h 20 is 7,33)
``montant_accorde``             agreed amount in euros (2 decimals)
``rythme_paiement``             payment rhythm key
``nombre_echeances``            number of instalments (empty unless ``echeances``)
``sous_traitance``              ``oui`` / ``non``
``statut``                      ``en_cours``, ``clos``, ``annule``
``premiere_piece_attendue_le``  due date of the earliest expected piece not received (empty: none)
``pieces_manquantes``           ``oui`` when that date is today or past, else ``non``
``cree_le``                     date the dossier was created in the portal
``id_portail``                  the dossier's number in the portal (``/dossiers/<id>``)
==============================  ===================================================================

The CSV is ``;``-separated UTF-8 with a BOM, CRLF line ends; dates ``jj/mm/aaaa``;
decimals with a comma (``1234,50``), no thousands separator; a text cell starting with
``=``, ``+``, ``-`` or ``@`` is prefixed with ``'``. In the XLSX, dates are date cells,
hours and amounts number cells (written from their exact decimal value), and identifiers
text cells (their leading zeros kept). The import reads both back.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from portal import audit, clock, exports, following, formatting
from portal.access import can_edit_dossier, dossiers_scope, is_funder_side
from portal.dossiers import rules, signals
from portal.dossiers.calendar import expected_pieces, first_missing_due
from portal.dossiers.pieces import recompute_first_missing_due
from portal.errors import NotAllowed, Refused, Stale
from portal.extensions import db
from portal.identifiers import Identifier, InvalidIdentifier, classify
from portal.models import (
    AuditEvent,
    Dossier,
    DossierStatus,
    Piece,
    Provider,
    User,
)
from portal.pagination import PageNumbers
from portal.public_list import lookup
from portal.tabular import NotATable, decode_csv, is_xlsx
from portal.tabular import csv_rows as _csv_rows
from portal.tabular import fold_header as _fold_header

MAX_IMPORT_LINES = 2_000  # ~8 s of checks, writes and audit entries on a busy 2-CPU box
MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_XLSX_UNPACKED = 100 * 1024 * 1024
PER_PAGE = 50
XLSX_TYPE = exports.XLSX_TYPE

#: Import columns: (header, field of :mod:`portal.dossiers.rules`, required column).
IMPORT_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("reference", "reference", True),
    ("organisme", "provider", True),
    ("beneficiaire_nom", "beneficiary_last_name", True),
    ("beneficiaire_prenom", "beneficiary_first_name", True),
    ("intitule", "action_title", True),
    ("categorie", "category", True),
    ("dispositif", "scheme", True),
    ("code_rncp_rs", "rncp_code", False),
    ("modalite", "modality", True),
    ("date_debut", "start_date", True),
    ("date_fin", "end_date", True),
    ("heures_prevues", "planned_hours", True),
    ("montant_accorde", "agreed_amount", True),
    ("rythme_paiement", "payment_rhythm", True),
    ("nombre_echeances", "instalments", False),
    ("sous_traitance", "subcontracted", False),
)
HEADER_OF_FIELD = {name: header for header, name, _ in IMPORT_COLUMNS}

#: One example line of the import template (a real OF of the public list's format).
TEMPLATE_EXAMPLE: tuple[Any, ...] = (
    "TP-2026-00042",
    "81234567600017",
    "Martin",
    "Claire",
    "Titre professionnel Secrétaire assistant",
    "actions_formation",
    "ptp",
    "RNCP37796",
    "presentiel",
    date(2026, 9, 1),
    date(2027, 3, 31),
    Decimal("1085"),
    Decimal("14250.50"),
    "mensuel",
    None,
    "non",
)

EXPORT_COLUMNS: tuple[str, ...] = (
    "reference",
    "organisme_nda",
    "organisme_siret",
    "organisme_denomination",
    "beneficiaire_nom",
    "beneficiaire_prenom",
    "intitule",
    "categorie",
    "dispositif",
    "code_rncp_rs",
    "modalite",
    "date_debut",
    "date_fin",
    "heures_prevues",
    "montant_accorde",
    "rythme_paiement",
    "nombre_echeances",
    "sous_traitance",
    "statut",
    "premiere_piece_attendue_le",
    "pieces_manquantes",
    "cree_le",
    "id_portail",
)

# The export writes the planned minutes as decimal hours (a spreadsheet sums them).
PLANNED_COLUMN = EXPORT_COLUMNS.index("heures_prevues")

# The dossier's own fields (every form field but the OF, which is found from its identifier).
# The planned hours (typed in hours) are kept in minutes.
ASSIGNED_FIELDS: tuple[str, ...] = tuple(
    "planned_minutes" if name == "planned_hours" else name
    for name in rules.FIELDS
    if name != "provider"
)
# Fields compared (and audited) by an edit.
AUDITED_FIELDS: tuple[str, ...] = (
    "provider_id",
    "provider_siret",
    *ASSIGNED_FIELDS,
    "status",
    "subcontract_id",
)
CALENDAR_FIELDS = ("scheme", "payment_rhythm", "start_date", "end_date", "instalments")


# --- Errors ----------------------------------------------------------------------------------


# --- The OF ----------------------------------------------------------------------------------

NOT_FOUND = (
    "Organisme introuvable, ni parmi les organismes connus du portail ni dans la liste "
    "publique en vigueur : indiquez son numéro de déclaration d'activité (NDA) ou le SIRET "
    "de son établissement déclarant, tels qu'ils figurent dans la liste publique des "
    "organismes de formation."
)


@dataclass(frozen=True)
class ProviderChoice:
    """The OF of a dossier: a known one, or a public-list entry to create it from."""

    provider: Provider | None
    entry: lookup.Match | None
    siret: str  # the establishment recorded on the dossier
    # The SIRET given is not in the list: the OF was found through its SIREN.
    non_declaring: bool = False

    @property
    def nda(self) -> str:
        if self.provider is not None:
            return self.provider.nda
        assert self.entry is not None
        return self.entry.nda

    @property
    def name(self) -> str:
        if self.provider is not None:
            return self.provider.name
        assert self.entry is not None
        return self.entry.denomination


def _several(where: str) -> rules.RuleError:
    return rules.RuleError(
        f"Plusieurs organismes ont ce SIRET {where} : indiquez le numéro de déclaration "
        "d'activité (NDA) de celui qui réalise l'action."
    )


def find_provider(ident: Identifier, on: date | None = None) -> ProviderChoice:
    """The OF named by a SIRET or an NDA (see the module docstring); RuleError otherwise."""
    on = on or clock.today()
    if ident.kind == "nda":
        provider = db.session.scalar(select(Provider).where(Provider.nda == ident.value))
        if provider is not None:
            return ProviderChoice(provider, None, provider.siret)
        matches = lookup.check(ident, on).matches
        exact = [m for m in matches if m.matched_on == "nda"]
        if exact:
            return ProviderChoice(None, exact[0], exact[0].siret)
        if matches:
            raise rules.RuleError(
                f"Ce NDA est un ancien numéro de « {matches[0].denomination} », dont le NDA "
                f"actuel est {matches[0].nda} : indiquez celui-ci."
            )
        raise rules.RuleError(NOT_FOUND)
    if ident.kind != "siret":
        raise rules.RuleError(NOT_FOUND)
    known = db.session.scalars(select(Provider).where(Provider.siret == ident.value)).all()
    if len(known) == 1:
        return ProviderChoice(known[0], None, ident.value)
    if len(known) > 1:
        raise _several("parmi les organismes connus du portail")
    result = lookup.check(ident, on)
    matches = result.matches
    if result.non_declaring:
        # Another establishment (a training site…) of a company in the list: its entry, when
        # the company has a single NDA.
        if len(matches) > 1:
            raise rules.RuleError(
                f"Ce SIRET est un {lookup.NON_DECLARING} de « {matches[0].denomination} », "
                f"dont l'entreprise a {len(matches)} numéros de déclaration d'activité dans la "
                "liste publique : indiquez le NDA de celui qui réalise l'action."
            )
        entry = matches[0]
        provider = db.session.scalar(select(Provider).where(Provider.nda == entry.nda))
        return ProviderChoice(provider, None if provider else entry, ident.value, True)
    if len(matches) > 1:
        raise _several("dans la liste publique")
    if matches:
        entry = matches[0]
        provider = db.session.scalar(select(Provider).where(Provider.nda == entry.nda))
        return ProviderChoice(provider, None if provider else entry, ident.value)
    # Another establishment of a known OF: its SIREN, when a single OF has it.
    same_siren = db.session.scalars(
        select(Provider).where(Provider.siren == ident.value[:9]).limit(2)
    ).all()
    if len(same_siren) == 1:
        return ProviderChoice(same_siren[0], None, ident.value)
    raise rules.RuleError(NOT_FOUND)


@dataclass
class _Batch:
    """The OF created and followed while creating dossiers (once each in an import)."""

    created: dict[str, Provider] = field(default_factory=dict)  # by NDA
    followed: set[int] = field(default_factory=set)


def _provider_for(actor: User, choice: ProviderChoice, batch: _Batch) -> Provider:
    """The Provider row of a choice, created from the list if new, followed by the funder."""
    provider = choice.provider
    if provider is None:
        entry = choice.entry
        assert entry is not None
        provider = batch.created.get(entry.nda) or db.session.scalar(
            select(Provider).where(Provider.nda == entry.nda)
        )
        if provider is None:
            provider = Provider(
                nda=entry.nda, siren=entry.siren, siret=entry.siret, name=entry.denomination
            )
            db.session.add(provider)
            audit.record(
                "provider.created",
                actor=actor,
                target=provider,
                funder_id=actor.funder_id,
                details={
                    "after": {"nda": entry.nda, "siret": entry.siret, "name": entry.denomination},
                    "source": "liste publique",
                },
            )
        batch.created[entry.nda] = provider
    if provider.id not in batch.followed:
        _follow(actor, provider)
        batch.followed.add(provider.id)
    return provider


def _follow(actor: User, provider: Provider) -> None:
    """A funder admin's dossier (form or import) makes the funder follow its OF; anyone
    else's dossier is refused before, by the checker, when the OF is not followed."""
    if following.may_follow(actor):
        following.follow(actor, provider, reason="dossier")
    elif not following.is_followed(actor.funder_id, provider.id):
        raise NotAllowed


# --- Checking a dossier ----------------------------------------------------------------------


@dataclass
class _Checker:
    """Checks dossiers of one funder, caching look-ups across the lines of an import."""

    actor: User
    on: date = field(default_factory=clock.today)
    providers: dict[str, ProviderChoice | rules.RuleError] = field(default_factory=dict)
    taken: set[str] | None = None  # references already used, when preloaded
    followed: dict[int, bool] = field(default_factory=dict)  # by provider id

    def _followed(self, choice: ProviderChoice) -> bool:
        """Whether the actor's funder already follows the chosen OF (a controller creates
        dossiers only for those)."""
        if choice.provider is None or choice.provider.id is None:
            return False
        known = self.followed.get(choice.provider.id)
        if known is None:
            known = following.is_followed(self.actor.funder_id, choice.provider.id)
            self.followed[choice.provider.id] = known
        return known

    def batch(self) -> _Batch:
        """A batch that knows the OF this checker found followed (not asked again)."""
        return _Batch(followed={pid for pid, known in self.followed.items() if known})

    def provider(self, ident: Identifier) -> ProviderChoice:
        cached = self.providers.get(ident.value)
        if cached is None:
            try:
                cached = find_provider(ident, self.on)
            except rules.RuleError as error:
                cached = error
            self.providers[ident.value] = cached
        if isinstance(cached, rules.RuleError):
            raise cached
        return cached

    def reference_taken(self, reference: str, exclude_id: int | None = None) -> bool:
        if self.taken is not None:
            return reference in self.taken
        query = select(Dossier.id).where(
            Dossier.funder_id == self.actor.funder_id, Dossier.reference == reference
        )
        if exclude_id is not None:
            query = query.where(Dossier.id != exclude_id)
        return db.session.scalar(query) is not None

    def check(
        self, raw: Mapping[str, Any], dossier: Dossier | None = None
    ) -> tuple[rules.DossierData | None, ProviderChoice | None, dict[str, list[str]]]:
        data, errors = rules.validate_dossier(raw)
        choice = None
        try:
            ident = rules.parse_provider(raw.get("provider"))
        except rules.RuleError:
            ident = None  # already reported by the rules
        if ident is not None:
            try:
                choice = self._provider_of(ident, dossier)
            except rules.RuleError as error:
                errors.setdefault("provider", []).append(str(error))
        try:
            reference = rules.parse_reference(raw.get("reference"))
        except rules.RuleError:
            reference = None
        if reference is not None and self.reference_taken(
            reference, dossier.id if dossier is not None else None
        ):
            errors.setdefault("reference", []).append(REFERENCE_TAKEN)
        if errors:
            return None, None, errors
        return data, choice, {}

    def _provider_of(self, ident: Identifier, dossier: Dossier | None) -> ProviderChoice:
        if dossier is not None:
            current = dossier.provider
            if (ident.kind == "nda" and ident.value == current.nda) or (
                ident.kind == "siret" and ident.value in (dossier.provider_siret, current.siret)
            ):
                return ProviderChoice(
                    current, None, ident.value if ident.kind == "siret" else dossier.provider_siret
                )
        choice = self.provider(ident)
        if not following.may_follow(self.actor) and not self._followed(choice):
            raise rules.RuleError(following.NOT_FOLLOWED)
        if dossier is not None and choice.nda != dossier.provider.nda and _has_pieces(dossier):
            raise rules.RuleError(
                "L'organisme a déjà déposé des pièces dans ce dossier : il ne peut plus être "
                "remplacé par un autre organisme."
            )
        return choice


REFERENCE_TAKEN = "Votre financeur a déjà un dossier avec cette référence."


def _has_pieces(dossier: Dossier) -> bool:
    return (
        db.session.scalar(select(Piece.id).where(Piece.dossier_id == dossier.id).limit(1))
        is not None
    )


def _require_funder_side(actor: User) -> None:
    if not is_funder_side(actor) or actor.funder_id is None:
        raise NotAllowed


def _missing_due(data: rules.DossierData) -> date | None:
    """The first due date of a new dossier's calendar (no piece received yet)."""
    return first_missing_due(
        expected_pieces(
            data.scheme, data.payment_rhythm, data.start_date, data.end_date, data.instalments
        ),
        (),
    )


def _state(dossier: Dossier) -> dict[str, Any]:
    return {name: getattr(dossier, name) for name in AUDITED_FIELDS}


# --- Creating and editing ----------------------------------------------------------------------


def _new_dossier(
    actor: User,
    data: rules.DossierData,
    choice: ProviderChoice,
    batch: _Batch,
    details: Mapping[str, Any] | None = None,
) -> Dossier:
    provider = _provider_for(actor, choice, batch)
    dossier = Dossier(
        funder_id=actor.funder_id,
        reference=data.reference,
        provider=provider,
        provider_siret=choice.siret,
        beneficiary_last_name=data.beneficiary_last_name,
        beneficiary_first_name=data.beneficiary_first_name,
        action_title=data.action_title,
        category=data.category,
        scheme=data.scheme,
        rncp_code=data.rncp_code,
        modality=data.modality,
        start_date=data.start_date,
        end_date=data.end_date,
        planned_minutes=data.planned_minutes,
        agreed_amount=data.agreed_amount,
        payment_rhythm=data.payment_rhythm,
        instalments=data.instalments,
        subcontracted=data.subcontracted,
        status=DossierStatus.OPEN.value,
        first_missing_due=_missing_due(data),
        created_by_id=actor.id,
    )
    db.session.add(dossier)
    audit.record(
        "dossier.created",
        actor=actor,
        target=dossier,
        funder_id=actor.funder_id,
        details={"after": _state(dossier), **(details or {})},
    )
    return dossier


def create_dossier(actor: User, data: Mapping[str, Any]) -> Dossier:
    """Create a dossier of the actor's funder from raw values (a form's or a file line's).

    Raises Refused with the messages by field, NotAllowed off the funder side.
    """
    _require_funder_side(actor)
    checker = _Checker(actor)
    clean, choice, errors = checker.check(data)
    if errors:
        raise Refused(errors)
    assert clean is not None and choice is not None
    dossier = _new_dossier(actor, clean, choice, checker.batch())
    _dossiers_created([dossier])
    return dossier


def update_dossier(
    actor: User, dossier: Dossier, data: Mapping[str, Any], expected_version: int
) -> Dossier:
    """Apply an edit made on version `expected_version`; Stale if that is not the
    current one, Refused on broken rules. Audited with the values before and after."""
    if not can_edit_dossier(actor, dossier):
        raise NotAllowed
    if dossier.version != expected_version:
        raise Stale
    checker = _Checker(actor)
    clean, choice, errors = checker.check(data, dossier)
    if errors:
        raise Refused(errors)
    assert clean is not None and choice is not None
    before = _state(dossier)
    provider = _provider_for(actor, choice, checker.batch())
    dossier.provider = provider
    dossier.provider_id = provider.id
    dossier.provider_siret = choice.siret
    for name in ASSIGNED_FIELDS:
        setattr(dossier, name, getattr(clean, name))
    if clean.status is not None:
        dossier.status = clean.status
    if not dossier.subcontracted or dossier.provider_id != before["provider_id"]:
        # The OF's subcontracting contract no longer covers it (see portal.subcontracting).
        dossier.subcontract_id = None
    after = _state(dossier)
    if any(before[name] != after[name] for name in (*CALENDAR_FIELDS, "status")):
        # The pieces' rule: from the current pieces, and None unless the dossier is open.
        recompute_first_missing_due(dossier)
    changed = audit.changes(before, after, AUDITED_FIELDS)
    if changed:
        audit.record(
            "dossier.updated",
            actor=actor,
            target=dossier,
            funder_id=dossier.funder_id,
            details=changed,
        )
        _dossiers_changed([dossier])
    return dossier


def form_values(dossier: Dossier) -> dict[str, Any]:
    """The raw values of an existing dossier, as its edit form shows them."""
    return {
        "reference": dossier.reference,
        "provider": dossier.provider_siret or dossier.provider.nda,
        "beneficiary_last_name": dossier.beneficiary_last_name,
        "beneficiary_first_name": dossier.beneficiary_first_name,
        "action_title": dossier.action_title,
        "category": dossier.category,
        "scheme": dossier.scheme,
        "rncp_code": dossier.rncp_code or "",
        "modality": dossier.modality,
        "start_date": dossier.start_date.isoformat(),
        "end_date": dossier.end_date.isoformat(),
        "planned_hours": french_hours(dossier.planned_minutes),
        "agreed_amount": french_decimal(dossier.agreed_amount),
        "payment_rhythm": dossier.payment_rhythm,
        "instalments": str(dossier.instalments) if dossier.instalments else "",
        "subcontracted": dossier.subcontracted,
        "status": dossier.status,
    }


def french_hours(minutes: int | None) -> str:
    """810 → "13h30", 840 → "14": a duration as its form field shows it (read back as is)."""
    if minutes is None:
        return ""
    whole, rest = divmod(minutes, 60)
    return f"{whole}h{rest:02d}" if rest else str(whole)


def french_decimal(value: Decimal | None, *, trim: bool = False) -> str:
    """1234.50 → "1234,50" (and 35.00 → "35" with `trim`)."""
    if value is None:
        return ""
    text = f"{value:.2f}"
    if trim and text.endswith(".00"):
        text = text[:-3]
    return text.replace(".", ",")


# --- Import ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportLine:
    """A line of the file: its number (as a spreadsheet shows it) and its values by field."""

    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class LineError:
    line: int
    column: str  # the column's header in the file
    message: str


@dataclass
class ImportReport:
    lines: int = 0
    created: list[Dossier] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def import_dossiers(actor: User, rows: Sequence[ImportLine], *, filename: str = "") -> ImportReport:
    """Create every dossier of `rows`, or none: every line is checked first, and if any has
    an error nothing is created and the report lists them by line and column."""
    _require_funder_side(actor)
    report = ImportReport(lines=len(rows))
    checker = _Checker(actor, taken=_taken_references(actor, rows))
    seen: dict[str, int] = {}
    checked: list[tuple[ImportLine, rules.DossierData, ProviderChoice]] = []
    for row in rows:
        clean, choice, errors = checker.check(row.values)
        try:
            reference = rules.parse_reference(row.values.get("reference"))
        except rules.RuleError:
            reference = None
        if reference is not None:
            if reference in seen:
                errors.setdefault("reference", []).append(
                    f"Référence déjà utilisée ligne {seen[reference]} de ce fichier."
                )
            else:
                seen[reference] = row.line
        for name, messages in errors.items():
            for message in messages:
                report.errors.append(LineError(row.line, HEADER_OF_FIELD.get(name, name), message))
        if not errors and clean is not None and choice is not None:
            checked.append((row, clean, choice))
    if report.errors:
        return report
    batch = checker.batch()
    unchecked: list[Dossier] = []
    for count, (row, clean, choice) in enumerate(checked, start=1):
        dossier = _new_dossier(
            actor, clean, choice, batch, {"import": filename or "fichier", "line": row.line}
        )
        report.created.append(dossier)
        unchecked.append(dossier)
        if count % 100 == 0:
            # Checked while in the session, then let go (see _release_written).
            _dossiers_created(unchecked)
            unchecked = []
            _release_written()
    audit.record(
        "dossier.imported",
        actor=actor,
        funder_id=actor.funder_id,
        details={
            "filename": filename,
            "count": len(report.created),
            "references": [d.reference for d in report.created[:1000]],
        },
    )
    _dossiers_created(unchecked)
    return report


def _dossiers_changed(dossiers: Sequence[Dossier]) -> None:
    """Tell the domains built on dossiers (the service-fait checks), in this transaction."""
    db.session.flush()
    signals.dossiers_changed.send(None, dossier_ids=[d.id for d in dossiers])


def _dossiers_created(dossiers: Sequence[Dossier]) -> None:
    """Tell the domains built on dossiers that these were created (with no piece yet)."""
    db.session.flush()
    signals.dossiers_created.send(None, dossiers=list(dossiers))


def _release_written() -> None:
    """Detach the dossiers and audit events already written by a long import.

    Each audit event updates the log's head with an ORM UPDATE that compares every object
    of the session: without this, an import's time grows with the square of its lines.
    They stay in the transaction (committed or rolled back with it) and readable.
    """
    db.session.flush()
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Dossier | AuditEvent):
            db.session.expunge(obj)


def _taken_references(actor: User, rows: Sequence[ImportLine]) -> set[str]:
    """The references of the file that the funder already uses (a query per 500)."""
    wanted = sorted({str(row.values.get("reference") or "").strip() for row in rows} - {""})
    taken: set[str] = set()
    for start in range(0, len(wanted), 500):
        taken.update(
            db.session.scalars(
                select(Dossier.reference).where(
                    Dossier.funder_id == actor.funder_id,
                    Dossier.reference.in_(wanted[start : start + 500]),
                )
            )
        )
    return taken


# --- Reading the import file ---------------------------------------------------------------------

ACCEPTED = "déposez un fichier CSV ou XLSX (par exemple le modèle proposé sur cette page)"


_HEADER_NAMES: dict[str, str] = {}
for _header, _name, _required in IMPORT_COLUMNS:
    _HEADER_NAMES[_fold_header(_header)] = _name
    _HEADER_NAMES[_fold_header(rules.FIELD_LABELS[_name])] = _name
    _HEADER_NAMES[_fold_header(_name)] = _name


def read_import(data: bytes) -> tuple[list[ImportLine], list[str]]:
    """The lines of an uploaded CSV or XLSX file, and the names of ignored columns.

    Raises Refused (a French message) when the whole file cannot be read.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise Refused(f"Le fichier dépasse {MAX_IMPORT_BYTES // (1024 * 1024)} Mo : découpez-le.")
    if not data.strip():
        raise Refused(f"Le fichier est vide : {ACCEPTED}.")
    if is_xlsx(data):
        rows, xlsx = _xlsx_rows(data), True
    else:
        try:
            text = decode_csv(data, accepted=ACCEPTED)
        except NotATable as refusal:
            raise Refused(str(refusal)) from None
        rows, xlsx = _csv_rows(text), False
    header: list[str] | None = None
    columns: list[str | None] = []
    ignored: list[str] = []
    lines: list[ImportLine] = []
    for number, cells in rows:
        if not any(_blank(cell) is False for cell in cells):
            continue
        if header is None:
            header = [str(cell or "").strip() for cell in cells]
            columns, ignored = _columns(header)
            continue
        values: dict[str, Any] = {}
        for index, name in enumerate(columns):
            if name is None:
                continue
            cell = cells[index] if index < len(cells) else None
            if xlsx and name == "provider" and _lost_zero(cell):
                cell = f"0{int(cell)}"  # an NDA typed as a number lost its leading 0
            values[name] = cell
        lines.append(ImportLine(number, values))
        if len(lines) > MAX_IMPORT_LINES:
            raise Refused(
                f"Le fichier compte plus de {formatting.number(MAX_IMPORT_LINES)} dossiers : "
                "découpez-le en plusieurs fichiers."
            )
    if header is None:
        raise Refused(f"Le fichier ne contient aucune ligne : {ACCEPTED}.")
    if not lines:
        raise Refused(
            "Le fichier ne contient que la ligne des noms de colonnes : ajoutez un dossier "
            "par ligne en dessous."
        )
    return lines, ignored


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _lost_zero(cell: Any) -> bool:
    if isinstance(cell, bool) or not isinstance(cell, int | float):
        return False
    return float(cell).is_integer() and 1_000_000_000 <= cell < 10_000_000_000


def _columns(header: list[str]) -> tuple[list[str | None], list[str]]:
    columns: list[str | None] = []
    ignored: list[str] = []
    seen: set[str] = set()
    for text in header:
        name = _HEADER_NAMES.get(_fold_header(text))
        if name is not None and name in seen:
            raise Refused(
                f"La colonne « {HEADER_OF_FIELD[name]} » figure deux fois dans la première "
                "ligne : gardez-en une."
            )
        if name is None and text:
            ignored.append(text)
        if name is not None:
            seen.add(name)
        columns.append(name)
    missing = [header for header, name, required in IMPORT_COLUMNS if required and name not in seen]
    if missing:
        raise Refused(
            "Colonnes obligatoires absentes de la première ligne : "
            + ", ".join(missing)
            + ". Partez du modèle proposé sur cette page."
        )
    return columns, ignored


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    refused = Refused(
        f"Le fichier est une archive ZIP mais pas un classeur XLSX lisible : {ACCEPTED}."
    )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise refused from None
    if unpacked > MAX_XLSX_UNPACKED:
        raise Refused("Le classeur est trop volumineux une fois décompressé.")
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds of errors on a file it cannot read
        raise refused from None
    try:
        if not workbook.worksheets:
            raise refused
        try:
            rows = list(workbook.worksheets[0].iter_rows(values_only=True))
        except Exception:
            raise refused from None
    finally:
        workbook.close()
    for number, row in enumerate(rows, start=1):
        yield number, [cell.strip() if isinstance(cell, str) else cell for cell in row]


# --- Import template ---------------------------------------------------------------------------


def template_csv() -> bytes:
    headers = [header for header, _, _ in IMPORT_COLUMNS]
    return exports.to_csv(headers, [TEMPLATE_EXAMPLE])


def template_xlsx() -> bytes:
    headers = [header for header, _, _ in IMPORT_COLUMNS]
    return exports.to_xlsx(headers, [TEMPLATE_EXAMPLE], "Dossiers")


# --- List --------------------------------------------------------------------------------------

#: Sort keys of the list (`-key`: descending).
SORTS: dict[str, Any] = {
    "reference": Dossier.reference,
    "debut": Dossier.start_date,
    "organisme": Provider.name,
    "montant": Dossier.agreed_amount,
    "manquant": Dossier.first_missing_due,
}
DEFAULT_SORT = "-debut"


@dataclass(frozen=True)
class DossierFilters:
    q: str = ""  # a reference or a beneficiary's last name (beginning)
    of: str = ""  # the OF: its name, or its SIRET, SIREN or NDA
    status: str = ""
    scheme: str = ""
    start: date | None = None  # period [start, end]: dossiers that overlap it
    end: date | None = None
    missing: bool = False  # an expected piece is due and missing

    def conditions(self, today: date | None = None) -> list[Any]:
        today = today or clock.today()
        conditions: list[Any] = []
        if self.q.strip():
            needle = self.q.strip()
            condition = _reference_prefix(needle)
            if not any(ch.isdigit() for ch in needle):  # a name has no digit
                condition = or_(condition, _last_name_prefix(needle))
            conditions.append(condition)
        if self.of.strip():
            conditions.append(_of_condition(self.of.strip()))
        if self.status:
            conditions.append(Dossier.status == self.status)
        if self.scheme:
            conditions.append(Dossier.scheme == self.scheme)
        if self.end is not None:
            conditions.append(Dossier.start_date <= self.end)
        if self.start is not None:
            conditions.append(Dossier.end_date >= self.start)
        if self.missing:
            conditions.append(Dossier.missing_pieces_on(today))
        return conditions


def _reference_prefix(needle: str) -> Any:
    """References that start with `needle`, case as typed (as LIKE on PostgreSQL). On
    SQLite, GLOB keeps that case-sensitivity and lets the (funder, reference) index serve
    the search; LIKE there ignores case and reads every dossier of the funder."""
    if db.session.get_bind().dialect.name == "sqlite":
        return Dossier.reference.op("GLOB")(re.sub(r"([*?\[])", r"[\1]", needle) + "*")
    return Dossier.reference.startswith(needle, autoescape=True)


def _last_name_prefix(needle: str) -> Any:
    """Beneficiaries whose last name starts with `needle`, whatever the case, in a shape
    the (funder, lower(name)) index serves: on SQLite a range of lower(name) (its LIKE
    cannot use an index on an expression; SQLite's binary order is the code points', so
    every name that starts with the prefix sorts between it and the prefix followed by
    the last code point), on PostgreSQL a LIKE prefix (the index has the pattern
    operators)."""
    lowered = func.lower(Dossier.beneficiary_last_name)
    prefix = needle.lower()
    if db.session.get_bind().dialect.name == "sqlite":
        return and_(lowered >= prefix, lowered < prefix + "\U0010ffff")
    return lowered.startswith(prefix, autoescape=True)


MAX_OF_IDS = 500


def _of_condition(text: str) -> Any:
    """The dossiers of the OF named by `text`: its NDA, SIREN or SIRET, or part of its name.

    The OF's ids are looked up first (one small query), so that the database reads the
    dossiers through the OF index rather than every dossier of the funder; a name that
    matches very many OF falls back to a subquery.
    """
    try:
        ident = classify(text)
    except InvalidIdentifier:
        ident = None
    if ident is None:
        providers = select(Provider.id).where(
            func.lower(Provider.name).contains(text.lower(), autoescape=True)
        )
    elif ident.kind == "nda":
        providers = select(Provider.id).where(Provider.nda == ident.value)
    else:  # a SIREN, or a SIRET: the OF of its SIREN
        providers = select(Provider.id).where(Provider.siren == ident.value[:9])
    ids = db.session.scalars(providers.limit(MAX_OF_IDS + 1)).all()
    condition = Dossier.provider_id.in_(ids if len(ids) <= MAX_OF_IDS else providers)
    if ident is not None and ident.kind == "siret":
        # That establishment: recorded on the dossier, or the OF's declaring one.
        declaring = select(Provider.id).where(Provider.siret == ident.value)
        condition = and_(
            condition,
            or_(Dossier.provider_siret == ident.value, Dossier.provider_id.in_(declaring)),
        )
    return condition


def parse_sort(sort: str | None) -> str:
    sort = sort or DEFAULT_SORT
    return sort if sort.lstrip("-") in SORTS else DEFAULT_SORT


def _order(sort: str | None) -> tuple[Any, ...]:
    """The ORDER BY of a sort key (the query joins the OF's table for "organisme")."""
    key = parse_sort(sort)
    descending = key.startswith("-")
    name = key.lstrip("-")
    column = SORTS[name]
    order = column.desc() if descending else column.asc()
    if name == "manquant":
        order = order.nulls_last()
    return order, Dossier.id.desc() if descending else Dossier.id.asc()


def _where(actor: User, filters: DossierFilters, today: date | None = None) -> list[Any]:
    """The conditions of the actor's scope (`dossiers_scope`) and of the filters."""
    scope = dossiers_scope(actor).whereclause
    return [*([scope] if scope is not None else []), *filters.conditions(today)]


@dataclass(frozen=True)
class Page(PageNumbers):
    items: list[Dossier]
    total: int
    page: int
    per_page: int


def list_dossiers(
    actor: User,
    filters: DossierFilters,
    sort: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page:
    """One page of the dossiers the actor may see, filtered and sorted, with their OF.

    Three queries whatever the page: the count, the page's ids (sorted on narrow rows: ids
    and sort keys), then those dossiers with their OF. (One query with ``count(*) OVER ()``
    was measured slower on both SQLite and PostgreSQL: it defeats the top-N sort.)
    """
    where = _where(actor, filters)
    total = db.session.scalar(select(func.count(Dossier.id)).where(*where)) or 0
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    ids_query = select(Dossier.id).where(*where)
    if parse_sort(sort).lstrip("-") == "organisme":
        ids_query = ids_query.join(Provider, Provider.id == Dossier.provider_id)
    ids = list(
        db.session.scalars(
            ids_query.order_by(*_order(sort)).limit(per_page).offset((page - 1) * per_page)
        )
    )
    by_id: dict[int, Dossier] = {}
    if ids:
        by_id = {
            d.id: d
            for d in db.session.scalars(
                select(Dossier).options(joinedload(Dossier.provider)).where(Dossier.id.in_(ids))
            )
        }
    return Page([by_id[i] for i in ids if i in by_id], total, page, per_page)


# --- Export ------------------------------------------------------------------------------------


def export_rows(
    actor: User, filters: DossierFilters, sort: str | None = None, today: date | None = None
) -> Iterator[tuple[Any, ...]]:
    """The rows of the export, in :data:`EXPORT_COLUMNS` order, with Python values."""
    today = today or clock.today()
    query = (
        select(
            Dossier.reference,
            Provider.nda,
            Dossier.provider_siret,
            Provider.name,
            Dossier.beneficiary_last_name,
            Dossier.beneficiary_first_name,
            Dossier.action_title,
            Dossier.category,
            Dossier.scheme,
            Dossier.rncp_code,
            Dossier.modality,
            Dossier.start_date,
            Dossier.end_date,
            Dossier.planned_minutes,
            Dossier.agreed_amount,
            Dossier.payment_rhythm,
            Dossier.instalments,
            Dossier.subcontracted,
            Dossier.status,
            Dossier.first_missing_due,
            Dossier.created_at,
            Dossier.id,
        )
        .select_from(Dossier)
        .join(Provider, Provider.id == Dossier.provider_id)
        .where(*_where(actor, filters, today))
        .order_by(*_order(sort))
    )
    for row in db.session.execute(query.execution_options(yield_per=2000)):
        (*head, missing_due, created_at, dossier_id) = row
        head[PLANNED_COLUMN] = formatting.hours_decimal(head[PLANNED_COLUMN])
        yield (
            *head,
            missing_due,
            missing_due is not None and missing_due <= today,
            clock.local(created_at).date() if isinstance(created_at, datetime) else created_at,
            dossier_id,
        )


def to_csv(rows: Iterable[Sequence[Any]]) -> bytes:
    return exports.to_csv(EXPORT_COLUMNS, rows)


def to_xlsx(rows: Iterable[Sequence[Any]]) -> bytes:
    return exports.to_xlsx(EXPORT_COLUMNS, rows, "Dossiers")


# --- Keyset pages (the API) ---------------------------------------------------------------------


def dossiers_after(
    actor: User,
    filters: DossierFilters,
    *,
    after_id: int,
    limit: int,
    updated_since: datetime | None = None,
) -> list[Dossier]:
    """Up to `limit` dossiers the actor may see, filtered, in id order after `after_id`,
    with their OF. Ids only grow: a dossier created while a client pages through the list
    comes at the end, so that no page skips or repeats one."""
    where = _where(actor, filters)
    if updated_since is not None:
        where.append(Dossier.updated_at >= updated_since)
    return list(
        db.session.scalars(
            select(Dossier)
            .options(joinedload(Dossier.provider))
            .where(*where, Dossier.id > after_id)
            .order_by(Dossier.id)
            .limit(limit)
        )
    )
