"""Where raw files come from: the offline mirror first, then the download cache, then the
network. Every source goes through `RawFiles`, so the offline rules are the same for all."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ganforge.core.errors import GanforgeError, MissingDataError

# A download function: (url, destination folder, file name) -> None; raises on failure.
Downloader = Callable[[str, Path, str], None]


@dataclass(frozen=True)
class SourceContext:
    """What every data source needs to know about its surroundings."""

    name: str
    """Name of the dataset being prepared (used in messages and metadata)."""
    raw_dir: Path
    """Download cache: raw files fetched from the network are kept here."""
    prepared_dir: Path
    """Where prepared datasets live (derived datasets read their inputs from here)."""
    mirror: Path | None = None
    """Offline mirror laid out like `shared/datasets`; read before trying the network."""
    offline: bool = False
    """Never try the network."""
    verify_checksums: bool = True
    timeout_s: float = 60.0


@dataclass(frozen=True)
class RawNeed:
    """A raw file a source will read: `<mirror>/<mirror_dir>/<filename>` or the download cache."""

    mirror_dir: str
    filename: str


def missing_lines(ctx: SourceContext, needs: Sequence[RawNeed]) -> list[str]:
    """A line for each needed raw file that is neither in the mirror nor in the download cache,
    saying where to put it."""
    lines = []
    for need in needs:
        files = RawFiles(ctx, need.mirror_dir)
        if files.find_local(need.filename) is None:
            mirrored = files.mirror_path(need.filename)
            place = f"{mirrored} (the mirror) or " if mirrored is not None else ""
            lines.append(
                f"{ctx.name}: {need.filename} is missing: put it at {place}"
                f"{files.cache_dir / need.filename} (the download cache)"
            )
    return lines


@dataclass(frozen=True)
class RawFile:
    """A raw file that was found: where, and how it was obtained (mirror, cache, download)."""

    path: Path
    origin: str


def torchvision_download(url: str, folder: Path, filename: str) -> None:
    """Download with torchvision's downloader (the path torchvision's datasets use)."""
    from torchvision.datasets.utils import download_url

    download_url(url, root=str(folder), filename=filename)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class RawFiles:
    """Finds the raw files of one source: `<mirror>/<mirror_dir>/<file>`, then
    `<raw_dir>/<cache_dir>/<file>`, then each URL in turn (unless offline), downloaded with
    `downloader` (default: torchvision's)."""

    def __init__(
        self,
        ctx: SourceContext,
        mirror_dir: str,
        cache_dir: str | None = None,
        downloader: Downloader | None = None,
    ) -> None:
        self.ctx = ctx
        self.mirror_dir = mirror_dir
        self.cache_dir = ctx.raw_dir / (cache_dir or mirror_dir)
        self.downloader = downloader

    def mirror_path(self, filename: str) -> Path | None:
        if self.ctx.mirror is None:
            return None
        return self.ctx.mirror / self.mirror_dir / filename

    def find_local(self, filename: str) -> RawFile | None:
        """The file from the mirror or the download cache, if either has it."""
        mirrored = self.mirror_path(filename)
        if mirrored is not None and mirrored.exists():
            return RawFile(mirrored, "mirror")
        cached = self.cache_dir / filename
        if cached.exists():
            return RawFile(cached, "cache")
        return None

    def get(self, filename: str, urls: Sequence[str], hint: str = "") -> RawFile:
        """Return the file, downloading it into the cache if needed; MissingDataError if
        it is nowhere and cannot be downloaded."""
        found = self.find_local(filename)
        if found is not None:
            return found
        failures: list[str] = []
        if not self.ctx.offline:
            for url in urls:
                try:
                    return RawFile(self._download(url, filename), "download")
                except GanforgeError:
                    raise  # e.g. missing credentials: the user must see that, not a retry
                except Exception as exc:  # network errors come in many types
                    failures.append(f"{url}: {type(exc).__name__}: {exc}")
        raise MissingDataError(self._missing_message(filename, failures, hint))

    def _download(self, url: str, filename: str) -> Path:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".download-") as tmp:
            with _socket_timeout(self.ctx.timeout_s):
                (self.downloader or torchvision_download)(url, Path(tmp), filename)
            fetched = Path(tmp) / filename
            if not fetched.is_file():
                raise OSError(f"download left no file named {filename}")
            target = self.cache_dir / filename
            shutil.move(fetched, target)
        return target

    def _missing_message(self, filename: str, failures: list[str], hint: str) -> str:
        where = self.mirror_path(filename)
        if where is None:
            place = (
                f"no data mirror is set (set GANFORGE_DATA_MIRROR to a folder laid out like "
                f"shared/datasets, with the file at <mirror>/{self.mirror_dir}/{filename})"
            )
        else:
            place = f"it is not in the mirror (expected at {where})"
        if self.ctx.offline:
            net = "the network is off (GANFORGE_OFFLINE / data.offline)"
        elif failures:
            net = "download failed (" + "; ".join(failures)[:300] + ")"
        else:
            net = "no download address is known"
        tail = f"; {hint}" if hint else ""
        return f"{self.ctx.name}: cannot find {filename}: {place}, and {net}{tail}"
