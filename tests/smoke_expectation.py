"""What the smoke profile's scores may be, on any CPU, and the command that measures it.

The end-to-end test trains every smoke variant once (seed 0) and checks a few scores per
run against a band. The bands come from `tests/expected/smoke-<precision>.json`, one file per
precision a run can resolve (`fp32` on a CPU without native bf16, `bf16` where `amp: auto`
finds it), each written by this module's command from the spread of the same scores over
several seeds on the machine that ran it:

    python -m tests.smoke_expectation --write                          # this machine's precision
    GANFORGE_CPU_BF16=on python -m tests.smoke_expectation --write     # the bf16 file (emulated
                                                                       # where bf16 is not native)
    make expected                                                      # both

Why seeds: another CPU model (or thread count) sums in another order, and a GAN run turns
those last-bit differences into a different run, as another seed would, but without also
changing the initial weights and the data order: measured (`--thread-check`), seed 0 on one
thread against two moved each of the 80 scores by no more than its seed-to-seed range (the
most, relatively: CycleGAN's FD, by a sixth of it). So a band that
holds every seed measured, widened by a margin, holds seed 0 on another CPU of the same
precision. The margin, per kind of score, is the larger of the seeds' own range (a new seed
lands outside the range of K earlier ones with probability 2/(K+1); one more range on each
side makes that rare) and a floor: one for counts, 0.05 for fractions, 15% for distances.

Nothing here is written by a test: the files change only when someone runs the command."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

EXPECTED_DIR = Path(__file__).parent / "expected"
VARIANTS = (
    "gan_mnist",
    "cgan_mnist",
    "cdcgan_mnist",
    "dcgan_emoji64",
    "gan_ring",
    "ssgan_mnist",
    "pacdcgan2_stacked_mnist",
    "progan_emoji64",
    "pix2pix_edges2emoji64",
    "cyclegan_mnist2color",
)
KEY_SCORES = (
    "domain.fd",
    "domain.precision",
    "domain.recall",
    "classes.classes_hit",
    "modes.modes_covered",
    "modes.high_quality_fraction",
    "points.fd",
    "modes.reverse_kl",
    "channels.fd",
    "a2b.l1",
    "a2b.domain.fd",
    "a2b.label_preservation",
    "b2a.l1",
)
COUNTS = ("classes_hit", "modes_covered")
FRACTIONS = ("precision", "recall", "high_quality_fraction", "label_preservation", "accuracy", "error")
COUNT_FLOOR, FRACTION_FLOOR, RELATIVE_FLOOR = 1.0, 0.05, 0.15


def precision_name(precision: str) -> str:
    """A run's recorded precision ("fp32", "bf16 autocast") as a file suffix."""
    return "bf16" if "bf16" in precision else "fp32"


def expected_path(precision: str) -> Path:
    return EXPECTED_DIR / f"smoke-{precision_name(precision)}.json"


def run_precision(project: Path, seed: int = 0) -> str:
    """The precision the smoke run's image models trained in (the toys always use fp32)."""
    found = set()
    for variant in VARIANTS:
        record = json.loads((project / "reports" / "metrics" / variant / f"{seed}.json").read_text())
        found.add(precision_name(record["training"]["precision"]))
    return "bf16" if "bf16" in found else "fp32"


BANDED = ("raw", "ema")
"""The generators whose scores have bands: the final ones (the best checkpoint's step varies
with the validation scores, so its scores are checked for presence by the e2e tests)."""


def key_metrics(project: Path, seed: int = 0) -> dict[str, float]:
    """The scores checked: a few per run and generator, the semi-supervised errors and the
    domain classifiers' held-out accuracy, keyed `<variant>/<generator>/<score>`."""
    from ganforge.scores import lookup

    out = {}
    for variant in VARIANTS:
        metrics = json.loads((project / "reports" / "metrics" / variant / f"{seed}.json").read_text())
        for which, scores in metrics["generators"].items():
            if which not in BANDED:
                continue
            for key in KEY_SCORES:
                value = lookup(scores, key)
                if value is not None:
                    out[f"{variant}/{which}/{key}"] = value
        for key, value in metrics.get("semi_supervised", {}).items():
            if key.endswith("error"):
                out[f"{variant}/semi_supervised/{key}"] = value
    for dataset in ("mnist", "emoji64"):
        report = json.loads((project / "reports" / "evaluators" / f"{dataset}.json").read_text())
        out[f"evaluator/{dataset}/heldout_accuracy"] = report["extractors"]["domain"]["heldout_accuracy"]
    return out


def band(values: Iterable[float], key: str) -> tuple[float, float]:
    """The interval a score measured at `values` over seeds may take on another CPU of the
    same precision (see the module's docstring)."""
    values = list(values)
    low, high = min(values), max(values)
    spread = high - low
    name = key.rsplit(".", 1)[-1].rsplit("/", 1)[-1]
    if name in COUNTS:
        margin = max(spread, COUNT_FLOOR)
        return max(0.0, low - margin), high + margin
    if name.endswith(FRACTIONS):
        margin = max(spread, FRACTION_FLOOR)
        return max(0.0, low - margin), min(1.0, high + margin)
    margin = max(spread, RELATIVE_FLOOR * abs(statistics.median(values)))
    return low - margin, high + margin


def check(got: Mapping[str, float], expected: Mapping[str, Any]) -> list[str]:
    """One line per score outside its band (or missing, or not expected), naming the run."""
    bands = expected["metrics"]
    problems = [f"{k}: not in {expected['file']}" for k in sorted(set(got) - set(bands))]
    problems += [f"{k}: missing from this run's scores" for k in sorted(set(bands) - set(got))]
    for key in sorted(set(got) & set(bands)):
        low, high = bands[key]["band"]
        if not low <= got[key] <= high:
            seeds = ", ".join(f"{v:.4g}" for v in bands[key]["seeds"])
            problems.append(
                f"{key} = {got[key]:.4g}, outside [{low:.4g}, {high:.4g}] (seeds measured: {seeds})"
            )
    return problems


def load_expected(precision: str) -> dict[str, Any]:
    path = expected_path(precision)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: run `make expected` (or python -m tests.smoke_expectation --write)"
        )
    return {**json.loads(path.read_text()), "file": str(path.relative_to(EXPECTED_DIR.parent.parent))}


# -- the command ------------------------------------------------------------------------------
def smoke_project(base: Path, seeds: list[int], threads: int | None = None) -> Path:
    """The smoke profile run through `dvc repro` for `seeds`, in a copy of the project fed by
    the tests' own small mirror (the one the end-to-end test uses); the copy's path."""
    from tests.builders import build_mirror
    from tests.project import copy_project, git_commit_all, project_env, run

    project = copy_project(base / "project")
    env = project_env(project, GANFORGE_DATA_MIRROR=str(build_mirror(base / "mirror")))
    git_commit_all(project, env)
    overrides = ["profile=smoke", "data.verify_checksums=false", f"run.seeds=[{','.join(map(str, seeds))}]"]
    if threads is not None:
        overrides.append(f"train.threads={threads}")
    run(["python", "-m", "pipeline", "params", *overrides], project, env)
    run(["dvc", "repro"], project, env, timeout=6 * 3600)  # bf16 emulated over six seeds is slow
    return project


def measure(seeds: list[int], keep: Path | None = None) -> tuple[str, dict[str, list[float]], dict[str, Any]]:
    """The precision, every key score per seed, and the machine, from one smoke run."""
    with tempfile.TemporaryDirectory(prefix="ganforge-expected-") as tmp:
        project = smoke_project(Path(tmp), seeds)
        precision = run_precision(project, seeds[0])
        per_seed = [key_metrics(project, s) for s in seeds]
        record = json.loads((project / "reports" / "metrics" / VARIANTS[0] / f"{seeds[0]}.json").read_text())
        if keep is not None:
            shutil.copytree(project / "reports", keep, dirs_exist_ok=True)
    keys = sorted(set().union(*per_seed))
    return precision, {k: [m[k] for m in per_seed if k in m] for k in keys}, record["training"]["machine"]


def write(seeds: list[int]) -> Path:
    precision, values, machine = measure(seeds)
    metrics = {k: {"seeds": v, "band": list(band(v, k))} for k, v in values.items()}
    path = expected_path(precision)
    path.parent.mkdir(exist_ok=True)
    document = {
        "precision": precision,
        "seeds": seeds,
        "made_on": {k: machine[k] for k in ("cpu", "torch", "threads")},
        "rule": "band = [min - margin, max + margin] over the seeds; margin = max(range, floor): "
        f"{COUNT_FLOOR:g} for counts, {FRACTION_FLOOR:g} for fractions, {RELATIVE_FLOOR:.0%} of the median "
        "for distances (tests/smoke_expectation.py)",
        "metrics": metrics,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path


def thread_check(seed: int) -> dict[str, Any]:
    """Seed `seed` on one thread against two (other summation orders, as another CPU): how far
    each score moved, against the seeds' range in the committed file of that precision."""
    runs = {}
    for threads in (1, 2):
        with tempfile.TemporaryDirectory(prefix="ganforge-threads-") as tmp:
            project = smoke_project(Path(tmp), [seed], threads)
            runs[threads] = key_metrics(project, seed)
            precision = run_precision(project, seed)
    expected = load_expected(precision)["metrics"]
    rows = {}
    for key in sorted(runs[1]):
        seeds = expected.get(key, {}).get("seeds", [])
        rows[key] = {
            "moved": abs(runs[1][key] - runs[2][key]),
            "seed_range": max(seeds) - min(seeds) if seeds else None,
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write", action="store_true", help="measure and write tests/expected/smoke-<precision>.json"
    )
    parser.add_argument("--seeds", type=int, default=6, help="how many seeds (0, 1, ...) to measure")
    parser.add_argument("--thread-check", action="store_true", help="seed 0 on 1 against 2 threads")
    args = parser.parse_args(argv)
    if args.write:
        print(f"wrote {write(list(range(args.seeds)))}")
    if args.thread_check:
        rows = thread_check(0)
        inside = sum(1 for r in rows.values() if r["seed_range"] is None or r["moved"] <= r["seed_range"])
        for key, row in rows.items():
            print(f"{key}: moved {row['moved']:.4g}, seed range {row['seed_range']}")
        print(f"{inside} of {len(rows)} scores moved by no more than their seed range")
    if not (args.write or args.thread_check):
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
