"""When is a signalement substantiated (*étayé*)? Pure rules, no database.

A signalement may only be sent when it states the facts (what, when, where or which
dossiers), names at least one RNQ indicator, and carries at least one piece of evidence
(the rules of the field, "Signalements"). `check` says, field by field, what is still
missing, so that the form shows it while it is being filled in, and the sending refuses
what is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from portal import formatting, rnq
from portal.models.signalements import Seriousness

MIN_FACTS_LENGTH = 20
MAX_FACTS_LENGTH = 20_000

MISSING_WHAT = (
    f"Les faits : décrivez ce qui a été constaté (au moins {MIN_FACTS_LENGTH} caractères)."
)
SHORT_WHAT = f"Les faits : la description est trop courte (au moins {MIN_FACTS_LENGTH} caractères)."
MISSING_WHEN = "Quand : indiquez quand les faits ont eu lieu (en clair, ou la période)."
MISSING_WHERE = (
    "Où : indiquez le lieu ou l'action de formation concernée, ou choisissez au moins un dossier."
)
HALF_PERIOD = "Période : indiquez le début et la fin, ou aucune des deux."
REVERSED_PERIOD = "Période : la fin précède le début."
MISSING_INDICATORS = (
    "Indicateurs : choisissez au moins un indicateur du référentiel national qualité."
)
MISSING_EVIDENCE = (
    "Preuves : joignez au moins un élément — une pièce d'un dossier, un résultat de contrôle, "
    "une décision sur facture ou un fichier."
)

#: The checklist's items, in the order of the form: (field, what it is about).
CHECKLIST = (
    ("facts_what", "Les faits"),
    ("facts_when", "Quand"),
    ("facts_where", "Où, quelle action"),
    ("period", "Période"),
    ("indicators", "Indicateurs du référentiel"),
    ("evidence", "Preuves"),
)


@dataclass(frozen=True)
class Facts:
    """What the substantiation depends on, as typed (the form) or as stored (the row)."""

    what: str = ""
    when: str = ""
    where: str = ""
    period_start: date | None = None
    period_end: date | None = None
    indicators: Sequence[int] = ()
    dossier_count: int = 0
    evidence_count: int = 0
    seriousness: str = Seriousness.SERIOUS.value


@dataclass(frozen=True)
class ChecklistItem:
    field: str
    label: str
    ok: bool
    message: str  # what is missing, or what was found


@dataclass
class Substantiation:
    missing: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    items: list[ChecklistItem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def check(facts: Facts) -> Substantiation:
    """What is missing before the signalement may be sent (field → French message), the
    warnings that do not block it, and the checklist to show."""
    result = Substantiation()
    found: dict[str, str] = {}

    what = " ".join(facts.what.split())
    if not what:
        result.missing["facts_what"] = MISSING_WHAT
    elif len(what) < MIN_FACTS_LENGTH:
        result.missing["facts_what"] = SHORT_WHAT
    else:
        found["facts_what"] = "Décrits."

    has_period = facts.period_start is not None and facts.period_end is not None
    if (facts.period_start is None) != (facts.period_end is None):
        result.missing["period"] = HALF_PERIOD
    elif has_period and facts.period_end < facts.period_start:  # type: ignore[operator]
        result.missing["period"] = REVERSED_PERIOD
    else:
        found["period"] = (
            formatting.period(facts.period_start, facts.period_end).capitalize() + "."
            if has_period
            else "Facultative."
        )

    if facts.when.strip() or (has_period and "period" not in result.missing):
        found["facts_when"] = "Indiqué."
    else:
        result.missing["facts_when"] = MISSING_WHEN

    if facts.where.strip() or facts.dossier_count > 0:
        found["facts_where"] = (
            _plural(facts.dossier_count, "dossier concerné.", "dossiers concernés.")
            if facts.dossier_count and not facts.where.strip()
            else "Indiqué."
        )
    else:
        result.missing["facts_where"] = MISSING_WHERE

    indicators = sorted(set(facts.indicators))
    if indicators:
        found["indicators"] = "Indicateur" + ("s " if len(indicators) > 1 else " ")
        found["indicators"] += rnq.short_labels(indicators) + "."
    else:
        result.missing["indicators"] = MISSING_INDICATORS

    if facts.evidence_count > 0:
        found["evidence"] = _plural(facts.evidence_count, "élément joint.", "éléments joints.")
    else:
        result.missing["evidence"] = MISSING_EVIDENCE

    major = [n for n in indicators if rnq.is_major_only(n)]
    if major and facts.seriousness == Seriousness.MODERATE:
        word = "L'indicateur" if len(major) == 1 else "Les indicateurs"
        verb = "ne peut" if len(major) == 1 else "ne peuvent"
        result.warnings.append(
            f"{word} {rnq.short_labels(major)} {verb} donner lieu qu'à une non-conformité "
            "majeure : la gravité « modérée » est peut-être sous-estimée."
        )

    result.items = [
        ChecklistItem(
            name, label, name not in result.missing, result.missing.get(name) or found[name]
        )
        for name, label in CHECKLIST
    ]
    return result
