"""The file stores: local disk (atomic writes, strict keys) and S3 against a local moto server."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from flask import Flask
from moto.server import ThreadedMotoServer

from portal.storage import (
    CHUNK_SIZE,
    InvalidKey,
    LocalStorage,
    S3Storage,
    StorageConfigurationError,
    check_key,
    new_key,
    storage_for,
)

BAD_KEYS = [
    "../x",
    "..",
    "",
    "0" * 31,
    "0" * 33,
    "0" * 32 + "\n",
    "A" * 32,
    "g" * 32,
    "../" + "0" * 29,
    "0" * 30 + "/x",
    "/etc/passwd",
    "0" * 16 + "\\" + "0" * 15,
]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if not p.is_dir())


class FailingStream:
    """Yields `good` bytes then fails, as a client that disconnects mid-upload."""

    def __init__(self, good: int) -> None:
        self.remaining = good

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            raise OSError("client disconnected")
        n = min(size if size > 0 else self.remaining, self.remaining)
        self.remaining -= n
        return b"x" * n


# --- keys -------------------------------------------------------------------------------


def test_new_key_is_32_hex_and_random() -> None:
    keys = {new_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert check_key(key) == key
        assert len(key) == 32


@pytest.mark.parametrize("key", BAD_KEYS)
def test_local_storage_refuses_malformed_keys(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(InvalidKey):
        storage.save(key, io.BytesIO(b"data"))
    with pytest.raises(InvalidKey):
        storage.open(key)
    with pytest.raises(InvalidKey):
        storage.delete(key)
    with pytest.raises(InvalidKey):
        storage.exists(key)
    assert list(tmp_path.iterdir()) == []


# --- local disk -------------------------------------------------------------------------


def test_local_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_key()
    data = os.urandom(3 * CHUNK_SIZE + 123)

    assert not storage.exists(key)
    storage.save(key, io.BytesIO(data))

    path = tmp_path / key[:2] / key[2:4] / key
    assert files_under(tmp_path) == [path]  # no temporary file left beside it
    assert storage.exists(key)
    with storage.open(key) as stream:
        assert stream.read() == data

    storage.delete(key)
    assert not storage.exists(key)
    assert files_under(tmp_path) == []
    storage.delete(key)  # deleting twice is fine
    with pytest.raises(FileNotFoundError):
        storage.open(key)


def test_local_failed_write_leaves_no_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_key()
    with pytest.raises(OSError, match="client disconnected"):
        storage.save(key, FailingStream(good=2 * CHUNK_SIZE + 10))  # type: ignore[arg-type]
    assert files_under(tmp_path) == []
    assert not storage.exists(key)


def test_local_failed_overwrite_keeps_previous_content(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_key()
    storage.save(key, io.BytesIO(b"version 1"))
    with pytest.raises(OSError):
        storage.save(key, FailingStream(good=CHUNK_SIZE))  # type: ignore[arg-type]
    with storage.open(key) as stream:
        assert stream.read() == b"version 1"
    assert len(files_under(tmp_path)) == 1


# --- choosing the backend ---------------------------------------------------------------


def make_flask(tmp_path: Path, **config: object) -> Flask:
    app = Flask("storage_test", static_folder=str(tmp_path / "static"))
    app.config.update({"STORAGE_DIR": str(tmp_path / "files"), **config})
    return app


def test_storage_for_defaults_to_local_and_is_built_once(tmp_path: Path) -> None:
    app = make_flask(tmp_path)
    storage = storage_for(app)
    assert isinstance(storage, LocalStorage)
    assert storage.root == (tmp_path / "files").resolve()
    assert storage_for(app) is storage


def test_the_portal_keeps_pieces_in_its_storage_dir(app: Flask) -> None:
    storage = storage_for(app)
    assert isinstance(storage, LocalStorage)
    assert storage.root == Path(app.config["STORAGE_DIR"]).resolve()
    static = Path(app.static_folder or "").resolve()
    assert not storage.root.is_relative_to(static)


def test_the_request_limit_follows_the_upload_limit(app: Flask) -> None:
    config = app.config
    assert config["MAX_UPLOAD_BYTES"] > 0
    assert config["MAX_CONTENT_LENGTH"] == (
        config["MAX_FILES_PER_UPLOAD"] * config["MAX_UPLOAD_BYTES"] + 1024 * 1024
    )


def test_storage_for_s3(tmp_path: Path, aws_env: None) -> None:
    app = make_flask(
        tmp_path,
        STORAGE_BACKEND="s3",
        S3_BUCKET="pieces",
        S3_ENDPOINT_URL="http://127.0.0.1:9",
        S3_REGION="eu-west-3",
        S3_PREFIX="portail",
    )
    storage = storage_for(app)
    assert isinstance(storage, S3Storage)
    assert storage.bucket == "pieces"
    assert storage.prefix == "portail/"
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert storage.client.meta.region_name == "eu-west-3"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
        ({"STORAGE_BACKEND": "ftp"}, "inconnu"),
        ({"STORAGE_DIR": ""}, "STORAGE_DIR"),
    ],
)
def test_storage_for_refuses_bad_settings(
    tmp_path: Path, config: dict[str, str], message: str
) -> None:
    with pytest.raises(StorageConfigurationError, match=message):
        storage_for(make_flask(tmp_path, **config))


def test_storage_for_refuses_a_folder_served_statically(tmp_path: Path) -> None:
    app = make_flask(tmp_path, STORAGE_DIR=str(tmp_path / "static" / "pieces"))
    with pytest.raises(StorageConfigurationError, match="statiques"):
        storage_for(app)


# --- S3, against moto's server ----------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, and nothing read from the developer's own AWS configuration."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3_bucket(moto_endpoint: str, aws_env: None) -> str:
    """A fresh bucket on the moto server, one per test."""
    name = f"pieces-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    """Where S3Storage copies a stream before sending it: must be empty after each call."""
    path = tmp_path / "spool"
    path.mkdir()
    return path


@pytest.fixture
def s3_storage(moto_endpoint: str, s3_bucket: str, spool_dir: Path) -> Iterator[S3Storage]:
    storage = S3Storage(
        s3_bucket,
        endpoint_url=moto_endpoint,
        region="us-east-1",
        prefix="pieces/",
        spool_dir=spool_dir,
    )
    yield storage
    assert list(spool_dir.iterdir()) == []


def bucket_keys(storage: S3Storage) -> list[str]:
    listing = storage.client.list_objects_v2(Bucket=storage.bucket)
    return [item["Key"] for item in listing.get("Contents", [])]


def pending_multipart_uploads(storage: S3Storage) -> list[dict[str, object]]:
    return storage.client.list_multipart_uploads(Bucket=storage.bucket).get("Uploads", [])


def test_s3_round_trip(s3_storage: S3Storage) -> None:
    key = new_key()
    data = os.urandom(200_000)
    assert not s3_storage.exists(key)

    s3_storage.save(key, io.BytesIO(data))

    assert s3_storage.exists(key)
    assert bucket_keys(s3_storage) == [f"pieces/{key}"]
    stream = s3_storage.open(key)
    try:
        assert stream.read() == data
    finally:
        stream.close()

    s3_storage.delete(key)
    assert not s3_storage.exists(key)
    assert bucket_keys(s3_storage) == []
    s3_storage.delete(key)  # deleting twice is fine
    with pytest.raises(FileNotFoundError):
        s3_storage.open(key)


def test_s3_multipart_round_trip(s3_storage: S3Storage) -> None:
    """Above the multipart threshold (8 MB) the file is sent in parts; all bytes arrive."""
    key = new_key()
    data = os.urandom(11 * 1024 * 1024)
    s3_storage.save(key, io.BytesIO(data))
    stream = s3_storage.open(key)
    try:
        assert stream.read() == data
    finally:
        stream.close()
    assert pending_multipart_uploads(s3_storage) == []


@pytest.mark.parametrize("good", [100_000, 9 * 1024 * 1024], ids=["small", "large"])
def test_s3_failed_upload_leaves_nothing(s3_storage: S3Storage, spool_dir: Path, good: int) -> None:
    """The stream fails mid-way: nothing reaches the bucket, the spooled copy is removed."""
    key = new_key()
    with pytest.raises(OSError, match="client disconnected"):
        s3_storage.save(key, FailingStream(good=good))  # type: ignore[arg-type]
    assert bucket_keys(s3_storage) == []
    assert pending_multipart_uploads(s3_storage) == []
    assert list(spool_dir.iterdir()) == []


@pytest.mark.parametrize("key", BAD_KEYS)
def test_s3_refuses_malformed_keys(s3_storage: S3Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        s3_storage.save(key, io.BytesIO(b"data"))
    with pytest.raises(InvalidKey):
        s3_storage.open(key)
    with pytest.raises(InvalidKey):
        s3_storage.delete(key)
    with pytest.raises(InvalidKey):
        s3_storage.exists(key)
    assert bucket_keys(s3_storage) == []


def test_s3_errors_other_than_not_found_propagate(
    moto_endpoint: str, aws_env: None, spool_dir: Path
) -> None:
    from botocore.exceptions import ClientError

    storage = S3Storage("no-such-bucket-here", endpoint_url=moto_endpoint, spool_dir=spool_dir)
    with pytest.raises(ClientError, match="NoSuchBucket"):
        storage.save(new_key(), io.BytesIO(b"data"))
    assert list(spool_dir.iterdir()) == []


def test_two_web_servers_share_the_files(moto_endpoint: str, s3_bucket: str) -> None:
    """Two independent clients (two workers or hosts) see the same objects."""
    writer = S3Storage(s3_bucket, endpoint_url=moto_endpoint)
    reader = S3Storage(s3_bucket, endpoint_url=moto_endpoint)
    key = new_key()
    writer.save(key, io.BytesIO(b"%PDF-1.4 shared"))
    assert reader.exists(key)
    body = reader.open(key)
    try:
        assert body.read() == b"%PDF-1.4 shared"
    finally:
        body.close()
