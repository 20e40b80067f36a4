"""Benchmark of the streamed exports of a whole queue; prints the figures (never asserts).

    cd /work/main && PYTHONPATH=. .venv/bin/python bench/queue_export.py
        --database-url URL [--format csv|xlsx|both] [--email controleur1@banc.test]

Measures an existing database (e.g. kept by ``bench/service_fait_queue.py --keep FILE``).
Each export runs in a fresh child process (so that its peak memory, VmHWM, is the
export's): the controller logs in, asks ``/service-fait/export.<format>?statut=tous``
through the test client without buffering, and reads the body piece by piece. Printed:
the rows, the time to the first bytes, the total time, the size, and the peak RSS of the
process against its RSS before the request (what the export added).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "un-mot-de-passe-de-banc-d-essai"  # noqa: S105  (bench.service_fait's)


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def child(url: str, extension: str, email: str) -> None:
    from bench.dossiers_list import make_app

    app = make_app(url)
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    before = _status("VmRSS")
    started = time.perf_counter()
    response = client.get(f"/service-fait/export.{extension}?statut=tous", buffered=False)
    first = None
    size = 0
    lines = 0
    for chunk in response.response:
        if first is None and chunk:
            first = time.perf_counter() - started
        size += len(chunk)
        lines += chunk.count(b"\n")
    total = time.perf_counter() - started
    response.close()
    print(
        json.dumps(
            {
                "format": extension,
                "first_s": first,
                "total_s": total,
                "bytes": size,
                "csv_rows": lines - 1 if extension == "csv" else None,
                "rss_before_mb": before,
                "peak_mb": _status("VmHWM"),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--format", choices=("csv", "xlsx", "both"), default="both")
    parser.add_argument("--email", default="controleur1@banc.test")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database_url, args.child, args.email)
        return
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PORTAL_INSTANCE_PATH": os.environ.get(
            "PORTAL_INSTANCE_PATH", tempfile.mkdtemp(prefix="bench-export-")
        ),
    }
    for extension in ("csv", "xlsx") if args.format == "both" else (args.format,):
        out = (
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--database-url",
                    args.database_url,
                    "--email",
                    args.email,
                    "--child",
                    extension,
                ],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        f = json.loads(out)
        rows = f" {f['csv_rows']:,} rows," if f["csv_rows"] is not None else ""
        print(
            f"{extension.upper()}:{rows} first bytes after {f['first_s']:.2f} s, whole file "
            f"{f['total_s']:.1f} s, {f['bytes'] / 1e6:.1f} MB; peak RSS {f['peak_mb']} MB "
            f"(RSS before the request {f['rss_before_mb']} MB); load average "
            f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )


if __name__ == "__main__":
    main()
