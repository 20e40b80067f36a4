"""Benchmark of the ministry's inbox, the funders' list of open non-conformities and the
subcontracting watch list; prints the figures (never asserts them).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/other_lists.py
        [--database-url URL] [--dossiers 100000] [--repeat 10] [--reuse]

The data set of ``bench/service_fait.py`` (:func:`bench.service_fait.generate`: 5 funders,
~2,000 OF, N dossiers with their pieces; --reuse: a database it already built, e.g. kept by
``bench/service_fait_queue.py --keep FILE``), then, in plain rows (executemany on SQLite,
COPY on PostgreSQL), in proportion to the dossiers:

- one signalement per 20 dossiers, from every funder, over the OF, in every state (60 %
  sent to the ministry, in review, waiting for information, forwarded, dismissed or
  closed), with 1–3 RNQ indicators each and the OF's region;
- one quality control per 50 dossiers (70 % reported), each with its 32 indicators, about
  one in eight a non-conformity (minor or major) with its deadline and status;
- one subcontracting contract per 100 dossiers (a third CPF, some incomplete) and the CPF
  turnover of their principals for 2024–2026.

Then, through the Flask test client (:mod:`bench.listbench`), per scenario p50 / p95 and
the SQL statements: ``GET /signalements/`` as a national ministry liaison (states, region,
funder, OF, indicator, age, stale, pages), ``GET /qualite/non-conformites`` as the
controller of the biggest funder (status, level, OF, overdue, pages), ``GET
/sous-traitance/`` as that controller (flagged only, everything, by name, by NDA).
Budget: p95 ≤ 150 ms per scenario.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import listbench  # noqa: E402
from bench.dossiers_list import Writer, make_app  # noqa: E402

PASSWORD = "un-mot-de-passe-de-banc-d-essai"  # noqa: S105  (bench.service_fait's)
CONTROLLER = "controleur1@banc.test"
MINISTRY = "ministere@banc.test"
NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
REGIONS = ("11", "24", "27", "28", "32", "44", "52", "53", "75", "76", "84", "93", "94")
SENT_STATES = (
    ("transmis", 20),
    ("en_examen", 15),
    ("complement_demande", 5),
    ("transmis_certificateur", 10),
    ("classe_sans_suite", 5),
    ("clos", 5),
    ("brouillon", 30),
    ("a_approuver", 10),
)
TABLES = (
    "signalement_indicators",
    "signalements",
    "quality_findings",
    "quality_controls",
    "subcontract_year_amounts",
    "subcontracts",
    "cpf_turnovers",
)


def fill(app: Any, dossiers: int, seed: int = 7) -> dict[str, Any]:
    from sqlalchemy import select, text

    from portal.extensions import db
    from portal.models import Role, User

    rng = random.Random(seed)
    with app.app_context():
        for table in TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        links = db.session.execute(text("SELECT funder_id, provider_id FROM funder_providers"))
        links = [tuple(row) for row in links]
        providers = db.session.execute(text("SELECT id, nda FROM providers")).all()
        region_of = {pid: REGIONS[pid % len(REGIONS)] for pid, _ in providers}
        nda_of = dict(providers)
        author = db.session.scalar(select(User.id).where(User.email == CONTROLLER))
        if db.session.scalar(select(User.id).where(User.email == MINISTRY)) is None:
            db.session.add(
                User(
                    email=MINISTRY,
                    full_name="Correspondant national",
                    role=Role.MINISTRY.value,
                    password_hash=db.session.scalar(
                        select(User.password_hash).where(User.email == CONTROLLER)
                    ),
                )
            )
            db.session.commit()
        dialect = db.engine.dialect.name
        raw = db.engine.raw_connection()
        writer = Writer(raw, dialect)
        started = time.perf_counter()

        # Signalements.
        states = [s for s, _ in SENT_STATES]
        weights = [w for _, w in SENT_STATES]
        signalements, indicators = [], []
        for n in range(1, dossiers // 20 + 1):
            funder_id, provider_id = rng.choice(links)
            state = rng.choices(states, weights)[0]
            created = NOW - timedelta(days=rng.randint(1, 900), minutes=rng.randint(0, 1440))
            sent = None if state in ("brouillon", "a_approuver") else created + timedelta(days=2)
            taken = sent + timedelta(days=3) if sent and state != "transmis" else None
            closed = taken + timedelta(days=40) if taken and state in ("clos",) else None
            signalements.append(
                (
                    n,
                    funder_id,
                    provider_id,
                    author,
                    region_of[provider_id],
                    state,
                    "Faits de banc d'essai.",
                    "",
                    "",
                    rng.choice(("moderee", "serieuse", "grave")),
                    created,
                    created,
                    sent,
                    taken,
                    closed,
                    1,
                )
            )
            for number in rng.sample(range(1, 33), rng.randint(1, 3)):
                indicators.append((n, number))
        writer.write(
            "signalements",
            (
                "id",
                "funder_id",
                "provider_id",
                "author_id",
                "region_code",
                "state",
                "facts_what",
                "facts_when",
                "facts_where",
                "seriousness",
                "created_at",
                "updated_at",
                "sent_at",
                "taken_at",
                "closed_at",
                "version",
            ),
            signalements,
        )
        writer.write("signalement_indicators", ("signalement_id", "number"), indicators)

        # Quality controls and their grids.
        controls, findings = [], []
        finding_id = 0
        for n in range(1, dossiers // 50 + 1):
            funder_id, provider_id = rng.choice(links)
            reported = rng.random() < 0.7
            day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 700))
            controls.append(
                (
                    n,
                    funder_id,
                    provider_id,
                    author,
                    "sur_site",
                    day,
                    "",
                    "",
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                    "rapport" if reported else "planifie",
                    "",
                    NOW if reported else None,
                    NOW,
                    NOW,
                    1,
                )
            )
            for position in range(1, 33):
                finding_id += 1
                draw = rng.random()
                level = "conforme"
                deadline = status = None
                if reported and draw < 0.12:
                    level = "nc_majeure" if draw < 0.03 else "nc_mineure"
                    deadline = day + timedelta(days=90 if level == "nc_majeure" else 182)
                    status = rng.choice(("ouverte", "ouverte", "reponse", "maintenue", "levee"))
                elif reported:
                    level = "conforme" if draw < 0.9 else "non_applicable"
                findings.append(
                    (
                        finding_id,
                        n,
                        str(position),
                        position,
                        level if reported else None,
                        "",
                        "",
                        deadline,
                        status,
                        NOW,
                        1,
                    )
                )
        writer.write(
            "quality_controls",
            (
                "id",
                "funder_id",
                "provider_id",
                "created_by_id",
                "mode",
                "control_date",
                "scope_actions",
                "participants",
                "certifying",
                "apprenticeship",
                "work_based",
                "subcontracting",
                "short_only",
                "certif_region",
                "shared",
                "status",
                "conclusion",
                "reported_at",
                "created_at",
                "updated_at",
                "version",
            ),
            controls,
        )
        writer.write(
            "quality_findings",
            (
                "id",
                "control_id",
                "code",
                "position",
                "finding",
                "not_applicable_reason",
                "observations",
                "deadline",
                "nc_status",
                "updated_at",
                "version",
            ),
            findings,
        )

        # Subcontracting contracts and the CPF turnovers of their principals.
        contracts, turnovers = [], []
        principals: set[int] = set()
        for n in range(1, dossiers // 100 + 1):
            _funder_id, principal = rng.choice(links)
            sub = rng.choice(providers)[0]
            start = date(2024, 1, 1) + timedelta(days=rng.randint(0, 600))
            complete = rng.random() < 0.8
            contracts.append(
                (
                    n,
                    principal,
                    sub if sub != principal else None,
                    nda_of[sub],
                    "12345678900011",
                    f"Sous-traitant {sub}",
                    "Actions de formation",
                    "actions_formation",
                    start,
                    start + timedelta(days=rng.randint(30, 500)),
                    rng.random() < 0.33,
                    False,
                    Decimal(rng.randint(1_000, 200_000)),
                    *([complete] * 8),
                    False,
                    True,
                    False,
                    NOW,
                    1,
                )
            )
            principals.add(principal)
        writer.write(
            "subcontracts",
            (
                "id",
                "principal_id",
                "subcontractor_id",
                "subcontractor_nda",
                "subcontractor_siret",
                "subcontractor_name",
                "actions",
                "categories",
                "start_date",
                "end_date",
                "is_cpf",
                "whole_certification",
                "price",
                "mentions_missions",
                "mentions_content",
                "mentions_sanction",
                "mentions_means",
                "mentions_conditions",
                "mentions_duration",
                "mentions_period",
                "mentions_price",
                "micro_entrepreneur",
                "authorisation_declared",
                "dereferenced",
                "created_at",
                "version",
            ),
            contracts,
        )
        n = 0
        for principal in sorted(principals):
            if rng.random() < 0.8:
                for year in (2024, 2025, 2026):
                    n += 1
                    turnovers.append(
                        (n, principal, year, Decimal(rng.randint(10_000, 900_000)), "saisie", NOW)
                    )
        writer.write(
            "cpf_turnovers",
            ("id", "provider_id", "year", "amount", "source", "updated_at"),
            turnovers,
        )
        if dialect == "postgresql":
            cursor = raw.cursor()
            for table in ("signalements", "quality_controls", "quality_findings", "subcontracts"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cursor.execute("SELECT setval(pg_get_serial_sequence('cpf_turnovers', 'id'), %s)", (n,))
            raw.commit()
            raw.driver_connection.autocommit = True
            for table in TABLES:
                cursor.execute(f"VACUUM ANALYZE {table}")
        raw.close()
        big_of = max(set(p for _, p in links), key=lambda p: sum(1 for _, q in links if q == p))
        nc_provider = db.session.scalar(
            text(
                "SELECT c.provider_id FROM quality_findings f JOIN quality_controls c "
                "ON c.id = f.control_id WHERE c.funder_id = 1 AND f.nc_status IS NOT NULL "
                "GROUP BY c.provider_id ORDER BY count(*) DESC LIMIT 1"
            )
        )
        watched = db.session.execute(
            text(
                "SELECT p.name, p.nda FROM subcontracts s JOIN providers p ON p.id = "
                "s.principal_id JOIN funder_providers fp ON fp.provider_id = p.id AND "
                "fp.funder_id = 1 ORDER BY s.id LIMIT 1"
            )
        ).one()
        db.engine.dispose()
    return {
        "load_s": time.perf_counter() - started,
        "signalements": len(signalements),
        "quality_controls": len(controls),
        "quality_findings": len(findings),
        "contracts": len(contracts),
        "big_nda": nda_of[big_of],
        "nc_provider": nc_provider,
        "watched_name": watched[0],
        "watched_nda": watched[1],
        "dialect": dialect,
    }


def inbox_scenarios(info: dict[str, Any]) -> list[listbench.Scenario]:
    return [
        ("default, full page", {}, False),
        ("default, HTMX fragment", {}, True),
        ("state transmis", {"etat": "transmis"}, True),
        ("state clos", {"etat": "clos"}, True),
        ("region 84", {"region": "84"}, True),
        ("funder 1", {"financeur": 1}, True),
        ("OF by NDA (biggest OF)", {"organisme": info["big_nda"]}, True),
        ("OF by name", {"organisme": "Formation 12"}, True),
        ("indicator 11", {"indicateur": 11}, True),
        ("older than 90 days", {"anciennete": 90}, True),
        ("stale", {"en_retard": "1"}, True),
        ("page 2", {"page": 2}, True),
        ("page 20", {"page": 20}, True),
        ("last page", {"page": 100_000}, True),
        (
            "region + state + indicator",
            {"region": "84", "etat": "en_examen", "indicateur": 8},
            True,
        ),
    ]


def nc_scenarios(info: dict[str, Any]) -> list[listbench.Scenario]:
    return [
        ("default, full page", {}, False),
        ("default, HTMX fragment", {}, True),
        ("status ouverte", {"statut": "ouverte"}, True),
        ("status reponse", {"statut": "reponse"}, True),
        ("level nc_majeure", {"niveau": "nc_majeure"}, True),
        ("OF (most NC)", {"organisme": info["nc_provider"]}, True),
        ("overdue only", {"retard": "1"}, True),
        ("page 2", {"page": 2}, True),
        ("last page", {"page": 100_000}, True),
        (
            "ouverte + majeure + overdue",
            {"statut": "ouverte", "niveau": "nc_majeure", "retard": "1"},
            True,
        ),
    ]


def watch_scenarios(info: dict[str, Any]) -> list[listbench.Scenario]:
    return [
        ("flagged only, full page", {}, False),
        ("flagged only, HTMX", {}, True),
        ("everything", {"tous": "1"}, True),
        ("by name", {"q": info["watched_name"]}, True),
        ("by NDA, everything", {"q": info["watched_nda"], "tous": "1"}, True),
        ("name fragment, everything", {"q": "Formation 1", "tous": "1"}, True),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a new SQLite file (deleted after)")
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--providers", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--reuse", action="store_true", help="a database already generated")
    parser.add_argument("--keep", help="with SQLite: keep the database file at this path")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-other-lists-"))
    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
    url = args.database_url or f"sqlite:///{args.keep or tmp / 'bench.db'}"
    try:
        if not args.reuse:
            from bench.service_fait import generate

            built = generate(make_app(url), args.dossiers, providers=args.providers)
            print(f"database generated in {built['load_s']:.1f} s (bench.service_fait.generate)")
        app = make_app(url)
        with app.app_context():
            from sqlalchemy import text

            from portal.extensions import db

            dossiers = db.session.scalar(text("SELECT count(*) FROM dossiers"))
        info = fill(app, dossiers)
        print(
            f"database: {info['dialect']}; {dossiers:,} dossiers; added in {info['load_s']:.1f} s: "
            f"{info['signalements']:,} signalements, {info['quality_controls']:,} quality "
            f"controls ({info['quality_findings']:,} findings), {info['contracts']:,} "
            f"subcontracting contracts; load average {os.getloadavg()[0]:.2f} on "
            f"{os.cpu_count()} CPUs"
        )
        app = make_app(url)  # a fresh app: nothing cached from the load
        client = listbench.login(app, MINISTRY, PASSWORD)
        per = listbench.measure(app, client, "/signalements/", inbox_scenarios(info), args.repeat)
        listbench.report("Ministry inbox GET /signalements/ (national liaison)", per)
        client = listbench.login(app, CONTROLLER, PASSWORD)
        per = listbench.measure(
            app, client, "/qualite/non-conformites", nc_scenarios(info), args.repeat
        )
        listbench.report("Open non-conformities GET /qualite/non-conformites (funder 1)", per)
        per = listbench.measure(app, client, "/sous-traitance/", watch_scenarios(info), args.repeat)
        listbench.report("Subcontracting watch list GET /sous-traitance/ (funder 1)", per)
        from portal.extensions import db

        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
