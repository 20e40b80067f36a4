"""Benchmark of the controller's queue of service-fait controls; prints the figures (never
asserts them).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/service_fait_queue.py
        [--database-url URL] [--dossiers 100000] [--providers 2000] [--repeat 10]
        [--run-checks] [--keep FILE] [--reuse] [--proposed-indexes]

Builds the data set of ``bench/service_fait.py`` (:func:`bench.service_fait.generate`: 5
funders, ~2,000 OF, N dossiers with their pieces and a public-list history; a new SQLite
file, or the PostgreSQL database of --database-url, whose schema is DROPPED and recreated:
give it a disposable one). Then the controls and their findings: by default synthetic ones
written in plain SQL (a control per dossier with its invoiced total; eight codes of the
checks' registry, each on its own pseudo-random 1–15 % of the dossiers: about 45 % of the
dossiers have a finding, 25 % a blocking one), or, with --run-checks, those of the real
checks (``run_all_checks``, slower). Then a spread of states: about 15 % waiting for the
OF, 25 % controlled, 30 % assigned to one of the funder's two controllers.
--keep FILE keeps the SQLite file; --reuse measures an existing database (no generation);
--proposed-indexes adds the indexes proposed for migration 0005 first (PROPOSED_INDEXES).

Then, through the Flask test client (the whole request: session, access, form, queries,
template), as the controller of the biggest funder (40 % of the dossiers), it measures
``GET /service-fait/`` with filters applied: each status tab, each sort in both directions,
pages 1, 2, 50 and the last, the OF by NDA and by name, the scheme, an anomaly code, a
severity, both, a period, amounts, the assignee (me, nobody, someone), and combinations;
as a full page and as an HTMX fragment. It prints p50 / p95 server time over all requests
and per scenario, and the number of SQL statements per request; then the CSV and XLSX
exports of the funder's whole queue (one run each).

The target: p95 ≤ 150 ms server time with filters applied, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import listbench  # noqa: E402
from bench.dossiers_list import NOW, make_app  # noqa: E402

PASSWORD = "un-mot-de-passe-de-banc-d-essai"  # noqa: S105  (bench.service_fait's)
EMAIL = "controleur1@banc.test"  # the controller of funder 1, the biggest
Scenario = listbench.Scenario


#: Synthetic findings: (code of the checks' registry, share of the dossiers in per cent).
SYNTHETIC = (
    ("AMOUNT_OVER_AGREED", 4),
    ("HOURS_BILLED_OVER_COMPLETED", 6),
    ("HALF_DAYS_MISSING", 9),
    ("QUALIOPI_PERIOD", 2),
    ("INVOICE_BEFORE_PERIOD_END", 7),
    ("HOURS_ATTENDED_MISMATCH", 12),
    ("DUPLICATE_FILE", 1),
    ("QUALIOPI_UNKNOWN", 15),
)


def synthetic_checks(db: Any) -> None:
    """Controls for every dossier and findings for a share of them, in plain SQL (what the
    runner would store, without its cost): each code on its own pseudo-random share."""
    from sqlalchemy import text

    from portal.service_fait.checks import CHECKS, SEVERITY_RANK

    db.session.execute(text("DELETE FROM service_fait_findings"))
    db.session.execute(text("DELETE FROM service_fait_controls"))
    db.session.execute(
        text(
            "INSERT INTO service_fait_controls (dossier_id, funder_id, status, blocking_count, "
            "warning_count, info_count, invoiced_total, validated_total, version, "
            "checks_run_at) "
            "SELECT d.id, d.funder_id, 'a_controler', 0, 0, 0, "
            "COALESCE((SELECT sum(p.amount_incl_tax) FROM pieces p WHERE p.dossier_id = d.id "
            "AND p.kind = 'facture' AND p.superseded_at IS NULL), 0), 0, 1, :now "
            "FROM dossiers d"
        ),
        {"now": "2026-01-01 08:00:00" if db.engine.dialect.name == "sqlite" else NOW},
    )
    for index, (code, percent) in enumerate(SYNTHETIC):
        check = CHECKS[code]
        db.session.execute(
            text(
                "INSERT INTO service_fait_findings (control_id, dossier_id, code, severity, "
                "severity_rank, label, explanation) "
                "SELECT c.id, c.dossier_id, :code, :severity, :rank, :label, :explanation "
                "FROM service_fait_controls c "
                "WHERE ((CAST(c.dossier_id AS BIGINT) * :prime) % 100) < :percent"
            ),
            {
                "code": code,
                "severity": check.severity.value,
                "rank": SEVERITY_RANK[check.severity],
                "label": check.label,
                "explanation": f"Anomalie de banc d'essai ({code}).",
                "prime": (7919, 104729, 1299709, 15485863, 32452843, 49979687, 67867967)[index % 7]
                + index,
                "percent": percent,
            },
        )
    if db.engine.dialect.name == "postgresql":  # fresh rows: plan the UPDATE on statistics
        db.session.execute(text("ANALYZE service_fait_controls"))
        db.session.execute(text("ANALYZE service_fait_findings"))
    counts = ", ".join(
        f"{column} = (SELECT count(*) FROM service_fait_findings f "
        f"WHERE f.dossier_id = service_fait_controls.dossier_id AND f.severity = '{severity}')"
        for column, severity in (
            ("blocking_count", "bloquant"),
            ("warning_count", "alerte"),
            ("info_count", "information"),
        )
    )
    db.session.execute(text(f"UPDATE service_fait_controls SET {counts}"))
    db.session.commit()


def prepare(app: Any, run_checks: bool) -> dict[str, Any]:
    """The controls and their findings (the real checks, or synthetic ones), then a spread
    of states."""
    from sqlalchemy import func, select, text

    from portal.extensions import db
    from portal.models import CheckFinding, Dossier, Provider, ServiceFaitControl, User
    from portal.service_fait.runner import run_all_checks

    with app.app_context():
        started = time.perf_counter()
        if run_checks:
            run_all_checks()
        else:
            synthetic_checks(db)
        checks_s = time.perf_counter() - started
        second = db.session.scalar(select(User).where(User.email == "controleur-bis@banc.test"))
        if second is None:
            first = db.session.scalar(select(User).where(User.email == EMAIL))
            second = User(
                email="controleur-bis@banc.test",
                full_name="Contrôleur bis",
                role="controller",
                funder_id=1,
                password_hash=first.password_hash,
            )
            db.session.add(second)
            db.session.commit()
        first_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
        second_id = second.id
        # Plain SQL on every control: statuses, assignees, totals (what the services keep).
        db.session.execute(
            text(
                "UPDATE service_fait_controls SET "
                "status = CASE WHEN id % 20 IN (1, 2, 3) THEN 'attente_of' "
                "  WHEN id % 20 IN (4, 5, 6, 7, 8) THEN 'controle' ELSE 'a_controler' END, "
                "assigned_to_id = CASE WHEN id % 10 IN (1, 2) THEN :first "
                "  WHEN id % 10 = 3 THEN :second ELSE NULL END"
            ),
            {"first": first_id, "second": second_id},
        )
        db.session.execute(
            text(
                "UPDATE service_fait_controls SET validated_total = invoiced_total "
                "WHERE status = 'controle'"
            )
        )
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE service_fait_controls"))
                conn.execute(text("VACUUM ANALYZE service_fait_findings"))
        counts = dict(
            db.session.execute(
                select(ServiceFaitControl.status, func.count()).group_by(ServiceFaitControl.status)
            ).all()
        )
        funder_dossiers = db.session.scalar(
            select(func.count()).select_from(Dossier).where(Dossier.funder_id == 1)
        )
        findings = db.session.scalar(select(func.count(CheckFinding.id)))
        code = db.session.scalar(
            select(CheckFinding.code)
            .where(CheckFinding.severity == "bloquant")
            .group_by(CheckFinding.code)
            .order_by(func.count().desc())
            .limit(1)
        )
        rare = db.session.scalar(
            select(CheckFinding.code)
            .group_by(CheckFinding.code)
            .order_by(func.count().asc())
            .limit(1)
        )
        biggest = db.session.execute(
            select(Provider.nda, Provider.name)
            .join(Dossier, Dossier.provider_id == Provider.id)
            .where(Dossier.funder_id == 1)
            .group_by(Provider.id, Provider.nda, Provider.name)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        small = db.session.execute(
            select(Provider.nda, Provider.name)
            .join(Dossier, Dossier.provider_id == Provider.id)
            .where(Dossier.funder_id == 1)
            .group_by(Provider.id, Provider.nda, Provider.name)
            .order_by(func.count().asc(), Provider.id)
            .limit(1)
        ).one()
        dialect = db.engine.dialect.name
        db.engine.dispose()
    return {
        "checks_s": checks_s,
        "statuses": counts,
        "funder_dossiers": funder_dossiers,
        "findings": findings,
        "code": code,
        "rare_code": rare,
        "big_nda": biggest[0],
        "small_name": small[1],
        "dialect": dialect,
        "second_id": second_id,
    }


#: Indexes proposed for migration 0005 (not in the models yet): the sort on the amount
#: invoiced, and the counts per status of an assignee (covering).
PROPOSED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_sf_controls_funder_invoiced "
    "ON service_fait_controls (funder_id, invoiced_total)",
    "CREATE INDEX IF NOT EXISTS ix_sf_controls_funder_assignee_status "
    "ON service_fait_controls (funder_id, assigned_to_id, status)",
)


def add_proposed_indexes(app: Any) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    with app.app_context():
        for statement in PROPOSED_INDEXES:
            db.session.execute(text(statement))
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE service_fait_controls"))
        db.engine.dispose()


def scenarios(info: dict[str, Any]) -> list[Scenario]:
    everything = {"statut": "tous"}
    result: list[Scenario] = [
        ("default (à contrôler), page", {}, False),
        ("default, HTMX fragment", {}, True),
        ("tab attente_of", {"statut": "attente_of"}, True),
        ("tab controle", {"statut": "controle"}, True),
        ("tab tous", everything, True),
        ("tous, page 2", {**everything, "page": 2}, True),
        ("tous, page 50", {**everything, "page": 50}, True),
        ("tous, last page", {**everything, "page": 100_000}, True),
    ]
    for key in ("reference", "organisme", "debut", "montant", "facture", "anomalies"):
        result.append((f"sort {key}", {"tri": key}, True))
        result.append((f"sort -{key}", {"tri": f"-{key}"}, True))
    result += [
        ("OF by NDA (biggest OF)", {"organisme": info["big_nda"]}, True),
        ("OF by name (small OF), tous", {**everything, "organisme": info["small_name"]}, True),
        ("scheme ptp", {"dispositif": "ptp"}, True),
        ("anomaly code (most frequent blocking)", {"anomalie": info["code"]}, True),
        ("anomaly code (rarest), tous", {**everything, "anomalie": info["rare_code"]}, True),
        ("severity bloquant", {"gravite": "bloquant"}, True),
        ("severity alerte, tous", {**everything, "gravite": "alerte"}, True),
        (
            "code + severity, sort -anomalies",
            {"anomalie": info["code"], "gravite": "bloquant", "tri": "-anomalies"},
            True,
        ),
        ("period Q1 2025", {"du": "2025-01-01", "au": "2025-03-31"}, True),
        ("amounts 1000–5000", {"montant_min": "1000", "montant_max": "5000"}, True),
        ("assignee me", {"assigne": "moi"}, True),
        ("assignee nobody", {"assigne": "personne"}, True),
        ("assignee someone, tous", {**everything, "assigne": "quelqu_un"}, True),
        ("assignee the other controller", {"assigne": str(info["second_id"])}, True),
        (
            "ptp + blocking + period + me, sort organisme",
            {
                "dispositif": "ptp",
                "gravite": "bloquant",
                "du": "2024-01-01",
                "au": "2026-12-31",
                "assigne": "moi",
                "tri": "organisme",
            },
            True,
        ),
        (
            "OF by NDA + tous, page 3, sort -montant",
            {**everything, "organisme": info["big_nda"], "page": 3, "tri": "-montant"},
            True,
        ),
        (
            "amounts + scheme cpf + nobody, full page",
            {"montant_min": "500", "dispositif": "cpf", "assigne": "personne"},
            False,
        ),
    ]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a new SQLite file (deleted after)")
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--providers", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database as it is (no generation)"
    )
    parser.add_argument(
        "--run-checks",
        action="store_true",
        help="store the findings of the real checks (run_all_checks) instead of synthetic ones",
    )
    parser.add_argument("--keep", help="with SQLite: keep the database file at this path")
    parser.add_argument(
        "--proposed-indexes",
        action="store_true",
        help="add the indexes proposed for migration 0005 (PROPOSED_INDEXES) before measuring",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sf-queue-"))
    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
    url = args.database_url or f"sqlite:///{args.keep or tmp / 'bench.db'}"
    try:
        if not args.reuse:
            from bench.service_fait import generate

            info = generate(make_app(url), args.dossiers, providers=args.providers, seed=args.seed)
            print(
                f"database: {info['dialect']}; {info['dossiers']:,} dossiers, "
                f"{info['pieces']:,} current pieces (+{info['replaced']:,} replaced), "
                f"{info['providers']:,} OF, 5 funders; generated in {info['load_s']:.1f} s "
                "(bench.service_fait.generate)"
            )
        state = prepare(make_app(url), run_checks=args.run_checks)
        how = "run_all_checks" if args.run_checks else "synthetic controls and findings (SQL)"
        print(f"{how}: {state['checks_s']:.1f} s")
        print(
            f"controller's funder: {state['funder_dossiers']:,} dossiers; controls per status "
            f"(all funders): {state['statuses']}; {state['findings']:,} findings; "
            f"load average before measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        if args.proposed_indexes:
            add_proposed_indexes(make_app(url))
            print("proposed indexes added: " + "; ".join(PROPOSED_INDEXES))
        app = make_app(url)  # a fresh app: nothing cached from the load
        client = listbench.login(app, EMAIL, PASSWORD)
        per = listbench.measure(
            app,
            client,
            "/service-fait/",
            scenarios(state),
            args.repeat,
            shown=lambda body: body.count('name="dossier"'),
        )
        listbench.report(f"Queue GET /service-fait/ ({state['dialect']}, biggest funder)", per)

        client = app.test_client()
        client.post("/login", data={"email": EMAIL, "password": PASSWORD})
        for extension in ("csv", "xlsx"):
            started = time.perf_counter()
            response = client.get(f"/service-fait/export.{extension}?statut=tous")
            seconds = time.perf_counter() - started
            print(
                f"Export {extension.upper()} of the whole queue ({state['funder_dossiers']:,} "
                f"dossiers): {seconds:.2f} s, {len(response.data) / 1e6:.1f} MB"
            )
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        from portal.extensions import db

        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
