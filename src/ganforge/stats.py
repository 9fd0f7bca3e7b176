"""A/B statistics over seeds: per-arm summaries with bootstrap confidence intervals, and
pairwise tests (Welch's t, Mann-Whitney U, probability of improvement) with Holm's
correction over the comparisons of one table."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats as st

from ganforge.core.errors import ConfigError

FEW_SEEDS = 5  # below this many seeds a bootstrap interval is rough, and the report says so
POWER = 0.8  # the power at which the smallest detectable effect is stated


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float | None
    median: float
    ci_low: float | None
    ci_high: float | None
    few_seeds: bool


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    welch_p: float | None
    mwu_p: float | None
    prob_improvement: float
    """P(a random seed of A beats a random seed of B) = U / (n_a n_b), ties counting half."""
    welch_p_holm: float | None = None
    mwu_p_holm: float | None = None
    verdict: str = ""
    power_note: str = ""
    min_detectable: float | None = None
    """The smallest |mean A - mean B| that Welch's t at α would detect with 80% power, given
    these seeds and their spread (None with fewer than 2 seeds per arm)."""


def summarize(
    values: Sequence[float], confidence: float = 0.95, resamples: int = 9999, seed: int = 0
) -> Summary:
    """n, mean, std (ddof 1), median and a bootstrap confidence interval of the mean (BCa;
    percentile when BCa is undefined). With one value there is no interval; with identical
    values the interval is the point."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if len(x) == 0:
        raise ValueError("no finite values to summarise")
    mean, median = float(x.mean()), float(np.median(x))
    std = float(x.std(ddof=1)) if len(x) > 1 else None
    low = high = None
    if len(x) > 1:
        if np.ptp(x) == 0:
            low = high = mean
        else:
            low, high = _bootstrap_ci(x, confidence, resamples, seed)
    return Summary(len(x), mean, std, median, low, high, len(x) < FEW_SEEDS)


def _bootstrap_ci(x: np.ndarray, confidence: float, resamples: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = st.bootstrap(
                (x,),
                np.mean,
                confidence_level=confidence,
                n_resamples=resamples,
                method=method,
                random_state=rng,
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high
    return float(x.min()), float(x.max())


def probability_of_improvement(a: Sequence[float], b: Sequence[float], higher_is_better: bool) -> float:
    """U / (n_a n_b): the chance a random seed of A beats a random seed of B (ties: half)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff = (x[:, None] - y[None, :]) * (1 if higher_is_better else -1)
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / (len(x) * len(y)))


def min_mwu_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided exact Mann-Whitney p-value possible with these sample sizes."""
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


def min_detectable_difference(
    a: Sequence[float], b: Sequence[float], alpha: float, power: float = POWER
) -> float | None:
    """The difference of means that a two-sided Welch t-test at `alpha` would detect with
    probability `power`, for arms of these sizes and sample spreads:
    (t_{1-α/2} + t_power) · sqrt(s_a²/n_a + s_b²/n_b), on the Welch-Satterthwaite degrees of
    freedom. None with fewer than 2 values in an arm."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        return None
    va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0
    df = (va + vb) ** 2 / (va**2 / (len(x) - 1) + vb**2 / (len(y) - 1))
    return float((st.t.ppf(1 - alpha / 2, df) + st.t.ppf(power, df)) * se)


def compare_pair(
    a_name: str, a: Sequence[float], b_name: str, b: Sequence[float], higher_is_better: bool
) -> Comparison:
    """Welch's t-test and the Mann-Whitney U test (two-sided) of A against B."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    welch = mwu = None
    if len(x) >= 2 and len(y) >= 2:
        if np.ptp(np.concatenate([x, y])) == 0:
            welch = 1.0
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                welch = float(st.ttest_ind(x, y, equal_var=False).pvalue)
            welch = 1.0 if not math.isfinite(welch) else welch
    if len(x) >= 1 and len(y) >= 1:
        mwu = float(st.mannwhitneyu(x, y, alternative="two-sided").pvalue)
    return Comparison(
        a_name,
        b_name,
        len(x),
        len(y),
        float(x.mean()),
        float(y.mean()),
        welch,
        mwu,
        probability_of_improvement(x, y, higher_is_better),
    )


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (family-wise error); None entries are left out and kept."""
    indexed = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def pairwise_table(
    arms: Mapping[str, Sequence[float]],
    higher_is_better: bool,
    alpha: float,
    pairs: Sequence[tuple[str, str]] | None = None,
) -> list[Comparison]:
    """The given pairs of arms (default: every pair), Holm-corrected within the table, with a
    verdict each."""
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must be between 0 and 1, got {alpha}")
    chosen = list(pairs) if pairs is not None else list(itertools.combinations(arms, 2))
    compared = [compare_pair(a, arms[a], b, arms[b], higher_is_better) for a, b in chosen]
    detectable = [min_detectable_difference(arms[a], arms[b], alpha) for a, b in chosen]
    welch_holm, mwu_holm = holm([c.welch_p for c in compared]), holm([c.mwu_p for c in compared])
    out = []
    for c, wh, mh, mde in zip(compared, welch_holm, mwu_holm, detectable, strict=True):
        out.append(
            Comparison(
                **{
                    **asdict(c),
                    "welch_p_holm": wh,
                    "mwu_p_holm": mh,
                    "verdict": _verdict(c, wh, higher_is_better, alpha, mde),
                    "power_note": _power_note(c, alpha),
                    "min_detectable": mde,
                }
            )
        )
    return out


def _verdict(
    c: Comparison, p_holm: float | None, higher_is_better: bool, alpha: float, detectable: float | None
) -> str:
    if p_holm is None:
        return "not tested (fewer than 2 seeds)"
    if p_holm >= alpha:
        reach = (
            f"; these seeds detect only |Δ| ≥ {detectable:.3g} (80% power), Δ here {c.mean_a - c.mean_b:+.3g}"
            if detectable is not None
            else ""
        )
        return f"no significant difference at α={alpha:g}{reach}"
    a_better = (c.mean_a > c.mean_b) == higher_is_better
    return f"{c.a} better" if a_better else f"{c.b} better"


def _power_note(c: Comparison, alpha: float) -> str:
    notes = []
    if min(c.n_a, c.n_b) < 2:
        notes.append("fewer than 2 seeds: no t-test")
    if min_mwu_p(c.n_a, c.n_b) >= alpha:
        notes.append(f"{c.n_a} vs {c.n_b} seeds: Mann-Whitney cannot reach p<{alpha:g}")
    return "; ".join(notes)


def to_dict(obj: Summary | Comparison) -> dict[str, Any]:
    return asdict(obj)
