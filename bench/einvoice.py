"""Reading electronic invoices and fillable certificats: time and memory; prints the figures
(never asserts them).

    .venv/bin/python bench/einvoice.py [--size-mb 10] [--runs 30]

Builds, with the project's samples (portal.einvoice.samples), a Factur-X invoice (EN 16931)
and a fillable certificat de réalisation of about --size-mb each (a drawn page plus an
incompressible image), then reads each --runs times through
`portal.einvoice.reader.read_document`, as an upload does, and prints the median and p95
read time. The memory growth of one read is measured in a fresh Python process per document
(peak resident memory, `ru_maxrss`, after a warm-up read of a small file, before and after
reading the big one, the file's own bytes already in memory). Then an upload of 10 such
Factur-X at once: the files stored (`portal.uploads.store_all`, local store) and read where
they lie, one after the other, as `portal.dossiers.pieces.add_pieces` does; printed: the
time and peak memory growth of reading the 10 files. Targets (issue 17): p95 ≤ 300 ms,
peak memory growth ≤ 50 MB for a 10 MB file; the upload of 10 files within the existing
upload budgets (bench/upload_memory.py: < 20 MB for a 10 MB file).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024


def _sized(make, size_mb: float) -> bytes:
    """A document of about `size_mb`: the image's size is adjusted once to the result."""
    target = int(size_mb * MB)
    data = make(os.urandom(target))
    return make(os.urandom(int(target * target / len(data))))


def build(directory: Path, size_mb: float) -> dict[str, Path]:
    from portal.einvoice import samples

    invoice = directory / "facturx.pdf"
    invoice.write_bytes(
        _sized(lambda p: samples.facturx_pdf(samples.InvoiceSpec(), "en16931", padding=p), size_mb)
    )
    certificate = directory / "certificat.pdf"
    certificate.write_bytes(_sized(lambda p: samples.certificate_pdf(padding=p), size_mb))
    return {"facture": invoice, "certificat_realisation": certificate}


def child(kind: str, path: str) -> None:
    """One read in a fresh process: prints the growth of the peak resident memory (KiB) and
    the peak of Python's allocations during the read (bytes, tracemalloc)."""
    import tracemalloc

    from portal.einvoice import reader, samples

    small = samples.facturx_pdf(samples.InvoiceSpec())
    reader.read_document(small, "application/pdf", "facture")  # warm-up: imports, schemas
    data = Path(path).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reading = reader.read_document(data, "application/pdf", kind)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert reading.figures, reading.message
    tracemalloc.start()
    reader.read_document(data, "application/pdf", kind)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(after - before, peak)


def upload_child(path: str) -> None:
    """Ten copies of one Factur-X stored then read as an upload does: prints the growth of
    the peak resident memory (KiB) and the seconds the readings took."""
    from werkzeug.datastructures import FileStorage

    from portal.dossiers import pieces
    from portal.models import PieceKind
    from portal.storage import LocalStorage
    from portal.uploads import INVOICE_TYPES, store_all

    data = Path(path).read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        storage = LocalStorage(Path(tmp))
        warm = store_all(storage, [FileStorage(io.BytesIO(data[:2048]), "w.pdf")], max_bytes=MB)
        del warm
        files = [FileStorage(io.BytesIO(data), f"f{i}.pdf") for i in range(10)]
        stored = store_all(storage, files, max_bytes=len(data), allowed=INVOICE_TYPES)
        del files
        small = pieces._read_all(storage, PieceKind.INVOICE, [])  # imports
        del small
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        readings = pieces._read_all(storage, PieceKind.INVOICE, stored)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert all(r.figures for r in readings)
        import tracemalloc

        tracemalloc.start()
        pieces._read_all(storage, PieceKind.INVOICE, stored)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(after - before, seconds, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=10)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--upload-child", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.upload_child:
        upload_child(args.upload_child)
        return

    from portal.einvoice import reader

    with tempfile.TemporaryDirectory() as tmp:
        files = build(Path(tmp), args.size_mb)
        print(
            f"einvoice read bench: {args.runs} reads per document, python {sys.version.split()[0]}"
        )
        for kind, path in files.items():
            data = path.read_bytes()
            reader.read_document(data, "application/pdf", kind)  # warm-up
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                reading = reader.read_document(data, "application/pdf", kind)
                times.append((time.perf_counter() - start) * 1000)
            assert reading.figures, reading.message
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
            rss, traced = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(path)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            print(
                f"{path.name:16} {len(data) / MB:6.1f} MB  source={reading.source.value:9} "
                f"median={statistics.median(times):7.1f} ms  p95={p95:7.1f} ms  "
                f"peak memory growth={int(rss) / 1024:5.1f} MB (RSS), "
                f"{int(traced) / MB:5.1f} MB (Python allocations)"
            )
        rss, seconds, traced = subprocess.run(
            [sys.executable, __file__, "--upload-child", str(files["facture"])],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        print(
            f"upload of 10 Factur-X of {files['facture'].stat().st_size / MB:.1f} MB: read in "
            f"{float(seconds) * 1000:.0f} ms, peak memory growth {int(rss) / 1024:.1f} MB (RSS), "
            f"{int(traced) / MB:.1f} MB (Python allocations)"
        )


if __name__ == "__main__":
    main()
