"""What scores during training cost: for each variant of a trained project's run list that is
scored during training, a run of `--steps` steps with its `train.eval_every` and the same run
without scores, timed in the same process (interleaved, `--repeats` times, medians), on the
project's prepared data and evaluators and on `train.threads` threads as the pipeline runs it.

It prints, per variant: the seconds of each, the seconds of one validation (every call of
the validator, timed where it runs), and the overhead this adds to the variant's whole run in
the project's profile (its `steps`, one validation every `eval_every` steps plus the one that
names the scores, and what the scored run spent besides, once: writing its best generators
out), as a fraction of the run without scores: 0.05 is 5% slower. The last line is JSON.

    make run && python benchmarks/validation_cost.py            # every scored variant, 200 steps
    python benchmarks/validation_cost.py --only dcgan_emoji64 --steps 400
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from ganforge.core.device import cpu_threads
from ganforge.data.prepared import load_prepared
from ganforge.evaluation.evaluator import load_evaluator
from ganforge.evaluation.validation import Validator
from ganforge.layout import EVALUATORS_DIR, PREPARED_DIR
from ganforge.runner import RunPaths, train_run
from ganforge.systems.registry import get_system
from pipeline.params import load_params, run_variants
from pipeline.resolved import load_variant
from pipeline.scoring import settings


class ClockedValidator:
    """Times every call of `Validator.__call__` (the scores during training, all of them)."""

    def __init__(self) -> None:
        self.seconds, self.calls = 0.0, 0
        self.original = Validator.__call__

    def __enter__(self) -> ClockedValidator:
        clock = self

        def timed_call(validator: Validator, step: int, nets):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return clock.original(validator, step, nets)
            finally:
                clock.seconds += time.perf_counter() - start
                clock.calls += 1

        Validator.__call__ = timed_call  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Validator.__call__ = self.original  # type: ignore[method-assign]


def timed(variant, data, evaluator, folder: Path) -> tuple[float, float, int]:
    """Seconds of one fresh run, the seconds of its validations among them, and their count."""
    paths = RunPaths(folder / "c.pt", folder / "g", folder / "out", folder / "c.csv")
    with ClockedValidator() as clock:
        start = time.perf_counter()
        train_run(variant, 0, data, paths, say=lambda m: None, evaluator=evaluator)
        seconds = time.perf_counter() - start
    return seconds, clock.seconds, clock.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path())
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    root = args.project.resolve()
    params = load_params(root)
    scoring = settings(params)
    rows = {}
    for name, dataset in run_variants(params).items():
        if args.only and name not in args.only:
            continue
        full = load_variant(root, name)
        if not full.train.eval_every or get_system(full.kind).routes(full):
            continue
        every = full.train.eval_every
        steps = max(args.steps // every, 1) * every
        variant = replace(full, train=replace(full.train, steps=steps, grid_every=0))
        plain = replace(variant, train=replace(variant.train, eval_every=0, stop_when=None))
        data = load_prepared(root / PREPARED_DIR, dataset)
        evaluator = load_evaluator(root / EVALUATORS_DIR / dataset, scoring)
        with_scores, without, per_call = [], [], []
        with cpu_threads(variant.train.threads):
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    seconds, validating, calls = timed(variant, data, evaluator, Path(tmp) / "a")
                    with_scores.append(seconds)
                    per_call.append(validating / calls)
                    without.append(timed(plain, data, None, Path(tmp) / "b")[0])
        a, b = statistics.median(with_scores), statistics.median(without)
        per_validation = statistics.median(per_call)
        per_step = b / steps
        # In the profile's run: one validation every eval_every steps, one at the last step
        # when it falls between, and the one that names the scores before the first step.
        count = full.train.steps // every + (full.train.steps % every > 0) + 1
        calls = steps // every + 1
        fixed = max(a - b - calls * per_validation, 0.0)  # once a run: the best copy written out
        rows[name] = {
            "steps": steps,
            "seconds_with_scores": round(a, 2),
            "seconds_without": round(b, 2),
            "seconds_per_validation": round(per_validation, 3),
            "profile_steps": full.train.steps,
            "eval_every": every,
            "seconds_once_a_run": round(fixed, 2),
            "overhead_in_profile": round((fixed + count * per_validation) / (per_step * full.train.steps), 4),
        }
        r = rows[name]
        print(
            f"{name}: {steps} steps {r['seconds_without']} s, with scores every {every} "
            f"{r['seconds_with_scores']} s ({r['seconds_per_validation']} s a validation, "
            f"{r['seconds_once_a_run']} s once); its "
            f"{full.train.steps}-step run in this profile: +{r['overhead_in_profile']:.1%}",
            flush=True,
        )
    print(json.dumps({"profile": params.get("profile"), "variants": rows}))


if __name__ == "__main__":
    main()
