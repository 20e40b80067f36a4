"""Fetching the public list over HTTP: streamed to a temporary file, with timeouts,
retries with back-off, conditional requests (ETag / Last-Modified) and a progress bar."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60
CHUNK = 1024 * 256
USER_AGENT = "portail-qualite-financeurs (import de la liste publique des OF)"


class DownloadError(RuntimeError):
    """The list could not be fetched; the message is in French."""


@dataclass(frozen=True)
class Downloaded:
    path: Path | None  # None when the server said the list has not changed
    sha256: str | None
    etag: str | None
    last_modified: str | None

    @property
    def unchanged(self) -> bool:
        return self.path is None


def session_with_retries(retries: int = 3, backoff: float = 1.0) -> requests.Session:
    session = requests.Session()
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def download(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    directory: Path | None = None,
    session: requests.Session | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Downloaded:
    """Stream `url` to a temporary file; `progress(bytes_so_far, total_or_None)`."""
    session = session or session_with_retries()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        response = session.get(
            url, headers=headers, stream=True, timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)
        )
    except requests.RequestException as error:
        raise DownloadError(f"Téléchargement impossible ({url}) : {error}") from error
    with response:
        if response.status_code == 304:
            return Downloaded(None, None, etag, last_modified)
        if response.status_code != 200:
            raise DownloadError(
                f"Téléchargement refusé par le serveur ({url}) : HTTP {response.status_code}."
            )
        total = int(response.headers.get("Content-Length") or 0) or None
        digest = hashlib.sha256()
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept after the with block)
            prefix="liste-publique-", suffix=".csv", dir=directory, delete=False
        )
        done = 0
        try:
            with handle:
                for chunk in response.iter_content(CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
        except requests.RequestException as error:
            Path(handle.name).unlink(missing_ok=True)
            raise DownloadError(f"Téléchargement interrompu ({url}) : {error}") from error
        if total is not None and done != total:
            Path(handle.name).unlink(missing_ok=True)
            raise DownloadError(
                f"Téléchargement incomplet ({url}) : {done} octets reçus sur {total} annoncés."
            )
        return Downloaded(
            Path(handle.name),
            digest.hexdigest(),
            response.headers.get("ETag"),
            response.headers.get("Last-Modified"),
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
