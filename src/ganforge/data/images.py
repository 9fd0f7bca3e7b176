"""Decoding image files once, into uint8 C×H×W arrays: make the image square (centre crop, pad
or stretch), resize it with a declared PIL filter, and count (rather than crash on) unreadable
or truncated files."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganforge.core.config import check_limit
from ganforge.core.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
_MODES = {1: "L", 3: "RGB"}
_MAX_LISTED = 50

# PIL's filters by the name a config gives. PIL's resize widens the kernel when it shrinks, so
# every filter but `nearest` is antialiased.
RESIZE_FILTERS: dict[str, Image.Resampling] = {
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}
# How a non-square image becomes square: `centre_crop` keeps the largest centred square;
# `pad` resizes the long side to the output size and centres the image on a constant grey
# `pad_value` canvas (black by default: StyleGAN's dataset_tool `center-crop-wide`);
# `stretch` resizes to a square without keeping the aspect ratio.
FITS = ("centre_crop", "pad", "stretch")


def check_image_options(image_size: int, limit: int | None, max_bad_fraction: float) -> None:
    """The options every image source shares: output size, subset size, tolerated bad files."""
    check_limit(limit)
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if not 0.0 <= max_bad_fraction <= 1.0:
        raise ValueError(f"max_bad_fraction must be between 0 and 1, got {max_bad_fraction}")


def check_resize_filter(name: str) -> None:
    if name not in RESIZE_FILTERS:
        raise ValueError(f"unknown resize_filter {name!r}; known: {', '.join(RESIZE_FILTERS)}")


@dataclass(frozen=True)
class Resize:
    """How an image reaches size×size: the PIL filter, how a non-square image is made square,
    and the grey level (0-255) that `pad` fills with. The defaults are the original ones."""

    filter: str = "bicubic"
    fit: str = "centre_crop"
    pad_value: int = 0

    def __post_init__(self) -> None:
        check_resize_filter(self.filter)
        if self.fit not in FITS:
            raise ValueError(f"unknown fit {self.fit!r}; known: {', '.join(FITS)}")
        if not 0 <= self.pad_value <= 255:
            raise ValueError(f"pad_value must be a grey level from 0 to 255, got {self.pad_value}")

    @property
    def resample(self) -> Image.Resampling:
        return RESIZE_FILTERS[self.filter]

    def describe(self) -> dict[str, Any]:
        """The record for a prepared dataset's metadata (`"resize"`)."""
        record: dict[str, Any] = {
            "filter": self.filter,
            "fit": self.fit,
            "antialias": self.filter != "nearest",
        }
        if self.fit == "pad":
            record["pad_value"] = self.pad_value
        return record


DEFAULT_RESIZE = Resize()


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
    return centre_crop(img, min(img.size))


def centre_crop(img: Image.Image, side: int) -> Image.Image:
    """The centred side×side square of the image; ValueError if the image is smaller."""
    w, h = img.size
    if side > min(w, h):
        raise ValueError(f"image is {w}x{h}, smaller than the {side}x{side} crop")
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def _padded(img: Image.Image, size: int, resize: Resize) -> Image.Image:
    """The image with its long side resized to `size`, centred on a pad_value canvas."""
    w, h = img.size
    scaled = (size, max(1, round(h * size / w))) if w >= h else (max(1, round(w * size / h)), size)
    if img.size != scaled:
        img = img.resize(scaled, resize.resample)
    fill = resize.pad_value if img.mode == "L" else (resize.pad_value,) * 3
    canvas = Image.new(img.mode, (size, size), fill)
    canvas.paste(img, ((size - scaled[0]) // 2, (size - scaled[1]) // 2))
    return canvas


def fit_square(img: Image.Image, size: int, resize: Resize = DEFAULT_RESIZE) -> Image.Image:
    """The image made square by `resize.fit` and resized to size×size with its filter."""
    if resize.fit == "pad" and img.size[0] != img.size[1]:
        return _padded(img, size, resize)
    if resize.fit == "centre_crop":
        img = centre_square(img)
    if img.size != (size, size):
        img = img.resize((size, size), resize.resample)
    return img


def decode_image(
    data: bytes, size: int, channels: int, resize: Resize = DEFAULT_RESIZE, crop: int | None = None
) -> np.ndarray:
    """Decode, optionally cut the centred crop×crop square, make square by `resize.fit`
    (default: crop to the centred square), resize to size×size with `resize.filter`; return
    uint8 C×H×W.

    Raises OSError/ValueError (or PIL's errors) for unreadable or truncated data, and
    ValueError for an image smaller than `crop`.
    """
    with Image.open(io.BytesIO(data)) as img:
        img.load()  # forces a full decode: truncated files fail here
        img = _flatten_alpha(img).convert(_MODES[channels])
    if crop is not None:
        img = centre_crop(img, crop)
    img = fit_square(img, size, resize)
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
    resize: Resize = DEFAULT_RESIZE,
    crop: int | None = None,
) -> DecodedImages:
    """Decode each (name, read-bytes) item with `decode` (default: `decode_image` with
    `resize` and `crop`); files that fail to read or decode are recorded, not raised."""
    if channels not in _MODES:
        raise DataError(f"channels must be 1 or 3, got {channels}")
    if decode is None:

        def decode(data: bytes) -> np.ndarray:
            return decode_image(data, size, channels, resize, crop)

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
        raise DataError(
            f"{where}: none of the {bad} image files could be read (first: {first[0]}: {first[1]})"
        )
    if bad / decoded.read > max_bad_fraction:
        raise DataError(
            f"{where}: {bad} of {decoded.read} image files are unreadable or truncated "
            f"({bad / decoded.read:.1%} > max_bad_fraction {max_bad_fraction:.1%}); first: "
            f"{decoded.skipped[0][0]}. Fix or remove them, or raise max_bad_fraction"
        )
