"""Evidence packs: every file is in the archive, and the manifest's sums are theirs."""

from __future__ import annotations

import hashlib
import io
import zipfile

import pytest

from portal.packs import MANIFEST_NAME, PackFile, read_manifest, write_pack


def test_the_manifest_lists_every_file_with_its_sha256_and_size():
    big = bytes(range(256)) * 20_000  # 5 MB, copied in chunks
    files = [
        PackFile("resume.html", "<h1>Résumé</h1>".encode(), "résumé imprimable"),
        PackFile("pieces/facture-1.pdf", lambda: io.BytesIO(big), "facture"),
        PackFile("pieces/vide.txt", b""),
    ]
    out = io.BytesIO()
    entries = write_pack(out, files)

    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    manifest = read_manifest(archive)
    names = set(archive.namelist())
    assert names == {MANIFEST_NAME, *manifest}
    assert set(manifest) == {"resume.html", "pieces/facture-1.pdf", "pieces/vide.txt"}
    for name, (sha256, size) in manifest.items():
        data = archive.read(name)
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size)
    assert manifest["pieces/facture-1.pdf"] == (hashlib.sha256(big).hexdigest(), len(big))
    assert [e.description for e in entries] == ["résumé imprimable", "facture", ""]


def test_a_path_given_twice_is_refused():
    with pytest.raises(ValueError, match="en double"):
        write_pack(io.BytesIO(), [PackFile("a.pdf", b"1"), PackFile("a.pdf", b"2")])
