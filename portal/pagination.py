"""Page numbers of a paginated list, shared by every list page and its pager macro."""

from __future__ import annotations

import math
from collections.abc import Mapping

from portal.routing import bounded_int


class PageNumbers:
    """Mixin for a page of results that has `total`, `page` and `per_page`."""

    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


#: The last page a list answers: beyond it, the offset would outgrow what a database holds.
MAX_PAGE = 100_000


def page_from(args: Mapping[str, str]) -> int:
    """The page number asked for in a query string (``?page=``), from 1 to MAX_PAGE; 1 when
    it is missing or not a whole number ("abc", "-1" and 99999999999999999999 give a page
    that works)."""
    return bounded_int(args.get("page"), 1, low=1, high=MAX_PAGE)
