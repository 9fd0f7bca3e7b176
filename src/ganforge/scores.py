"""The catalogue of every score: its key in a run's metrics, its label, which way is better,
whether it is a headline (leaderboards, the compact metrics DVC shows) and under which short
name. Plain data, importable without scipy or pandas."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str
    """Path under a generator's scores (`domain.fd`, `a2b.l1`), or under the run's own scores
    (`semi_supervised.test_error`)."""
    label: str
    higher_is_better: bool | None
    """None: summarised but not tested (no better direction, e.g. density)."""
    headline: bool = False
    """Shown in leaderboards and in the compact metrics DVC shows (as `short`)."""
    short: str = ""
    """The headline's name in the compact metrics (`<variant>.<short>`)."""
    baseline: str | None = None
    """The key of the score this one is judged against, run by run (a baseline classifier)."""


def _translation(direction: str) -> list[Metric]:
    d = direction
    return [
        Metric(f"{d}.inception.fd", f"{d}: FID (Inception)", False, headline=True, short=f"{d}_fid"),
        Metric(
            f"{d}.domain.fd", f"{d}: FD (target-domain classifier)", False, headline=True, short=f"{d}_fd"
        ),
        Metric(f"{d}.l1", f"{d}: L1 to the target", False, headline=True, short=f"{d}_l1"),
        Metric(
            f"{d}.label_preservation", f"{d}: label preservation", True, headline=True, short=f"{d}_labels"
        ),
        Metric(f"{d}.ssim", f"{d}: SSIM to the target", True),
        Metric(f"{d}.psnr", f"{d}: PSNR to the target (dB)", True),
        Metric(f"{d}.domain.kid_mean", f"{d}: KID (target-domain classifier)", False),
        Metric(f"{d}.domain.precision", f"{d}: precision (target domain)", True),
        Metric(f"{d}.domain.recall", f"{d}: recall (target domain)", True),
        Metric(f"{d}.cycle_l1", f"{d}: cycle reconstruction L1", False),
    ]


# Every score the report knows, with its direction. Order: how tables are listed.
METRICS = [
    Metric("inception.fd", "FID (Inception)", False, headline=True, short="fid"),
    Metric("inception.fd_inf", "FID∞ (Inception, extrapolated to infinite N)", False),
    Metric("inception.kid_mean", "KID (Inception)", False),
    Metric("inception.is", "IS (Inception)", True),
    Metric("inception.precision", "precision (Inception)", True),
    Metric("inception.recall", "recall (Inception)", True),
    Metric("inception.coverage", "coverage (Inception)", True),
    Metric("domain.fd", "FD (domain classifier)", False, headline=True, short="fd"),
    Metric("domain.fd_inf", "FD∞ (domain classifier, extrapolated to infinite N)", False),
    Metric("domain.kid_mean", "KID (domain classifier)", False, headline=True, short="kid"),
    Metric("domain.is", "IS (domain classifier)", True),
    Metric("domain.precision", "precision (domain)", True, headline=True, short="precision"),
    Metric("domain.recall", "recall (domain)", True, headline=True, short="recall"),
    Metric("domain.density", "density (domain)", None),
    Metric("domain.coverage", "coverage (domain)", True),
    Metric("classes.classes_hit", "classes hit", True, headline=True, short="classes"),
    Metric("classes.class_kl", "class KL to real", False, headline=True, short="class_kl"),
    Metric("classes.conditional_accuracy", "conditional accuracy", True, headline=True, short="cond_acc"),
    Metric("modes.modes_covered", "modes covered", True, headline=True, short="modes"),
    Metric("modes.high_quality_fraction", "high-quality fraction", True, headline=True, short="hq"),
    Metric("modes.reverse_kl", "mode reverse KL", False, headline=True, short="mode_kl"),
    Metric("modes.mean_abs_radius_error", "radius error", False, headline=True, short="radius_err"),
    Metric(
        "semi_supervised.test_error",
        "test error (semi-supervised D)",
        False,
        headline=True,
        short="test_error",
        baseline="semi_supervised.baseline_test_error",
    ),
    Metric("semi_supervised.baseline_test_error", "test error (baseline on the same labels)", False),
    *_translation("a2b"),
    *_translation("b2a"),
    Metric("channels.fd", "FD (digit classifier, per channel)", False),
    Metric("channels.precision", "precision (per channel)", True),
    Metric("channels.recall", "recall (per channel)", True),
    Metric("points.fd", "FD (2-D points)", False),
    Metric("points.precision", "precision (points)", True),
    Metric("points.recall", "recall (points)", True),
]
METRIC_BY_KEY = {m.key: m for m in METRICS}
PRIMARY = [
    "inception.fd",
    "domain.fd",
    "a2b.inception.fd",
    "a2b.domain.fd",
    "b2a.domain.fd",
    "a2b.l1",
    "modes.high_quality_fraction",
    "modes.mean_abs_radius_error",
    "modes.reverse_kl",
]
GENERATOR_NOTE = "ema (raw where a run has no EMA)"


def lookup(scores: Mapping[str, Any], key: str) -> float | None:
    value: Any = scores
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
