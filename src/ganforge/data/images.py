"""Decoding image files once, into uint8 C×H×W arrays: centre-crop to a square, resize, and
count (rather than crash on) unreadable or truncated files."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganforge.core.config import check_limit
from ganforge.core.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
_MODES = {1: "L", 3: "RGB"}
_MAX_LISTED = 50


def check_image_options(image_size: int, limit: int | None, max_bad_fraction: float) -> None:
    """The options every image source shares: output size, subset size, tolerated bad files."""
    check_limit(limit)
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if not 0.0 <= max_bad_fraction <= 1.0:
        raise ValueError(f"max_bad_fraction must be between 0 and 1, got {max_bad_fraction}")


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _flatten_alpha(img: Image.Image) -> Image.Image:
    """Composite transparent images onto white, so transparency does not turn black."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba)
    return img


def centre_square(img: Image.Image) -> Image.Image:
    """The largest centred square of the image."""
    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def decode_image(data: bytes, size: int, channels: int) -> np.ndarray:
    """Decode, crop to a centred square, resize to size×size; return uint8 C×H×W.

    Raises OSError/ValueError (or PIL's errors) for unreadable or truncated data.
    """
    with Image.open(io.BytesIO(data)) as img:
        img.load()  # forces a full decode: truncated files fail here
        img = _flatten_alpha(img).convert(_MODES[channels])
    img = centre_square(img)
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


@dataclass
class DecodedImages:
    """The images that decoded, their names, and the names that did not with the reason."""

    arrays: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def read(self) -> int:
        return len(self.names) + len(self.skipped)

    def stacked(self, size: int, channels: int) -> np.ndarray:
        if not self.arrays:
            return np.zeros((0, channels, size, size), dtype=np.uint8)
        return np.stack(self.arrays)

    def counts(self) -> dict[str, int]:
        return {"read": self.read, "kept": len(self.names), "skipped": len(self.skipped)}

    def skipped_listing(self) -> list[dict[str, str]]:
        """The first skipped files with their reasons, for the metadata."""
        return [{"file": n, "reason": r} for n, r in self.skipped[:_MAX_LISTED]]


_DECODE_ERRORS = (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError)


def decode_all(
    items: Iterable[tuple[str, Callable[[], bytes]]],
    size: int,
    channels: int,
    decode: Callable[[bytes], np.ndarray] | None = None,
) -> DecodedImages:
    """Decode each (name, read-bytes) item with `decode` (default: `decode_image`); files
    that fail to read or decode are recorded, not raised."""
    if channels not in _MODES:
        raise DataError(f"channels must be 1 or 3, got {channels}")
    if decode is None:
        def decode(data: bytes) -> np.ndarray:
            return decode_image(data, size, channels)
    out = DecodedImages()
    for name, read in items:
        try:
            arr = decode(read())
        except _DECODE_ERRORS as exc:
            out.skipped.append((name, f"{type(exc).__name__}: {exc}"[:200]))
            continue
        out.arrays.append(arr)
        out.names.append(name)
    return out


def check_bad_fraction(decoded: DecodedImages, max_bad_fraction: float, where: str) -> None:
    """Fail when nothing decoded, or when more than the allowed fraction of files is bad."""
    if decoded.read == 0:
        raise DataError(f"{where}: no image files found")
    bad = len(decoded.skipped)
    if not decoded.names:
        first = decoded.skipped[0]
        raise DataError(f"{where}: none of the {bad} image files could be read (first: {first[0]}: {first[1]})")
    if bad / decoded.read > max_bad_fraction:
        raise DataError(
            f"{where}: {bad} of {decoded.read} image files are unreadable or truncated "
            f"({bad / decoded.read:.1%} > max_bad_fraction {max_bad_fraction:.1%}); first: "
            f"{decoded.skipped[0][0]}. Fix or remove them, or raise max_bad_fraction"
        )
