"""Memory of a worker receiving an upload; prints the figures (never asserts them).

    cd /work/main && .venv/bin/python bench/upload_memory.py [--size-mb 10]
        [--backend local|s3|all] [--repeat 1]

Each measurement runs in a fresh Python process, which imports everything and stores a small
file first (warm-up), then reads its `ru_maxrss` (peak resident memory) before and after
storing one upload of --size-mb through `portal.uploads.store_upload`. The printed delta is
how much the worker's peak memory grew for that upload; the target is < 20 MB for 10 MB.

Scenarios:
- ``direct``: the file comes from a stream generated on demand (as in the test);
- ``request``: the file is POSTed as multipart/form-data to a Flask route through the test
  client, so werkzeug's form parser spools it (to a temporary file above 500 KB) before the
  view calls `store_upload`, as in a real worker;
- ``naive`` (control): the view reads the whole file into memory before saving it; it shows
  that the measurement does see a file held in memory.

``--backend s3`` starts moto's server in another process (its memory is not counted).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024
SCENARIOS = ("direct", "request", "naive")


class GeneratedStream:
    """`size` bytes of a PDF-looking file produced on demand (64 KiB blocks)."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.sha256 = hashlib.sha256()
        self._chunks = self._generate()
        self._pending = b""

    @staticmethod
    def _generate() -> Iterator[bytes]:
        yield b"%PDF-1.4\n"
        block = bytes(range(256)) * 256
        while True:
            yield block

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        while len(self._pending) < size:
            self._pending += next(self._chunks)
        data, self._pending = self._pending[:size], self._pending[size:]
        self.remaining -= len(data)
        self.sha256.update(data)
        return data


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


def _current_rss_kb() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return -1


def child(scenario: str, backend: str, size: int, endpoint: str | None) -> None:
    """One measurement, printed as a JSON line."""
    import gc

    from flask import Flask, request
    from werkzeug.datastructures import FileStorage

    from portal.storage import LocalStorage, S3Storage, Storage, new_key
    from portal.uploads import store_upload

    workdir = Path(tempfile.mkdtemp(prefix="upload-bench-"))
    storage: Storage
    if backend == "s3":
        import boto3

        bucket = f"bench-{os.getpid()}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
        storage = S3Storage(bucket, endpoint_url=endpoint)
    else:
        storage = LocalStorage(workdir / "files")

    app = Flask("upload_bench")
    app.config["MAX_CONTENT_LENGTH"] = size + MB

    @app.post("/pieces")
    def receive() -> dict[str, object]:
        file = request.files["piece"]
        if scenario == "naive":
            data = file.stream.read()  # the whole file in memory: what must not be done
            key = new_key()
            storage.save(key, io.BytesIO(data))
            return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        stored = store_upload(storage, file, max_bytes=size)
        return {"size": stored.size, "sha256": stored.sha256}

    client = app.test_client()

    def run(n: int) -> tuple[dict[str, object], str]:
        stream = GeneratedStream(n)
        if scenario == "direct":
            stored = store_upload(
                storage, FileStorage(stream=stream, filename="piece.pdf"), max_bytes=size
            )
            return {"size": stored.size, "sha256": stored.sha256}, stream.sha256.hexdigest()
        response = client.post(
            "/pieces",
            data={"piece": (stream, "piece.pdf", "application/pdf")},
            content_type="multipart/form-data",
        )
        if response.status_code != 200:
            raise RuntimeError(f"POST /pieces: {response.status_code}")
        return response.get_json(), stream.sha256.hexdigest()

    run(64 * 1024)  # warm-up: imports, first requests, boto3 endpoints and threads
    gc.collect()
    rss_before = _current_rss_kb()
    peak_before = _max_rss_kb()
    started = time.perf_counter()
    result, expected_sha = run(size)
    elapsed = time.perf_counter() - started
    peak_after = _max_rss_kb()
    shutil.rmtree(workdir, ignore_errors=True)
    print(
        json.dumps(
            {
                "scenario": scenario,
                "backend": backend,
                "size": result["size"],
                "sha_ok": result["sha256"] == expected_sha,
                "rss_before_kb": rss_before,
                "maxrss_before_kb": peak_before,
                "maxrss_after_kb": peak_after,
                "seconds": elapsed,
            }
        )
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)  # noqa: S310
            return process, endpoint
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("moto's server did not start") from None
            time.sleep(0.2)


def measure(scenario: str, backend: str, size: int, endpoint: str | None) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if backend == "s3":
        env.update(
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto accepts anything
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
        )
    command = [sys.executable, __file__, "--child", scenario, backend, str(size)]
    if endpoint:
        command.append(endpoint)
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        scenario, backend, size = sys.argv[2], sys.argv[3], int(sys.argv[4])
        child(scenario, backend, size, sys.argv[5] if len(sys.argv) > 5 else None)
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=10.0)
    parser.add_argument("--backend", choices=("local", "s3", "all"), default="local")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    size = int(args.size_mb * MB)
    backends = ("local", "s3") if args.backend == "all" else (args.backend,)

    print(f"Upload of {size / MB:g} MB; ru_maxrss of the worker process (fresh per line).")
    print(
        f"{'backend':8} {'scenario':8} {'RSS before':>11} {'peak before':>12} "
        f"{'peak after':>11} {'Δ peak':>8} {'time':>7}  ok"
    )
    for backend in backends:
        moto, endpoint = _start_moto() if backend == "s3" else (None, None)
        try:
            for scenario in SCENARIOS:
                for _ in range(args.repeat):
                    r = measure(scenario, backend, size, endpoint)
                    delta = (r["maxrss_after_kb"] - r["maxrss_before_kb"]) / 1024
                    ok = r["sha_ok"] and r["size"] == size
                    rss, before, after = (
                        r[name] / 1024
                        for name in ("rss_before_kb", "maxrss_before_kb", "maxrss_after_kb")
                    )
                    print(
                        f"{backend:8} {scenario:8} {rss:8.1f} MB {before:9.1f} MB "
                        f"{after:8.1f} MB {delta:5.1f} MB {r['seconds']:6.2f}s  "
                        f"{'yes' if ok else 'NO'}"
                    )
        finally:
            if moto is not None:
                moto.terminate()
                moto.wait(timeout=10)


if __name__ == "__main__":
    main()
