"""The selection's bookkeeping: the best step by the metric's own direction, the stopping
rule's patience and margin, non-finite scores refused, and the state a checkpoint carries."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganforge.train.config import StopRule
from ganforge.train.selection import DivergedError, Selection, Watched


def nets(value: float) -> dict[str, dict[str, nn.Module]]:
    net = nn.Linear(1, 1)
    nn.init.constant_(net.weight, value)
    return {"raw": {"generator": net}}


@pytest.mark.parametrize(
    ("higher", "values", "best"), [(False, [3, 1, 2], (2, 1)), (True, [3, 1, 2], (1, 3))]
)
def test_the_best_step_follows_the_metrics_direction(higher, values, best):
    selection = Selection(Watched("m", higher))
    for step, value in enumerate(values, start=1):
        selection.record(step, {"m": float(value)}, nets(value))
    assert (selection.best_step, selection.best_value) == best
    kept = selection.best_nets["raw"]["generator"]["weight"]
    assert torch.equal(kept, torch.full((1, 1), float(best[1])))  # a copy, taken at that step


def test_stopping_waits_patience_evaluations_without_an_improvement_beyond_min_delta():
    rule = StopRule(metric="m", patience=2, min_delta=0.5)
    selection = Selection(Watched("m", False), rule, Watched("m", False))
    for step, value in enumerate([5.0, 4.0, 3.8, 3.7], start=1):  # 4.0 improves by 1; then < 0.5
        selection.record(step, {"m": value}, nets(value))
        if selection.stopped_at:
            break
    assert selection.stopped_at == 4 and selection.stalled == 2
    assert selection.stop_reason == "m has not improved on 4 for 2 evaluations (stop_when.patience 2)"
    assert selection.best_step == 4  # the best checkpoint still follows every improvement


def test_a_non_finite_score_is_refused_and_nothing_is_recorded():
    selection = Selection(Watched("m", False))
    with pytest.raises(DivergedError, match=r"^step 7: validation score m is inf$"):
        selection.record(7, {"m": float("inf")}, nets(0))
    assert selection.points == [] and selection.best_step is None


def test_the_state_round_trips_through_a_checkpoint_dict():
    rule = StopRule(metric="m", patience=3)
    a = Selection(Watched("m", True), rule, Watched("m", True))
    for step, value in enumerate([1.0, 2.0, 1.5], start=1):
        a.record(step, {"m": value, "k": -value}, nets(value))
    b = Selection(Watched("m", True), rule, Watched("m", True))
    b.load_state_dict(a.state_dict())
    assert b.state_dict().keys() == a.state_dict().keys()
    assert (b.points, b.best_step, b.best_value, b.stalled) == (a.points, 2, 2.0, 1)
    assert (
        b.summary()
        == a.summary()
        == {
            "selects": "m",
            "higher_is_better": True,
            "points": 3,
            "best": {"step": 2, "value": 2.0},
            "stopped": None,
        }
    )


def test_a_failure_mode_is_said_when_the_curves_first_show_it(monkeypatch):
    import ganforge.train.loop as loop
    from ganforge.diagnostics import Flag
    from tests.runs import build, tiny_variant

    variant, data = tiny_variant("gan_mnist", steps=8)
    built, random = build(variant, data)
    said: list[str] = []
    hooks = loop.Hooks(on_message=said.append)
    trainer = loop.Trainer(built.system, built.sampler, random, variant.train, "fp", hooks=hooks)
    swinging = [Flag("non-convergence", "swings")]
    monkeypatch.setattr(loop, "live_flags", lambda curves, p: swinging if len(curves["step"]) >= 5 else [])
    result = trainer.fit()
    assert result.warnings == [
        {"step": 5, "kind": "non-convergence", "message": "swings"}
    ]  # once: when first seen
    assert said == ["warning at step 5: non-convergence (swings)"]


def test_a_tie_keeps_the_earliest_step():
    selection = Selection(Watched("m", False))
    for step, value in enumerate([2.0, 1.0, 1.0, 1.5], start=1):
        selection.record(step, {"m": value}, nets(value + step))
    assert selection.best_step == 2  # step 3 ties, it does not replace
    assert torch.equal(selection.best_nets["raw"]["generator"]["weight"], torch.full((1, 1), 3.0))
