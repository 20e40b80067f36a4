"""The rules of a quality control: pure functions, no database, no request.

From the rules of the field, "Non-conformities and indicators":

- A finding per indicator is one of :class:`Finding`. An indicator whose breach can only be
  major (`portal.rnq.MAJOR_ONLY`) cannot be recorded as a minor non-conformity; "non
  applicable" needs a reason.
- Each non-conformity gets a deadline counted from the control date: 6 months for a minor
  (action plan implemented), 3 months for a major (corrective action effective). A date
  that does not exist in the target month falls on its last day (31 August + 6 months =
  28 or 29 February).
- The result counts the findings; several minors may be requalified as one major, at the
  rate of the setting ``QUALITY_MINORS_PER_MAJOR`` (5 by default, *to confirm*; 0 turns the
  requalification off).
- A control with a major non-conformity, or with non-conformities not lifted, is one the
  funder should consider reporting to the ministry (a signalement).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

from portal import rnq

#: The default of the setting QUALITY_MINORS_PER_MAJOR ("to confirm").
DEFAULT_MINORS_PER_MAJOR = 5

MINOR_DEADLINE_MONTHS = 6
MAJOR_DEADLINE_MONTHS = 3
#: The deadline rule as the pages state it.
DEADLINE_RULE_TEXT = (
    f"{MINOR_DEADLINE_MONTHS} mois pour une non-conformité mineure, {MAJOR_DEADLINE_MONTHS} "
    "mois pour une majeure, à compter de la date du contrôle"
)


class Finding(enum.StrEnum):
    CONFORMING = "conforme"
    MINOR = "nc_mineure"
    MAJOR = "nc_majeure"
    NOT_APPLICABLE = "non_applicable"


FINDING_LABELS = {
    Finding.CONFORMING: "Conforme",
    Finding.MINOR: "Non-conformité mineure",
    Finding.MAJOR: "Non-conformité majeure",
    Finding.NOT_APPLICABLE: "Non applicable",
}

NONCONFORMITIES = (Finding.MINOR, Finding.MAJOR)


class NcStatus(enum.StrEnum):
    """Where the corrective action of a non-conformity stands."""

    OPEN = "ouverte"  # waiting for the OF's action plan
    ANSWERED = "reponse"  # the OF answered; the controller has to judge it
    LIFTED = "levee"
    KEPT = "maintenue"  # the controller judged the answer insufficient; the OF answers again


NC_STATUS_LABELS = {
    NcStatus.OPEN: "En attente du plan d'action",
    NcStatus.ANSWERED: "Réponse de l'organisme à examiner",
    NcStatus.LIFTED: "Levée",
    NcStatus.KEPT: "Maintenue",
}


def finding_errors(code: str, finding: str | None, not_applicable_reason: str = "") -> list[str]:
    """What is wrong with recording `finding` for the grid indicator `code` (French; empty
    when it may be recorded). No finding at all is allowed: the row is still to fill."""
    if not finding:
        return []
    try:
        value = Finding(finding)
    except ValueError:
        return [f"« {finding} » n'est pas un constat possible."]
    if value is Finding.MINOR and rnq.code_is_major_only(code):
        return [
            f"« {rnq.code_label(code)} » ne peut donner qu'une non-conformité majeure "
            "(décret n° 2019-565) : une non-conformité mineure n'est pas possible."
        ]
    if value is Finding.NOT_APPLICABLE and not not_applicable_reason.strip():
        return ["Dites pourquoi cet indicateur ne s'applique pas."]
    return []


def add_months(start: date, months: int) -> date:
    """`start` plus `months` months; a day missing from the target month becomes its last."""
    return start + relativedelta(months=months)


def nc_deadline(control_date: date, finding: str | Finding) -> date | None:
    """The date by which a non-conformity must be corrected (None for other findings)."""
    value = Finding(finding)
    if value is Finding.MINOR:
        return add_months(control_date, MINOR_DEADLINE_MONTHS)
    if value is Finding.MAJOR:
        return add_months(control_date, MAJOR_DEADLINE_MONTHS)
    return None


def deadline_months(finding: str | Finding) -> int | None:
    """How many months a non-conformity has to be corrected (None for other findings)."""
    return {Finding.MINOR: MINOR_DEADLINE_MONTHS, Finding.MAJOR: MAJOR_DEADLINE_MONTHS}.get(
        Finding(finding)
    )


def is_overdue(deadline: date | None, status: str | NcStatus, today: date) -> bool:
    """A non-conformity not lifted whose deadline has passed."""
    return deadline is not None and NcStatus(status) is not NcStatus.LIFTED and today > deadline


@dataclass(frozen=True)
class Result:
    assessed: int  # indicators with a finding
    to_fill: int  # indicators of the grid without one yet
    conforming: int
    minors: int
    majors: int
    not_applicable: int
    minors_per_major: int  # 0: no requalification
    requalified_majors: int  # majors that the minors count for
    open_nonconformities: int  # not lifted yet

    @property
    def total_majors(self) -> int:
        return self.majors + self.requalified_majors

    @property
    def complete(self) -> bool:
        return self.to_fill == 0

    @property
    def calls_for_signalement(self) -> bool:
        return self.total_majors > 0 or self.open_nonconformities > 0

    def summary(self) -> str:
        """« 2 NC majeures (dont 1 par requalification de 5 mineures), 6 NC mineures… »."""
        parts = [
            _count(self.conforming, "indicateur conforme", "indicateurs conformes"),
            _count(self.minors, "non-conformité mineure", "non-conformités mineures"),
            _count(self.majors, "non-conformité majeure", "non-conformités majeures"),
            _count(self.not_applicable, "indicateur non applicable", "indicateurs non applicables"),
        ]
        text = ", ".join(parts)
        if self.requalified_majors:
            text += (
                f" ; les {self.minors} non-conformités mineures comptent pour "
                f"{self.requalified_majors} majeure{'s' if self.requalified_majors > 1 else ''} "
                f"(une majeure pour {self.minors_per_major} mineures)"
            )
        if self.to_fill:
            text += " ; " + _count(
                self.to_fill, "indicateur à renseigner", "indicateurs à renseigner"
            )
        return text + "."


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number <= 1 else many}"


@dataclass(frozen=True)
class Row:
    """One grid row as the result needs it."""

    finding: str | None
    nc_status: str | None = None


def requalified(minors: int, minors_per_major: int) -> int:
    """How many majors `minors` minor non-conformities count for (0 when the setting is 0)."""
    if minors_per_major <= 0:
        return 0
    return minors // minors_per_major


def result(rows: Iterable[Row], minors_per_major: int = DEFAULT_MINORS_PER_MAJOR) -> Result:
    counts = dict.fromkeys(Finding, 0)
    to_fill = open_ncs = 0
    for row in rows:
        if not row.finding:
            to_fill += 1
            continue
        value = Finding(row.finding)
        counts[value] += 1
        if value in NONCONFORMITIES and row.nc_status != NcStatus.LIFTED:
            open_ncs += 1
    minors = counts[Finding.MINOR]
    return Result(
        assessed=sum(counts.values()),
        to_fill=to_fill,
        conforming=counts[Finding.CONFORMING],
        minors=minors,
        majors=counts[Finding.MAJOR],
        not_applicable=counts[Finding.NOT_APPLICABLE],
        minors_per_major=max(minors_per_major, 0),
        requalified_majors=requalified(minors, minors_per_major),
        open_nonconformities=open_ncs,
    )
