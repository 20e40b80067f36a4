"""Where uploaded files (pièces justificatives) live: the local disk or an S3-compatible store.

The database keeps, for each file, a random key (`new_key()`), never a path: a backend maps
the key to a place, and no user input ever reaches a file name or an object name.

- `LocalStorage` (the default) writes under ``STORAGE_DIR``, at ``<root>/ab/cd/<key>``. That
  folder is in the instance folder by default, outside anything served statically.
- `S3Storage` writes to a bucket (AWS S3, MinIO, Garage, Scaleway, OVH, …), so that several web
  servers share the files. Credentials come from the usual AWS variables read by boto3
  (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, …), never from the portal's
  own settings.

`storage_for(app)` picks the backend from ``STORAGE_BACKEND``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

if TYPE_CHECKING:
    from flask import Flask

CHUNK_SIZE = 64 * 1024
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
_EXTENSION_KEY = "portal.storage"


class InvalidKey(ValueError):
    """A key that `new_key()` cannot have produced: refused before it reaches a path."""


class StorageConfigurationError(RuntimeError):
    """The storage settings are incomplete or contradictory."""


def new_key() -> str:
    """A fresh random key: 32 lowercase hexadecimal characters (128 bits)."""
    return secrets.token_hex(16)


def check_key(key: str) -> str:
    if not isinstance(key, str) or KEY_PATTERN.fullmatch(key) is None:
        raise InvalidKey(f"Clé de stockage invalide : {key!r}")
    return key


class Storage(Protocol):
    """What the rest of the portal may ask of a file store. Keys come from `new_key()`."""

    def save(self, key: str, stream: BinaryIO) -> None:
        """Store everything `stream.read()` yields under `key`, reading it in chunks.

        If reading or writing fails, nothing is left under `key` and the error propagates.
        """

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the stored file (the caller closes it).

        Raises `FileNotFoundError` when nothing is stored under `key`.
        """

    def delete(self, key: str) -> None:
        """Remove the file; deleting a missing key is not an error."""

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files on a local (or shared, e.g. NFS) disk, written atomically."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()

    def path_for(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def save(self, key: str, stream: BinaryIO) -> None:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        _fsync_directory(path.parent)

    def open(self, key: str) -> BinaryIO:
        return open(self.path_for(key), "rb")  # the caller closes it

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class S3Storage:
    """Objects in an S3-compatible bucket, through boto3 (which addresses a custom endpoint,
    such as MinIO's, by path: ``<endpoint>/<bucket>/<prefix><key>``).

    `save` first copies the stream, in 64 KB chunks, to a temporary file (in `spool_dir`, by
    default the system's temporary folder, ``TMPDIR``), then hands the file name to boto3's
    managed transfer (multipart above 8 MB, failed multipart uploads aborted). So the file is
    never held in memory, and nothing reaches the bucket unless the whole stream was read:
    an upload refused half-way (too large) or interrupted leaves no object and no pending
    multipart upload. The temporary file is removed in every case.
    """

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        prefix: str = "",
        *,
        client: Any | None = None,
        spool_dir: Path | str | None = None,
    ) -> None:
        if not bucket:
            raise StorageConfigurationError("S3Storage : le nom du bucket est obligatoire.")
        self.bucket = bucket
        self.spool_dir = spool_dir
        self.prefix = prefix.strip().strip("/")
        if self.prefix:
            self.prefix += "/"
        if client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url or None,
                region_name=region or None,
                config=BotoConfig(retries={"mode": "standard", "max_attempts": 3}),
            )
        self.client = client

    def object_name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def save(self, key: str, stream: BinaryIO) -> None:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        name = self.object_name(key)
        config = TransferConfig(
            multipart_threshold=8 * 1024 * 1024,
            multipart_chunksize=8 * 1024 * 1024,
            max_concurrency=2,
        )
        with tempfile.NamedTemporaryFile(
            prefix="portal-s3-", suffix=".part", dir=self.spool_dir
        ) as spool:
            shutil.copyfileobj(stream, spool, CHUNK_SIZE)
            spool.flush()
            # From a file name, s3transfer reads each part lazily from the disk; from a stream
            # it would hold whole parts in memory (measured by bench/upload_memory.py).
            with create_transfer_manager(self.client, config) as manager:
                manager.upload(spool.name, self.bucket, name).result()

    def open(self, key: str) -> BinaryIO:
        name = self.object_name(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        except Exception as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(f"s3://{self.bucket}/{name}") from exc
            raise
        return response["Body"]

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_name(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.object_name(key))
        except Exception as exc:
            if _is_not_found(exc):
                return False
            raise
        return True

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"


def _is_not_found(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in {"404", "NoSuchKey", "NotFound"} or status == 404


def storage_for(app: Flask) -> Storage:
    """The application's store, built once per application from its settings."""
    storage = app.extensions.get(_EXTENSION_KEY)
    if storage is None:
        storage = _build_storage(app)
        app.extensions[_EXTENSION_KEY] = storage
    return storage


def _build_storage(app: Flask) -> Storage:
    config = app.config
    backend = (config.get("STORAGE_BACKEND") or "local").strip().lower()
    if backend == "local":
        if not config.get("STORAGE_DIR"):
            raise StorageConfigurationError("STORAGE_DIR doit être défini.")
        root = Path(config["STORAGE_DIR"]).resolve()
        if app.static_folder and root.is_relative_to(Path(app.static_folder).resolve()):
            raise StorageConfigurationError(
                "STORAGE_DIR ne doit pas se trouver dans le dossier des fichiers statiques : "
                "les pièces y seraient servies sans contrôle d'accès."
            )
        return LocalStorage(root)
    if backend == "s3":
        if not config.get("S3_BUCKET"):
            raise StorageConfigurationError("STORAGE_BACKEND=s3 demande S3_BUCKET.")
        return S3Storage(
            config["S3_BUCKET"],
            endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            region=config.get("S3_REGION") or None,
            prefix=config.get("S3_PREFIX") or "",
        )
    raise StorageConfigurationError(
        f"STORAGE_BACKEND={backend!r} inconnu : valeurs possibles « local » ou « s3 »."
    )
