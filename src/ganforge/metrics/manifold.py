"""Sample-quality and diversity scores from k-nearest-neighbour balls in feature space:
improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et
al. 2020). Pairwise distances are computed a block of rows at a time, so memory stays bounded
(about `_BLOCK_ELEMENTS` distances at once) for sets of tens of thousands of samples."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from ganforge.core.errors import ConfigError, DataError

_BLOCK_ELEMENTS = 1 << 23  # distances per block: 64 MiB in float64 (a few times that at peak)


def _points(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.to(torch.float64)
    if t.ndim != 2 or t.shape[0] == 0:
        raise DataError(f"{name} features must be a non-empty 2-D (samples, dims) array, got {list(t.shape)}")
    if not torch.isfinite(t).all():
        raise DataError(f"{name} features contain NaN or infinite values")
    return t


def _pair(
    real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if k < 1:
        raise ConfigError(f"k must be 1 or more, got {k}")
    x, y = _points(real, "real"), _points(fake, "fake")
    if x.shape[1] != y.shape[1]:
        raise DataError(f"real and fake features differ in width: {x.shape[1]} and {y.shape[1]}")
    return x, y.to(x.device)


def _need_neighbours(x: torch.Tensor, k: int, name: str) -> None:
    if x.shape[0] <= k:
        raise DataError(f"{name} set has {x.shape[0]} samples; the k={k} nearest neighbours need {k + 1}")


def _blocks(rows: int, columns: int) -> Iterator[slice]:
    step = max(1, _BLOCK_ELEMENTS // max(columns, 1))
    for start in range(0, rows, step):
        yield slice(start, min(start + step, rows))


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row of `x` to its k-th nearest other row. The point itself is masked
    out by index (not by its distance, which round-off may leave slightly above 0), so exact
    duplicates count as neighbours at distance 0."""
    radii = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for block in _blocks(x.shape[0], x.shape[0]):
        distances = torch.cdist(x[block], x)
        rows = torch.arange(distances.shape[0], device=x.device)
        distances[rows, rows + block.start] = torch.inf
        radii[block] = distances.kthvalue(k, dim=1).values
    return radii


def manifold_scores(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    pr_k: int = 3,
    dc_k: int = 5,
    real_radii: dict[int, torch.Tensor] | None = None,
    with_recall: bool = True,
) -> dict[str, float]:
    """Precision, recall (k = `pr_k`), density and coverage (k = `dc_k`) from one pass over the
    fake-to-real distances. `real_radii` may give the real sets' k-NN radii, computed once per
    reference (`knn_radii`), so that only the fake set's radii are computed here."""
    x, y = _pair(real, fake, min(pr_k, dc_k))
    _need_neighbours(x, max(pr_k, dc_k), "real")
    if with_recall:
        _need_neighbours(y, pr_k, "fake")
    cached = real_radii or {}
    real_pr = cached[pr_k].to(x) if pr_k in cached else knn_radii(x, pr_k)
    real_dc = cached[dc_k].to(x) if dc_k in cached else knn_radii(x, dc_k)
    fake_pr = knn_radii(y, pr_k) if with_recall else None
    in_real_pr = torch.zeros(y.shape[0], dtype=torch.int64)
    in_real_dc = torch.zeros(y.shape[0], dtype=torch.int64)
    recalled = torch.zeros(x.shape[0], dtype=torch.bool)
    nearest_fake = torch.full((x.shape[0],), torch.inf, dtype=x.dtype)
    for block in _blocks(y.shape[0], x.shape[0]):
        distances = torch.cdist(y[block], x)  # fake rows × real columns
        in_real_pr[block] = (distances <= real_pr).sum(dim=1)
        in_real_dc[block] = (distances <= real_dc).sum(dim=1)
        if fake_pr is not None:
            recalled |= (distances <= fake_pr[block, None]).any(dim=0)
        nearest_fake = torch.minimum(nearest_fake, distances.min(dim=0).values)
    return {
        "precision": float((in_real_pr > 0).double().mean()),
        "recall": float(recalled.double().mean()) if with_recall else float("nan"),
        "density": float(in_real_dc.sum().double() / (dc_k * y.shape[0])),
        "coverage": float((nearest_fake <= real_dc).double().mean()),
    }


def precision_recall(
    real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, k: int = 3
) -> dict[str, float]:
    """Improved precision (fraction of fake samples inside at least one real k-NN ball) and
    recall (fraction of real samples inside at least one fake k-NN ball)."""
    scores = manifold_scores(real, fake, pr_k=k, dc_k=k)
    return {"precision": scores["precision"], "recall": scores["recall"]}


def density_coverage(
    real: np.ndarray | torch.Tensor, fake: np.ndarray | torch.Tensor, k: int = 5
) -> dict[str, float]:
    """Density, (1 / kM) Σ_j Σ_i 1[fake_j ∈ B(real_i, r_i)] over M fake samples (can exceed 1),
    and coverage, the fraction of real samples whose k-NN ball holds at least one fake sample."""
    scores = manifold_scores(real, fake, pr_k=k, dc_k=k, with_recall=False)
    return {"density": scores["density"], "coverage": scores["coverage"]}
