"""Benchmarks of the Qualiopi issue; prints the figures (never asserts them).

    PYTHONPATH=. .venv/bin/python bench/qualiopi.py [--rows 150000] [--database-url URL]
        [--repeat N] [--imports-only]

1. Import of a generated list in the real format (150,000 rows), in a fresh process, into
   an empty database, then of the next day's list (a few hundred changes): wall time, the
   duration recorded by the import, and peak memory (max RSS of the importing process).
   Compared with the `sqlite3` shell's `.import` of the same file, measured in the same run.
2. A single check (`lookup.check`) inside the app: p50 / p95 over 2,000 identifiers.
3. A bulk check of 10,000 identifiers (`lookup.check_many`).
4. Active search (`GET /qualiopi/?q=…` with HX-Request, through the app): server time
   p50 / p95 over 300 queries (names and identifiers).
Without --database-url the database is a new SQLite file; with a PostgreSQL URL, the
database must be empty or disposable: the benchmark drops and recreates the schema.
On a shared machine, --repeat N runs part 1 N times (the sqlite3 shell and both imports,
in turn, from a new database each time) and prints the medians; --imports-only skips
parts 2 to 4.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_public_list import write  # noqa: E402

CHILD = r"""
import json, resource, sys, time
from datetime import date
from portal import create_app
from portal.config import Config
from portal.extensions import db
from portal.public_list.importer import import_list

class BenchConfig(Config):
    SQLALCHEMY_DATABASE_URI = sys.argv[1]
    SECRET_KEY = "bench"

app = create_app(BenchConfig)
with app.app_context():
    started = time.perf_counter()
    run = import_list(sys.argv[2], as_of=date.fromisoformat(sys.argv[3]), triggered_by="bench")
    wall = time.perf_counter() - started
    print(json.dumps({"status": run.status, "kept": run.rows_kept, "changed": run.changed,
                      "added": run.added, "removed": run.removed,
                      "recorded_s": run.duration_ms / 1000, "wall_s": wall,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def sqlite_shell_import(path: Path, tmp: Path) -> float:
    db_file = tmp / "shell.db"
    db_file.unlink(missing_ok=True)  # .import into a new table each time
    script = f".mode csv\n.separator ;\n.import {path} liste\n"
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db_file)], input=script, text=True, check=True)
    return time.perf_counter() - started


def fresh_schema(url: str) -> None:
    from portal import create_app
    from portal.config import Config
    from portal.extensions import db

    config = type("BenchConfig", (Config,), {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "b"})
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.engine.dispose()


def child_import(url: str, path: Path, as_of: date) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(path), as_of.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def in_app_figures(url: str, rows: int, as_of: date) -> None:
    from portal import create_app
    from portal.config import Config
    from portal.extensions import db
    from portal.identifiers import classify
    from portal.models import Role
    from portal.public_list import lookup
    from tests.factories import UserFactory

    config = type(
        "BenchConfig",
        (Config,),
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "b",
            "WTF_CSRF_ENABLED": False,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "ARGON2_PARALLELISM": 1,
        },
    )
    app = create_app(config)
    rng = random.Random(7)
    sample = [rng.randrange(rows) for _ in range(2000)]
    regions = [
        "11",
        "24",
        "27",
        "28",
        "32",
        "44",
        "52",
        "53",
        "75",
        "76",
        "84",
        "93",
        "94",
        "01",
        "04",
    ]
    ndas = [f"{regions[i % len(regions)]}{i:09d}" for i in sample]
    with app.app_context():
        versions = db.session.execute(
            db.text(
                "SELECT siret, siren FROM public_list_versions WHERE valid_to IS NULL LIMIT 5000"
            )
        ).all()
        idents = (
            [classify(n) for n in ndas[:1000]]
            + [classify(v[0]) for v in versions[:500]]
            + [classify(v[1]) for v in versions[500:1000]]
        )
        timings = []
        for ident in idents:
            started = time.perf_counter()
            lookup.check(ident, as_of)
            timings.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
        print(
            f"single check (lookup.check, {len(idents)} identifiers): "
            f"p50 {statistics.median(timings):.2f} ms, p95 {percentile(timings, 95):.2f} ms"
        )

        bulk = [
            (classify(f"{regions[i % len(regions)]}{i:09d}"), as_of)
            for i in (rng.randrange(rows) for _ in range(10_000))
        ]
        started = time.perf_counter()
        results = lookup.check_many(bulk)
        elapsed = time.perf_counter() - started
        found = sum(1 for r in results if r)
        print(
            f"bulk check of 10,000 identifiers (lookup.check_many): {elapsed:.2f} s ({found} found)"
        )
        db.session.rollback()
        user = UserFactory._meta.model(
            email="bench@exemple.test",
            full_name="Bench",
            role=Role.MINISTRY.value,
            password_hash=None,
        )
        from portal.passwords import hash_password

        user.password_hash = hash_password("un-mot-de-passe-de-bench")
        db.session.add(user)
        db.session.commit()
    client = app.test_client()
    client.post(
        "/login", data={"email": "bench@exemple.test", "password": "un-mot-de-passe-de-bench"}
    )
    words = [
        "formation",
        "competences",
        "avenir",
        "institut",
        "atelier sud",
        "numérique",
        "sante",
        "langues",
        "parcours metiers",
        "zzz-introuvable",
    ]
    queries = (
        [rng.choice(words) for _ in range(200)]
        + [str(rng.randrange(rows)) for _ in range(50)]
        + [ndas[i] for i in range(50)]
    )
    timings = []
    for q in queries:
        started = time.perf_counter()
        response = client.get("/qualiopi/", query_string={"q": q}, headers={"HX-Request": "true"})
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    print(
        f"active search (GET /qualiopi/?q=…, HX-Request, {len(queries)} queries): "
        f"p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 95):.1f} ms"
    )
    with app.app_context():
        db.session.execute(db.text("DELETE FROM user_sessions"))
        db.session.execute(db.text("DELETE FROM audit_events"))
        db.session.execute(db.text("DELETE FROM audit_head"))
        db.session.execute(db.text("DELETE FROM users"))
        db.session.commit()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Qualiopi benchmarks")
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--database-url")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of part 1 (medians)")
    parser.add_argument("--imports-only", action="store_true", help="part 1 only")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-qualiopi-"))
    day1, day2 = date.today() - timedelta(days=1), date.today()
    list1, list2 = tmp / "liste-j1.csv", tmp / "liste-j2.csv"
    write(list1, args.rows, seed=1)
    write(list2, args.rows, seed=1, drop_certified=0.01)  # ~1 % of the certified lose it
    size = list1.stat().st_size / 1e6
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    kind = url.split(":", 1)[0]
    print(f"list: {args.rows} rows, {size:.1f} MB; database: {kind}")

    rounds = []
    for _ in range(args.repeat):
        rounds.append(import_round(url, tmp, (list1, day1), (list2, day2)))
    if args.repeat > 1:
        shell = statistics.median(r[0] for r in rounds)
        first_wall = statistics.median(r[1]["wall_s"] for r in rounds)
        second_wall = statistics.median(r[2]["wall_s"] for r in rounds)
        print(
            f"medians of {args.repeat} rounds: sqlite3 .import {shell:.2f} s; "
            f"first import {first_wall:.2f} s, ratio {first_wall / shell:.2f}, "
            f"peak RSS {max(r[1]['maxrss_mb'] for r in rounds):.0f} MB (max); "
            f"next day {second_wall:.2f} s, ratio {second_wall / shell:.2f}, "
            f"peak RSS {max(r[2]['maxrss_mb'] for r in rounds):.0f} MB (max); "
            f"median of the per-round ratios: "
            f"{statistics.median(r[1]['wall_s'] / r[0] for r in rounds):.2f} and "
            f"{statistics.median(r[2]['wall_s'] / r[0] for r in rounds):.2f}"
        )
    if not args.imports_only:
        in_app_figures(url, args.rows, day2)


def import_round(
    url: str, tmp: Path, day1: tuple[Path, date], day2: tuple[Path, date]
) -> tuple[float, dict, dict]:
    """Part 1 once: the sqlite3 shell's .import, then both imports into a new database."""
    shell = sqlite_shell_import(day1[0], tmp)
    print(f"sqlite3 shell .import of the same file: {shell:.2f} s")

    if url.startswith("sqlite:///"):  # a new file, not one with the freed pages of the last
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    fresh_schema(url)
    first = child_import(url, *day1)
    print(
        f"import into an empty history: wall {first['wall_s']:.2f} s "
        f"(recorded {first['recorded_s']:.2f} s, {first['kept']} rows), "
        f"peak RSS {first['maxrss_mb']:.0f} MB, ratio to sqlite3 .import "
        f"{first['wall_s'] / shell:.2f}"
    )
    second = child_import(url, *day2)
    print(
        f"next day's list ({second['changed']} changed, {second['added']} added, "
        f"{second['removed']} removed): wall {second['wall_s']:.2f} s, "
        f"peak RSS {second['maxrss_mb']:.0f} MB, ratio {second['wall_s'] / shell:.2f}"
    )
    return shell, first, second


if __name__ == "__main__":
    main()
