"""Metric speed: ganforge's Fréchet distance against pytorch-fid's, and its feature
extraction + FID from in-memory tensors against pytorch-fid's command line on PNG files, in
the same run, on the same data.

The statistics are those of two sets of synthetic 2048-d features shaped like Inception pool
features (non-negative and strongly correlated): ReLU of a random
256-factor model plus a little independent noise, the second set from a perturbed model.
Each implementation computes the distance `--repeats` times from the same statistics; the
median time is reported. One line per measurement is printed, and last one JSON object whose
`frechet_speedup_vs_pytorch_fid` is pytorch-fid's time / ganforge's (above 1: ganforge is
faster) and `frechet_abs_diff` the absolute difference of the two values.

Extraction runs ganforge's route (batch norm folded into the convolutions, channels_last,
inference mode, in-memory uint8 batches of its own size) against pytorch-fid's CLI on PNG
files at its default batch size, and the same route in bf16 autocast: `bf16_fid_rel_change`
is how far bf16 moves the distance from fp32 with random Inception weights (a bound on the
numerical error only: the real weights cannot be fetched here). With `--project` (a project
whose quick run finished), the domain classifiers' Fréchet distances between real images and
a variant's samples are measured in both precisions too (`domain_bf16_fd_rel_change`); bf16 is
admitted for a route only where every such change stays below 0.5%.

Both implementations spend their time in LAPACK. On a machine shared with other work,
OpenBLAS's worker threads can stall for seconds at a time and make both timings several times
longer and erratic; pin them (OPENBLAS_NUM_THREADS=1) for stable numbers.

    OPENBLAS_NUM_THREADS=1 python benchmarks/metrics_speed.py
    python benchmarks/metrics_speed.py --count 2000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pytorch_fid.fid_score import calculate_frechet_distance

from ganforge.metrics.features import Route
from ganforge.metrics.frechet import FeatureStats, feature_stats, frechet_from_stats

DIMS = 2048
FACTORS = 256


def synthetic_features(rng: np.random.Generator, count: int, weights: np.ndarray) -> np.ndarray:
    """ReLU(z · W + 0.3) + small noise: (count, DIMS) non-negative correlated features."""
    latent = rng.normal(size=(count, FACTORS))
    return np.maximum(latent @ weights + 0.3, 0.0) + 0.02 * rng.normal(size=(count, DIMS))


def two_stats(count: int, seed: int) -> tuple[FeatureStats, FeatureStats]:
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(FACTORS, DIMS)) / np.sqrt(FACTORS)
    perturbed = weights + 0.1 * rng.normal(size=weights.shape) / np.sqrt(FACTORS)
    return feature_stats(synthetic_features(rng, count, weights)), feature_stats(
        synthetic_features(rng, count, perturbed)
    )


def timed(compute: Callable[[], float], repeats: int) -> tuple[float, float]:
    """(value, median seconds) of `repeats` calls of `compute`."""
    seconds, value = [], 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = compute()
        seconds.append(time.perf_counter() - start)
    return value, statistics.median(seconds)


def pytorch_fid_distance(a: FeatureStats, b: FeatureStats) -> float:
    with warnings.catch_warnings():  # its sqrtm(disp=False) call is deprecated in SciPy >= 1.16
        warnings.simplefilter("ignore", DeprecationWarning)
        return float(calculate_frechet_distance(a.mean, a.cov, b.mean, b.cov))


def frechet_benchmark(count: int, repeats: int, seed: int) -> dict[str, Any]:
    a, b = two_stats(count, seed)
    ours, ours_s = timed(lambda: frechet_from_stats(a, b), repeats)
    theirs, theirs_s = timed(lambda: pytorch_fid_distance(a, b), repeats)
    diff = abs(ours - theirs)
    rel = diff / abs(theirs)
    print(f"frechet {DIMS}-d from {count} features: ganforge {ours:.6f} in {ours_s:.3f} s")
    print(f"frechet {DIMS}-d from {count} features: pytorch-fid {theirs:.6f} in {theirs_s:.3f} s")
    print(f"frechet: speed-up {theirs_s / ours_s:.2f}x, |difference| {diff:.3g}, relative {rel:.3g}")
    return {
        "frechet_speedup_vs_pytorch_fid": round(theirs_s / ours_s, 3),
        "frechet_abs_diff": diff,
        "frechet_rel_diff": rel,
        "frechet_ganforge": ours,
        "frechet_pytorch_fid": theirs,
        "frechet_ganforge_s": round(ours_s, 4),
        "frechet_pytorch_fid_s": round(theirs_s, 4),
        "frechet_features": count,
        "frechet_dims": DIMS,
    }


def _random_fid_inception_state() -> dict[str, Any]:
    """Randomly initialised weights in the FID Inception's exact layout: the real weights
    cannot be fetched offline, and timing does not depend on their values."""
    import pytorch_fid.inception as pfi
    import torch

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b, net.Mixed_5c = pfi.FIDInceptionA(192, 32), pfi.FIDInceptionA(256, 64)
    net.Mixed_5d = pfi.FIDInceptionA(288, 64)
    net.Mixed_6b, net.Mixed_6c = pfi.FIDInceptionC(768, 128), pfi.FIDInceptionC(768, 160)
    net.Mixed_6d, net.Mixed_6e = pfi.FIDInceptionC(768, 160), pfi.FIDInceptionC(768, 192)
    net.Mixed_7b, net.Mixed_7c = pfi.FIDInceptionE_1(1280), pfi.FIDInceptionE_2(2048)
    generator = torch.Generator().manual_seed(0)
    for module in net.modules():  # He-initialised, so activations keep their scale through
        if isinstance(module, torch.nn.Conv2d):  # the 94 layers (default init shrinks them to ~1e-8)
            fan_in = module.weight[0].numel()
            with torch.no_grad():
                module.weight.normal_(0.0, (2.0 / fan_in) ** 0.5, generator=generator)
    return net.state_dict()


def extraction_benchmark(images: int, batch: int, seed: int) -> dict[str, Any]:
    """Features + FID of two image sets: ganforge from in-memory uint8 tensors, against
    pytorch-fid's command line on the same images written as PNG files (writing not timed).
    Both run the FID Inception layout with the same (random) weights, put where torch hub
    looks for the real ones, so both also load their weights the real way."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import torch
    from PIL import Image

    from ganforge.metrics.features import INCEPTION_FILE

    rng = np.random.default_rng(seed)
    sets = [rng.integers(0, 256, size=(images, 3, 32, 32), dtype=np.uint8) for _ in range(2)]
    sets[1] = np.clip(sets[1].astype(int) // 2 + 64, 0, 255).astype(np.uint8)  # a different distribution
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        weights = root / "hub" / "checkpoints" / INCEPTION_FILE
        weights.parent.mkdir(parents=True)
        torch.save(_random_fid_inception_state(), weights)
        folders = []
        for i, arr in enumerate(sets):
            folder = root / f"set{i}"
            folder.mkdir()
            for j, img in enumerate(arr):
                Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"{j:05d}.png")
            folders.append(folder)
        env = {**os.environ, "TORCH_HOME": str(root)}
        start = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytorch_fid",
                *map(str, folders),
                "--device",
                "cpu",
                "--batch-size",
                str(batch),
                "--num-workers",
                "0",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        theirs_s = time.perf_counter() - start
        theirs = float(out.stdout.strip().split()[-1])
        os.environ["TORCH_HOME"] = str(root)
        ours, ours_s = ganforge_fid(sets, Route())
        half, half_s = ganforge_fid(sets, Route(amp_dtype=torch.bfloat16))
    rel = abs(half - ours) / abs(ours)
    print(f"features+FID of 2x{images} images: ganforge (in-memory) {ours:.4f} in {ours_s:.1f} s")
    print(f"features+FID of 2x{images} images: pytorch-fid CLI (PNG files) {theirs:.4f} in {theirs_s:.1f} s")
    print(f"extraction: speed-up {theirs_s / ours_s:.2f}x, |difference| {abs(ours - theirs):.3g}")
    print(
        f"extraction in bf16: {half:.4f} in {half_s:.1f} s "
        f"(speed-up {theirs_s / half_s:.2f}x, FID moves {rel:.3%})"
    )
    return {
        "extraction_speedup_vs_pytorch_fid_cli": round(theirs_s / ours_s, 3),
        "extraction_fid_abs_diff": abs(ours - theirs),
        "extraction_images_per_set": images,
        "extraction_ganforge_s": round(ours_s, 2),
        "extraction_pytorch_fid_s": round(theirs_s, 2),
        "bf16_extraction_speedup_vs_pytorch_fid_cli": round(theirs_s / half_s, 3),
        "bf16_fid_rel_change": rel,
    }


def ganforge_fid(sets: list[np.ndarray], route: Any) -> tuple[float, float]:
    """(FID, seconds) of ganforge's Inception route from in-memory uint8 arrays, weights load included."""
    import torch

    from ganforge.metrics.features import load_inception

    start = time.perf_counter()
    extractor = load_inception(download=False, verify=False)  # its own batch size and route
    extractor.route = route
    stats = [feature_stats(extractor(torch.from_numpy(arr)).features) for arr in sets]
    return frechet_from_stats(*stats), time.perf_counter() - start


def domain_benchmark(project: Path, count: int) -> dict[str, Any]:
    """For each dataset of a finished quick run with a domain classifier: the Fréchet distance
    of its real images to the first variant's seed-0 samples, in fp32 and in bf16."""
    import torch

    from ganforge.data.prepared import load_prepared
    from ganforge.evaluation.common import load_domain_extractor
    from ganforge.metrics.features import Route

    changes: dict[str, float] = {}
    for folder in sorted((project / "data" / "evaluators").glob("*/classifier.pt")):
        dataset = folder.parent.name
        samples = sorted(project.glob("data/samples/*/0.pt"))
        chosen = [p for p in samples if torch.load(p, weights_only=True).get("dataset") == dataset]
        if not chosen:
            continue
        fake = next(iter(torch.load(chosen[0], weights_only=True)["samples"].values()))[:count]
        real = load_prepared(project / "data" / "prepared", dataset).images[:count]
        values = []
        for route in (Route(), Route(amp_dtype=torch.bfloat16)):
            extractor = load_domain_extractor(folder, dataset, "cpu")
            assert extractor is not None
            extractor.route = route
            stats = [feature_stats(extractor(x).features) for x in (real, fake)]
            values.append(frechet_from_stats(*stats))
        changes[f"{dataset} ({chosen[0].parent.name})"] = abs(values[1] - values[0]) / abs(values[0])
        print(f"domain:{dataset} FD to {chosen[0].parent.name}: fp32 {values[0]:.4f}, bf16 {values[1]:.4f}")
    worst = max(changes.values()) if changes else None
    return {"domain_bf16_fd_rel_change": changes, "domain_bf16_fd_worst_rel_change": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="features per set behind each statistic")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls of each implementation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=200, help="images per set for the extraction benchmark")
    parser.add_argument("--batch", type=int, default=50, help="pytorch-fid's batch size (its CLI default)")
    parser.add_argument("--project", type=Path, default=None, help="a project with a finished quick run")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "repeats": args.repeats,
        "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
    }
    # Each measurement adds its own keys; a further one is one more update here.
    results.update(frechet_benchmark(args.count, args.repeats, args.seed))
    results.update(extraction_benchmark(args.images, args.batch, args.seed))
    if args.project is not None:
        results.update(domain_benchmark(args.project, 2000))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
