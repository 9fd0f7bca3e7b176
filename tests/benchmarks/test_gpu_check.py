"""benchmarks/gpu_check.py on a machine without CUDA: it refuses in one line and writes
nothing; bad options are refused in one line; and its device-agnostic pieces (the plain
reference loop, ganforge's fp32 / bf16 / compiled runs, the img/s measurements, the DDP round
with its checkpoint and resume, the JSON and the branch table) run for 2 steps on the CPU,
called as functions, up to the CUDA boundary."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.distributed as dist

from ganforge.core.device import cpu_threads
from ganforge.metrics.classifier import DomainCNN
from ganforge.metrics.features import DomainExtractor
from ganforge.nets.config import DataShape, ModelConfig, NetConfig
from ganforge.train.distributed import Group

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
WRAPPER = ROOT / "benchmarks" / "gpu_check.sh"
CPU = torch.device("cpu")


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


script = _load()


@pytest.fixture(autouse=True)
def _one_thread():
    """One CPU thread: these steps are tiny, and on a busy 2-core machine two threads stall."""
    with cpu_threads(1):
        yield


@pytest.fixture
def small():
    """dcgan_emoji64's training config over DCGAN nets small enough for 2 CPU steps."""
    real = script.dcgan_bench()
    return script.Bench(
        ModelConfig(16, NetConfig("dcgan", 4), NetConfig("dcgan", 4)),
        DataShape("images", 3, 16),
        real.train,
        4,
    )


def _script(args: list[str], cwd: Path, wrapper: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}  # no CUDA here, even on a GPU
    cmd = ["bash", str(WRAPPER)] if wrapper else [sys.executable, str(SCRIPT)]
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


# -- the refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize("wrapper", [False, True], ids=["gpu_check.py", "gpu_check.sh"])
def test_without_cuda_it_refuses_in_one_line_and_writes_nothing(tmp_path, wrapper):
    out = tmp_path / "sub" / "check.json"
    result = _script(["--out", str(out), "--steps", "5"], tmp_path, wrapper)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [script.REFUSAL]
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no JSON, no folder, nothing in the working directory


def test_a_bad_option_is_refused_in_one_line_before_anything_runs(tmp_path):
    result = _script(["--steps", "0"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "gpu_check: argument --steps: must be a whole number of 1 or more, got '0'"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--steps", "ten"], "argument --steps: must be a whole number of 1 or more, got 'ten'"),
        (["--budget-s", "10"], "argument --budget-s: must be a number of seconds, 30 or more, got '10'"),
        (["--budget-s", "nan"], "argument --budget-s: must be a number of seconds, 30 or more, got 'nan'"),
        (["--mirror", "/nonexistent/mirror"], "argument --mirror: '/nonexistent/mirror' is not a folder"),
        (["--out", "."], "argument --out: '.' is not a file name to write the JSON to"),
        (["--fast"], "unrecognized arguments: --fast"),
        (["--steps"], "argument --steps: expected one argument"),
    ],
)
def test_bad_options_are_one_line(args, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.parse_args(args)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"gpu_check: {expected}"]


def test_the_defaults():
    args = script.parse_args([])
    assert (args.out, args.steps, args.budget_s, args.mirror, args.ddp_worker) == (
        Path("gpu_check.json"),
        200,
        450.0,
        None,
        None,
    )


# -- the training measurements, on the CPU ---------------------------------------------------------------
def test_dcgan_bench_is_the_variant_at_64_px():
    bench = script.dcgan_bench()
    assert bench.shape == DataShape("images", 3, 64)
    assert (bench.model.latent_dim, bench.model.generator.arch, bench.model.generator.width) == (
        100,
        "dcgan",
        64,
    )
    assert bench.model.discriminator.width == 64 and bench.batch == 64


def test_reference_loop_in_fp32_and_bf16(small):
    for mode in script.MODES[:2]:
        assert script.reference_rate(small, CPU, 2, 1, mode) > 0


@pytest.mark.parametrize("mode", script.MODES, ids=lambda m: m.name)
def test_ganforge_runs_in_each_mode(small, mode):
    eager_compile = functools.partial(torch.compile, backend="eager")  # no C++ build on the CPU
    run = script.build_run(small, mode, CPU, eager_compile)
    assert run.sampler.channels_last is mode.channels_last
    assert run.system.amp_dtype is mode.amp_dtype
    compiled = any(type(v).__name__ == "OptimizedModule" for v in vars(run.system).values())
    assert compiled is mode.compiled
    rate = script.ganforge_rate(run, small, 2, 2)
    assert rate["images_per_s"] > 0 and rate["warmup_s"] >= 0


def test_train_bench_rows_and_ratios(small, monkeypatch):
    monkeypatch.setattr(script, "MODES", script.MODES[:2])  # the compiled mode is covered above
    result = script.train_bench(small, CPU, 2, script.Budget(1e9), rounds=1)
    ref = result["reference_images_per_s"]
    rows = result["ganforge"]
    assert set(rows) == {"fp32", "bf16"}
    assert rows["fp32"]["ratio"] == pytest.approx(rows["fp32"]["images_per_s"] / ref["fp32"], rel=1e-2)
    assert rows["bf16"]["ratio_same_precision"] == pytest.approx(
        rows["bf16"]["images_per_s"] / ref["bf16"], rel=1e-2
    )
    assert rows["bf16"]["precision"] == "bf16 autocast"
    assert script.train_line(result).startswith("train: plain loop fp32 ")


def test_compiled_mode_is_skipped_when_the_budget_is_short(small, monkeypatch):
    monkeypatch.setattr(script, "MODES", (script.MODES[2],))
    monkeypatch.setattr(script, "reference_rate", lambda *a: 1.0)
    result = script.train_bench(small, CPU, 2, script.Budget(1.0), rounds=1)
    assert result["ganforge"]["compiled_bf16"] == {"skipped": "under 90 s of the budget left"}


def test_extraction_rate_on_a_domain_classifier():
    extractor = DomainExtractor("domain:x", DomainCNN(3, 9, 8, 16), 16, 3, "cpu", batch_size=4)
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    rates = script.route_rates(extractor, images, 4)
    assert set(rates) == {extractor.route.precision, "fp32"} and min(rates.values()) > 0


def test_probes_on_the_cpu():
    seen = script.probes(CPU)
    assert seen["auto_device"] == "cpu" and seen["evaluation_device"] == "cpu"
    assert seen["translate"] == {"device": "cpu", "device_rng_untouched": True, "repeats": True}


# -- the DDP round, on a 1-process gloo group --------------------------------------------------------
def test_ddp_round_trains_checkpoints_and_resumes(small, tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/rdzv", rank=0, world_size=1)
    try:
        seen = script.ddp_round(Group(0, 1, 0, "gloo"), CPU, small, 2, tmp_path)
    finally:
        dist.destroy_process_group()
    assert seen["device"] == "cpu" and seen["resumed_from"] == 2 and seen["images_per_s"] > 0
    assert seen["ddp_device_ids"] == [None, None]  # G and D, each its own replica
    assert seen["sync_batchnorm_layers"] == 0  # CUDA only
    assert seen["checkpoint_cuda_rng"] is False and seen["checkpoint_ranks_cuda_rng"] == [False]
    assert seen["cuda_rng_saved_calls"] == 0 and seen["cuda_rng_restored_calls"] == 0


def test_ddp_command_is_the_pipelines_launch_of_this_scripts_worker(tmp_path):
    cmd, env = script.ddp_command(tmp_path / "w.json", 7)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=1" in cmd and "--standalone" in cmd
    assert cmd[-6:] == ["-m", "gpu_check", "--ddp-worker", str(tmp_path / "w.json"), "--steps", "7"]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT / "benchmarks")


# -- the smoke profile's plumbing ------------------------------------------------------------------------
def test_smoke_copy_and_commands(tmp_path):
    project = script.copy_project(tmp_path / "p")
    assert (project / "dvc.yaml").is_file() and (project / "conf" / "profile" / "smoke.yaml").is_file()
    assert (project / ".dvc" / "config").is_file() and not (project / "data").exists()
    env = script.smoke_env(project, tmp_path)
    assert env["GANFORGE_DATA_MIRROR"] == str(tmp_path) and env["GANFORGE_OFFLINE"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(project / "src")
    cmds = script.smoke_commands("cuda")
    assert cmds[0][-3:] == ["params", "profile=smoke", "train.device=cuda"]
    assert cmds[2][1:] == ["repro"] and cmds[3][-1].endswith("check_smoke.py")
    assert script.smoke_commands("cpu", ("prepare@ring",))[-1][1:] == ["repro", "prepare@ring"]


def test_smoke_without_a_mirror_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dataset mirror at"):
        script.smoke_profile(tmp_path / "missing", 60)


def test_smoke_evidence_reads_what_the_train_stages_wrote(tmp_path):
    for variant, device in (("a", "cuda"), ("b", "cuda:0"), ("c", "cpu")):
        run = tmp_path / "data" / "models" / variant / "0"
        run.mkdir(parents=True)
        (run / "train.json").write_text(json.dumps({"device": device, "precision": "bf16 autocast"}))
    saved = tmp_path / "data" / "checkpoints" / "a"
    saved.mkdir(parents=True)
    torch.save({"random": {"cuda": [torch.zeros(2, dtype=torch.uint8)]}}, saved / "0.pt")
    torch.save({"random": {"global": torch.zeros(2, dtype=torch.uint8)}}, saved / "1.pt")
    seen = script.smoke_evidence(tmp_path)
    assert seen["trained_on_cuda"] == 2 and seen["trained"]["c"] == {
        "device": "cpu",
        "precision": "bf16 autocast",
    }
    assert (seen["checkpoints"], seen["checkpoints_with_cuda_rng"]) == (2, 1)
    assert script.stages_ran("Running stage 'locate':\n> x\nRunning stage 'prepare@ring':\n") == [
        "locate",
        "prepare@ring",
    ]


def test_run_boxed_kills_what_runs_past_its_time(tmp_path):
    done = script.run_boxed(
        [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path, dict(os.environ), 1
    )
    assert done.timed_out and done.code != 0 and done.seconds < 30


# -- the report --------------------------------------------------------------------------------------------
def test_write_report_is_json_and_atomic(tmp_path):
    out = tmp_path / "deep" / "check.json"
    script.write_report(out, {"path": tmp_path, "rate": 1.5, "dtype": torch.bfloat16})
    assert json.loads(out.read_text()) == {"path": str(tmp_path), "rate": 1.5, "dtype": "torch.bfloat16"}
    assert [p.name for p in out.parent.iterdir()] == ["check.json"]


def _full_evidence() -> dict:
    worker = {
        "backend": "nccl",
        "launched_by_torch_distributed_run": True,
        "device": "cuda:0",
        "sync_batchnorm_layers": 7,
        "ddp_device_ids": [[0], [0]],
        "checkpoint_cuda_rng": True,
        "cuda_rng_restored_calls": 2,
        "world": 1,
    }
    return {
        "environment": {"machine": {"gpu": "NVIDIA H100"}},
        "phases": {
            "probes": {
                "auto_device": "cuda",
                "auto_precision": "bf16 autocast",
                "evaluation_device": "cuda",
                "translate": {"device": "cuda:0", "device_rng_untouched": True},
                "streamed_batches": {"pinned_copies": 1},
            },
            "smoke": {"trained_on_cuda": 10},
            "ddp": {"plan_checked": True, "worker": worker},
            "features": {"default_route": "bf16 autocast", "inception": {"batch_size": 100}},
            "train": {"ganforge": {"bf16": {"images_per_s": 1.0}, "compiled_bf16": {"images_per_s": 2.0}}},
        },
    }


def test_branch_table_with_every_piece_of_evidence():
    rows = script.branch_table(_full_evidence())
    reachable = [r for r in rows if r.get("reachable", True)]
    assert reachable and all(r["reached"] for r in reachable)
    unreachable = {r["branch"] for r in rows if not r.get("reachable", True)}
    assert unreachable == {
        "pipeline train launching itself through torch.distributed.run",
        "SyncBatchNorm's cross-process statistics",
    }


def test_branch_table_on_a_cpu_run_reaches_nothing():
    report = {"phases": {"probes": script.probes(CPU)}}
    assert not any(r["reached"] for r in script.branch_table(report))


def test_finish_writes_the_report_and_says_what_failed(tmp_path, capsys):
    report = {"phases": {"probes": {"status": "ok"}, "smoke": {"status": "timed_out"}}}
    out = tmp_path / "r.json"
    assert script.finish(report, script.Budget(100.0), out) == 1
    written = json.loads(out.read_text())
    assert written["ok"] is False and written["failed_phases"] == ["smoke"]
    assert "NCCL backend" in written["unreached_branches"]
    assert capsys.readouterr().out.strip().endswith(f"wrote {out}")


def _stub_phases(monkeypatch, calls: list[str]) -> None:
    """Every phase of run_check answering with the evidence a good GPU run gives."""
    phases = _full_evidence()["phases"]

    def stub(name):
        def job(*args, **kwargs):
            calls.append(name)
            return dict(phases[name])

        return job

    monkeypatch.setattr(
        script,
        "environment",
        lambda: {"device_name": "GPU", "torch": "t", "cuda": "c", "machine": {"gpu": "GPU"}},
    )
    monkeypatch.setattr(script, "probes", stub("probes"))
    monkeypatch.setattr(script, "smoke_profile", stub("smoke"))
    monkeypatch.setattr(script, "ddp_check", stub("ddp"))
    monkeypatch.setattr(script, "features_bench", stub("features"))
    monkeypatch.setattr(script, "train_bench", stub("train"))
    monkeypatch.setattr(script, "train_line", lambda result: "train: stub")


def test_run_check_runs_every_phase_into_one_json(tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    _stub_phases(monkeypatch, calls)
    out = tmp_path / "gpu.json"
    assert script.run_check(script.parse_args(["--out", str(out), "--mirror", str(tmp_path)])) == 0
    assert calls == ["probes", "smoke", "ddp", "features", "train"]
    report = json.loads(out.read_text())
    assert report["ok"] is True and report["environment"]["device_name"] == "GPU"
    assert all(p["status"] == "ok" for p in report["phases"].values())
    assert report["unreached_branches"] == [] and report["failed_phases"] == []
    assert capsys.readouterr().out.splitlines()[-1].startswith("gpu_check: ok in ")


def test_run_check_skips_what_the_budget_leaves_no_time_for(tmp_path, monkeypatch):
    calls: list[str] = []
    _stub_phases(monkeypatch, calls)
    out = tmp_path / "gpu.json"
    assert script.run_check(script.parse_args(["--out", str(out), "--budget-s", "30"])) == 1
    assert calls == ["probes", "features", "train"]
    report = json.loads(out.read_text())
    assert report["phases"]["smoke"]["status"] == report["phases"]["ddp"]["status"] == "skipped"
    assert report["failed_phases"] == ["smoke", "ddp"]
