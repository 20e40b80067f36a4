"""Page numbers of a paginated list, shared by every list page and its pager macro."""

from __future__ import annotations

import math


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
