"""The final evaluation split across ranks (`ganforge.evaluation.final`, the evaluate stage):
two gloo processes extract a share of the features each and score a run exactly as one
process does, bit for bit, with rank 0 alone writing; and `python -m pipeline evaluate`
with `distributed.nproc_per_node: 2` relaunches itself through torch.distributed.run and
writes the very files a single process writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml

from ganforge.core.errors import ConfigError
from ganforge.data.prepared import load_prepared, save_prepared
from ganforge.evaluation.evaluator import build_evaluator, load_evaluator
from ganforge.evaluation.final import FinalEvaluation, evaluate_run
from ganforge.evaluation.stacked import StackedEvaluator, read_channels
from ganforge.layout import (
    EVALUATOR_REPORT_FILE,
    EVALUATORS_DIR,
    FIGURES_DIR,
    METRICS_DIR,
    PREPARED_DIR,
    SAMPLES_DIR,
    config_path,
    generator_path,
    model_dir,
)
from ganforge.metrics.classifier import DomainCNN
from ganforge.metrics.features import DomainExtractor, Features, extraction_route
from ganforge.metrics.sharded import ShardedExtractor, shard_bounds
from ganforge.runner import RunPaths, train_run
from ganforge.sampling import SampleConfig
from ganforge.systems.registry import SYSTEM_OPTIONS
from ganforge.train.distributed import Group
from ganforge.variants import variant_from_json
from pipeline.evaluate import evaluate_variant
from tests.builders import offline_settings
from tests.runs import tiny_variant

NAME = "dcgan_anime"
SAMPLES = 40  # library test: 3 extractor batches of 16 (2 for rank 0, 1 for rank 1)
BATCH = 16
STAGE_SAMPLES = 600  # stage test: 2 batches of the domain classifier's 500
EVALUATION = {  # offline_settings, as params.yaml spells it
    "real_count": 60,
    "kid_subsets": 5,
    "inception_download": False,
    "inception_weights": "/nonexistent",
    "extraction_precision": "fp32",
    "threads": 1,
}
SETTINGS = offline_settings(real_count=60, epochs=1)
SETTINGS = replace(SETTINGS, eval=replace(SETTINGS.eval, extraction_precision="fp32", threads=1))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project as the stages before evaluate leave it: a tiny DCGAN trained 4 steps and
    scored during training (so it has a best checkpoint), its prepared data, its resolved
    variant, its dataset's evaluator with its report, and params.yaml."""
    root = tmp_path_factory.mktemp("project")
    variant, data = tiny_variant(NAME, steps=4, eval_every=2, eval_samples=20, checkpoint_every=4)
    data = replace(data, name=variant.dataset, meta={**data.meta, "data_sha256": variant.dataset_sha256})
    save_prepared(data, root / PREPARED_DIR)
    folder = root / EVALUATORS_DIR / variant.dataset
    report = build_evaluator(data, SETTINGS, folder, log=lambda m: None)
    (folder / EVALUATOR_REPORT_FILE).write_text(json.dumps(report))
    config_path(root, NAME).parent.mkdir(parents=True)
    config_path(root, NAME).write_text(json.dumps(variant.to_json()))
    paths = RunPaths(root / "c.pt", root / "grids", model_dir(root, NAME, 0), root / "curves.csv")
    train_run(variant, 0, data, paths, say=lambda m: None, evaluator=load_evaluator(folder, SETTINGS))
    assert generator_path(root, NAME, 0, "best").is_file()
    write_params(root, processes=1)
    return root


def write_params(root: Path, processes: int) -> None:
    params = {
        "run": {"seeds": [0]},
        "variants": {NAME: "anime"},
        "sample": {"count": STAGE_SAMPLES, "grid": 2, "interpolation_rows": 2, "interpolation_steps": 3},
        "evaluation": EVALUATION,
        "distributed": {"nproc_per_node": processes},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))


class Spy:
    """An extractor that keeps the features of each of its calls."""

    def __init__(self, extract: Any, calls: list[np.ndarray]) -> None:
        self.extract, self.calls = extract, calls

    def __call__(self, images: torch.Tensor) -> Features:
        features = self.extract(images)
        self.calls.append(features.features)
        return features

    def __getattr__(self, name: str) -> Any:
        if name == "extract":
            raise AttributeError(name)
        return getattr(self.extract, name)


def final_evaluation(root: Path, calls: list[np.ndarray], group: Group | None) -> FinalEvaluation:
    """The project's run as the stage scores it, its domain classifier in batches of 16 and
    watched by a Spy."""
    variant = variant_from_json(json.loads(config_path(root, NAME).read_text()), "", table=SYSTEM_OPTIONS)
    folder = root / EVALUATORS_DIR / variant.dataset
    evaluator = load_evaluator(folder, SETTINGS)
    evaluator.extractors["domain"].batch_size = BATCH  # type: ignore[attr-defined]
    evaluator.extractors = {k: Spy(v, calls) for k, v in evaluator.extractors.items()}  # type: ignore[attr-defined]
    report = json.loads((folder / EVALUATOR_REPORT_FILE).read_text())
    data = load_prepared(root / PREPARED_DIR, variant.dataset)
    cfg = SampleConfig(count=SAMPLES, grid=2, interpolation_rows=2, interpolation_steps=3)
    return FinalEvaluation(variant, data, cfg, evaluator, report, threads=1, group=group)


def score(root: Path, out: Path, group: Group | None) -> tuple[dict[str, Any] | None, list[np.ndarray]]:
    """The run scored on one thread (`FinalEvaluation.threads`), and its domain features."""
    calls: list[np.ndarray] = []
    job = final_evaluation(root, calls, group)
    best = generator_path(root, NAME, 0, "best")
    record = evaluate_run(
        job, 0, generator_path(root, NAME, 0), best, {}, out / "samples.pt", out / "figures"
    )
    return record, calls


def worker(rank: int, world: int, root: str, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        record, calls = score(Path(root), Path(folder) / f"rank{rank}", Group(rank, world, rank, "gloo"))
        torch.save({"record": json.dumps(record), "calls": calls}, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_score_the_run_as_one_process(project, tmp_path):
    mp.start_processes(
        worker, args=(2, str(project), str(tmp_path)), nprocs=2, join=True, start_method="spawn"
    )
    single, single_calls = score(project, tmp_path / "single", None)
    assert single is not None and set(single["generators"]) == {"raw", "ema", "best"}
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    # Each generator's samples (raw, EMA, best) went through the domain classifier once,
    # split by whole batches: 2 of the 3 batches on rank 0, the last on rank 1; side by side
    # in rank order, their features are the single process's, bit for bit.
    assert [len(f) for f in single_calls] == [SAMPLES] * 3
    assert [len(f) for f in ranks[0]["calls"]] == [2 * BATCH] * 3
    assert [len(f) for f in ranks[1]["calls"]] == [SAMPLES - 2 * BATCH] * 3
    for whole, first, last in zip(single_calls, ranks[0]["calls"], ranks[1]["calls"], strict=True):
        np.testing.assert_array_equal(np.concatenate([first, last]), whole)
    # Rank 0's record is the single process's, to the last bit (JSON keeps every float's
    # bits), and it alone drew the samples and figures.
    assert json.loads(ranks[0]["record"]) == json.loads(json.dumps(single))
    assert ranks[1]["record"] == "null" and not (tmp_path / "rank1").exists()
    ours, theirs = (
        torch.load(p / "samples.pt", weights_only=True) for p in (tmp_path / "rank0", tmp_path / "single")
    )
    for which in ("raw", "ema", "best"):
        assert torch.equal(ours["samples"][which], theirs["samples"][which])
    figures = [sorted(p.name for p in (tmp_path / d / "figures").iterdir()) for d in ("rank0", "single")]
    assert figures[0] == figures[1] and "figures.json" in figures[0]


def stage_outputs(root: Path) -> dict[str, Any]:
    """What the evaluate stage wrote: every file's path, the metrics JSON and the samples."""
    folders = [root / d / NAME for d in (SAMPLES_DIR, FIGURES_DIR, METRICS_DIR)]
    return {
        "files": sorted(str(p.relative_to(root)) for f in folders for p in f.rglob("*") if p.is_file()),
        "metrics": json.loads((root / METRICS_DIR / NAME / "0.json").read_text()),
        "samples": torch.load(root / SAMPLES_DIR / NAME / "0.pt", weights_only=True)["samples"],
    }


def test_the_stage_relaunches_itself_on_two_processes_and_writes_what_one_writes(project):
    write_params(project, processes=1)
    lines = evaluate_variant(NAME, project)
    assert len(lines) == 1 and lines[0].startswith(f"evaluated {NAME} seed 0: ema: ")
    single = stage_outputs(project)
    assert single["metrics"]["generated_samples"] == STAGE_SAMPLES
    write_params(project, processes=2)
    try:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run(
            [sys.executable, "-m", "pipeline", "evaluate", NAME],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    finally:
        write_params(project, processes=1)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"evaluated {NAME} seed 0: ema: " in done.stdout and "on 2 processes" in done.stdout
    two = stage_outputs(project)
    assert two["files"] == single["files"]
    assert two["metrics"] == single["metrics"]  # bit for bit
    assert all(torch.equal(two["samples"][w], single["samples"][w]) for w in single["samples"])
    leftovers = [p.name for d in (SAMPLES_DIR, FIGURES_DIR, METRICS_DIR) for p in (project / d).iterdir()]
    assert leftovers == [NAME] * 3  # no temporary folder left by any rank


def test_nccl_without_cuda_is_refused_before_any_worker_starts(project, monkeypatch):
    monkeypatch.setattr("pipeline.evaluate.relaunch", lambda *a, **k: pytest.fail("a worker was launched"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["distributed"] = {"nproc_per_node": 2, "backend": "nccl"}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    try:
        with pytest.raises(ConfigError, match="nccl, which needs CUDA"):
            evaluate_variant(NAME, project)
    finally:
        write_params(project, processes=1)


def test_the_stacked_evaluator_splits_its_channel_classifier():
    """Stacked MNIST keeps one classifier (not `extractors`): its twin on rank 1 of 2 reads
    its share of each channel, and with rank 0's share gathered in front, the channels'
    features and digits are one process's."""
    torch.manual_seed(3)
    model = DomainCNN(1, 10, width=8, feature_dim=16).eval()
    classifier = DomainExtractor(
        "domain:digits", model, 16, 1, batch_size=8, route=extraction_route("cpu", "fp32")
    )
    stacks = torch.randint(
        0, 256, (37, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1)
    )
    start = shard_bounds(len(stacks), 8, 1, 2)[0]
    rank0 = iter([classifier(stacks[:start, c : c + 1]) for c in range(3)])  # what rank 0 sends
    evaluator = StackedEvaluator(None, classifier, 10, SETTINGS)  # type: ignore[arg-type]
    assert evaluator.sharded(0, 1, lambda local: [local]) is evaluator
    twin = evaluator.sharded(1, 2, lambda local: [next(rank0), local])
    assert isinstance(twin.extractor, ShardedExtractor) and evaluator.extractor is classifier
    (features, digits), (whole, whole_digits) = (
        read_channels(twin.extractor, stacks),
        read_channels(classifier, stacks),
    )
    np.testing.assert_array_equal(features.features, whole.features)
    np.testing.assert_array_equal(digits, whole_digits)
