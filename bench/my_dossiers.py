"""Benchmark of "Mes dossiers" (the OF's space); prints the figures (never asserts them).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/my_dossiers.py [--dossiers 100000]
        [--pieces 500000] [--mine 10000] [--requests 300] [--database-url URL]

Fills a new database (a SQLite file unless --database-url names a disposable PostgreSQL
database: the schema is dropped and recreated) with --dossiers dossiers of 20 funders and
2,000 OF, and --pieces pieces (each with its document), spread over the dossiers' calendars
(earlier periods first, some pieces replaced). One OF holds --mine of the dossiers, from 5
funders; its user then asks for "Mes dossiers" through the application (test client, CSRF
off), in the ways an OF uses the page: first page, a page further on, "missing pieces
only", a search by reference or name, one funder, and the HTMX fragment of each.

For each way (bench.listbench): server time p50 / p95 (the time of the request inside the
process), the number of SQL statements (bounded) and a flag past the budget, 150 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "un-mot-de-passe-de-banc-d-essai"  # noqa: S105
CHUNK = 10_000


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


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
            "STORAGE_DIR": tempfile.mkdtemp(prefix="bench-files-"),
        },
    )
    return create_app(config)


def fill(app, args) -> tuple[int, int]:
    """Write the data set with Core inserts; return (the measured OF's id, its user's id)."""
    from sqlalchemy import insert

    from portal.dossiers.calendar import expected_pieces, first_missing_due
    from portal.extensions import db
    from portal.models import (
        Document,
        Dossier,
        Funder,
        FunderProvider,
        Piece,
        Provider,
        User,
    )
    from portal.passwords import hash_password

    rng = random.Random(42)
    today = date.today()
    now = datetime.now(UTC)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.execute(
            insert(Funder),
            [{"name": f"Financeur {i}", "kind": "opco", "version": 1} for i in range(20)],
        )
        db.session.execute(
            insert(Provider),
            [
                {
                    "nda": f"76{i:09d}",
                    "siren": f"{100000000 + i}",
                    "siret": f"{100000000 + i}00010",
                    "name": f"Organisme {i}",
                }
                for i in range(2000)
            ],
        )
        links = {(1 + i % 20, 1 + i) for i in range(2000)} | {(f, 1) for f in range(1, 6)}
        db.session.execute(
            insert(FunderProvider), [{"funder_id": f, "provider_id": p} for f, p in links]
        )
        user = User(
            email="of@bench.test",
            full_name="OF du banc",
            role="provider",
            provider_id=1,
            password_hash=hash_password(PASSWORD),
        )
        db.session.add(user)
        db.session.commit()
        user_id = user.id

        dossiers, calendars = [], []
        for i in range(args.dossiers):
            mine = i < args.mine
            provider = 1 if mine else rng.randrange(2, 2001)
            funder = 1 + (i % 5 if mine else rng.randrange(20))
            start = today - timedelta(days=rng.randrange(-180, 730))
            end = start + timedelta(days=rng.randrange(20, 365))
            roll = rng.random()
            scheme, rhythm, instalments = (
                ("ptp", "mensuel", None)
                if roll < 0.4
                else ("cpf", "fin_de_formation", None)
                if roll < 0.8
                else ("plan", "echeances", rng.randrange(2, 6))
            )
            status = rng.choices(["en_cours", "clos", "annule"], [80, 15, 5])[0]
            expected = expected_pieces(scheme, rhythm, start, end, instalments)
            calendars.append(expected)
            dossiers.append(
                {
                    "id": i + 1,
                    "funder_id": funder,
                    "reference": f"REF-{i:06d}",
                    "provider_id": provider,
                    "provider_siret": f"{100000000 + provider - 1}00010",
                    "beneficiary_last_name": rng.choice(["Martin", "Bernard", "Durand", "Petit"])
                    + str(i),
                    "beneficiary_first_name": "Camille",
                    "action_title": "Action de formation",
                    "category": "actions_formation",
                    "scheme": scheme,
                    "modality": "presentiel",
                    "start_date": start,
                    "end_date": end,
                    "planned_minutes": 100 * 60,
                    "agreed_amount": Decimal("5000"),
                    "payment_rhythm": rhythm,
                    "instalments": instalments,
                    "subcontracted": False,
                    "status": status,
                    "created_at": now,
                    "version": 1,
                }
            )
        # Pieces: earlier periods first, about --pieces in all, 5 % of them replaced.
        share = args.pieces / max(1, sum(len(c) for c in calendars))
        documents, pieces, received = [], [], {}
        for index, expected in enumerate(calendars):
            count = min(
                len(expected), round(len(expected) * min(1.0, share * rng.uniform(0.5, 1.5)))
            )
            for item in expected[:count]:
                number = len(pieces) + 1
                documents.append(
                    {
                        "id": number,
                        "storage_key": f"{number:032x}",
                        "sha256": f"{rng.getrandbits(256):064x}",
                        "size": 1000,
                        "content_type": "application/pdf",
                        "original_name": "piece.pdf",
                        "uploaded_at": now,
                    }
                )
                pieces.append(
                    {
                        "id": number,
                        "dossier_id": index + 1,
                        "kind": item.kind.value,
                        "period_start": item.period.start,
                        "period_end": item.period.end,
                        "document_id": number,
                        "created_at": now,
                        "superseded_at": now if rng.random() < 0.05 else None,
                    }
                )
                if pieces[-1]["superseded_at"] is None:
                    received.setdefault(index, []).append(item)
                if len(pieces) >= args.pieces:
                    break
            if len(pieces) >= args.pieces:
                break
        for index, row in enumerate(dossiers):
            got = received.get(index, [])
            row["first_missing_due"] = (
                first_missing_due([e for e in calendars[index] if e not in got], [])
                if row["status"] == "en_cours"
                else None
            )
        for table, rows in ((Dossier, dossiers), (Document, documents), (Piece, pieces)):
            for start in range(0, len(rows), CHUNK):
                db.session.execute(insert(table), rows[start : start + CHUNK])
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            from sqlalchemy import text

            for seq, table in (
                ("dossiers_id_seq", "dossiers"),
                ("documents_id_seq", "documents"),
                ("pieces_id_seq", "pieces"),
            ):
                db.session.execute(text(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))"))
            db.session.execute(text("ANALYZE"))
        else:
            from sqlalchemy import text

            db.session.execute(text("ANALYZE"))
        db.session.commit()
        print(
            f"Données : {len(dossiers)} dossiers ({args.mine} pour l'OF mesuré), "
            f"{len(pieces)} pièces et documents."
        )
        db.engine.dispose()
    return 1, user_id


def measure(app, args) -> None:
    from bench import listbench

    client = listbench.login(app, "of@bench.test", PASSWORD)
    pages = max(1, args.mine // 20)
    scenarios: list[listbench.Scenario] = []
    for htmx in (False, True):
        how = ", HTMX" if htmx else ""
        scenarios += [
            (f"page 1{how}", {}, htmx),
            (f"page {pages // 2} (middle){how}", {"page": pages // 2}, htmx),
            (f"last page{how}", {"page": pages}, htmx),
            (f"missing pieces{how}", {"manquantes": "y"}, htmx),
            (f"missing pieces, page 5{how}", {"manquantes": "y", "page": 5}, htmx),
            (f"search reference{how}", {"q": "REF-00"}, htmx),
            (f"search name{how}", {"q": "Martin"}, htmx),
            (f"search no match{how}", {"q": "durand1"}, htmx),
            (f"one funder{how}", {"financeur": 3}, htmx),
        ]
    repeat = max(3, args.requests // len(scenarios))
    per = listbench.measure(app, client, "/dossiers/", scenarios, repeat)
    listbench.report("OF's space 'Mes dossiers' (GET /dossiers/ as the OF user)", per)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--pieces", type=int, default=500_000)
    parser.add_argument("--mine", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-mine-"))
    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    app = make_app(url)
    started = time.perf_counter()
    fill(app, args)
    print(f"Remplissage : {time.perf_counter() - started:.0f} s ({url.split('@')[-1]})")
    measure(app, args)


if __name__ == "__main__":
    main()
