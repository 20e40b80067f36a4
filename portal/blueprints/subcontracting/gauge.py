"""The geometry of the ceiling gauge, an SVG drawn by the server (`_gauge.html`).

A horizontal scale from 0 to 120 %: the ratio to date as a solid bar, its projection at
the end of the period as a hatched bar, the warning rate and the 80 % ceiling as labelled
marks, the zone above the ceiling cross-hatched. Every value is also written as text, so
the gauge reads without colour (and without the drawing).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.subcontracting.rules import CEILING_RATE, OUTCOME_LABELS, Ceiling, Outcome

SCALE_MAX = Decimal("1.2")
LEFT = 10
WIDTH = 580

LEVEL_LABELS = {
    Outcome.PASS: "Sous le seuil d'alerte",
    Outcome.WARNING: "Alerte",
    Outcome.FAIL: "Plafond dépassé",
    Outcome.UNKNOWN: "Non vérifiable",
    Outcome.NOT_APPLICABLE: "Sans objet",
}


def _x(rate: Decimal) -> float:
    clipped = min(max(rate, Decimal(0)), SCALE_MAX)
    return round(LEFT + WIDTH * float(clipped / SCALE_MAX), 1)


@dataclass(frozen=True)
class Gauge:
    ceiling: Ceiling
    warning_rate: Decimal

    @property
    def key(self) -> str:
        return f"jauge-{self.ceiling.year}"

    @property
    def level(self) -> str:
        return LEVEL_LABELS.get(self.ceiling.outcome, OUTCOME_LABELS[self.ceiling.outcome])

    @property
    def origin(self) -> float:
        return LEFT

    @property
    def end(self) -> float:
        return LEFT + WIDTH

    @property
    def warning_x(self) -> float:
        return _x(self.warning_rate)

    @property
    def ceiling_x(self) -> float:
        return _x(CEILING_RATE)

    @property
    def ratio_x(self) -> float | None:
        return _x(self.ceiling.ratio) if self.ceiling.ratio is not None else None

    @property
    def projection_x(self) -> float | None:
        return _x(self.ceiling.projection) if self.ceiling.projection is not None else None

    @property
    def overflow(self) -> bool:
        values = (self.ceiling.ratio, self.ceiling.projection)
        return any(v is not None and v > SCALE_MAX for v in values)

    @property
    def warning_label(self) -> str:
        return f"{int(self.warning_rate * 100)} %"

    @property
    def description(self) -> str:
        ceiling = self.ceiling
        parts = [f"Plafond CPF {ceiling.year} : {self.level}."]
        if ceiling.ratio is not None:
            parts.append(f"Taux à date {ceiling.ratio_label}.")
        if ceiling.projection is not None and ceiling.projection != ceiling.ratio:
            parts.append(f"Projection en fin de période {ceiling.projection_label}.")
        parts.append(f"Alerte à {self.warning_label}, plafond à 80 %.")
        return " ".join(parts)
