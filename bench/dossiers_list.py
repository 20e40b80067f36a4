"""Benchmark of the dossier lists; prints the figures (never asserts them).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/dossiers_list.py
        [--database-url URL] [--dossiers 100000] [--pieces 500000] [--providers 2000]
        [--repeat 10] [--keep FILE] [--reuse] [--only controller|mine]

Builds a database (a new SQLite file, or the PostgreSQL database of --database-url, whose
schema is dropped and recreated: give it a disposable one) holding 5 funders (40 %, 25 %,
15 %, 12 % and 8 % of the dossiers), ~2,000 OF (a few with thousands of dossiers, most with
a handful), 100,000 dossiers over 2023–2027 (30 % PTP paid monthly, others paid on
completion, monthly or by instalments), 500,000 pieces (the first slots of each dossier's
expected-pieces calendar, then replaced versions) and their 500,000 documents (fake keys).
Rows go in through the driver (executemany on SQLite, COPY on PostgreSQL), not the ORM;
`first_missing_due` is computed with the calendar, as the pieces service keeps it.

Then, through the Flask test client (the whole request: session, access, queries,
template), it measures:

1. the controller's list ``GET /dossiers/`` as a controller of the biggest funder: every
   sort (both directions), each filter (status, scheme, period, OF by NDA and by name,
   reference, missing pieces), combinations, pages 1, 2, 50 and the last one, as a page
   and as an HTMX fragment: p50 / p95 server time over all requests and per scenario, and
   the number of SQL statements per request (min–max over the scenarios);
2. the OF's space "Mes dossiers" (``GET /dossiers/`` as the OF user of the OF that has the
   most dossiers), with its filters and pages, the same figures;
3. the CSV and XLSX exports of the biggest funder's whole list (one run each).

The target: p95 ≤ 150 ms server time for every scenario of the lists, on SQLite and
PostgreSQL, with a bounded number of queries per page. --keep FILE (SQLite) keeps the
database; --reuse measures a database already built (FILE, or --database-url) without
generating it; --only measures one list and skips the exports.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "un-mot-de-passe-de-banc-d-essai"  # noqa: S105
FUNDER_SHARES = (0.40, 0.25, 0.15, 0.12, 0.08)
BATCH = 20_000
NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def luhn_complete(prefix: str) -> str:
    for digit in "0123456789":
        candidate = prefix + digit
        total = 0
        for index, char in enumerate(reversed(candidate)):
            value = int(char) * (2 if index % 2 else 1)
            total += value - 9 if value > 9 else value
        if total % 10 == 0:
            return candidate
    raise AssertionError


def make_app(url: str):
    from portal import create_app
    from portal.config import Config

    config = type(
        "BenchConfig",
        (Config,),
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST": 1024,
            "ARGON2_PARALLELISM": 1,
            "RATELIMIT_ENABLED": False,
        },
    )
    return create_app(config)


# --- Data ------------------------------------------------------------------------------------


class Writer:
    """Bulk rows through the driver: executemany (SQLite) or COPY (PostgreSQL)."""

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw = raw
        self.pg = dialect == "postgresql"

    def value(self, value: Any) -> Any:
        if self.pg:
            return value
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)  # what SQLAlchemy binds for Numeric on SQLite
        return value

    def write(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
        cursor = self.raw.cursor()
        count = 0
        if self.pg:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        else:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            batch: list[tuple] = []
            for row in rows:
                batch.append(tuple(self.value(v) for v in row))
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
        cursor.close()
        self.raw.commit()
        return count


def build(app, args: argparse.Namespace) -> dict[str, Any]:
    """Fill the database; return who to log in as and what to filter on."""
    from portal.dossiers.calendar import expected_pieces, first_missing_due
    from portal.extensions import db
    from portal.models import Role, User
    from portal.passwords import hash_password

    rng = random.Random(42)
    today = date.today()
    with app.app_context():
        db.drop_all()
        db.create_all()
        dialect = db.engine.dialect.name
        raw = db.engine.raw_connection()
        writer = Writer(raw, dialect)
        started = time.perf_counter()

        funders = [
            (i + 1, f"Financeur de banc {i + 1}", "opco", None, True, NOW, 1) for i in range(5)
        ]
        writer.write(
            "funders",
            ("id", "name", "kind", "region_code", "is_active", "created_at", "version"),
            funders,
        )
        providers = []
        for i in range(args.providers):
            siren = luhn_complete(f"{(20_000_000 + i * 13) % 100_000_000:08d}")
            siret = luhn_complete(siren + "0001")
            name = f"{rng.choice(['Institut', 'Atelier', 'Centre', 'Académie'])} Formation {i}"
            providers.append((i + 1, f"{11 + i % 80:02d}{i:09d}", siren, siret, name, NOW))
        writer.write("providers", ("id", "nda", "siren", "siret", "name", "created_at"), providers)

        # A skewed share of the dossiers per OF: a few big networks, many small OF.
        weights = [1 / (i + 1) ** 0.8 for i in range(args.providers)]
        provider_of = rng.choices(range(args.providers), weights=weights, k=args.dossiers)
        funder_of = rng.choices(range(5), weights=FUNDER_SHARES, k=args.dossiers)
        links = sorted({(f + 1, p + 1) for f, p in zip(funder_of, provider_of, strict=True)})
        writer.write(
            "funder_providers",
            ("id", "funder_id", "provider_id", "created_at"),
            ((n + 1, f, p, NOW) for n, (f, p) in enumerate(links)),
        )

        schemes = ["ptp", "cpf", "plan", "alternance", "autre"]
        categories = ["actions_formation", "bilans_competences", "vae", "apprentissage"]
        modalities = ["presentiel", "distance", "mixte", "situation_travail"]
        names = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]
        first = date(2023, 1, 2)
        calendars: list[tuple[int, list[Any], str]] = []

        def dossiers() -> Iterator[tuple]:
            for n in range(args.dossiers):
                scheme = rng.choices(schemes, weights=[30, 30, 20, 15, 5])[0]
                if scheme == "ptp":
                    rhythm, instalments = "mensuel", None
                else:
                    rhythm = rng.choice(["fin_de_formation", "echeances", "mensuel"])
                    instalments = rng.randint(2, 4) if rhythm == "echeances" else None
                start = first + timedelta(days=rng.randrange(4 * 365))
                end = start + timedelta(days=rng.choice([4, 20, 60, 120, 200, 330, 540]))
                status = "en_cours"
                if end < today - timedelta(days=90):
                    status = "clos" if rng.random() < 0.8 else "en_cours"
                if rng.random() < 0.03:
                    status = "annule"
                expected = expected_pieces(scheme, rhythm, start, end, instalments)
                calendars.append((n + 1, expected, status))
                hours = Decimal(rng.choice([7, 14, 35, 70, 140, 400, 1085]))
                amount = Decimal(rng.randrange(10_000, 3_000_000)) / 100
                yield (
                    n + 1,
                    funder_of[n] + 1,
                    f"F{funder_of[n] + 1}-{n:07d}",
                    provider_of[n] + 1,
                    providers[provider_of[n]][3],
                    rng.choice(names),
                    rng.choice(["Claire", "Paul", "Nadia", "Lucas", "Inès"]),
                    f"Action de formation {n % 500}",
                    rng.choice(categories),
                    scheme,
                    f"RNCP{30000 + n % 9000}" if n % 3 == 0 else None,
                    rng.choice(modalities),
                    start,
                    end,
                    int(hours * 60),
                    amount,
                    rhythm,
                    instalments,
                    rng.random() < 0.1,
                    status,
                    None,  # first_missing_due: set below, once the pieces are drawn
                    NOW,
                    None,
                    1,
                )

        columns = (
            "id",
            "funder_id",
            "reference",
            "provider_id",
            "provider_siret",
            "beneficiary_last_name",
            "beneficiary_first_name",
            "action_title",
            "category",
            "scheme",
            "rncp_code",
            "modality",
            "start_date",
            "end_date",
            "planned_minutes",
            "agreed_amount",
            "payment_rhythm",
            "instalments",
            "subcontracted",
            "status",
            "first_missing_due",
            "created_at",
            "created_by_id",
            "version",
        )
        # Draw the pieces first (they decide first_missing_due), then write the dossiers.
        rows = list(dossiers())
        received: dict[int, int] = {}
        total = 0
        for dossier_id, expected, _status in calendars:
            count = rng.randint(0, len(expected))
            count = min(count, args.pieces - total)
            received[dossier_id] = count
            total += count
        missing_index = columns.index("first_missing_due")
        for index, (dossier_id, expected, status) in enumerate(calendars):
            due = None
            if status == "en_cours":
                due = first_missing_due(expected[received[dossier_id] :], [])
            row = list(rows[index])
            row[missing_index] = due
            rows[index] = tuple(row)
        writer.write("dossiers", columns, rows)
        del rows

        def pieces() -> Iterator[tuple[tuple, tuple]]:
            """(document row, piece row) pairs: the received slots, then replaced versions."""
            n = 0
            for dossier_id, expected, _status in calendars:
                for item in expected[: received[dossier_id]]:
                    n += 1
                    yield piece(n, dossier_id, item, superseded=False)
            while n < args.pieces:
                dossier_id, expected, _status = calendars[rng.randrange(len(calendars))]
                if not received[dossier_id]:
                    continue
                n += 1
                item = expected[rng.randrange(received[dossier_id])]
                yield piece(n, dossier_id, item, superseded=True)

        def piece(n: int, dossier_id: int, item: Any, *, superseded: bool) -> tuple[tuple, tuple]:
            document = (
                n,
                f"bench-{n:012d}",
                f"{n:064x}",
                120_000,
                "application/pdf",
                "piece.pdf",
                NOW,
                None,
            )
            row = (
                n,
                dossier_id,
                item.kind.value,
                item.period.start,
                item.period.end,
                n,
                NOW,
                None,
                NOW if superseded else None,
            )
            return document, row

        drawn = list(pieces())
        writer.write(
            "documents",
            (
                "id",
                "storage_key",
                "sha256",
                "size",
                "content_type",
                "original_name",
                "uploaded_at",
                "uploaded_by_id",
            ),
            (document for document, _ in drawn),
        )
        writer.write(
            "pieces",
            (
                "id",
                "dossier_id",
                "kind",
                "period_start",
                "period_end",
                "document_id",
                "created_at",
                "created_by_id",
                "superseded_at",
            ),
            (row for _, row in drawn),
        )
        del drawn
        if dialect == "postgresql":
            cursor = raw.cursor()
            for table in (
                "funders",
                "providers",
                "funder_providers",
                "dossiers",
                "documents",
                "pieces",
            ):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            raw.commit()
            # What autovacuum does after a bulk load: visibility map and statistics.
            raw.driver_connection.autocommit = True
            cursor.execute("VACUUM ANALYZE")
        raw.close()
        load_s = time.perf_counter() - started

        biggest_of = max(range(args.providers), key=provider_of.count) + 1
        hash_ = hash_password(PASSWORD)
        controller = User(
            email="controleur@banc.test",
            full_name="Contrôleur",
            role=Role.CONTROLLER.value,
            funder_id=1,
            password_hash=hash_,
        )
        of_user = User(
            email="organisme@banc.test",
            full_name="Organisme",
            role=Role.PROVIDER.value,
            provider_id=biggest_of,
            password_hash=hash_,
        )
        db.session.add_all([controller, of_user])
        db.session.commit()
        counts = {
            "funder_dossiers": funder_of.count(0),
            "of_dossiers": provider_of.count(biggest_of - 1),
            "of_nda": providers[biggest_of - 1][1],
            "of_name": providers[1][4],
            "load_s": load_s,
            "dialect": dialect,
        }
        db.engine.dispose()
    return counts


# --- Measures --------------------------------------------------------------------------------


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def controller_scenarios(info: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    scenarios: list[tuple[str, dict[str, Any], bool]] = [
        ("default (start date desc), page 1", {}, False),
        ("default, HTMX fragment", {}, True),
        ("page 2", {"page": 2}, True),
        ("page 50", {"page": 50}, True),
        ("last page", {"page": 10_000}, True),
    ]
    for key in ("reference", "debut", "organisme", "montant", "manquant"):
        scenarios.append((f"sort {key}", {"tri": key}, True))
        scenarios.append((f"sort -{key}", {"tri": f"-{key}"}, True))
    scenarios += [
        ("status en_cours", {"statut": "en_cours"}, True),
        ("status clos, sort montant", {"statut": "clos", "tri": "montant"}, True),
        ("scheme ptp", {"dispositif": "ptp"}, True),
        ("missing pieces", {"manquantes": "1"}, True),
        ("missing pieces, sort manquant", {"manquantes": "1", "tri": "manquant"}, True),
        ("period Q1 2026", {"du": "2026-01-01", "au": "2026-03-31"}, True),
        ("OF by NDA", {"organisme": info["of_nda"]}, True),
        ("OF by name", {"organisme": info["of_name"]}, True),
        ("reference prefix", {"q": "F1-00012"}, True),
        ("beneficiary name prefix", {"q": "dur"}, True),
        (
            "ptp + en_cours + missing + period, sort organisme",
            {
                "dispositif": "ptp",
                "statut": "en_cours",
                "manquantes": "1",
                "du": "2025-01-01",
                "au": "2026-12-31",
                "tri": "organisme",
            },
            True,
        ),
        (
            "OF by NDA, page 3, sort -montant",
            {"organisme": info["of_nda"], "page": 3, "tri": "-montant"},
            True,
        ),
    ]
    return scenarios


MINE_SCENARIOS: list[tuple[str, dict[str, Any], bool]] = [
    ("default, page 1", {}, False),
    ("default, HTMX fragment", {}, True),
    ("page 2", {"page": 2}, True),
    ("page 20", {"page": 20}, True),
    ("missing pieces", {"manquantes": "1"}, True),
    ("funder 1", {"financeur": 1}, True),
    ("search", {"q": "F1-0001"}, True),
]


def lists(app, info: dict[str, Any], repeat: int, label: str, only: str | None = None) -> None:
    from bench import listbench

    if only != "mine":
        client = listbench.login(app, "controleur@banc.test", PASSWORD)
        per = listbench.measure(app, client, "/dossiers/", controller_scenarios(info), repeat)
        listbench.report(f"Controller's list (GET /dossiers/, biggest funder){label}", per)
    if only == "controller":
        return
    client = listbench.login(app, "organisme@banc.test", PASSWORD)
    per = listbench.measure(app, client, "/dossiers/", MINE_SCENARIOS, repeat)
    listbench.report(f"OF's space 'Mes dossiers' (GET /dossiers/ as the OF user){label}", per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--pieces", type=int, default=500_000)
    parser.add_argument("--providers", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", help="with SQLite: the database file (kept after the run)")
    parser.add_argument("--reuse", action="store_true", help="a database already built")
    parser.add_argument("--only", choices=("controller", "mine"), help="one list, no export")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-dossiers-"))
    url = args.database_url or f"sqlite:///{args.keep or tmp / 'bench.db'}"
    if args.reuse and not (args.keep or args.database_url):
        parser.error("--reuse needs --keep FILE or --database-url")
    import os

    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
    try:
        run(url, args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the SQLite file: ~250 MB


def known(app) -> dict[str, Any]:
    """What :func:`build` returns, read back from a database it built (--reuse)."""
    from sqlalchemy import text

    from portal.extensions import db

    with app.app_context():
        one = db.session.execute
        funder = one(text("SELECT count(*) FROM dossiers WHERE funder_id = 1")).scalar()
        biggest, of_dossiers = one(
            text(
                "SELECT provider_id, count(*) FROM dossiers GROUP BY provider_id "
                "ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
        nda = one(text("SELECT nda FROM providers WHERE id = :id"), {"id": biggest}).scalar()
        name = one(text("SELECT name FROM providers WHERE id = 2")).scalar()
        dialect = db.engine.dialect.name
        db.engine.dispose()
    return {
        "funder_dossiers": funder,
        "of_dossiers": of_dossiers,
        "of_nda": nda,
        "of_name": name,
        "load_s": 0.0,
        "dialect": dialect,
    }


def run(url: str, args: argparse.Namespace) -> None:
    import os

    app = make_app(url)
    info = known(app) if args.reuse else build(app, args)
    print(
        f"database: {info['dialect']}; {args.dossiers} dossiers, {args.pieces} pieces and "
        f"documents, {args.providers} OF, 5 funders; loaded in {info['load_s']:.1f} s"
    )
    print(
        f"controller's funder: {info['funder_dossiers']} dossiers; "
        f"OF user's OF: {info['of_dossiers']} dossiers (NDA {info['of_nda']}); "
        f"load average before measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    app = make_app(url)  # a fresh app: nothing cached from the load
    lists(app, info, args.repeat, "", args.only)
    if args.only:
        return

    client = app.test_client()
    client.post("/login", data={"email": "controleur@banc.test", "password": PASSWORD})
    csv_s, csv_response = timed(lambda: client.get("/dossiers/export.csv"))
    xlsx_s, xlsx_response = timed(lambda: client.get("/dossiers/export.xlsx"))
    print(
        f"\nExports of the biggest funder's {info['funder_dossiers']} dossiers: "
        f"CSV {csv_s:.2f} s ({len(csv_response.data) / 1e6:.1f} MB), "
        f"XLSX {xlsx_s:.2f} s ({len(xlsx_response.data) / 1e6:.1f} MB)"
    )

    from portal.extensions import db

    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
