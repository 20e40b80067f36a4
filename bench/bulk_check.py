"""Benchmark of the bulk check (Qualiopi); prints the figures (never asserts them).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/bulk_check.py [--rows 150000]
        [--lines 10000] [--repeat 3]

On a new SQLite file: imports a generated public list (`bench/make_public_list.py`, 150,000
rows by default), then times, for a CSV of 10,000 lines (identifiers drawn from the list,
a third each NDA / SIREN / SIRET, 5 % absent from it, 1 % with a bad checksum):

(a) the service functions: reading the file (`read_identifiers`), checking the lines
    (`check_items`, i.e. `lookup.check_many`), storing them (`create_check` + commit), and
    writing the downloads (`to_csv`, `to_xlsx`);
(b) the full POST `/qualiopi/verification-groupee` through the test client (form, CSRF
    off, reading, checking, storing, audit, commit, 303), then the results page and both
    downloads;
(c) the same POST with a file whose lines carry 365 different dates.

The target is ≤ 2 s server-side for 10,000 lines. Each figure is the median of --repeat runs.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = "/qualiopi/verification-groupee"
PASSWORD = "un-mot-de-passe-de-banc-d-essai"  # noqa: S105


def median_time(repeat: int, action: Callable[[], Any]) -> tuple[float, Any]:
    """The median wall time of `repeat` runs of `action`, and its last result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def make_csv(rows: int, lines: int, *, dated: bool, seed: int = 1) -> bytes:
    """A file of `lines` identifiers drawn from the generated list (see the docstring)."""
    from bench.make_public_list import row

    rng = random.Random(seed)
    list_rng = random.Random(0)
    out = ["siret;date"]
    start = date.today() - timedelta(days=364)
    for n in range(lines):
        i = rng.randrange(rows)
        nda, _, _, siren, siret = row(i, list_rng, 0.0)[:5]
        value = (nda, siren, siret)[n % 3]
        roll = rng.random()
        if roll < 0.05:  # absent from the list (valid keys: an index beyond the list)
            value = row(rows + i, list_rng, 0.0)[3]
        elif roll < 0.06:  # a bad checksum
            value = siret[:-1] + str((int(siret[-1]) + 1) % 10)
        on = (start + timedelta(days=n % 365)).strftime("%d/%m/%Y") if dated else ""
        out.append(f"{value};{on}")
    return ("\ufeff" + "\r\n".join(out) + "\r\n").encode("utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    os.environ.setdefault("PORTAL_INSTANCE_PATH", str(tmp / "instance"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:

    from bench.make_public_list import write
    from portal import create_app
    from portal.config import Config
    from portal.exports import to_csv, to_xlsx
    from portal.extensions import db
    from portal.models import BulkCheck, Role, User
    from portal.passwords import hash_password
    from portal.public_list.bulk_checks import COLUMNS, check_items, create_check, export_rows
    from portal.public_list.bulk_input import read_identifiers
    from portal.public_list.importer import import_list

    class BenchConfig(Config):
        SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp / 'bench.db'}"
        SECRET_KEY = "bench"  # noqa: S105
        STORAGE_DIR = str(tmp / "files")
        WTF_CSRF_ENABLED = False
        RATELIMIT_ENABLED = False

    app = create_app(BenchConfig)
    list_path = tmp / "liste.csv"
    write(list_path, args.rows)
    plain = make_csv(args.rows, args.lines, dated=False)
    dated = make_csv(args.rows, args.lines, dated=True)
    print(f"Base SQLite temporaire : {tmp / 'bench.db'} (effacée à la fin)")
    print(f"Fichier : {args.lines} lignes, {len(plain) / 1024:.0f} Kio ; médiane de {args.repeat}")

    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        # A year ago, so that every date of the dated file (the last 365 days) has a list.
        list_date = date.today() - timedelta(days=365)
        imported = import_list(str(list_path), as_of=list_date, triggered_by="bench")
        print(
            f"Import de la liste : {imported.rows_kept} organismes en "
            f"{time.perf_counter() - started:.1f} s ({imported.status})"
        )
        user = User(
            email="banc@exemple.test",
            full_name="Banc d'essai",
            role=Role.ADMIN.value,
            password_hash=hash_password(PASSWORD),
        )
        db.session.add(user)
        db.session.commit()
        user_id = user.id

        print("\n(a) Fonctions de service")
        t_read, bulk_input = median_time(args.repeat, lambda: read_identifiers(plain, "f.csv"))
        print(
            f"  lecture (read_identifiers)        {t_read * 1000:7.0f} ms  "
            f"({len(bulk_input.items)} lisibles, {len(bulk_input.unreadable)} illisibles)"
        )
        t_check, results = median_time(args.repeat, lambda: check_items(bulk_input.items))
        found = sum(1 for r in results if r["matches"])
        print(
            f"  vérification (check_items)        {t_check * 1000:7.0f} ms  "
            f"({found} trouvés dans la liste)"
        )
        print(f"  lecture + vérification            {(t_read + t_check) * 1000:7.0f} ms")

        def store() -> Any:
            with app.test_request_context():
                check = create_check(db.session.get(User, user_id), "f.csv", bulk_input)
                db.session.commit()
                return check.id

        t_store, check_id = median_time(args.repeat, store)
        print(f"  vérification + enregistrement     {t_store * 1000:7.0f} ms")
        db.session.expire_all()
        check = db.session.get(BulkCheck, check_id)
        t_csv, body = median_time(args.repeat, lambda: to_csv(COLUMNS, export_rows(check)))
        print(f"  export CSV (to_csv)               {t_csv * 1000:7.0f} ms  ({len(body)} octets)")
        t_xlsx, body = median_time(
            args.repeat, lambda: to_xlsx(COLUMNS, export_rows(check), "Vérification Qualiopi")
        )
        print(f"  export XLSX (to_xlsx)             {t_xlsx * 1000:7.0f} ms  ({len(body)} octets)")
        db.session.remove()

    client = app.test_client()
    response = client.post("/login", data={"email": "banc@exemple.test", "password": PASSWORD})
    assert response.status_code == 303, response.status_code

    def post(data: bytes) -> str:
        response = client.post(
            PAGE,
            data={"file": (io.BytesIO(data), "organismes.csv"), "on": ""},
            content_type="multipart/form-data",
        )
        assert response.status_code == 303, response.get_data(as_text=True)[:2000]
        return response.headers["Location"]

    print("\n(b) Requêtes complètes (client de test)")
    t_post, location = median_time(args.repeat, lambda: post(plain))
    print(f"  POST du fichier (→ 303)           {t_post * 1000:7.0f} ms")
    for label, suffix in (("page de résultats", ""), ("CSV", ".csv"), ("XLSX", ".xlsx")):
        t_get, response = median_time(args.repeat, lambda s=suffix: client.get(location + s))
        assert response.status_code == 200
        print(f"  GET {label:<30}{t_get * 1000:7.0f} ms  ({len(response.data)} octets)")

    print("\n(c) POST, lignes réparties sur 365 dates")
    t_dated, _ = median_time(args.repeat, lambda: post(dated))
    print(f"  POST du fichier (→ 303)           {t_dated * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
