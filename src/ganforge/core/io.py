"""Atomic file output and checksums: every output is written to a temporary name in the same
folder and renamed into place, so an interrupted write leaves nothing half-written."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it onto `target`.

    On any exception the temporary file is removed and `target` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.chmod(0o666 & ~_umask())  # mkstemp makes it private; outputs get the usual mode
    try:
        yield tmp
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def md5_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ManifestDigest:
    """One SHA-256 over many named blobs (name and content digest of each, in reading order),
    so a folder or archive of thousands of files has a single checksum in the metadata."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.files = 0

    def add(self, name: str, data: bytes) -> bytes:
        self._digest.update(f"{name}\t{sha256_bytes(data)}\n".encode())
        self.files += 1
        return data

    def reader(self, name: str, read: Any) -> Any:
        """Wrap a zero-argument read function so what it returns is added to the digest."""
        return lambda: self.add(name, read())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; on success it replaces `target` whole."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def save_torch(obj: Any, path: str | os.PathLike[str]) -> None:
    """torch.save, atomically and byte-for-byte reproducibly: saving through a file handle
    keeps the (random) temporary file name out of the archive."""
    import torch

    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        torch.save(obj, fh)


def utc_iso(unix_seconds: float) -> str:
    """A Unix time as an ISO 8601 UTC timestamp to the millisecond (`2026-12-06T19:12:03.250Z`)."""
    moment = datetime.datetime.fromtimestamp(unix_seconds, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unix_ms(iso: str) -> int:
    """An ISO 8601 timestamp (as `utc_iso` writes it) as Unix milliseconds."""
    moment = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {iso!r} has no time zone")
    return round(moment.timestamp() * 1000)
