"""Held-out quality of a translation variant after N steps: ganforge's pix2pix (or any
translation variant of a project) trained from its resolved configuration, with overrides,
sampled and scored exactly as the pipeline does, for several seeds, beside the identity
baseline of the same evaluator, with each output set's grid index (`nyquist_share`: how much
of the images' power sits in 2-px patterns, against the held-out targets' own). The means over
seeds are printed last, as JSON.

Run it in a project whose `make run` (or `dvc repro evaluator@edges2emoji64`) has prepared
the dataset and built its evaluator:

    python benchmarks/translation_quality.py pix2pix_edges2emoji64 --steps 400 --seeds 0 1 2
    python benchmarks/translation_quality.py pix2pix_edges2emoji64 --steps 1200 \\
        --set model.generator.width=16 --set model.discriminator.width=16

Each run trains in a temporary folder (the project's own runs and checkpoints are left alone)
with the threads torch is given (`--threads`)."""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from ganforge.data.prepared import heldout_masks, load_prepared
from ganforge.evaluation.evaluator import load_evaluator
from ganforge.layout import EVALUATORS_DIR, PREPARED_DIR, config_path
from ganforge.runner import RunPaths, train_run
from ganforge.sampling import SampleConfig
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.trained import load_trained, sample_run
from ganforge.variants import variant_from_json
from pipeline.params import load_params
from pipeline.scoring import settings


def override(data: dict[str, Any], assignment: str) -> None:
    """Set `a.b.c=value` (value parsed as YAML) in the resolved variant's JSON."""
    key, _, value = assignment.partition("=")
    *parents, last = key.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = yaml.safe_load(value)


def nyquist_share(images: torch.Tensor) -> float:
    """The share of the images' spectral power (per image and channel, mean removed) on the
    Nyquist row and column: period-2 patterns, the 2-px grid of a checkerboard artifact.
    Natural images and the held-out targets hold well under 1% there."""
    x = images.float()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs() ** 2
    h, w = x.shape[-2:]
    nyquist = power[..., h // 2, :].sum(-1) + power[..., :, w // 2].sum(-1) - power[..., h // 2, w // 2]
    return float(nyquist.sum() / power.sum())


def scores_of(result: dict[str, Any], direction: str) -> dict[str, float]:
    s = result[direction]
    return {"l1": s["l1"], "recall": s["domain"]["recall"], "fd": s["domain"]["fd"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variant")
    parser.add_argument("--project", type=Path, default=Path())
    parser.add_argument("--steps", type=int, default=None, help="default: the variant's own")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], help="dotted.key=value on the variant")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = args.project.resolve()
    data = json.loads(config_path(root, args.variant).read_text(encoding="utf-8"))
    for assignment in [*args.set, *([f"train.steps={args.steps}"] if args.steps else [])]:
        override(data, assignment)
    data["train"]["checkpoint_every"] = data["train"]["steps"]
    variant = variant_from_json(data, args.variant, table=SYSTEM_OPTIONS)
    prepared = load_prepared(root / PREPARED_DIR, variant.dataset)
    params = load_params(root)
    evaluator = load_evaluator(root / EVALUATORS_DIR / variant.dataset, settings(params))
    direction = variant.system.direction  # type: ignore[union-attr]
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="ganforge-bench-") as tmp:
            t = Path(tmp)
            paths = RunPaths(t / "checkpoint.pt", t / "grids", t / "run", t / "curves.csv")
            summary = train_run(variant, seed, prepared, paths, say=lambda _m: None)
            assert summary is not None
            trained = load_trained(paths.out_dir / "generator.pt")
            payload = sample_run(trained, prepared, SampleConfig(), seed, t / "samples.pt", t / "figures")
            result = evaluator.score(payload, seed)["generators"]
            outputs = payload["directions"][direction]["outputs"]
        scores = {
            which: {**scores_of(result[which], direction), "grid": nyquist_share(outputs[which])}
            for which in result
        }
        row = {"seed": seed, "seconds": summary["seconds"], **scores}
        rows.append(row)
        print(json.dumps(row), flush=True)
    identity = scores_of(evaluator.baselines()["identity"], direction)
    target_side = direction[-1]
    targets = prepared.tensors[target_side][heldout_masks(prepared)[target_side]]
    means = {
        w: {k: statistics.fmean(r[w][k] for r in rows) for k in ("l1", "recall", "fd", "grid")}
        for w in ("raw", "ema")
        if all(w in r for r in rows)
    }
    print(
        json.dumps(
            {
                "variant": args.variant,
                "steps": variant.train.steps,
                "seeds": args.seeds,
                "precision": summary["precision"],
                "mean": means,
                "identity": identity,
                "targets_grid": nyquist_share(targets),
                "seconds_per_seed": statistics.fmean(r["seconds"] for r in rows),
            }
        )
    )


if __name__ == "__main__":
    main()
