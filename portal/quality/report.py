"""The report of a quality control: a printable page (`quality/report.html`), and a ZIP
written by `portal.packs` holding that page as `rapport.html`, every evidence file of the
grid, the files of the corrective-action messages, and the manifest of their SHA-256 sums.

The same template serves the page and the archive's summary, so they cannot drift apart;
in the archive, files are named by their path in it instead of a link to the portal.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from flask import current_app, render_template

from portal import clock, rnq
from portal.access import withheld_quality_evidence
from portal.clock import utcnow
from portal.models import CORRECTIVE_KIND_LABELS, Document, QualityControl, User
from portal.packs import PackFile
from portal.quality import controls, rules
from portal.storage import Storage
from portal.uploads import clean_filename

SUMMARY_NAME = "rapport.html"
CSS_FILE = "css/quality_report.css"


@dataclass(frozen=True)
class PackedFile:
    path: str
    document: Document
    description: str


def filename(control: QualityControl) -> str:
    return f"controle-qualite-{control.id}-{control.control_date:%Y-%m-%d}.zip"


def _folder(code: str) -> str:
    return f"indicateur-{int(code):02d}" if code.isdigit() else f"indicateur-{code}"


def packed_files(
    control: QualityControl, withheld: Collection[int] = ()
) -> tuple[dict[int, str], dict[int, str], list[PackedFile]]:
    """Where each file goes in the archive: evidence id → path, `_message_key(message id,
    document id)` → path for the corrective messages' files, and the files in order. The
    `withheld` evidence (pieces of dossiers the reader may not see) is left out."""
    evidence_paths: dict[int, str] = {}
    message_paths: dict[int, str] = {}
    files: list[PackedFile] = []
    for row in control.findings:
        for number, evidence in enumerate(row.evidence, start=1):
            document = controls.evidence_document(evidence)
            if document is None or evidence.id in withheld:
                continue
            name = clean_filename(document.original_name, fallback="fichier")
            path = f"preuves/{_folder(row.code)}/{number:02d}-{name}"
            evidence_paths[evidence.id] = path
            files.append(
                PackedFile(path, document, f"{rnq.code_label(row.code)} : {evidence.title}")
            )
        for message in row.messages:
            for number, document in enumerate(message.documents, start=1):
                name = clean_filename(document.original_name, fallback="fichier")
                path = (
                    f"actions-correctives/{_folder(row.code)}/"
                    f"message-{message.id}-{number:02d}-{name}"
                )
                message_paths[_message_key(message.id, document.id)] = path
                files.append(
                    PackedFile(path, document, f"{rnq.code_label(row.code)} : action corrective")
                )
    return evidence_paths, message_paths, files


def _message_key(message_id: int, document_id: int) -> int:
    # A stable int key for a (message, document) pair: the templates look it up.
    return message_id * 1_000_000_007 + document_id


def context(control: QualityControl, *, viewer: User, for_pack: bool = False) -> dict[str, Any]:
    withheld = withheld_quality_evidence(viewer, control)
    evidence_paths, message_paths, _ = packed_files(control, withheld)
    generated_at: datetime = clock.local(utcnow())
    return {
        "control": control,
        "groups": controls.grid_groups(control),
        "result": controls.control_result(control),
        "minors_per_major": controls.minors_per_major(),
        "rnq": rnq,
        "code_label": rnq.code_label,
        "code_title": rnq.code_title,
        "code_is_major_only": rnq.code_is_major_only,
        "nonconformities": [v.value for v in rules.NONCONFORMITIES],
        "for_pack": for_pack,
        "withheld": withheld,
        "evidence_paths": evidence_paths,
        "message_paths": message_paths,
        "message_key": _message_key,
        "generated_at": generated_at,
        "inline_css": _css() if for_pack else "",
        "corrective_kind_labels": {k.value: v for k, v in CORRECTIVE_KIND_LABELS.items()},
        **controls.labels(),
    }


def _css() -> str:
    with current_app.open_resource(f"static/{CSS_FILE}") as handle:
        return handle.read().decode("utf-8")


def render(control: QualityControl, *, viewer: User, for_pack: bool = False) -> str:
    return render_template(
        "quality/report.html", **context(control, viewer=viewer, for_pack=for_pack)
    )


def _opener(storage: Storage, key: str) -> Callable[[], BinaryIO]:
    return lambda: storage.open(key)


def pack_files(
    control: QualityControl, storage: Storage, *, viewer: User
) -> tuple[list[PackFile], list[str]]:
    """The archive's files (the summary first) and the paths of files missing from the
    store (listed as absent in the manifest)."""
    files = [
        PackFile(
            SUMMARY_NAME,
            render(control, viewer=viewer, for_pack=True).encode("utf-8"),
            "Rapport imprimable du contrôle qualité",
        )
    ]
    missing = []
    for item in packed_files(control, withheld_quality_evidence(viewer, control))[2]:
        if not storage.exists(item.document.storage_key):
            missing.append(item.path)
            continue
        files.append(
            PackFile(
                item.path,
                _opener(storage, item.document.storage_key),
                item.description,
                recorded_sha256=item.document.sha256,
            )
        )
    return files, missing
