"""`flask backup create` and `flask backup restore`: a backup restores into a new database
and store with the same row counts, the same file sums and an audit chain that verifies."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from flask import current_app

from portal import audit, backup, create_app
from portal.extensions import db
from portal.models import Document
from portal.storage import new_key, storage_for
from tests.factories import UserFactory
from tests.support.apps import RunConfig
from tests.test_migrations import empty_database  # noqa: F401  (fixture)


def _world() -> list[Document]:
    user = UserFactory()
    storage = storage_for(current_app)
    for n in range(3):
        body = f"%PDF-1.4 pièce {n}\n".encode() * (n + 1)
        key = new_key()
        storage.save(key, io.BytesIO(body))
        document = Document(
            storage_key=key,
            sha256=hashlib.sha256(body).hexdigest(),
            size=len(body),
            content_type="application/pdf",
            original_name=f"pièce {n}.pdf",
            uploaded_by_id=user.id,
        )
        db.session.add(document)
        audit.record("test.document", actor=user, target=document)
    db.session.commit()
    return db.session.query(Document).order_by(Document.id).all()


def _new_app(url: str, tmp_path: Path):
    config = type(
        "RestoreConfig",
        (RunConfig,),
        {"SQLALCHEMY_DATABASE_URI": url, "STORAGE_DIR": str(tmp_path / "stockage-neuf")},
    )
    return create_app(config)


def test_a_backup_restores_with_the_same_rows_files_and_chain(
    app,
    runner,
    tmp_path,
    empty_database: str,  # noqa: F811
) -> None:
    documents = _world()
    counts = backup.table_counts(db.engine)
    created = runner.invoke(args=["backup", "create", str(tmp_path / "sauvegarde")])
    assert created.exit_code == 0, created.output
    assert "3 fichiers" in created.output

    restored_app = _new_app(empty_database, tmp_path)
    with restored_app.app_context():
        result = restored_app.test_cli_runner().invoke(
            args=["backup", "restore", str(tmp_path / "sauvegarde")]
        )
        assert result.exit_code == 0, result.output
        assert backup.table_counts(db.engine) == counts
        storage = storage_for(restored_app)
        for document in documents:
            with storage.open(document.storage_key) as handle:
                assert hashlib.sha256(handle.read()).hexdigest() == document.sha256
        report = audit.verify_chain()
        assert report.ok and report.checked == counts["audit_events"]
        # Restoring twice would mix two copies: refused, nothing changed.
        again = restored_app.test_cli_runner().invoke(
            args=["backup", "restore", str(tmp_path / "sauvegarde")]
        )
        assert again.exit_code == 1
        assert "base de destination n'est pas vide" in again.output
        assert backup.table_counts(db.engine) == counts
        db.session.remove()
        db.engine.dispose()


def test_an_altered_backup_is_refused_before_anything_is_restored(
    app,
    runner,
    tmp_path,
    empty_database: str,  # noqa: F811
) -> None:
    documents = _world()
    assert runner.invoke(args=["backup", "create", str(tmp_path / "b")]).exit_code == 0
    (tmp_path / "b" / "fichiers" / documents[1].storage_key).write_bytes(b"%PDF-1.4 falsifie")
    restored_app = _new_app(empty_database, tmp_path)
    with restored_app.app_context():
        result = restored_app.test_cli_runner().invoke(
            args=["backup", "restore", str(tmp_path / "b")]
        )
        assert result.exit_code == 1
        assert (
            f"fichiers/{documents[1].storage_key} ne correspond pas au manifeste" in result.output
        )
        from sqlalchemy import inspect

        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_a_backup_needs_a_new_folder(app, runner, tmp_path) -> None:
    (tmp_path / "plein").mkdir()
    (tmp_path / "plein" / "autre.txt").write_text("x")
    result = runner.invoke(args=["backup", "create", str(tmp_path / "plein")])
    assert result.exit_code == 1
    assert "n'est pas vide" in result.output
    assert sorted(p.name for p in (tmp_path / "plein").iterdir()) == ["autre.txt"]


@pytest.mark.parametrize("missing", ["manifest.csv", "sauvegarde.json"])
def test_a_folder_that_is_not_a_backup_is_refused(app, runner, tmp_path, missing) -> None:
    _world()
    assert runner.invoke(args=["backup", "create", str(tmp_path / "b")]).exit_code == 0
    (tmp_path / "b" / missing).unlink()
    with pytest.raises(backup.BackupRefused, match="sauvegarde"):
        backup.restore(tmp_path / "b", db.engine, storage_for(current_app))
