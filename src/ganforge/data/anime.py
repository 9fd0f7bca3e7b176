"""The Kaggle Anime Face dataset (`splcher/animefacedataset`), fetched with the `kaggle`
package; its zip may also come from the offline mirror (`anime/animefacedataset.zip`)."""

from __future__ import annotations

import contextlib
import io
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganforge.core.errors import CredentialsError, DataError
from ganforge.core.io import ManifestDigest, sha256_file
from ganforge.data.fetch import RawFiles, RawNeed, SourceContext
from ganforge.data.folder import subset
from ganforge.data.images import Resize, check_bad_fraction, check_image_options, decode_all, is_image_name
from ganforge.data.prepared import PreparedDataset

KAGGLE_DATASET = "splcher/animefacedataset"

CREDENTIALS_HELP = (
    "Kaggle credentials not found: set KAGGLE_API_TOKEN, save a token to ~/.kaggle/access_token, "
    "or run `kaggle auth login`; the older ~/.kaggle/kaggle.json or KAGGLE_USERNAME and KAGGLE_KEY "
    "also work. Or put the archive in the data mirror under anime/"
)


@dataclass(frozen=True)
class AnimeConfig:
    """Anime faces: made square by `fit` (centre_crop by default) and resized to image_size
    with the PIL filter `resize_filter`; a random subset of `limit`."""

    kaggle_dataset: str = KAGGLE_DATASET
    image_size: int = 64
    limit: int | None = None
    subset_seed: int = 0
    max_bad_fraction: float = 0.01
    resize_filter: str = "bicubic"
    fit: str = "centre_crop"
    pad_value: int = 0

    def __post_init__(self) -> None:
        check_image_options(self.image_size, self.limit, self.max_bad_fraction)
        if self.kaggle_dataset.count("/") != 1:
            raise ValueError(f"kaggle_dataset must look like owner/name, got {self.kaggle_dataset!r}")
        _ = self.resize

    @property
    def resize(self) -> Resize:
        return Resize(self.resize_filter, self.fit, self.pad_value)


def archive_name(dataset: str) -> str:
    """The file name Kaggle gives a dataset's archive: `<name>.zip`."""
    return dataset.split("/")[1] + ".zip"


def kaggle_api() -> Any:
    """An authenticated KaggleApi, or CredentialsError.

    `import kaggle` authenticates at import time and, without credentials, prints a help text
    and may end the process; so the import is lazy, quiet, and SystemExit becomes our error.
    """
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            api.authenticate()
    except SystemExit as exc:
        raise CredentialsError(CREDENTIALS_HELP) from exc
    except Exception as exc:  # a malformed credentials file, for instance
        raise CredentialsError(f"{CREDENTIALS_HELP} (kaggle said: {type(exc).__name__}: {exc})") from exc
    return api


def kaggle_download(dataset: str, folder: Path, filename: str) -> None:
    """Download a Kaggle dataset's archive into `folder` (a RawFiles downloader)."""
    api = kaggle_api()
    api.dataset_download_files(dataset, path=str(folder), unzip=False, quiet=True)
    if not (folder / filename).is_file():
        raise OSError(f"kaggle wrote no {filename} for {dataset}")


def read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes; a damaged member is an OSError, so it is skipped like a bad image."""
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise OSError(f"damaged zip member ({exc})") from exc


def anime_needs(cfg: AnimeConfig) -> list[RawNeed]:
    return [RawNeed("anime", archive_name(cfg.kaggle_dataset))]


def load_anime(cfg: AnimeConfig, ctx: SourceContext) -> PreparedDataset:
    """Fetch (mirror, cache or Kaggle) and decode the anime faces archive."""
    filename = archive_name(cfg.kaggle_dataset)
    raw = RawFiles(ctx, "anime", downloader=kaggle_download).get(filename, [cfg.kaggle_dataset])
    try:
        archive = zipfile.ZipFile(raw.path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(
            f"{raw.path} is not a readable zip archive ({exc}); delete it and fetch it again"
        ) from exc
    with archive:
        names = sorted(n for n in archive.namelist() if is_image_name(n) and not n.endswith("/"))
        if not names:
            raise DataError(f"{raw.path} holds no image files")
        chosen = [names[i] for i in subset(len(names), cfg.limit, cfg.subset_seed)]
        digest = ManifestDigest()

        def reader(name: str) -> Any:
            return digest.reader(name, lambda: read_member(archive, name))

        decoded = decode_all(((n, reader(n)) for n in chosen), cfg.image_size, 3, resize=cfg.resize)
    check_bad_fraction(decoded, cfg.max_bad_fraction, f"{ctx.name} ({raw.path.name})")
    meta = {
        "source": f"Kaggle dataset {cfg.kaggle_dataset}",
        "stand_in": False,
        "inputs": [
            {
                "file": filename,
                "origin": raw.origin,
                "sha256": sha256_file(raw.path),
                "manifest_sha256": digest.hexdigest(),
            }
        ],
        "counts": {**decoded.counts(), "available": len(names)},
        "skipped_files": decoded.skipped_listing(),
        "image_size": cfg.image_size,
        "limit": cfg.limit,
        "resize": cfg.resize.describe(),
    }
    tensors = {"images": torch.from_numpy(decoded.stacked(cfg.image_size, 3))}
    return PreparedDataset(ctx.name, "images", tensors, [], meta)
