"""The comparison of variants: the catalogue, summaries and tests per dataset, baselines,
and the compact headline metrics DVC shows."""

from __future__ import annotations

from ganforge.comparison import compare, headlines, markdown
from ganforge.report import leaderboard
from ganforge.scores import METRICS


def result(fd: float, l1: float | None = None, ema_fd: float | None = None) -> dict:
    raw = {"domain": {"fd": fd, "precision": 0.5, "density": 1.0}}
    if l1 is not None:
        raw = {"a2b": {"l1": l1, "domain": {"fd": fd}, "label_preservation": 0.9}}
    ema = raw if ema_fd is None else {"domain": {"fd": ema_fd, "precision": 0.5}}
    return {"generators": {"raw": raw, "ema": ema}, "stand_in": False, "baselines": {}}


def translation(l1: float, fd: float) -> dict:
    r = result(fd, l1=l1)
    r["baselines"] = {"identity": {"a2b": {"l1": 0.3, "domain": {"fd": 200.0}, "label_preservation": 0.6}}}
    return r


def test_every_headline_has_a_short_name_and_a_direction():
    for m in METRICS:
        if m.headline:
            assert m.short and m.higher_is_better is not None, m.key
    shorts = [m.short for m in METRICS if m.headline]
    assert len(shorts) == len(set(shorts))


def test_compare_summarises_tests_and_keeps_baselines():
    results = {
        "a": [result(10.0), result(12.0), result(11.0)],
        "b": [result(20.0), result(22.0), result(21.0)],
        "p2p": [translation(0.1, 40.0), translation(0.12, 45.0)],
        "l1": [translation(0.09, 110.0), translation(0.1, 120.0)],
    }
    comparison = compare(results, {"a": "x", "b": "x", "p2p": "pairs", "l1": "pairs"}, [0, 1, 2], 0.05)
    x = comparison["datasets"]["x"]["metrics"]["domain.fd"]
    assert x["summary"]["a"]["mean"] == 11.0 and set(x["pairwise"]) == {"a vs b"}
    assert "domain.density" in comparison["datasets"]["x"]["metrics"]  # summarised, not tested
    assert "pairwise" not in comparison["datasets"]["x"]["metrics"]["domain.density"]
    pairs = comparison["datasets"]["pairs"]
    assert pairs["baselines"]["identity"]["a2b"]["l1"] == 0.3 and "a2b.l1" in pairs["metrics"]
    board = leaderboard(pairs)
    assert list(board["variant"]) == ["p2p", "l1", "*identity* (baseline)"]  # ranked by a2b FD, floor last
    assert "Baseline `identity`: 0.3." in markdown(comparison)


def test_headlines_are_compact_and_carry_the_primary_interval():
    results = {
        "a": [result(10.0), result(12.0), result(11.0)],
        "p2p": [translation(0.1, 40.0), translation(0.12, 45.0)],
    }
    shown = headlines(compare(results, {"a": "x", "p2p": "pairs"}, [0, 1, 2], 0.05))
    assert set(shown["a"]) == {"fd", "fd_low", "fd_high", "fd_raw", "precision"}
    assert shown["a"]["fd"] == 11.0 and shown["a"]["fd_low"] <= 11.0 <= shown["a"]["fd_high"]
    assert set(shown["p2p"]) == {"a2b_fd", "a2b_fd_low", "a2b_fd_high", "a2b_fd_raw", "a2b_l1", "a2b_labels"}
    assert shown["p2p"]["a2b_l1"] == 0.11
