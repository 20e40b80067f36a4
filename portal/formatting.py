"""How the portal writes numbers, dates and labels for French readers: one way each.

Pure functions, registered once as Jinja filters by `init_app`; Python text meant for users
(flash messages, mails, PDFs, findings) calls the same functions. Values stay as stored:
these only write them.

    money      1234.5            → « 1 234,50 € »
    hours      13.5 / 14         → « 13 h 30 » / « 14 h »   (decimal hours)
    minutes    810 / 840         → « 13 h 30 » / « 14 h »   (durations as the portal keeps them)
    number     1234              → « 1 234 »
    decimal    1234.5            → « 1 234,5 »
    percent    0.125 / 0.6       → « 12,5 % » / « 60,0 % »
    date       date(2026, 12, 7) → « 07/12/2026 »   (an instant: its day in Paris)
    datetime   an instant        → « 07/12/2026 à 14:05 »   (Paris time)
    period     start, end        → « du 01/03/2026 au 31/03/2026 »
    month      date(2026, 3, 1)  → « mars 2026 »
    size       18637             → « 18,2 Ko »
    seconds    1500 (ms)         → « 1,5 s »
    plural     3, pièce, pièces  → « 3 pièces »  (0 and 1 are singular in French)
    label      value, labels     → labels[value], else the value itself

Thousands are separated by a narrow no-break space (U+202F); a unit follows its number
after a no-break space (U+00A0). Nothing (None) is written "" — the caller says "—" where
a table wants it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from portal import clock
from portal.regions import region_name

if TYPE_CHECKING:
    from flask import Flask

NNBSP = "\u202f"  # between thousands
NBSP = "\u00a0"  # between a number and its unit

Number = int | float | Decimal

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def _decimal(value: Number | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def number(value: Number | None) -> str:
    """A count: 1234 → « 1 234 »."""
    if value is None:
        return ""
    return f"{int(value):,}".replace(",", NNBSP)


def decimal(value: Number | str | None, places: int = 2) -> str:
    """1234.5 → « 1 234,5 », 35.00 → « 35 » (at most `places` decimals, trailing zeros
    dropped)."""
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-places)
    rounded = _decimal(value).quantize(quantum, ROUND_HALF_UP)
    whole, _, fraction = f"{rounded:,.{places}f}".replace(",", NNBSP).partition(".")
    fraction = fraction.rstrip("0")
    return f"{whole},{fraction}" if fraction else whole


def money(value: Number | str | None) -> str:
    """1234.5 → « 1 234,50 € » (to the cent)."""
    if value is None:
        return ""
    rounded = _decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{rounded:,.2f}".replace(",", NNBSP).replace(".", ",") + f"{NBSP}€"


def hours(value: Number | str | None) -> str:
    """14 → « 14 h », 13.5 → « 13 h 30 », 0.25 → « 0 h 15 », 1085 → « 1 085 h » (to the
    nearest minute)."""
    if value is None:
        return ""
    return minutes(int((_decimal(value) * 60).to_integral_value(ROUND_HALF_UP)))


def minutes(value: int | None) -> str:
    """A duration kept in whole minutes: 810 → « 13 h 30 », 840 → « 14 h », 15 → « 0 h 15 »,
    65100 → « 1 085 h »."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(int(value)), 60)
    text = f"{sign}{number(whole)}{NBSP}h"
    return f"{text}{NBSP}{rest:02d}" if rest else text


def hours_decimal(value: int | None) -> Decimal | None:
    """Minutes as decimal hours to the hundredth, for spreadsheets: 810 → 13.50, 440 → 7.33."""
    if value is None:
        return None
    return (Decimal(int(value)) / 60).quantize(Decimal("0.01"), ROUND_HALF_UP)


def percent(rate: Number | str | None, places: int = 1) -> str:
    """0.125 → « 12,5 % », 0.6 → « 60,0 % » (a rate, not a number of percents; always
    `places` decimals, so that rates compared side by side line up)."""
    if rate is None:
        return ""
    quantum = Decimal(1).scaleb(-places)
    value = (_decimal(rate) * 100).quantize(quantum, ROUND_HALF_UP)
    return f"{value:,.{places}f}".replace(",", NNBSP).replace(".", ",") + f"{NBSP}%"


def _day(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return _local(value).date()
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _local(moment: datetime) -> datetime:
    """Paris time; a naive instant is one of the stored UTC ones."""
    return clock.local(moment)


def date_fr(value: date | datetime | str | None) -> str:
    """« 07/12/2026 »: a day, an ISO day, or the day of an instant in Paris."""
    if value is None or value == "":
        return ""
    day = _day(value)
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def datetime_fr(moment: datetime | None, seconds: bool = False) -> str:
    """« 07/12/2026 à 14:05 » in Paris time (« 14:05:09 » with `seconds`)."""
    if moment is None:
        return ""
    local = _local(moment)
    time = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    return f"{date_fr(local.date())} à {time}"


def time_fr(moment: datetime | None) -> str:
    """« 14:05 » in Paris time."""
    if moment is None:
        return ""
    return f"{_local(moment):%H:%M}"


def period(start: date | datetime | str | None, end: date | datetime | str | None) -> str:
    """« du 01/03/2026 au 31/03/2026 » (an open end: « depuis le 01/03/2026 »)."""
    if start is None and end is None:
        return ""
    if end is None:
        return f"depuis le {date_fr(start)}"
    if start is None:
        return f"jusqu'au {date_fr(end)}"
    return f"du {date_fr(start)} au {date_fr(end)}"


def period_of(item: Any) -> str:
    """The period of an object with `period_start` and `period_end` (a piece, a request)."""
    return period(item.period_start, item.period_end)


def month(value: date | datetime | None) -> str:
    """« mars 2026 »."""
    if value is None:
        return ""
    day = _day(value)
    return f"{MONTHS[day.month - 1]} {day.year}"


def size(size_bytes: int | None) -> str:
    """« 10 Mo », « 1,5 Mo », « 18,2 Ko », « 500 octets » (1 Mo = 1024 Ko; a plain space,
    as the upload messages have always written it)."""
    if size_bytes is None:
        return ""
    for unit, factor in (("Mo", 1024 * 1024), ("Ko", 1024)):
        if size_bytes >= factor:
            return f"{decimal(Decimal(size_bytes) / factor, 1)} {unit}"
    return f"{number(size_bytes)} {'octet' if size_bytes < 2 else 'octets'}"


def seconds(milliseconds: Number | None) -> str:
    """A duration in milliseconds, in seconds to the tenth: 1500 → « 1,5 s »."""
    if milliseconds is None:
        return ""
    return f"{decimal(_decimal(milliseconds) / 1000, 1)}{NBSP}s"


def plural(count: int | None, singular: str, plural_form: str) -> str:
    """« 0 pièce », « 1 pièce », « 3 pièces », « 1 234 pièces »."""
    count = count or 0
    return f"{number(count)} {singular if abs(count) < 2 else plural_form}"


def label(value: Any, labels: Mapping[Any, str], default: str | None = None) -> str:
    """The label of a stored value (an enum member or its value); else `default`, else the
    value itself."""
    if value is None:
        return default if default is not None else ""
    key = value.value if isinstance(value, Enum) else value
    for candidate in (value, key, str(key)):
        try:
            if candidate in labels:
                return labels[candidate]
        except TypeError:
            continue
    for known, text in labels.items():
        if isinstance(known, Enum) and known.value == key:
            return text
    return default if default is not None else str(key)


FILTERS = {
    "money": money,
    "hours": hours,
    "minutes": minutes,
    "number": number,
    "decimal": decimal,
    "percent": percent,
    "date": date_fr,
    "datetime": datetime_fr,
    "time": time_fr,
    "period": period,
    "period_of": period_of,
    "month": month,
    "size": size,
    "seconds": seconds,
    "plural": plural,
    "label": label,
    "region_name": region_name,
}


def init_app(app: Flask) -> None:
    """Register every formatting function as a Jinja filter (`{{ x | money }}`)."""
    for name, function in FILTERS.items():
        app.add_template_filter(function, name)
