"""Flags for the classic failure modes of GAN training, read from a run's curves and scores:
the discriminator overpowering the generator, non-convergence (oscillating losses), and mode
collapse. Each rule and threshold is stated in its function; they are heuristics that point
a reader at a run, not proofs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Flag:
    kind: str
    message: str


def _column(curves: Mapping[str, Sequence[float]], name: str) -> np.ndarray:
    return np.asarray(curves.get(name, []), dtype=np.float64)


def discriminator_overpowering(
    curves: Mapping[str, Sequence[float]],
    probabilities: bool = True,
    early: float = 0.25,
    d_loss_below: float = 0.1,
    d_fake_below: float = 0.05,
) -> Flag | None:
    """D wins early: over the first `early` fraction of the logged steps, the median D loss is
    below `d_loss_below` and (for probabilistic losses) the median D(G(z)) below
    `d_fake_below`: the generator gets almost no gradient to learn from."""
    steps, d_loss, d_fake = _column(curves, "step"), _column(curves, "d_loss"), _column(curves, "d_fake")
    if len(steps) < 2 or len(d_loss) != len(steps):
        return None
    head = steps <= steps[0] + early * (steps[-1] - steps[0])
    loss = float(np.median(d_loss[head]))
    fake = float(np.median(d_fake[head])) if probabilities and len(d_fake) == len(steps) else None
    if loss < d_loss_below and (fake is None or fake < d_fake_below):
        shown = f", median D(G(z)) {fake:.3f}" if fake is not None else ""
        return Flag(
            "discriminator overpowering",
            f"median D loss {loss:.3f}{shown} over the first {early:.0%} of training",
        )
    return None


def non_convergence(
    curves: Mapping[str, Sequence[float]], late: float = 0.5, relative_swing: float = 0.5
) -> Flag | None:
    """Losses oscillate instead of settling: over the last `late` fraction of the logged
    steps, the mean absolute step-to-step change of the G loss exceeds `relative_swing` times
    its mean absolute level."""
    steps, g_loss = _column(curves, "step"), _column(curves, "g_loss")
    if len(steps) < 4 or len(g_loss) != len(steps):
        return None
    tail = g_loss[steps >= steps[0] + (1 - late) * (steps[-1] - steps[0])]
    if len(tail) < 3:
        return None
    swing = float(np.abs(np.diff(tail)).mean())
    level = float(np.abs(tail).mean())
    if level > 0 and swing > relative_swing * level:
        return Flag(
            "non-convergence",
            f"G loss swings by {swing:.3g} per log step around {level:.3g} "
            f"in the last {late:.0%} of training",
        )
    return None


def mode_collapse(scores: Mapping[str, Any], recall_below: float = 0.1) -> Flag | None:
    """Samples miss part of the data: classes missing from the classifier's predictions,
    fewer than half of a mixture's modes covered, or a recall below `recall_below`."""
    classes = scores.get("classes") or {}
    if classes.get("classes_total") and classes.get("classes_hit", 0) < classes["classes_total"]:
        return Flag(
            "mode collapse", f"{classes['classes_hit']} of {classes['classes_total']} classes generated"
        )
    modes = scores.get("modes") or {}
    if modes.get("modes_total") and modes.get("modes_covered", 0) * 2 < modes["modes_total"]:
        return Flag("mode collapse", f"{modes['modes_covered']} of {modes['modes_total']} modes covered")
    for extractor in ("inception", "domain", "points"):
        recall = (scores.get(extractor) or {}).get("recall")
        if isinstance(recall, (int, float)) and math.isfinite(recall) and recall < recall_below:
            return Flag(
                "mode collapse",
                f"recall {recall:.3f} ({extractor} features): samples cover little of the real data",
            )
    return None


def live_flags(curves: Mapping[str, Sequence[float]], probabilities: bool = True) -> list[Flag]:
    """The flags the curves alone can raise, on the curves so far (the trainer says each the
    first time it appears); mode collapse needs the final scores."""
    found = [discriminator_overpowering(curves, probabilities), non_convergence(curves)]
    return [f for f in found if f is not None]


def diagnose(
    curves: Mapping[str, Sequence[float]], scores: Mapping[str, Any], probabilities: bool = True
) -> list[Flag]:
    """Every flag that applies to one run."""
    found = [
        discriminator_overpowering(curves, probabilities),
        non_convergence(curves),
        mode_collapse(scores),
    ]
    return [f for f in found if f is not None]
