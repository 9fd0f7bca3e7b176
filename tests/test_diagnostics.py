"""Failure-mode flags on constructed curves and scores."""

import numpy as np

from ganforge.diagnostics import diagnose, discriminator_overpowering, mode_collapse, non_convergence

STEPS = list(range(50, 2050, 50))


def curves(d_loss, g_loss, d_fake):
    return {"step": STEPS, "d_loss": d_loss, "g_loss": g_loss, "d_fake": d_fake}


def healthy():
    rng = np.random.default_rng(0)
    n = len(STEPS)
    return curves(
        list(1.3 + 0.03 * rng.standard_normal(n)),
        list(0.9 + 0.03 * rng.standard_normal(n)),
        list(0.45 + 0.02 * rng.standard_normal(n)),
    )


def test_a_healthy_run_raises_nothing():
    scores = {"classes": {"classes_hit": 10, "classes_total": 10}, "domain": {"recall": 0.6}}
    assert diagnose(healthy(), scores) == []


def test_discriminator_overpowering_early():
    n = len(STEPS)
    c = curves([0.02] * 12 + [1.0] * (n - 12), [6.0] * n, [0.01] * 12 + [0.4] * (n - 12))
    flag = discriminator_overpowering(c)
    assert flag is not None and flag.kind == "discriminator overpowering" and "0.020" in flag.message
    late = curves([1.0] * 30 + [0.02] * (n - 30), [1.0] * n, [0.4] * 30 + [0.01] * (n - 30))
    assert discriminator_overpowering(late) is None  # only an early takeover is flagged


def test_non_probabilistic_losses_use_the_loss_alone():
    n = len(STEPS)
    c = curves([0.05] * n, [1.0] * n, [-40.0] * n)
    assert discriminator_overpowering(c, probabilities=False) is not None


def test_oscillating_losses_are_non_convergence():
    n = len(STEPS)
    zigzag = [0.2 if i % 2 else 3.0 for i in range(n)]
    flag = non_convergence(curves([1.0] * n, zigzag, [0.5] * n))
    assert flag is not None and flag.kind == "non-convergence"
    assert non_convergence(healthy()) is None


def test_mode_collapse_from_classes_modes_or_recall():
    assert (
        mode_collapse({"classes": {"classes_hit": 3, "classes_total": 10}}).message
        == "3 of 10 classes generated"
    )
    assert mode_collapse({"modes": {"modes_covered": 2, "modes_total": 8}}).kind == "mode collapse"
    assert mode_collapse({"modes": {"modes_covered": 6, "modes_total": 8}}) is None
    assert "recall 0.020" in mode_collapse({"domain": {"recall": 0.02}}).message
    assert mode_collapse({"domain": {"recall": 0.5}}) is None
