"""`prepare <dataset>`: raw files (or code, or another prepared dataset) to one prepared file.
`locate`: before any of that, whether every raw input of the profile is at hand."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ganforge.core.errors import MissingDataError
from ganforge.core.io import write_json
from ganforge.data.fetch import SourceContext
from ganforge.data.prepared import PreparedDataset, save_prepared
from ganforge.data.registry import build_dataset, missing_inputs
from ganforge.layout import LOCATED, PREPARED_DIR, RAW_DIR
from pipeline.params import data_settings, entry, load_params, section


def source_context(name: str, root: Path) -> tuple[SourceContext, dict[str, Any]]:
    """The dataset's params and the context its source runs in."""
    params = load_params(root)
    spec = entry(params, "datasets", name, "dataset")
    settings, mirror = data_settings(params, root)
    ctx = SourceContext(
        name=name,
        raw_dir=root / RAW_DIR,
        prepared_dir=root / PREPARED_DIR,
        mirror=mirror,
        offline=settings.offline,
        verify_checksums=settings.verify_checksums,
        timeout_s=settings.download_timeout_s,
    )
    return ctx, spec


def describe(ds: PreparedDataset) -> str:
    shapes = ", ".join(
        f"{k} {'×'.join(map(str, v.shape[1:]))}"
        for k, v in ds.tensors.items()
        if not k.startswith(("labels", "heldout"))
    )
    classes = f", {len(ds.class_names)} classes" if ds.class_names else ""
    held = sum(int(v.sum()) for k, v in ds.tensors.items() if k.startswith("heldout"))
    heldout = f", {held} held out" if held else ""
    stand_in = f" (stand-in for {ds.meta['stand_in_for']})" if ds.meta.get("stand_in_for") else ""
    return f"{len(ds)} examples [{shapes}]{classes}{heldout}{stand_in}"


def prepare(name: str, root: Path) -> str:
    """Prepare one dataset; return a one-line summary."""
    start = time.perf_counter()
    ctx, spec = source_context(name, root)
    ds = build_dataset(spec, ctx)
    data_path, _ = save_prepared(ds, ctx.prepared_dir)
    size_mb = data_path.stat().st_size / 1e6
    return (
        f"prepared {name}: {describe(ds)} in {time.perf_counter() - start:.1f} s "
        f"-> {data_path.relative_to(root)} ({size_mb:.1f} MB)"
    )


def locate(root: Path) -> tuple[list[str], list[str]]:
    """Check the inputs of every dataset the profile prepares (run.datasets) before any stage
    runs: (one line per missing input, a summary). Writes data/raw/located.json when nothing
    is missing; its content is the same whatever was checked, so the prepare stages that
    depend on it re-run for their own reasons only."""
    names = [str(n) for n in section(load_params(root), "run").get("datasets") or []]
    missing: list[str] = []
    offline = False
    for name in names:
        ctx, spec = source_context(name, root)
        offline = ctx.offline
        missing += missing_inputs(spec, ctx)
    if missing:
        return missing, []
    write_json(root / LOCATED, {"located": "every input of run.datasets was at hand or downloadable"})
    how = "in the mirror or the download cache" if offline else "at hand or left to download"
    return [], [f"located the inputs of {len(names)} datasets ({how})"]


def locate_or_fail(root: Path) -> list[str]:
    """`locate`, raising one MissingDataError whose message has a line per missing input."""
    missing, summary = locate(root)
    if missing:
        raise MissingDataError("\n".join(missing))
    return summary
