"""Which machine made a project's results, and whether this one would make the same: scores
made in another precision (bf16 autocast on a CPU with native bf16, fp32 on one without) or
on another CPU model differ in their bits, and GAN training turns those into other scores."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ganforge.layout import METRICS_DIR


def recorded_precisions(root: Path, variants: Iterable[str]) -> dict[str, list[str]]:
    """The training precision of every scored run of `variants` under `root` (their metrics
    JSONs; folders of variants the profile no longer runs are left alone): precision -> the
    variants trained in it. Runs that recorded none are left out."""
    found: dict[str, set[str]] = {}
    paths = (p for v in variants for p in (root / METRICS_DIR / v).glob("*.json"))
    for path in sorted(paths):
        try:
            record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        precision = (record.get("training") or {}).get("precision")
        if precision:
            found.setdefault(str(precision), set()).add(path.parent.name)
    return {p: sorted(v) for p, v in sorted(found.items())}


def precision_note(here: str, recorded: dict[str, list[str]]) -> str | None:
    """A one-line warning when the committed image runs were trained in another precision
    than `here` (what this machine resolves for an image model); None when they agree. The
    2-D toys train in fp32 everywhere, so a mix of fp32 and one other precision means the
    image models used that other one. No recorded runs: nothing to differ from."""
    if not recorded:
        return None
    other = sorted(p for p in recorded if p != "fp32")
    there = other[0] if len(other) == 1 else "fp32" if not other else " and ".join(other)
    if there == here:
        return None
    return f"note: scores will differ from the committed ones: {here} here, {there} there"
