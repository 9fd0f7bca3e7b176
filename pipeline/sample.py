"""`sample <variant>`: samples for evaluation and the figures of every trained run of a variant
(one stage per variant, one process for all its seeds).

Outputs: `data/samples/<variant>/<seed>.pt` (uint8 images, or float points, from every saved
generator: `raw` and `ema`) and `reports/samples/<variant>/<seed>/` (PNG figures)."""

from __future__ import annotations

from pathlib import Path

import torch

from ganforge.config import from_dict
from ganforge.data.prepared import load_prepared
from ganforge.io import atomic_dir, save_torch
from ganforge.sampling import EVAL_SEED, SampleConfig, generate, latents
from ganforge.train.batches import to_uint8
from ganforge.train.export import load_generators
from pipeline.figures import grid_figure, interpolation_figure
from pipeline.params import load_params
from pipeline.prepare import PREPARED_DIR
from pipeline.train import MODELS_DIR
from pipeline.variants import ResolvedVariant, load_resolved

SAMPLES_DIR = Path("data/samples")
FIGURES_DIR = Path("reports/samples")
FORMAT_VERSION = 1


def sample_variant(name: str, root: Path) -> list[str]:
    """Sample every seed of `run.seeds` for one variant into fresh output folders."""
    params = load_params(root)
    cfg = from_dict(SampleConfig, params.get("sample"), "sample")
    seeds = [int(s) for s in (params.get("run") or {}).get("seeds", [])]
    variant = load_resolved(root, name)
    lines = []
    with (
        atomic_dir(root / SAMPLES_DIR / name) as samples_dir,
        atomic_dir(root / FIGURES_DIR / name) as figures_dir,
    ):
        for seed in seeds:
            lines.append(
                sample(variant, seed, cfg, root, samples_dir / f"{seed}.pt", figures_dir / str(seed))
            )
    return lines


def sample(
    variant: ResolvedVariant, seed: int, cfg: SampleConfig, root: Path, target: Path, figures: Path
) -> str:
    """Draw the evaluation samples and figures of one run; return a one-line summary."""
    name = variant.name
    generators, info = load_generators(root / MODELS_DIR / name / str(seed) / "generator.pt")
    any_gen = next(iter(generators.values()))
    shape = any_gen.shape
    z = latents(cfg.count, any_gen.latent_dim, EVAL_SEED + seed)
    labels = torch.arange(cfg.count) % shape.classes if shape.classes else None
    samples = {}
    for which, g in generators.items():
        out = generate(g, z, labels, cfg.batch_size)
        samples[which] = out if shape.kind == "points" else to_uint8(out)
    payload = {
        "format": FORMAT_VERSION,
        "variant": name,
        "seed": seed,
        "dataset": variant.dataset,
        "kind": shape.kind,
        "samples": samples,
        "labels": labels,
        "class_names": info["class_names"],
        "image_size": shape.size,
    }
    save_torch(payload, target)

    real = truth = None
    if shape.kind == "points":
        ds = load_prepared(root / PREPARED_DIR, variant.dataset)
        real, truth = ds.points, ds.meta.get("truth")
    figures.mkdir(parents=True, exist_ok=True)
    main = "points" if shape.kind == "points" else "grid"
    for which, g in generators.items():  # grid.png: the EMA generator when there is one
        suffix = "_raw" if which == "raw" and "ema" in generators else ""
        title = f"{name} seed {seed} ({'EMA ' if which == 'ema' else ''}generator, step {info['steps']})"
        grid_figure(
            g,
            figures / f"{main}{suffix}.png",
            title,
            cfg.grid,
            info["class_names"],
            real,
            truth,
            cfg.toy_points,
        )
    if shape.kind == "images":
        shown = generators.get("ema", generators["raw"])
        interpolation_figure(
            shown, figures / "interpolation.png", cfg.interpolation_rows, cfg.interpolation_steps
        )
    kinds = "+".join(samples)
    return f"sampled {name} seed {seed}: {cfg.count} {shape.kind} from {kinds}"
