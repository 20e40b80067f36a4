"""The transmission pack sent to the certifier: a printable summary (`resume.html`) and
the evidence files, with the manifest of their SHA-256 sums, written by `portal.packs`.

The summary names the OF, the funder, the facts, the indicators (with their regulatory
text), the dossiers (references, actions, periods: not the beneficiaries' names, which the
certifier does not need), every piece of evidence (control results in words, files by
their path in the archive) and the transmission (certifier, date, reference). The thread
between funder and ministry stays out: it is theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from flask import render_template

from portal import clock, rnq
from portal.clock import utcnow
from portal.models import Signalement, SignalementEvidence
from portal.packs import PackFile
from portal.regions import region_name
from portal.storage import Storage
from portal.uploads import clean_filename

SUMMARY_NAME = "resume.html"


@dataclass(frozen=True)
class PackedEvidence:
    number: int
    evidence: SignalementEvidence
    path: str | None  # where its file is in the archive, if it has one


def filename(signalement: Signalement) -> str:
    return f"{signalement.reference}-dossier-de-transmission.zip"


def _opener(storage: Storage, key: str) -> Callable[[], BinaryIO]:
    return lambda: storage.open(key)


def packed_evidence(signalement: Signalement) -> list[PackedEvidence]:
    """Each piece of evidence, numbered, with its file's path in the archive."""
    packed = []
    for number, evidence in enumerate(signalement.evidence, start=1):
        document = evidence.file
        path = None
        if document is not None:
            name = clean_filename(document.original_name, fallback="fichier")
            path = f"preuves/{number:02d}-{name}"
        packed.append(PackedEvidence(number, evidence, path))
    return packed


def summary_html(signalement: Signalement, packed: list[PackedEvidence]) -> str:
    return render_template(
        "signalements/pack_summary.html",
        s=signalement,
        packed=packed,
        indicators=[rnq.indicator(n) for n in signalement.indicators],
        region=region_name(signalement.region_code),
        generated_at=clock.local(utcnow()),
    )


def pack_files(signalement: Signalement, storage: Storage) -> list[PackFile]:
    """The files of the pack: the summary first, then every evidence file."""
    packed = packed_evidence(signalement)
    files = [
        PackFile(
            SUMMARY_NAME,
            summary_html(signalement, packed).encode("utf-8"),
            "Résumé imprimable du signalement",
        )
    ]
    for item in packed:
        document = item.evidence.file
        if item.path is None or document is None:
            continue
        files.append(
            PackFile(item.path, _opener(storage, document.storage_key), item.evidence.title)
        )
    return files
