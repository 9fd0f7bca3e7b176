"""Which machine made the results: the `machine` command's warning when this machine trains
in another precision than the committed runs, and the report's line naming the machine."""

from __future__ import annotations

import json
from pathlib import Path

from ganforge.provenance import precision_note, recorded_precisions
from ganforge.report import machine_lines


def write_run(root: Path, variant: str, seed: int, precision: str, cpu: str = "CPU A") -> dict:
    record = {"training": {"precision": precision, "machine": {"cpu": cpu, "torch": "2.14.1"}}}
    path = root / "reports" / "metrics" / variant / f"{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return record


def test_the_committed_precisions_are_read_from_the_metrics_records(tmp_path):
    write_run(tmp_path, "dcgan_emoji64", 0, "bf16 autocast")
    write_run(tmp_path, "gan_ring", 0, "fp32")
    (tmp_path / "reports" / "metrics" / "broken").mkdir()
    (tmp_path / "reports" / "metrics" / "broken" / "0.json").write_text("{not json")
    write_run(tmp_path, "cgan_mnist", 0, "bf16 autocast")  # left from a profile that ran it
    runs = ["dcgan_emoji64", "gan_ring", "broken"]
    assert recorded_precisions(tmp_path, runs) == {"bf16 autocast": ["dcgan_emoji64"], "fp32": ["gan_ring"]}
    assert recorded_precisions(tmp_path, ["gan_ring"]) == {"fp32": ["gan_ring"]}
    assert recorded_precisions(tmp_path / "nothing", runs) == {}


def test_the_note_says_when_this_machine_would_train_in_another_precision(tmp_path):
    bf16_there = {"bf16 autocast": ["dcgan_emoji64"], "fp32": ["gan_ring"]}
    assert precision_note("fp32", bf16_there) == (
        "note: scores will differ from the committed ones: fp32 here, bf16 autocast there"
    )
    assert precision_note("bf16 autocast", bf16_there) is None
    assert precision_note("fp32", {"fp32": ["gan_ring", "dcgan_emoji64"]}) is None
    assert precision_note("bf16 autocast", {"fp32": ["dcgan_emoji64"]}) == (
        "note: scores will differ from the committed ones: bf16 autocast here, fp32 there"
    )
    assert precision_note("fp32", {}) is None and precision_note("bf16 autocast", {}) is None


def test_the_report_names_the_machine_and_every_machine_of_a_mixed_project(tmp_path):
    one = {"a": [write_run(tmp_path, "a", 0, "fp32"), write_run(tmp_path, "a", 1, "fp32")]}
    assert machine_lines(one) == ["Made on CPU A with torch 2.14.1, training in fp32."]
    mixed = {**one, "b": [write_run(tmp_path, "b", 0, "bf16 autocast", cpu="CPU B")]}
    lines = machine_lines(mixed)
    assert lines[0].startswith("Made on several machines")
    assert "- CPU A, torch 2.14.1, training in fp32: a" in lines
    assert "- CPU B, torch 2.14.1, training in bf16 autocast: b" in lines
