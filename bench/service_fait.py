"""Benchmark of the automatic checks of service fait; prints the figures (never asserts them).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/service_fait.py
        [--database-url URL] [--dossiers 100000] [--providers 2000] [--seed 42]
        [--reuse]

Builds a database (a new SQLite file in a temporary directory, or the PostgreSQL database
of --database-url, whose schema is DROPPED and recreated: give it a disposable one such as
``postgresql+psycopg://portal:portal@127.0.0.1:5432/portal_bench``, never the dev one)
with :func:`generate`, then, in a fresh process (so that its peak memory is the run's),
times ``run_all_checks`` twice: the first run (every control and finding created) and a
re-run (every check run again; only what changed is written, here nothing). It prints the
time, dossiers/s, current pieces read/s, findings found/s and the peak RSS of the process
(VmHWM), with the load of the machine before and after (the
machine is shared: the other busy processes are listed). The target: a re-run of every
check on 100,000 dossiers in 60 s or less, on SQLite and on PostgreSQL.

:func:`generate` is the data set, reusable by other benchmarks (``bench/service_fait_queue.py``):
5 funders (40 %, 25 %, 15 %, 12 % and 8 % of the dossiers), ~2,000 OF (a few with thousands
of dossiers, most with a handful), a public-list history of ~16 lists (one every 90 days
since December 2022; 20,000 NDA, the OF among them: most certified throughout, some losing
a category, leaving the list, entering late or never listed), N dossiers over 2023–2026
(30 % PTP paid monthly), and for each the pieces its calendar expects whose period is over
(at most 12: invoices, certificats de réalisation, attendance sheets), with their figures
and a few per cent of anomalies (hours, half-days, amounts, dates, natures, an invoice
number or a file used twice), 5 % of pieces with a replaced older version, a document per
piece. One controller per funder (``controleur{N}@banc.test``, password :data:`PASSWORD`).
No control and no finding: the checks write them. Rows go in through the driver
(executemany on SQLite, COPY on PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dossiers_list import FUNDER_SHARES, Writer, luhn_complete, make_app  # noqa: E402

PASSWORD = "un-mot-de-passe-de-banc-d-essai"  # noqa: S105
NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
FIRST_LIST = date(2022, 12, 1)
LIST_EVERY_DAYS = 90
CATEGORIES = ("actions_formation", "bilans_competences", "vae", "apprentissage")
MAX_PIECES = 12
CHUNK = 10_000  # dossiers whose pieces are drawn and written at once
CENT = Decimal("0.01")
HALF = Decimal("0.5")

DOSSIER_COLUMNS = (
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
DOCUMENT_COLUMNS = (
    "id",
    "storage_key",
    "sha256",
    "size",
    "content_type",
    "original_name",
    "uploaded_at",
    "uploaded_by_id",
)


def _minutes(hours: Decimal | None) -> int | None:
    """Hours as the bench computes them, as the minutes the portal keeps."""
    return None if hours is None else int((hours * 60).to_integral_value())


PIECE_COLUMNS = (
    "id",
    "dossier_id",
    "kind",
    "period_start",
    "period_end",
    "document_id",
    "created_at",
    "created_by_id",
    "superseded_at",
    "replaces_id",
    "invoice_number",
    "invoice_date",
    "amount_excl_tax",
    "amount_incl_tax",
    "minutes_billed",
    "minutes_completed",
    "months_completed",
    "nature",
    "distance_activities",
    "signatory",
    "signed_on",
    "half_days_planned",
    "half_days_signed",
    "minutes_attended",
    "amount",
)
VERSION_COLUMNS = (
    "id",
    "nda",
    "siren",
    "siret",
    "denomination",
    "search_name",
    "region_code",
    "postal_code",
    "city",
    "actions_formation",
    "bilans_competences",
    "vae",
    "apprentissage",
    "previous_ndas",
    "fingerprint",
    "valid_from",
    "valid_to",
    "import_id",
)


def _list_dates(today: date) -> list[date]:
    dates = []
    day = FIRST_LIST
    while day <= today:
        dates.append(day)
        day += timedelta(days=LIST_EVERY_DAYS)
    return dates


def _history(
    rng: random.Random, certified: tuple[bool, ...], lists: list[date]
) -> list[tuple[date, date | None, tuple[bool, ...]]]:
    """The versions of one OF's entry: (valid_from, valid_to, flags)."""
    draw = rng.random()
    first, last = lists[0], None
    if draw < 0.005:
        return []  # never in the list
    if draw < 0.015:
        first = rng.choice(lists[1:])  # enters late
    elif draw < 0.025:
        last = rng.choice(lists[1:])  # leaves the list
    if 0.025 <= draw < 0.04 and certified[0]:  # loses "actions de formation"
        lost_on = rng.choice(lists[1:])
        return [(first, lost_on, certified), (lost_on, None, (False, *certified[1:]))]
    return [(first, last, certified)]


def generate(
    app: Any,
    n: int = 100_000,
    *,
    providers: int = 2_000,
    seed: int = 42,
    today: date | None = None,
    list_entries: int = 20_000,
) -> dict[str, Any]:
    """Drop and recreate the schema of `app`'s database, then fill it (see the module
    docstring). Returns counts: dossiers, pieces (current and replaced), documents, list
    versions and imports, the load time, the dialect."""
    from portal.dossiers.calendar import expected_pieces, first_missing_due
    from portal.extensions import db
    from portal.models import Role, User
    from portal.passwords import hash_password

    rng = random.Random(seed)
    today = today or date.today()
    started = time.perf_counter()
    with app.app_context():
        db.drop_all()
        db.create_all()
        dialect = db.engine.dialect.name
        raw = db.engine.raw_connection()
        writer = Writer(raw, dialect)

        writer.write(
            "funders",
            ("id", "name", "kind", "region_code", "is_active", "created_at", "version"),
            [(i + 1, f"Financeur de banc {i + 1}", "opco", None, True, NOW, 1) for i in range(5)],
        )
        of_rows = []
        for i in range(providers):
            siren = luhn_complete(f"{(20_000_000 + i * 13) % 100_000_000:08d}")
            siret = luhn_complete(siren + "0001")
            name = f"{rng.choice(['Institut', 'Atelier', 'Centre', 'Académie'])} Formation {i}"
            of_rows.append((i + 1, f"{11 + i % 80:02d}{i:09d}", siren, siret, name, NOW))
        writer.write("providers", ("id", "nda", "siren", "siret", "name", "created_at"), of_rows)

        # The public list's history: the OF, then other NDAs (the list is much longer).
        lists = _list_dates(today)
        writer.write(
            "public_list_imports",
            (
                "id",
                "source",
                "as_of",
                "status",
                "rows_read",
                "rows_kept",
                "rows_rejected",
                "rejected_lines",
                "added",
                "removed",
                "changed",
                "started_at",
                "triggered_by",
            ),
            [
                (k + 1, "banc", day, "succeeded", 0, 0, 0, "[]", 0, 0, 0, NOW, "banc")
                for k, day in enumerate(lists)
            ],
        )
        import_of = {day: k + 1 for k, day in enumerate(lists)}
        certified_for: dict[int, tuple[bool, ...]] = {}
        versions = []

        def version(nda: str, siren: str, siret: str, name: str, history) -> None:
            for valid_from, valid_to, flags in history:
                versions.append(
                    (
                        len(versions) + 1,
                        nda,
                        siren,
                        siret,
                        name,
                        name.lower(),
                        "76",
                        "31000",
                        "Toulouse",
                        *flags,
                        "",
                        "0" * 16,
                        valid_from,
                        valid_to,
                        import_of[valid_from],
                    )
                )

        for provider_id, nda, siren, siret, name, _ in of_rows:
            flags = (
                rng.random() < 0.95,
                rng.random() < 0.15,
                rng.random() < 0.10,
                rng.random() < 0.15,
            )
            certified_for[provider_id] = flags
            # The biggest networks (the first OF) stay certified throughout.
            history = _history(rng, flags, lists) if provider_id > 20 else [(lists[0], None, flags)]
            version(nda, siren, siret, name, history)
        for k in range(max(0, list_entries - providers)):
            siren = luhn_complete(f"{(60_000_000 + k * 7) % 100_000_000:08d}")
            version(
                f"{11 + k % 80:02d}{500_000_000 + k:09d}",
                siren,
                luhn_complete(siren + "0001"),
                f"Organisme {k}",
                [(lists[0], None, (rng.random() < 0.3, False, False, False))],
            )
        writer.write("public_list_versions", VERSION_COLUMNS, versions)
        version_count = len(versions)
        versions.clear()

        # Dossiers: a skewed share per OF, category mostly one the OF is certified for.
        weights = [1 / (i + 1) ** 0.8 for i in range(providers)]
        provider_of = rng.choices(range(providers), weights=weights, k=n)
        funder_of = rng.choices(range(5), weights=FUNDER_SHARES, k=n)
        links = sorted({(f + 1, p + 1) for f, p in zip(funder_of, provider_of, strict=True)})
        writer.write(
            "funder_providers",
            ("id", "funder_id", "provider_id", "created_at"),
            ((k + 1, f, p, NOW) for k, (f, p) in enumerate(links)),
        )
        schemes = ["ptp", "cpf", "plan", "alternance", "autre"]
        modalities = ["presentiel", "presentiel", "presentiel", "distance", "mixte"]
        names = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]
        first = date(2023, 1, 2)
        dossiers: list[tuple] = []
        plans: list[tuple[int, int, int, str, list[Any], Decimal, Decimal]] = []
        for k in range(n):
            provider_id = provider_of[k] + 1
            scheme = rng.choices(schemes, weights=[30, 30, 20, 15, 5])[0]
            if scheme == "ptp":
                rhythm, instalments = "mensuel", None
            else:
                rhythm = rng.choice(["fin_de_formation", "echeances", "mensuel"])
                instalments = rng.randint(2, 4) if rhythm == "echeances" else None
            start = first + timedelta(days=rng.randrange(4 * 365))
            end = start + timedelta(days=rng.choice([4, 20, 60, 120, 200, 330, 540]))
            flags = certified_for[provider_id]
            held = [c for c, f in zip(CATEGORIES, flags, strict=True) if f]
            mine = held and rng.random() < 0.97
            category = rng.choice(held) if mine else rng.choice(CATEGORIES)
            status = "en_cours"
            if end < today - timedelta(days=90):
                status = "clos" if rng.random() < 0.8 else "en_cours"
            expected = expected_pieces(scheme, rhythm, start, end, instalments)
            hours = Decimal(rng.choice([7, 14, 35, 70, 140, 400, 1085]))
            amount = Decimal(rng.randrange(10_000, 3_000_000)) / 100
            due = first_missing_due(expected, []) if status == "en_cours" else None
            dossiers.append(
                (
                    k + 1,
                    funder_of[k] + 1,
                    f"F{funder_of[k] + 1}-{k:07d}",
                    provider_id,
                    of_rows[provider_id - 1][3],
                    rng.choice(names),
                    rng.choice(["Claire", "Paul", "Nadia", "Lucas", "Inès"]),
                    f"Action de formation {k % 500}",
                    category,
                    scheme,
                    f"RNCP{30000 + k % 9000}" if k % 3 == 0 else None,
                    rng.choice(modalities),
                    start,
                    end,
                    int(hours * 60),
                    amount,
                    rhythm,
                    instalments,
                    rng.random() < 0.1,
                    status,
                    due,
                    NOW,
                    None,
                    1,
                )
            )
            plans.append((k + 1, funder_of[k] + 1, provider_id, category, expected, hours, amount))
        writer.write("dossiers", DOSSIER_COLUMNS, dossiers)
        del dossiers

        counts = {"current": 0, "replaced": 0}
        state = {"piece": 0, "invoice_seq": [0] * (providers + 1)}
        recent_sha: dict[int, list[str]] = {f: [] for f in range(1, 6)}
        recent_number: dict[int, list[str]] = {}

        def pieces_of(plan) -> Iterator[tuple[tuple, tuple]]:
            dossier_id, funder_id, provider_id, category, expected, hours, amount = plan
            start = expected[0].period.start
            total_days = Decimal((max(e.period.end for e in expected) - start).days + 1)

            def done_by(day: date, total: Decimal, unit: Decimal) -> Decimal:
                """What is done (hours) or due (euros) by the end of `day`, pro rata of the
                days, rounded down to `unit`: periods add up to the total exactly."""
                elapsed = Decimal((day - start).days + 1)
                return (total * elapsed / total_days / unit).to_integral_value(ROUND_DOWN) * unit

            def share(item, total: Decimal, unit: Decimal) -> Decimal:
                before = item.period.start - timedelta(days=1)
                return done_by(item.period.end, total, unit) - done_by(before, total, unit)

            # The pieces of the periods over, most OF sending all of them, some only the
            # first periods' (whole periods), a few an invoice without its certificat.
            periods = sorted({e.period for e in expected if e.period.end < today})
            if rng.random() >= 0.8:
                periods = periods[: rng.randint(0, len(periods))]
            wanted = set(periods)
            received = [e for e in expected if e.period in wanted][:MAX_PIECES]
            if received and rng.random() < 0.02:
                certificates = [e for e in received if e.kind.value == "certificat_realisation"]
                if certificates:
                    received.remove(certificates[-1])
            invoices = [e for e in received if e.kind.value == "facture"]
            for item in received:
                kind = item.kind.value
                days = (item.period.end - item.period.start).days + 1
                period_hours = share(item, hours, HALF)
                values: dict[str, Any] = {}
                if kind == "facture":
                    seq = state["invoice_seq"][provider_id] = state["invoice_seq"][provider_id] + 1
                    number = f"FA-{provider_id:04d}-{seq:06d}"
                    numbers = recent_number.setdefault(provider_id, [])
                    if numbers and rng.random() < 0.003:
                        number = rng.choice(numbers)  # an invoice number used twice
                    numbers.append(number)
                    del numbers[:-50]
                    price = share(item, amount, CENT)
                    if item is invoices[-1] and rng.random() < 0.01:
                        price += (amount / 10).quantize(CENT)  # above the agreed amount
                    invoice_date = item.period.end + timedelta(days=rng.randint(0, 10))
                    if rng.random() < 0.02:
                        invoice_date = item.period.start  # dated before the period ends
                    values = {
                        "invoice_number": number,
                        "invoice_date": min(invoice_date, today),
                        "amount_excl_tax": price,
                        "amount_incl_tax": price,
                        "hours_billed": period_hours,
                    }
                elif kind == "certificat_realisation":
                    completed = period_hours
                    if rng.random() < 0.02:
                        completed = max(Decimal("0"), completed - rng.choice([HALF, 1, 3]))
                    nature = category if rng.random() >= 0.003 else "bilans_competences"
                    values = {
                        "nature": nature,
                        "signatory": "Direction",
                        "signed_on": item.period.end,
                    }
                    if nature == "apprentissage":
                        values["months_completed"] = Decimal(max(1, days // 30))
                    else:
                        values["hours_completed"] = completed
                elif kind == "feuille_emargement":
                    planned = min(2 * days, max(1, int(period_hours / Decimal("3.5"))))
                    signed = planned - 1 if rng.random() < 0.02 else planned
                    attended = period_hours
                    if rng.random() < 0.02:
                        attended = max(Decimal("0"), attended - 1)
                    values = {
                        "half_days_planned": planned,
                        "half_days_signed": max(0, signed),
                        "hours_attended": attended,
                    }
                if rng.random() < 0.05:  # an older version, replaced
                    yield row(dossier_id, funder_id, item, kind, values, superseded=True)
                yield row(dossier_id, funder_id, item, kind, values, superseded=False)

        def row(dossier_id, funder_id, item, kind, values, *, superseded) -> tuple[tuple, tuple]:
            state["piece"] += 1
            number = state["piece"]
            sha = rng.getrandbits(256).to_bytes(32, "big").hex()
            shas = recent_sha[funder_id]
            if not superseded and shas and rng.random() < 0.003:
                sha = rng.choice(shas)  # the same file in another dossier
            if not superseded:
                shas.append(sha)
                del shas[:-200]
            counts["replaced" if superseded else "current"] += 1
            document = (
                number,
                f"bench-{number:012d}",
                sha,
                120_000,
                "application/pdf",
                "piece.pdf",
                NOW,
                None,
            )
            piece = (
                number,
                dossier_id,
                kind,
                item.period.start,
                item.period.end,
                number,
                NOW,
                None,
                NOW if superseded else None,
                None,
                values.get("invoice_number"),
                values.get("invoice_date"),
                values.get("amount_excl_tax"),
                values.get("amount_incl_tax"),
                _minutes(values.get("hours_billed")),
                _minutes(values.get("hours_completed")),
                values.get("months_completed"),
                values.get("nature"),
                None,
                values.get("signatory"),
                values.get("signed_on"),
                values.get("half_days_planned"),
                values.get("half_days_signed"),
                _minutes(values.get("hours_attended")),
                None,
            )
            return document, piece

        for start_index in range(0, n, CHUNK):
            chunk = plans[start_index : start_index + CHUNK]
            drawn = [pair for plan in chunk for pair in pieces_of(plan)]
            writer.write("documents", DOCUMENT_COLUMNS, (d for d, _ in drawn))
            writer.write("pieces", PIECE_COLUMNS, (p for _, p in drawn))
        del plans

        if dialect == "postgresql":
            cursor = raw.cursor()
            for table in (
                "funders",
                "providers",
                "funder_providers",
                "dossiers",
                "documents",
                "pieces",
                "public_list_imports",
                "public_list_versions",
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

        password_hash = hash_password(PASSWORD)
        db.session.add_all(
            User(
                email=f"controleur{f}@banc.test",
                full_name=f"Contrôleur {f}",
                role=Role.CONTROLLER.value,
                funder_id=f,
                password_hash=password_hash,
            )
            for f in range(1, 6)
        )
        db.session.commit()
        db.engine.dispose()
    return {
        "dialect": dialect,
        "dossiers": n,
        "providers": providers,
        "pieces": counts["current"],
        "replaced": counts["replaced"],
        "documents": counts["current"] + counts["replaced"],
        "list_imports": len(lists),
        "list_versions": version_count,
        "load_s": time.perf_counter() - started,
    }


# --- Measure (in a fresh process) ---------------------------------------------------------------

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from bench.dossiers_list import make_app
from portal.extensions import db
from portal.models import CheckFinding, Piece
from portal.service_fait.runner import run_all_checks
from sqlalchemy import func, select

app = make_app(sys.argv[1])
with app.app_context():
    pieces = db.session.scalar(select(func.count(Piece.id)).where(Piece.superseded_at.is_(None)))
    db.session.commit()
    runs = []
    for name in ("first run (controls and findings created)", "re-run (nothing changed)"):
        started = time.perf_counter()
        summary = run_all_checks()
        seconds = time.perf_counter() - started
        runs.append({"name": name, "seconds": seconds, "dossiers": summary.dossiers,
                     "findings": summary.findings, "by_severity": summary.by_severity,
                     "with_blocking": summary.dossiers_with_blocking})
    db.engine.dispose()
# The process's own peak (VmHWM): ru_maxrss would count the parent's memory, inherited
# through fork/exec.
try:
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status")
                   if line.startswith("VmHWM"))
except OSError:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"runs": runs, "pieces": pieces, "maxrss_mb": peak_kb / 1024}))
"""


def busy_processes() -> str:
    """The other processes using the CPU right now (the machine is shared)."""
    out = subprocess.run(
        ["ps", "-eo", "pid,pcpu,etime,args", "--sort=-pcpu"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    mine = str(os.getpid())
    lines = [
        line[:150]
        for line in out[1:]
        if line.split(None, 1)[0] != mine and float(line.split()[1]) >= 5.0
    ]
    return "\n".join(f"    {line}" for line in lines[:8]) or "    (none above 5 % CPU)"


def measure(url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        raise SystemExit(out.returncode)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a new SQLite file (deleted after)")
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--providers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database as it is (no generation)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-service-fait-"))
    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    if args.reuse and not args.database_url:
        parser.error("--reuse needs --database-url")
    try:
        if not args.reuse:
            info = generate(make_app(url), args.dossiers, providers=args.providers, seed=args.seed)
            print(
                f"database: {info['dialect']}; {info['dossiers']:,} dossiers, "
                f"{info['pieces']:,} current pieces (+{info['replaced']:,} replaced), "
                f"{info['providers']:,} OF, 5 funders, {info['list_imports']} public lists "
                f"({info['list_versions']:,} versions); loaded in {info['load_s']:.1f} s"
            )
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print("busy processes before:\n" + busy_processes())
        result = measure(url)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print("busy processes after:\n" + busy_processes())
        for run in result["runs"]:
            seconds = run["seconds"]
            print(
                f"\nrun_all_checks, {run['name']}: {seconds:.1f} s for {run['dossiers']:,} "
                f"dossiers ({run['dossiers'] / seconds:,.0f} dossiers/s; "
                f"{result['pieces'] / seconds:,.0f} pieces read/s; "
                f"{run['findings'] / seconds:,.0f} findings/s); {run['findings']:,} "
                f"findings {run['by_severity']}, {run['with_blocking']:,} dossiers with a "
                "blocking one"
            )
        print(
            f"peak RSS of the measuring process (VmHWM, both runs): {result['maxrss_mb']:.0f} MB"
            + (" (SQLite's memory map and page cache included)" if "sqlite" in url else "")
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
