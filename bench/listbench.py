"""Measuring a list page scenario by scenario (shared by the list benches); prints, never
asserts.

A scenario is a name, a query string and whether it is asked as an HTMX fragment. Each is
asked once to warm the caches, then `repeat` times through the Flask test client (the
whole request: session, access, form, queries, template). For each: p50 and p95 of the
server time, the number of SQL statements of the request (the largest seen: a bounded
number whatever the data), and the rows shown when the caller says how to count them.
A scenario whose p95 is over :data:`BUDGET_MS` is flagged ``OVER``; the closing line gives
the slowest scenario of the list. Users meet scenarios, not aggregates: the aggregate p95
is printed, but the verdict is per scenario.

The machine the benches run on is often shared: a p95 is noisy, repeat the run (or raise
``--repeat``) before believing one figure over the budget. Next to the server time, the
CPU time of the process during the request (p95) tells the work from the wait for a CPU
on a loaded machine (on SQLite the queries run in the process, so it includes them); the
load average is printed with each list.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BUDGET_MS = 150.0
Scenario = tuple[str, dict[str, Any], bool]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Figures:
    times: list[float]
    statements: int
    shown: int | None = None
    cpu: tuple[float, ...] = ()

    @property
    def p50(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        return percentile(self.times, 95)

    @property
    def cpu_p95(self) -> float:
        return percentile(list(self.cpu), 95) if self.cpu else 0.0

    @property
    def over(self) -> bool:
        return self.p95 > BUDGET_MS


def login(app: Any, email: str, password: str) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 303, (email, response.status_code)
    return client


def measure(
    app: Any,
    client: Any,
    path: str,
    scenarios: list[Scenario],
    repeat: int,
    *,
    shown: Callable[[str], int] | None = None,
) -> dict[str, Figures]:
    """Every scenario of `path` asked `repeat` times by `client` (logged in)."""
    from sqlalchemy import event

    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    per: dict[str, Figures] = {}
    try:
        for name, query, htmx in scenarios:
            headers = {"HX-Request": "true"} if htmx else {}
            client.get(path, query_string=query, headers=headers)  # warm-up
            times: list[float] = []
            cpu: list[float] = []
            most = 0
            response = None
            for _ in range(repeat):
                statements[0] = 0
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(path, query_string=query, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)
                assert response.status_code == 200, (name, response.status_code)
                most = max(most, statements[0])
            rows = shown(response.get_data(as_text=True)) if shown and response else None
            per[name] = Figures(times, most, rows, tuple(cpu))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return per


def report(title: str, per: dict[str, Figures]) -> tuple[str, Figures]:
    """Print every scenario (``OVER`` past the budget) and the closing line; return the
    slowest scenario (by p95)."""
    every = [t for f in per.values() for t in f.times]
    queries = [f.statements for f in per.values()]
    over = [name for name, f in per.items() if f.over]
    print(
        f"\n{title}: {len(per)} scenarios, {len(every)} requests; all requests p50 "
        f"{statistics.median(every):.1f} ms, p95 {percentile(every, 95):.1f} ms; "
        f"SQL statements per request {min(queries)}–{max(queries)}; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    width = max(len(name) for name in per)
    for name, f in per.items():
        rows = f"  {f.shown:3d} rows" if f.shown is not None else ""
        flag = "  OVER" if f.over else ""
        print(
            f"  {name:<{width}}  p50 {f.p50:8.1f} ms  p95 {f.p95:8.1f} ms  "
            f"(cpu p95 {f.cpu_p95:6.1f} ms)  {f.statements:3d} statements{rows}{flag}"
        )
    slowest = max(per, key=lambda name: per[name].p95)
    print(
        f"  => slowest scenario: {slowest!r}, p95 {per[slowest].p95:.1f} ms; "
        f"{len(over)} of {len(per)} over {BUDGET_MS:.0f} ms"
        + (f": {', '.join(over)}" if over else "")
    )
    return slowest, per[slowest]
