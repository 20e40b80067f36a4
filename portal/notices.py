"""The notices a page shows above its content ("3 demandes de pièces attendent votre
réponse"), from one registry.

Each domain registers, once, a source: a function of the signed-in user that returns its
notices for a page (often none: it queries only what that user may see). A page's route
asks `notices_for(user, page)` and passes the list to its template, which includes each
notice's partial with `notice` in scope. Templates never query for notices themselves, and
`portal/` core modules do not import the domains: the blueprints register their sources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from portal.models import User

HOME = "home"  # the home page
MY_DOSSIERS = "dossiers.mine"  # the OF's "Mes dossiers"


@dataclass(frozen=True)
class Notice:
    """One notice: the partial that writes it and what it needs."""

    name: str  # stable, for ids and tests ("document_requests")
    template: str  # "service_fait/_provider_notice.html"
    data: Mapping[str, Any] = field(default_factory=dict)


Source = Callable[[User], Sequence[Notice]]


class NoticeRegistry:
    """Sources of notices by page, shown by `order`, then in the order registered."""

    def __init__(self) -> None:
        self._sources: dict[str, dict[str, tuple[int, Source]]] = {}

    def register(
        self, name: str, source: Source, pages: Sequence[str] = (HOME,), order: int = 100
    ) -> None:
        """Register `source` under `name` for `pages` (registering a name again replaces
        it, so a blueprint imported twice does not show its notice twice)."""
        for page in pages:
            self._sources.setdefault(page, {})[name] = (order, source)

    def source(
        self, name: str, pages: Sequence[str] = (HOME,), order: int = 100
    ) -> Callable[[Source], Source]:
        """The decorator form of `register`."""

        def decorate(function: Source) -> Source:
            self.register(name, function, pages, order)
            return function

        return decorate

    def pages(self) -> list[str]:
        return sorted(self._sources)

    def names(self, page: str = HOME) -> list[str]:
        """The sources of `page`, in the order their notices are shown."""
        entries = self._sources.get(page, {})
        return sorted(entries, key=lambda name: entries[name][0])

    def notices_for(self, user: User, page: str = HOME) -> list[Notice]:
        """Every notice of `page` for `user`, source by source."""
        entries = self._sources.get(page, {})
        found: list[Notice] = []
        for name in self.names(page):
            found.extend(entries[name][1](user))
        return found


registry = NoticeRegistry()
register = registry.register
source = registry.source
notices_for = registry.notices_for
