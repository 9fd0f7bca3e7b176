"""Inception Score from a classifier's log-probabilities: exp of the mean KL divergence between
each sample's class distribution p(y|x) and the marginal p(y), computed in log space."""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp

from ganforge.core.errors import ConfigError, DataError

_NORMALISATION_TOLERANCE = 1e-3


def _float64(x: np.ndarray | torch.Tensor) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).astype(np.float64)


def log_probs_from_logits(logits: np.ndarray | torch.Tensor) -> np.ndarray:
    """log_softmax over the last axis in float64: turns a classifier's logits into this module's input."""
    x = _float64(logits)
    return x - logsumexp(x, axis=-1, keepdims=True)


def _checked_log_probs(log_probs: np.ndarray | torch.Tensor) -> np.ndarray:
    x = _float64(log_probs)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise DataError(f"log-probabilities must be a non-empty 2-D (samples, classes) array, got {x.shape}")
    if np.isnan(x).any() or (x == np.inf).any():
        raise DataError("log-probabilities contain NaN or +inf")
    if np.abs(logsumexp(x, axis=1)).max() > _NORMALISATION_TOLERANCE:
        raise DataError("rows are not log-probabilities (they do not sum to 1); apply log_softmax to logits")
    return x


def _score(log_probs: np.ndarray) -> float:
    """exp(mean_i KL(p(y|x_i) || p(y))) with log p(y) = logsumexp_i log p(y|x_i) - log n."""
    log_marginal = logsumexp(log_probs, axis=0) - np.log(log_probs.shape[0])
    probs = np.exp(log_probs)
    # A term with p(y|x) = 0 is 0, but its logs may be -inf: replace them so no 0·inf is formed.
    # Where p(y|x) > 0 both logs are finite, since then p(y) >= p(y|x) / n > 0.
    log_ratio = np.where(probs > 0, log_probs, 0.0) - np.where(np.isfinite(log_marginal), log_marginal, 0.0)
    return float(np.exp((probs * log_ratio).sum(axis=1).mean()))


def inception_score(log_probs: np.ndarray | torch.Tensor, splits: int = 10) -> dict[str, float]:
    """The Inception Score of (N, C) log-probabilities p(y|x) (callers apply log_softmax, or
    `log_probs_from_logits`): `is_1split` over all N samples, and `is_mean` ± `is_std`
    (population std) over `splits` contiguous, near-equal splits, as usually reported."""
    if splits < 1:
        raise ConfigError(f"inception score splits must be 1 or more, got {splits}")
    x = _checked_log_probs(log_probs)
    if x.shape[0] < splits:
        raise DataError(f"{x.shape[0]} samples cannot be cut into {splits} splits")
    per_split = np.array([_score(part) for part in np.array_split(x, splits)])
    return {"is_1split": _score(x), "is_mean": float(per_split.mean()), "is_std": float(per_split.std())}
