"""Scores during training, end to end through `train_run` with a real evaluator: the score
curves, the best checkpoint (the very weights of the best step), early stopping, resume,
non-finite losses and scores, the selection sample kept apart from the test sample, and the
one-line refusals of bad settings."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.core.config import from_dict
from ganforge.core.errors import ConfigError
from ganforge.evaluation.evaluator import build_evaluator, load_evaluator
from ganforge.evaluation.validation import Validator
from ganforge.layout import BEST_GENERATOR_FILE, GENERATOR_FILE
from ganforge.runner import RunPaths, train_run
from ganforge.sampling import EVAL_SEED, VALIDATION_SEED, SampleConfig
from ganforge.systems.kind import RunContext
from ganforge.systems.registry import get_system
from ganforge.train.checkpoint import load_checkpoint
from ganforge.train.config import StopRule, TrainConfig
from ganforge.train.selection import DivergedError
from ganforge.trained import load_trained
from tests.builders import offline_settings
from tests.runs import SimulatedKillError, tiny_variant

SCORED = {"steps": 12, "eval_every": 4, "eval_samples": 40, "checkpoint_every": 4}


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A tiny DCGAN on random labelled images, and its dataset's evaluator."""
    variant, data = tiny_variant("dcgan_anime", **SCORED)
    data.meta["data_sha256"] = variant.dataset_sha256
    settings = offline_settings(real_count=60, epochs=1)
    folder = tmp_path_factory.mktemp("evaluator")
    build_evaluator(data, settings, folder, log=lambda m: None)
    return variant, data, load_evaluator(folder, settings)


def run(tmp: Path, variant, data, evaluator, **kwargs) -> tuple[dict, RunPaths]:
    paths = RunPaths(tmp / "c.pt", tmp / "grids", tmp / "out", tmp / "curves.csv")
    return train_run(variant, 0, data, paths, say=lambda m: None, evaluator=evaluator, **kwargs), paths


def states(path: Path) -> dict[str, torch.Tensor]:
    trained = load_trained(path)
    return {
        f"{w}.{k}": t for w, nets in trained.nets.items() for k, t in nets["generator"].state_dict().items()
    }


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_scored_run_logs_its_curve_and_keeps_its_best_step(setting, tmp_path):
    variant, data, evaluator = setting
    summary, paths = run(tmp_path, variant, data, evaluator)
    validation = summary["validation"]
    assert validation["points"] == 3 and validation["selects"] == "domain.fd"
    assert validation["higher_is_better"] is False and validation["stopped"] is None
    rows = list(csv.DictReader(paths.curves.open()))
    scored = {int(r["step"]): float(r["score.domain.fd"]) for r in rows if r["score.domain.fd"]}
    assert sorted(scored) == [4, 8, 12] and "score.domain.kid_mean" in rows[0]
    best_step = validation["best"]["step"]
    assert scored[best_step] == pytest.approx(validation["best"]["value"], rel=1e-5)
    assert scored[best_step] == min(scored.values())
    best = load_trained(paths.out_dir / BEST_GENERATOR_FILE)
    assert best.info["steps"] == best_step and best.info["checkpoint"] == "best"
    assert best.info["selected"] == {
        "metric": "domain.fd",
        "value": validation["best"]["value"],
        "on": "validation sample",
    }


def test_the_best_checkpoint_holds_the_very_weights_of_its_step(setting, tmp_path, monkeypatch):
    """Scores that are best at step 8 of 12: best.pt is what a run stopped at step 8 ends with
    (steps only changes the schedule), and not what the 12-step run ends with."""
    variant, data, evaluator = setting
    values = iter([5.0, 3.0, 1.0, 2.0])  # the untrained generators', then steps 4, 8 and 12

    def scores(payload, seed):
        return {"domain.fd": next(values), "domain.kid_mean": 0.0}

    monkeypatch.setattr(evaluator, "validation_scores", scores)
    summary, paths = run(tmp_path / "scored", variant, data, evaluator)
    assert summary["validation"]["best"] == {"step": 8, "value": 1.0}
    short = replace(variant, train=replace(variant.train, steps=8, eval_every=0))
    run(tmp_path / "short", short, data, None)
    best = states(paths.out_dir / BEST_GENERATOR_FILE)
    assert same(best, states(tmp_path / "short" / "out" / GENERATOR_FILE))
    assert not same(best, states(paths.out_dir / GENERATOR_FILE))


def test_scoring_changes_nothing_the_run_trains(setting, tmp_path):
    variant, data, evaluator = setting
    run(tmp_path / "scored", variant, data, evaluator)
    unscored = replace(variant, train=replace(variant.train, eval_every=0))
    summary, paths = run(tmp_path / "plain", unscored, data, None)
    assert "validation" not in summary and not (paths.out_dir / BEST_GENERATOR_FILE).exists()
    assert same(states(tmp_path / "scored" / "out" / GENERATOR_FILE), states(paths.out_dir / GENERATOR_FILE))


def test_a_run_killed_after_scoring_resumes_bitwise_with_its_selection(setting, tmp_path, monkeypatch):
    variant, data, evaluator = setting
    whole, _ = run(tmp_path / "whole", variant, data, evaluator)
    import ganforge.runner as runner

    original = runner.hooks_for

    def dying(*args, **kwargs):
        hooks = original(*args, **kwargs)
        score = hooks.on_score

        def on_score(step, nets):
            if step == 12:
                raise SimulatedKillError  # after the checkpoint of step 8 (with 2 scored points)
            return score(step, nets)

        return replace(hooks, on_score=on_score)

    monkeypatch.setattr(runner, "hooks_for", dying)
    with pytest.raises(SimulatedKillError):
        run(tmp_path / "killed", variant, data, evaluator)
    state, _ = load_checkpoint(tmp_path / "killed" / "c.pt")
    assert state["step"] == 8 and len(state["selection"]["points"]) == 2
    monkeypatch.setattr(runner, "hooks_for", original)
    resumed, paths = run(tmp_path / "killed", variant, data, evaluator)
    assert resumed["resumed_from"] == 8 and resumed["validation"] == whole["validation"]
    for name in (GENERATOR_FILE, BEST_GENERATOR_FILE):
        assert same(states(tmp_path / "whole" / "out" / name), states(paths.out_dir / name))


def test_stop_when_ends_the_run_says_why_and_stays_stopped_on_resume(setting, tmp_path):
    variant, data, evaluator = setting
    rule = StopRule(metric="domain.kid_mean", patience=1, min_delta=1e9)  # nothing improves by 1e9
    stopping = replace(variant, train=replace(variant.train, stop_when=rule))
    summary, paths = run(tmp_path, stopping, data, evaluator)
    assert summary["steps"] == 8 and summary["validation"]["points"] == 2
    assert summary["validation"]["stopped"] == {
        "step": 8,
        "reason": summary["validation"]["stopped"]["reason"],
    }
    assert "domain.kid_mean has not improved" in summary["validation"]["stopped"]["reason"]
    assert json.loads((paths.out_dir / "train.json").read_text())["steps"] == 8
    again, _ = run(tmp_path, stopping, data, evaluator)  # resumed: stopped, nothing more to train
    assert again["steps"] == 8 and again["resumed_from"] == 8


def test_a_non_finite_score_stops_with_one_line_and_keeps_the_last_good_checkpoint(
    setting, tmp_path, monkeypatch
):
    variant, data, evaluator = setting
    calls = []

    def scores(payload, seed):
        calls.append(1)
        return {"domain.fd": float("nan") if len(calls) == 3 else 1.0, "domain.kid_mean": 0.0}

    monkeypatch.setattr(evaluator, "validation_scores", scores)  # the first call names the scores
    with pytest.raises(DivergedError) as caught:
        run(tmp_path, variant, data, evaluator)
    message = str(caught.value)
    assert message.startswith("step 8: validation score domain.fd is nan: training stopped; ")
    assert "the last good checkpoint (step 4) is kept" in message and "\n" not in message
    state, _ = load_checkpoint(tmp_path / "c.pt")
    assert state["step"] == 4


def test_a_non_finite_loss_stops_naming_the_step(setting, tmp_path, monkeypatch):
    variant, data, _ = setting
    from ganforge.systems.gan import GanSystem

    original = GanSystem.step

    def step(self, phase, batch, at, diagnose):
        out = original(self, phase, batch, at, diagnose)
        return {**out, "d_loss": out["d_loss"] * float("inf")} if at == 6 and "d_loss" in out else out

    monkeypatch.setattr(GanSystem, "step", step)
    plain = replace(variant, train=replace(variant.train, eval_every=0))
    with pytest.raises(
        DivergedError, match=r"^step 6: d_loss is (inf|nan): training stopped; the last good "
    ):
        run(tmp_path, plain, data, None)
    assert load_checkpoint(tmp_path / "c.pt")[0]["step"] == 4


def test_the_validation_sample_is_drawn_apart_from_the_test_sample(setting):
    variant, data, evaluator = setting
    kind = get_system(variant.kind)
    spec = {"shape": {"kind": "images", "channels": 3, "size": 32, "classes": 0}, "class_names": []}
    net = kind.generators(variant, spec)["generator"].eval()
    run_ctx = RunContext(variant, spec, data)
    validator = Validator(evaluator, kind, run_ctx, 40, seed=0)
    validation = validator.draw({"generator": net})["samples"]["ema"]
    test = kind.draw({"ema": {"generator": net}}, run_ctx, SampleConfig(count=40), 0)["samples"]["ema"]
    assert validation.shape == test.shape and not torch.equal(validation, test)
    # The streams never meet for any seed a run can have below a million.
    assert VALIDATION_SEED - EVAL_SEED >= 1_000_000


@pytest.mark.parametrize(
    ("train", "message"),
    [
        ({"eval_every": -1}, "eval_every must be 0 (off) or a number of steps, got -1"),
        ({"eval_every": 2.5}, "train.eval_every: Input should be a valid integer"),
        ({"eval_every": 20}, "eval_every (20) is larger than steps (12)"),
        ({"eval_every": 4, "log_every": 3}, "eval_every (4) must be a multiple of log_every (3)"),
        ({"stop_when": {"metric": "primary", "patience": 0}}, "stop_when.patience must be 1 or more"),
        ({"eval_every": 0, "stop_when": {"metric": "primary"}}, "stop_when needs eval_every above 0"),
    ],
)
def test_bad_settings_are_one_line(train, message):
    with pytest.raises(ConfigError) as caught:
        from_dict(TrainConfig, {"steps": 12, "log_every": 1, **train}, "train")
    assert str(caught.value).startswith("train") and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unknown_stop_metric_or_too_large_a_sample_is_refused_before_any_step(setting, tmp_path):
    variant, data, evaluator = setting
    unknown = replace(variant, train=replace(variant.train, stop_when=StopRule(metric="domain.recall")))
    with pytest.raises(
        ConfigError, match=r"stop_when.metric: unknown metric 'domain.recall'; the validation "
    ):
        run(tmp_path, unknown, data, evaluator)
    large = replace(variant, train=replace(variant.train, eval_samples=61))
    with pytest.raises(
        ConfigError, match=r"eval_samples \(61\) is larger than the evaluator's held-out reference \(60"
    ):
        run(tmp_path, large, data, evaluator)
    assert not (tmp_path / "c.pt").exists() and not (tmp_path / "out").exists()
