"""Image-to-image translation sets derived from prepared datasets, each keeping its true
mapping so translation error can be measured exactly:

- paired `edges`: an edge map of every image beside the image (as edges2shoes was built,
  with a Canny-style detector in place of HED);
- unpaired `recolor`: grayscale digits in domain A, the *other* half of the digits recoloured
  in domain B (no image has its partner), plus the true translation of every image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ganforge.core.config import check_limit
from ganforge.core.errors import DataError
from ganforge.data.fetch import SourceContext
from ganforge.data.prepared import PreparedDataset, check_holdout, heldout_mask, load_prepared

_BATCH = 1024
_MIN_PEAK_GRADIENT = 0.05  # Sobel magnitude of a 1.25% intensity step


@dataclass(frozen=True)
class EdgesConfig:
    """Edge maps of a prepared image dataset: Gaussian blur, Sobel gradients, non-maximum
    suppression, then hysteresis between `low` and `high` (fractions of each image's
    strongest gradient). Edges are black (0) on white (255). `holdout` of the pairs (drawn
    with `holdout_seed`) is held out: never trained on, scored."""

    from_dataset: str
    blur_sigma: float = 1.0
    low: float = 0.1
    high: float = 0.3
    limit: int | None = None
    holdout: float = 0.1
    holdout_seed: int = 0

    def __post_init__(self) -> None:
        check_holdout(self.holdout)
        if not 0.0 < self.low <= self.high <= 1.0:
            raise ValueError("need 0 < low <= high <= 1")
        if self.blur_sigma <= 0:
            raise ValueError("blur_sigma must be positive")
        check_limit(self.limit)


@dataclass(frozen=True)
class RecolorConfig:
    """Unpaired grayscale ↔ coloured digits: domain B paints each digit in `foreground` on
    `background`; the two domains come from disjoint halves of a seeded permutation. `holdout`
    of each domain (drawn with `holdout_seed`) is held out: never trained on, scored."""

    from_dataset: str
    foreground: tuple[int, int, int] = (255, 200, 0)
    background: tuple[int, int, int] = (20, 40, 120)
    seed: int = 0
    limit: int | None = None
    holdout: float = 0.1
    holdout_seed: int = 0

    def __post_init__(self) -> None:
        check_holdout(self.holdout)
        for colour in (self.foreground, self.background):
            if not all(0 <= c <= 255 for c in colour):
                raise ValueError(f"colours are RGB triples in 0..255, got {colour}")
        if self.foreground == self.background:
            raise ValueError("foreground and background must differ")
        check_limit(self.limit)


def _luma(images: torch.Tensor) -> torch.Tensor:
    """uint8 N×C×H×W → float N×1×H×W in [0, 1]."""
    x = images.float() / 255.0
    if x.shape[1] == 1:
        return x
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x[:, :3] * weights).sum(1, keepdim=True)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, round(2 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))


def _shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x shifted so that out[i, j] = x[i + dy, j + dx] (zero outside)."""
    padded = F.pad(x, (1, 1, 1, 1))
    h, w = x.shape[-2:]
    return padded[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]


def edge_maps(images: torch.Tensor, cfg: EdgesConfig) -> torch.Tensor:
    """Canny-style edge maps of uint8 images: uint8 N×1×H×W, 0 on edges, 255 elsewhere."""
    x = _gaussian_blur(_luma(images), cfg.blur_sigma)
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(padded, sobel_x)
    gy = F.conv2d(padded, sobel_x.transpose(2, 3))
    mag = torch.hypot(gx, gy)
    # Quantise the gradient direction to 0°, 45°, 90°, 135° and keep local maxima along it.
    angle = torch.rad2deg(torch.atan2(gy, gx)) % 180.0
    sector = (((angle + 22.5) // 45.0) % 4).long()
    keep = torch.zeros_like(mag, dtype=torch.bool)
    for s, (dy, dx) in enumerate([(0, 1), (1, 1), (1, 0), (1, -1)]):
        is_max = (mag >= _shift(mag, dy, dx)) & (mag >= _shift(mag, -dy, -dx))
        keep |= (sector == s) & is_max
    thin = mag * keep
    # An image's strongest gradient sets its thresholds; a floor keeps flat images edge-free.
    peak = thin.amax(dim=(1, 2, 3), keepdim=True).clamp_min(_MIN_PEAK_GRADIENT)
    strong = (thin >= cfg.high * peak).squeeze(1).numpy()
    weak = (thin >= cfg.low * peak).squeeze(1).numpy()
    # Hysteresis: keep the weak-edge chains (8-connected, within one image) that touch a strong edge.
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True
    chains, _ = ndimage.label(weak, structure=structure)
    touching = np.unique(chains[strong])
    edges = torch.from_numpy(np.isin(chains, touching[touching > 0])).unsqueeze(1)
    return torch.where(edges, 0, 255).to(torch.uint8)


def source_images(ctx: SourceContext, name: str, limit: int | None) -> PreparedDataset:
    source = load_prepared(ctx.prepared_dir, name)
    if source.kind != "images":
        raise DataError(f"{ctx.name}: needs an image dataset, but {name!r} holds {source.kind}")
    if limit is not None and limit < len(source):
        tensors = {k: v[:limit] for k, v in source.tensors.items()}
        source = PreparedDataset(source.name, "images", tensors, source.class_names, source.meta)
    return source


def derived_meta(source: PreparedDataset, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "derived_from": source.name,
        "stand_in": bool(source.meta.get("stand_in", False)),
        "stand_in_for": source.meta.get("stand_in_for"),
        "inputs": [{"dataset": source.name, "sha256": source.meta.get("data_sha256")}],
        "counts": {"kept": len(source), "skipped": 0},
        **extra,
    }


def make_edges(cfg: EdgesConfig, ctx: SourceContext) -> PreparedDataset:
    """Paired (edge map, image) set from a prepared image dataset."""
    source = source_images(ctx, cfg.from_dataset, cfg.limit)
    edges = (
        torch.cat([edge_maps(chunk, cfg) for chunk in source.images.split(_BATCH)])
        if len(source)
        else torch.zeros((0, 1, *source.images.shape[2:]), dtype=torch.uint8)
    )
    tensors = {
        "a": edges,
        "b": source.images,
        "heldout": heldout_mask(len(source), cfg.holdout, cfg.holdout_seed),
    }
    if source.labels is not None:
        tensors["labels"] = source.labels
    meta = derived_meta(
        source,
        {
            "source": f"edge maps of {source.name} (blur {cfg.blur_sigma}, hysteresis {cfg.low}-{cfg.high})",
            "domains": {"a": "edge map (black edges on white)", "b": f"{source.name} image"},
            "true_mapping": "pairs: a[i] is the edge map of b[i]",
            "holdout": {"fraction": cfg.holdout, "seed": cfg.holdout_seed},
        },
    )
    return PreparedDataset(ctx.name, "paired", tensors, source.class_names, meta)


def recolor(
    gray: torch.Tensor, foreground: tuple[int, int, int], background: tuple[int, int, int]
) -> torch.Tensor:
    """Paint uint8 N×1×H×W intensities as `foreground` on `background`: uint8 N×3×H×W."""
    t = gray.float() / 255.0
    fg = torch.tensor(foreground, dtype=torch.float32).view(1, 3, 1, 1)
    bg = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1)
    return (bg + (fg - bg) * t).round().clamp(0, 255).to(torch.uint8)


def uncolor(
    rgb: torch.Tensor, foreground: tuple[int, int, int], background: tuple[int, int, int]
) -> torch.Tensor:
    """The inverse of `recolor` (least squares along the colour axis): uint8 N×1×H×W."""
    fg = torch.tensor(foreground, dtype=torch.float32).view(1, 3, 1, 1)
    bg = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1)
    axis = fg - bg
    t = ((rgb.float() - bg) * axis).sum(1, keepdim=True) / (axis**2).sum()
    return (t * 255.0).round().clamp(0, 255).to(torch.uint8)


def make_recolor(cfg: RecolorConfig, ctx: SourceContext) -> PreparedDataset:
    """Unpaired grayscale ↔ recoloured set from a grayscale prepared dataset."""
    source = source_images(ctx, cfg.from_dataset, cfg.limit)
    if source.images.shape[1] != 1:
        raise DataError(
            f"{ctx.name}: recolouring needs a grayscale dataset; {source.name!r} has "
            f"{source.images.shape[1]} channels"
        )
    if len(source) < 2:
        raise DataError(f"{ctx.name}: {source.name!r} has {len(source)} images; at least 2 are needed")
    perm = torch.randperm(len(source), generator=torch.Generator().manual_seed(cfg.seed))
    half = len(source) // 2
    idx_a, idx_b = perm[:half].sort().values, perm[half : 2 * half].sort().values
    a, gray_b = source.images[idx_a], source.images[idx_b]
    tensors = {
        "a": a,
        "b": recolor(gray_b, cfg.foreground, cfg.background),
        "a_to_b": recolor(a, cfg.foreground, cfg.background),
        "b_to_a": gray_b,
        "heldout_a": heldout_mask(half, cfg.holdout, cfg.holdout_seed),
        "heldout_b": heldout_mask(half, cfg.holdout, cfg.holdout_seed + 1),
    }
    if source.labels is not None:
        tensors["labels_a"], tensors["labels_b"] = source.labels[idx_a], source.labels[idx_b]
    meta = derived_meta(
        source,
        {
            "source": f"{source.name} split in two disjoint halves (seed {cfg.seed}); B recoloured",
            "domains": {
                "a": f"grayscale {source.name}",
                "b": f"{source.name} in {list(cfg.foreground)} on {list(cfg.background)}",
            },
            "true_mapping": "a_to_b[i] is the translation of a[i]; b_to_a[j] that of b[j]",
            "colours": {"foreground": list(cfg.foreground), "background": list(cfg.background)},
            "seed": cfg.seed,
            "holdout": {"fraction": cfg.holdout, "seed": cfg.holdout_seed},
        },
    )
    meta["counts"] = {"a": half, "b": half, "skipped": len(source) - 2 * half}
    return PreparedDataset(ctx.name, "unpaired", tensors, source.class_names, meta)
