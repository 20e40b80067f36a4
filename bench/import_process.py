"""The public-list import timed as whole processes, the way a user runs it; prints the
figures (never asserts them).

    PYTHONPATH=. .venv/bin/python bench/import_process.py [--rows 150000] [--repeat 3]
        [--database-url URL]

Writes a list in the real format (`bench/make_public_list.py`, 150,000 rows) and the next
day's (about 1 % of the certified lose it), then, from outside, under ``/usr/bin/time -v``
(wall time and maximum resident set size of the whole process: interpreter start-up, the
app's creation, the import, the alerts and the service-fait re-run after it):

- ``sqlite3 NEW.db '.import …'`` of the first list (into a new file each time: the
  reference);
- ``flask --app wsgi qualiopi import LIST1 --as-of D1`` into a database that has the
  schema (``flask db upgrade``, not timed) and no list;
- ``flask --app wsgi qualiopi import LIST2 --as-of D2`` (the daily import).

Without --database-url the database is a new SQLite file each round; with a PostgreSQL URL
(a disposable database: its schema is dropped and recreated each round) the reference is
still the sqlite3 shell. The targets (issue 19): first import ≤ 3×, daily import ≤ 2× the
shell's time, peak memory ≤ 150 MB. The machine is shared: the load average is printed
with each round, and --repeat N prints the medians.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_public_list import write  # noqa: E402

FLASK = str(Path(sys.executable).with_name("flask"))


def timed(command: list[str], env: dict[str, str], stdin: str | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of `command` run under /usr/bin/time -v."""
    out = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if out.returncode != 0:
        print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
        raise SystemExit(out.returncode)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", out.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr)
    assert wall and rss, out.stderr[-2000:]
    hours, minutes, seconds = wall.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1)) / 1024


def fresh_database(url: str, env: dict[str, str]) -> None:
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    subprocess.run(
        [FLASK, "--app", "wsgi", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


def one_round(url: str, tmp: Path, lists: list[tuple[Path, date]]) -> dict[str, float]:
    shell_db = tmp / "shell.db"
    shell_db.unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PORTAL_INSTANCE_PATH": str(tmp / "instance"),
        "SECRET_KEY": "bench",
    }
    shell = timed(
        ["sqlite3", str(shell_db)], env, f".mode csv\n.separator ;\n.import {lists[0][0]} liste\n"
    )
    fresh_database(url, env)
    first = timed(
        [
            FLASK,
            "--app",
            "wsgi",
            "qualiopi",
            "import",
            str(lists[0][0]),
            "--as-of",
            str(lists[0][1]),
        ],
        env,
    )
    daily = timed(
        [
            FLASK,
            "--app",
            "wsgi",
            "qualiopi",
            "import",
            str(lists[1][0]),
            "--as-of",
            str(lists[1][1]),
        ],
        env,
    )
    figures = {
        "shell_s": shell[0],
        "shell_mb": shell[1],
        "first_s": first[0],
        "first_mb": first[1],
        "daily_s": daily[0],
        "daily_mb": daily[1],
        "load": os.getloadavg()[0],
    }
    print(
        f"sqlite3 .import {shell[0]:.2f} s; first import {first[0]:.2f} s "
        f"({first[0] / shell[0]:.2f}×, peak RSS {first[1]:.0f} MB); daily import "
        f"{daily[0]:.2f} s ({daily[0] / shell[0]:.2f}×, peak RSS {daily[1]:.0f} MB); "
        f"load average {figures['load']:.2f} on {os.cpu_count()} CPUs"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="default: a new SQLite file each round")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-process-"))
    try:
        day1, day2 = date.today() - timedelta(days=1), date.today()
        list1, list2 = tmp / "liste-j1.csv", tmp / "liste-j2.csv"
        write(list1, args.rows, seed=1)
        write(list2, args.rows, seed=1, drop_certified=0.01)
        url = args.database_url or f"sqlite:///{tmp / 'portal.db'}"
        print(
            f"list: {args.rows:,} rows, {list1.stat().st_size / 1e6:.1f} MB; "
            f"database: {url.split(':', 1)[0]}"
        )
        rounds = [one_round(url, tmp, [(list1, day1), (list2, day2)]) for _ in range(args.repeat)]
        shell = statistics.median(r["shell_s"] for r in rounds)
        first = statistics.median(r["first_s"] for r in rounds)
        daily = statistics.median(r["daily_s"] for r in rounds)
        first_ratio = statistics.median(r["first_s"] / r["shell_s"] for r in rounds)
        daily_ratio = statistics.median(r["daily_s"] / r["shell_s"] for r in rounds)
        peak = max(max(r["first_mb"], r["daily_mb"]) for r in rounds)
        print(
            f"medians of {len(rounds)} rounds: sqlite3 .import {shell:.2f} s; first import "
            f"{first:.2f} s, daily import {daily:.2f} s; median ratios {first_ratio:.2f}× "
            f"(target ≤ 3) and {daily_ratio:.2f}× (target ≤ 2); peak RSS {peak:.0f} MB "
            f"(target ≤ 150)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
