"""Images and latent seeds in and out of the tools: seed lists ("0-999,1500"), PNG files and
uploads checked before they are decoded, and arrays streamed to disk a batch at a time."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganforge.core.errors import ConfigError, DataError
from ganforge.serving.model import SEED_MAX

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def parse_seeds(text: str, limit: int | None = None) -> list[int]:
    """ "0-999", "3,7,11" or "0-9,20" as a list of seeds (in the order given, ranges inclusive)."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        lo, _, hi = part.partition("-")
        try:
            start, stop = int(lo), int(hi) if hi else int(lo)
        except ValueError:
            raise ConfigError(f"bad seed list {text!r}: use numbers and ranges like 0-999,1500") from None
        if not 0 <= start <= stop <= SEED_MAX:
            raise ConfigError(f"bad seed range {part!r}: seeds run from 0 to {SEED_MAX}, low to high")
        if limit is not None and len(seeds) + stop - start + 1 > limit:
            raise ConfigError(f"seed list {text!r} has more than {limit} seeds")
        seeds.extend(range(start, stop + 1))
    if not seeds:
        raise ConfigError("no seeds given")
    return seeds


def compact_seeds(seeds: Iterable[int]) -> str:
    """The inverse of parse_seeds for sidecars: consecutive runs written as ranges."""
    parts: list[str] = []
    run: list[int] = []
    for s in seeds:
        if run and s == run[-1] + 1:
            run.append(s)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [s]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def png_bytes(image: torch.Tensor) -> bytes:
    """A uint8 C×H×W image (1 or 3 channels) as PNG bytes."""
    arr = image.permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr).save(buf, format="PNG")
    return buf.getvalue()


def decode_image(data: bytes, name: str, channels: int, max_side: int = 1024) -> torch.Tensor:
    """An image file's bytes as a uint8 C×H×W tensor with `channels` channels, its size
    checked (at most `max_side` pixels a side) before its pixels are decoded."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            if max(w, h) > max_side:
                raise DataError(f"{name} is {w}×{h}: images may be at most {max_side} pixels a side")
            img.load()
            converted = img.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise DataError(f"{name} is not a readable image ({type(exc).__name__})") from None
    arr = np.asarray(converted, dtype=np.uint8)
    arr = arr[..., None] if arr.ndim == 2 else arr
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def square(image: torch.Tensor) -> torch.Tensor:
    """The centred square crop of a C×H×W image."""
    h, w = image.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[..., top : top + side, left : left + side]


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


class NpyStream:
    """An .npy array of known shape written a batch at a time through a memory map, so
    writing N samples needs memory for one batch."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype | type) -> None:
        self.path = path
        self.array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        self.filled = 0

    def write(self, batch: np.ndarray) -> None:
        self.array[self.filled : self.filled + len(batch)] = batch
        self.filled += len(batch)

    def close(self) -> None:
        self.array.flush()
        del self.array


def bundle_npz(target: Path, members: dict[str, Path]) -> None:
    """An .npz file (what numpy.load reads) from .npy files on disk, without loading them."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, path in members.items():
            zf.write(path, f"{name}.npy")
