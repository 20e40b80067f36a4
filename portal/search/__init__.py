"""The search box of the funder's staff: dossiers, their OF, and the public list.

`search(user, text)` answers, grouped by kind, what the user may see: the dossiers of their
funder (by reference or beneficiary's name), the OF their funder follows (by name, SIRET,
SIREN or NDA), and the OF of the public list, which is public. At most `limit` of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_

from portal import clock
from portal.access import dossiers_scope, is_funder_side, providers_scope
from portal.extensions import db
from portal.models import Dossier, Provider, User
from portal.public_list import lookup

MIN_LENGTH = 2
LIMIT = 8


@dataclass
class SearchResults:
    query: str
    dossiers: list[Dossier] = field(default_factory=list)
    providers: list[Provider] = field(default_factory=list)
    public: list[lookup.Match] = field(default_factory=list)
    too_short: bool = False

    @property
    def count(self) -> int:
        return len(self.dossiers) + len(self.providers) + len(self.public)


def _words(text: str) -> list[str]:
    return [word.lower() for word in text.split() if word]


def _like(column, word: str):
    return func.lower(column).contains(word, autoescape=True)


def _digits(text: str) -> str | None:
    """The digits of an identifier typed with spaces or dots, or None if it is not one."""
    compact = "".join(ch for ch in text if ch not in " .")
    return compact if compact.isdigit() else None


def search(user: User, text: str, *, limit: int = LIMIT) -> SearchResults:
    text = " ".join((text or "").split())[:100]
    results = SearchResults(query=text)
    if not is_funder_side(user):
        return results
    if len(text) < MIN_LENGTH:
        results.too_short = bool(text)
        return results
    digits = _digits(text)
    words = _words(text)

    dossiers = dossiers_scope(user).where(
        and_(
            *(
                or_(
                    _like(Dossier.reference, word),
                    _like(Dossier.beneficiary_last_name, word),
                    _like(Dossier.beneficiary_first_name, word),
                )
                for word in words
            )
        )
    )
    results.dossiers = list(db.session.scalars(dossiers.order_by(Dossier.reference).limit(limit)))

    if digits is not None:
        providers = providers_scope(user).where(
            or_(
                Provider.nda.startswith(digits),
                Provider.siret.startswith(digits),
                Provider.siren == digits,
            )
        )
    else:
        providers = providers_scope(user).where(and_(*(_like(Provider.name, w) for w in words)))
    results.providers = list(db.session.scalars(providers.order_by(Provider.name).limit(limit)))

    followed = {provider.nda for provider in results.providers}
    public = lookup.search(text, clock.today(), limit=limit + len(followed))
    results.public = [match for match in public if match.nda not in followed][:limit]
    return results
