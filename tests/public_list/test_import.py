"""Importing the public list: history over successive lists, refusals, atomicity."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.errors import Refused
from portal.extensions import db
from portal.identifiers import classify
from portal.models import ImportStatus, ListChange, ListImport, ListVersion
from portal.public_list.importer import import_list
from portal.public_list.lookup import check
from tests.public_list.lists import (
    BILANS,
    CARAIBES,
    GARONNE,
    PLUS_LYON,
    PLUS_PARIS,
    Org,
    write_list,
)
from tests.support.run import DATABASE_URL

SAMPLE = Path(__file__).parent.parent / "fixtures" / "public_list_sample.csv"
D1, D2, D3 = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)


def _import(path: Path, on: date, **kwargs) -> ListImport:
    return import_list(str(path), as_of=on, triggered_by="test", **kwargs)


def _certified(nda: str, on: date, category: str = "actions_formation") -> bool | None:
    result = check(classify(nda), on)
    if not result.matches:
        return None
    return result.matches[0].categories[category]


def _changes(run: ListImport) -> set[tuple[str, str, str | None]]:
    return {
        (c.nda, c.kind, c.category)
        for c in db.session.scalars(select(ListChange).where(ListChange.import_id == run.id))
    }


def test_the_sample_imports_with_its_rejected_lines(app) -> None:
    run = _import(SAMPLE, D1)
    assert run.status == ImportStatus.SUCCEEDED
    assert (run.rows_kept, run.rows_rejected) == (11, 2)
    assert [r["line"] for r in run.rejected_lines] == [12, 13]
    assert run.sha256 and len(run.sha256) == 64
    assert run.duration_ms is not None
    result = check(classify("01971234567"), D1)
    assert [m.nda for m in result.matches] == ["01971234567"]
    assert result.matches[0].categories == {
        "actions_formation": True,
        "bilans_competences": False,
        "vae": True,
        "apprentissage": False,
    }


def test_history_over_three_successive_lists(app, tmp_path) -> None:
    first = _import(write_list(tmp_path / "1.csv", [GARONNE, CARAIBES, BILANS, PLUS_PARIS]), D1)
    assert _changes(first) == set()  # the first list is the starting point, not a change
    second = _import(
        write_list(
            tmp_path / "2.csv",
            [
                GARONNE.but(formation=False, vae=True),  # lost a category, gained another
                CARAIBES.but(name="Caraïbes Compétences SAS", nic="0009"),  # renamed, moved
                PLUS_PARIS,
                PLUS_LYON,  # new
            ],  # BILANS left the list
        ),
        D2,
    )
    assert _changes(second) == {
        (GARONNE.nda, "category_lost", "actions_formation"),
        (GARONNE.nda, "category_gained", "vae"),
        (CARAIBES.nda, "name_changed", None),
        (CARAIBES.nda, "siret_changed", None),
        (PLUS_LYON.nda, "added", None),
        (BILANS.nda, "removed", None),
    }
    assert (second.added, second.removed, second.changed) == (1, 1, 2)
    third = _import(write_list(tmp_path / "3.csv", [GARONNE, CARAIBES, BILANS, PLUS_PARIS]), D3)
    assert (BILANS.nda, "added", None) in _changes(third)
    assert (GARONNE.nda, "category_gained", "actions_formation") in _changes(third)

    # Was Garonne certified for "actions de formation" on a given day? Any day since D1.
    assert _certified(GARONNE.nda, D1) is True
    assert _certified(GARONNE.nda, date(2026, 3, 31)) is True
    assert _certified(GARONNE.nda, D2) is False
    assert _certified(GARONNE.nda, date(2026, 4, 30)) is False
    assert _certified(GARONNE.nda, D3) is True
    assert _certified(GARONNE.nda, date(2026, 2, 28)) is None  # before the first list
    assert check(classify(GARONNE.nda), date(2026, 2, 28)).list_as_of is None
    # Bilans du Sud was out of the list in April.
    assert _certified(BILANS.nda, date(2026, 4, 15), "bilans_competences") is None
    assert _certified(BILANS.nda, D3, "bilans_competences") is True
    # Identity as it was on the date asked.
    april = check(classify(CARAIBES.nda), date(2026, 4, 2)).matches[0]
    march = check(classify(CARAIBES.nda), date(2026, 3, 2)).matches[0]
    assert (april.denomination, march.denomination) == (
        "Caraïbes Compétences SAS",
        "Caraïbes Compétences",
    )
    assert check(classify(CARAIBES.nda), date(2026, 4, 2)).list_as_of == D2


def test_an_unchanged_list_is_not_imported_again(app, tmp_path) -> None:
    path = write_list(tmp_path / "1.csv", [GARONNE, CARAIBES])
    _import(path, D1)
    again = _import(path, D2)
    assert again.status == ImportStatus.UNCHANGED
    assert "même empreinte" in again.message
    assert db.session.scalar(select(func.count(ListVersion.id))) == 2
    # The unchanged list is the list in force on D2.
    assert check(classify(GARONNE.nda), D2).list_as_of == D2
    forced = _import(path, D2, force=True)
    assert forced.status == ImportStatus.SUCCEEDED and forced.changed == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><body>Erreur 503</body></html>", "page HTML"),
        (b"", "vide"),
        ("nom;prénom;\r\nDupont;Jean;\r\n".encode(), "en-tête"),
    ],
)
def test_a_file_that_is_not_the_list_is_refused(app, tmp_path, content, message) -> None:
    _import(write_list(tmp_path / "1.csv", [GARONNE]), D1)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(Refused, match=message):
        _import(bad, D2)
    assert _certified(GARONNE.nda, D2) is True
    refused = db.session.scalars(select(ListImport).order_by(ListImport.id.desc())).first()
    assert refused.status == ImportStatus.REFUSED


def test_a_list_with_no_data_row_is_refused(app, tmp_path) -> None:
    with pytest.raises(Refused, match="aucune ligne de données"):
        _import(write_list(tmp_path / "empty.csv", []), D1)
    assert db.session.scalar(select(func.count(ListVersion.id))) == 0


def test_a_truncated_list_is_refused_unless_forced(app, tmp_path) -> None:
    _import(write_list(tmp_path / "1.csv", [GARONNE, CARAIBES, BILANS, PLUS_PARIS, PLUS_LYON]), D1)
    short = write_list(tmp_path / "2.csv", [GARONNE, CARAIBES])
    with pytest.raises(Refused, match="ne compte que 2 organismes contre 5"):
        _import(short, D2)
    assert _certified(BILANS.nda, D2, "bilans_competences") is True  # still in force
    run = _import(short, D2, force=True)
    assert run.removed == 3
    assert _certified(BILANS.nda, D2, "bilans_competences") is None


def test_an_older_list_cannot_rewrite_history(app, tmp_path) -> None:
    _import(write_list(tmp_path / "1.csv", [GARONNE]), D2)
    with pytest.raises(Refused, match="antérieure à la liste en vigueur"):
        _import(write_list(tmp_path / "0.csv", [CARAIBES]), D1)


def test_duplicate_nda_is_reported_and_the_first_kept(app, tmp_path) -> None:
    path = write_list(tmp_path / "1.csv", [GARONNE, GARONNE.but(name="Doublon")])
    run = _import(path, D1)
    assert run.rows_kept == 1
    assert run.rejected_lines == [
        {"line": 3, "reason": f"NDA {GARONNE.nda} en double dans la liste"}
    ]
    assert check(classify(GARONNE.nda), D1).matches[0].denomination == GARONNE.name


def test_previous_nda_is_found(app, tmp_path) -> None:
    _import(write_list(tmp_path / "1.csv", [GARONNE.but(previous="76319999999")]), D1)
    result = check(classify("76319999999"), D1)
    assert [(m.nda, m.matched_on) for m in result.matches] == [(GARONNE.nda, "previous_nda")]
    assert result.as_json()["matches"][0]["matched_by"] == "previous_nda"


def test_a_siren_returns_every_nda_of_the_company(app, tmp_path) -> None:
    _import(write_list(tmp_path / "1.csv", [GARONNE, PLUS_PARIS, PLUS_LYON]), D1)
    result = check(classify(PLUS_PARIS.siren), D1)
    assert [m.nda for m in result.matches] == sorted([PLUS_PARIS.nda, PLUS_LYON.nda])


def test_reimporting_the_same_day_replaces_that_days_list(app, tmp_path) -> None:
    _import(write_list(tmp_path / "1.csv", [GARONNE, CARAIBES]), D1)
    _import(write_list(tmp_path / "2.csv", [GARONNE.but(formation=False), CARAIBES]), D2)
    _import(write_list(tmp_path / "2b.csv", [GARONNE, CARAIBES]), D2)  # corrected list
    assert _certified(GARONNE.nda, D2) is True
    versions = db.session.scalars(
        select(ListVersion).where(ListVersion.nda == GARONNE.nda).order_by(ListVersion.valid_from)
    ).all()
    # The day's first list never held: its version is gone, and the history is continuous.
    assert [(v.valid_from, v.valid_to, v.actions_formation) for v in versions] == [
        (D1, D2, True),
        (D2, None, True),
    ]
    from portal.public_list.history import Interval, certification_intervals

    assert certification_intervals(versions) == [Interval("actions_formation", D1, None)]


def test_a_kill_in_the_middle_leaves_the_previous_list_in_force(app, tmp_path) -> None:
    """The import reads from a pipe; it is killed while it waits for the rest."""
    _import(write_list(tmp_path / "1.csv", [GARONNE, CARAIBES]), D1)
    fifo = tmp_path / "liste.fifo"
    os.mkfifo(fifo)
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "kill-test",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "qualiopi",
            "import",
            str(fifo),
            "--as-of",
            D2.isoformat(),
            "--force",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with fifo.open("wb") as pipe:
            many = [Org(f"764{n:08d}", f"Organisme {n}", f"{40_000_000 + n}") for n in range(6000)]
            half = write_list(tmp_path / "2.csv", [GARONNE.but(formation=False), BILANS, *many])
            data = half.read_bytes()
            # More than one batch of rows (so that some are written), then a partial line
            # and nothing more: the import waits for the rest of the file.
            pipe.write(data[: len(data) - 40])
            pipe.flush()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until the run is recorded as started
                db.session.rollback()
                if db.session.scalar(
                    select(ListImport.id).where(ListImport.status == ImportStatus.RUNNING)
                ):
                    break
                time.sleep(0.05)
            time.sleep(1.0)  # let it parse and write what it has
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    except BrokenPipeError:
        pass
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    db.session.rollback()
    assert _certified(GARONNE.nda, D2) is True
    assert _certified(BILANS.nda, D2, "bilans_competences") is None
    assert db.session.scalar(select(func.count(ListVersion.id))) == 2  # nothing half-written
    # The next import records the killed one as interrupted, and works.
    run = _import(write_list(tmp_path / "3.csv", [GARONNE, CARAIBES, BILANS]), D2)
    assert run.status == ImportStatus.SUCCEEDED
    statuses = db.session.scalars(select(ListImport.status).order_by(ListImport.id)).all()
    assert statuses == ["succeeded", "interrupted", "succeeded"]


def test_cli_import_and_check_json(app, runner, tmp_path) -> None:
    path = write_list(tmp_path / "1.csv", [GARONNE, CARAIBES, PLUS_PARIS, PLUS_LYON])
    result = runner.invoke(args=["qualiopi", "import", str(path), "--as-of", "2026-03-01"])
    assert result.exit_code == 0, result.output
    assert "4 organismes importés" in result.output
    out = runner.invoke(
        args=["qualiopi", "check", "019 712 345 67", "--on", "2026-03-15", "--json"]
    )
    assert out.exit_code == 0
    assert json.loads(out.output) == {
        "query": "019 712 345 67",
        "on": "2026-03-15",
        "list_as_of": "2026-03-01",
        "matches": [
            {
                "nda": CARAIBES.nda,
                "siren": CARAIBES.siren,
                "siret": CARAIBES.siret,
                "denomination": CARAIBES.name,
                "region": "01",
                "certified": True,
                "categories": {
                    "actions_formation": True,
                    "bilans_competences": False,
                    "vae": True,
                    "apprentissage": False,
                },
                "matched_by": "nda",
            }
        ],
    }
    unknown = runner.invoke(args=["qualiopi", "check", "11111111111", "--json"])
    assert json.loads(unknown.output)["matches"] == []


@pytest.mark.parametrize("ident", ["81234567600018", "812345677", "1234", "SIRET"])
def test_cli_check_refuses_a_bad_identifier_with_status_2(app, runner, ident) -> None:
    result = runner.invoke(args=["qualiopi", "check", ident, "--json"])
    assert result.exit_code == 2
    assert "invalide" in result.output or "non reconnu" in result.output


def test_cli_refusal_exits_1_in_french(app, runner, tmp_path) -> None:
    page = tmp_path / "erreur.html"
    page.write_text("<html><body>Service indisponible</body></html>")
    result = runner.invoke(args=["qualiopi", "import", str(page)])
    assert result.exit_code == 1
    assert (
        "Import refusé" in result.output and "La liste en vigueur reste inchangée." in result.output
    )
