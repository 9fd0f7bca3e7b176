"""End to end: the smoke profile through DVC (`dvc exp run`, as users run it) in a copy of the
project, against a small mirror in the real raw formats that the tests build themselves.
One pipeline run is shared by the tests of this module."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from ganforge.core.io import unix_ms
from tests.builders import build_mirror
from tests.project import copy_project, git_commit_all, project_env, run
from tests.smoke_expectation import VARIANTS as SMOKE_VARIANTS
from tests.smoke_expectation import check, key_metrics, load_expected, run_precision

pytestmark = pytest.mark.e2e

SMOKE = ["-S", "profile=smoke", "-S", "data.verify_checksums=false"]
DATASETS = {"mnist", "emoji64", "ring", "edges2emoji64", "mnist2color", "stacked_mnist"}
TRANSLATION = {"pix2pix_edges2emoji64", "cyclegan_mnist2color"}
VARIANTS = set(SMOKE_VARIANTS)
LATENT = VARIANTS - TRANSLATION


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, dict[str, str], str]:
    base = tmp_path_factory.mktemp("e2e")
    project = copy_project(base / "project")
    env = project_env(project, GANFORGE_DATA_MIRROR=str(build_mirror(base / "mirror")))
    git_commit_all(project, env)
    result = run(["dvc", "exp", "run", *SMOKE], project, env)
    return project, env, result.stdout


def test_every_stage_of_the_smoke_profile_ran(smoke):
    project, env, out = smoke
    stages = ran_stages(out)
    assert {f"prepare@{d}" for d in ("mnist", "emoji64", "ring")} <= stages
    assert {f"derive@{d}" for d in ("edges2emoji64", "mnist2color", "stacked_mnist")} <= stages
    assert "cross_evaluator@stacked_mnist" in stages  # after evaluator@mnist, whose classifier it reads
    assert {f"train@{v}" for v in VARIANTS} | {"configure"} <= stages
    assert {f"evaluate@{v}" for v in VARIANTS} | {
        "evaluator@mnist",
        "evaluator@ring",
        "evaluator@mnist2color",
        "compare",
        "report",
        "track",
    } <= stages
    status = json.loads(run(["dvc", "status", "--json"], project, env).stdout)
    assert status == {"track": ["always changed"]}, status  # the MLflow mirror runs every time


def test_prepared_datasets(smoke):
    project, _, _ = smoke
    prepared = project / "data" / "prepared"
    assert {p.stem for p in prepared.glob("*.pt")} == DATASETS
    meta = {n: json.loads((prepared / f"{n}.json").read_text()) for n in DATASETS}
    assert meta["mnist"]["split"] == "test" and meta["mnist"]["counts"]["kept"] == 400
    assert meta["emoji64"]["stand_in"] is True and meta["emoji64"]["stand_in_for"] == "anime"
    assert meta["emoji64"]["tensors"]["images"]["shape"] == [96, 3, 32, 32]
    assert meta["edges2emoji64"]["stand_in"] is True
    assert meta["ring"]["examples"] == 4000 and len(meta["ring"]["truth"]["means"]) == 8
    assert meta["mnist2color"]["counts"] == {"a": 200, "b": 200, "skipped": 0}
    assert meta["mnist2color"]["tensors"]["heldout_a"]["shape"] == [200]
    assert meta["stacked_mnist"]["modes"] == 1000 and meta["stacked_mnist"]["classifier_from"] == "mnist"
    assert meta["stacked_mnist"]["tensors"]["images"]["shape"] == [2000, 3, 28, 28]


def test_models_samples_curves_and_figures(smoke):
    project, _, _ = smoke
    for variant in VARIANTS:
        model_dir = project / "data" / "models" / variant / "0"
        # every system is scored during training (a translation system on pairs it keeps aside)
        assert {p.name for p in model_dir.iterdir()} == {
            "generator.pt",
            "checkpoint.pt",
            "train.json",
            "best.pt",
        }
        validation = (project / "reports" / "validation" / variant / "0.csv").read_text().splitlines()
        assert validation[0].startswith("step,score") and len(validation) == 5
        assert [int(line.split(",")[0]) for line in validation[1:]] == [10, 20, 30, 40]  # every eval_every
        best = torch.load(model_dir / "best.pt", weights_only=True)["info"]
        assert best["checkpoint"] == "best" and best["steps"] in (10, 20, 30, 40)
        state = torch.load(model_dir / "generator.pt", weights_only=True)
        assert (
            all(g["ema"] is not None for g in state["generators"].values()) and state["info"]["steps"] == 40
        )
        samples = torch.load(project / "data" / "samples" / variant / "0.pt", weights_only=True)
        assert samples["generators"] == ["raw", "ema", "best"]
        if variant in LATENT:
            first = samples["samples"]["ema"]
            assert len(first) == 512 and (first.dtype == torch.uint8 or variant == "gan_ring")
        curves = (project / "reports" / "curves" / variant / "0.csv").read_text().splitlines()
        assert curves[0].startswith("step,d_loss,g_loss,d_real,d_fake") and len(curves) == 5
        assert "score." in curves[0]
        figures = {p.name for p in (project / "reports" / "samples" / variant / "0").iterdir()}
        main = {"gan_ring": {"points.png", "points_raw.png", "points_best.png"}}.get(
            variant,
            {"translations.png", "translations_raw.png", "translations_best.png"}
            if variant in TRANSLATION
            else {"grid.png", "grid_raw.png", "grid_best.png", "interpolation.png"},
        )
        assert figures == main | {"figures.json"}
    cycle = torch.load(project / "data" / "samples" / "cyclegan_mnist2color" / "0.pt", weights_only=True)
    a2b = cycle["directions"]["a2b"]
    assert a2b["outputs"]["ema"].shape == (20, 3, 28, 28) and a2b["cycle"]["ema"].shape == (20, 1, 28, 28)
    pix2pix = torch.load(project / "data" / "samples" / "pix2pix_edges2emoji64" / "0.pt", weights_only=True)
    assert set(pix2pix["directions"]) == {"a2b"} and pix2pix["directions"]["a2b"]["cycle"] == {}
    labels = torch.load(project / "data" / "samples" / "cgan_mnist" / "0.pt", weights_only=True)["labels"]
    assert torch.bincount(labels).tolist() == [52, 52] + [51] * 8  # balanced requested classes


def test_metrics_for_every_run_say_how_they_were_computed(smoke):
    project, env, _ = smoke
    for variant in VARIANTS:
        metrics = json.loads((project / "reports" / "metrics" / variant / "0.json").read_text())
        assert metrics["seed"] == 0 and metrics["profile"] == "smoke"
        assert metrics["generated_samples"] == (
            {"a2b": 10}
            if variant == "pix2pix_edges2emoji64"
            else {"a2b": 20, "b2a": 20}
            if variant in TRANSLATION
            else 512
        )
        assert set(metrics["generators"]) == {"raw", "ema", "best"}
        assert set(metrics["protocol"]) == set(metrics["generators"])  # a stamp on every generator
        validation = metrics["training"]["validation"]
        assert validation["points"] == 4 and validation["best"]["step"] in (10, 20, 30, 40)
        rule = next(iter(metrics["protocol"]["best"].values()))["sampling"]
        assert rule["generator"] == "best" and f"at step {validation['best']['step']}," in rule["selected"]
        ema = metrics["generators"]["ema"]
        if variant in TRANSLATION:
            assert 0 <= ema["a2b"]["l1"] <= 1 and 0 <= ema["a2b"]["label_preservation"] <= 1
            assert ema["a2b"]["domain"]["fd"] >= 0 and set(metrics["baselines"]) == {"identity"}
            continue
        if variant == "gan_ring":
            assert ema["modes"]["modes_total"] == 8 and "fd" in ema["points"]
            continue
        if variant == "pacdcgan2_stacked_mnist":  # read by MNIST's classifier, channel by channel
            assert ema["modes"]["modes_total"] == 1000 and ema["modes"]["samples"] == 512
            assert 1 <= ema["modes"]["modes_covered"] <= 512 and ema["channels"]["fd"] >= 0
            assert metrics["extractors"]["channels"]["classifier_from"] == "mnist"
            continue
        assert ema["domain"]["fd"] >= 0 and 0 <= ema["domain"]["precision"] <= 1 and ema["domain"]["is"] >= 1
        assert ema["inception"]["available"] is False and "Inception" in ema["inception"]["reason"]
        assert metrics["extractors"]["domain"]["name"].startswith("domain:")
        assert metrics["stand_in"] is variant.endswith("emoji64")
    cgan = json.loads((project / "reports" / "metrics" / "cgan_mnist" / "0.json").read_text())
    assert 0 <= cgan["generators"]["raw"]["classes"]["conditional_accuracy"] <= 1
    evaluator = json.loads((project / "reports" / "evaluators" / "mnist.json").read_text())
    assert 0 <= evaluator["extractors"]["domain"]["heldout_accuracy"] <= 1
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], project, env).stdout)
    assert list(shown[""]["data"]) == ["reports/scores.json"]  # the per-run JSONs are outputs, not metrics


def test_exp_show_reads_like_a_leaderboard(smoke):
    """The one declared metrics file holds a few headline scores per variant: `dvc exp show`
    has fewer than 100 metric columns, among them every variant's main score."""
    project, env, _ = smoke
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project, env).stdout)
    metrics = shown[0]["data"]["metrics"]
    assert list(metrics) == ["reports/scores.json"]
    scores = metrics["reports/scores.json"]["data"]
    assert set(scores) == VARIANTS and sum(len(v) for v in scores.values()) < 100
    # one seed in smoke: no interval (fd_low, fd_high come with two or more)
    assert {"fd", "fd_raw", "kid", "precision", "recall", "classes", "class_kl"} <= set(scores["gan_mnist"])
    assert {"cond_acc", "class_kl", "classes"} <= set(scores["cgan_mnist"]) and "test_error" in scores[
        "ssgan_mnist"
    ]
    assert {"modes", "hq", "mode_kl"} <= set(scores["gan_ring"])
    assert {"a2b_l1", "a2b_labels", "b2a_l1", "b2a_labels"} <= set(scores["cyclegan_mnist2color"])
    header = run(["dvc", "exp", "show", "--csv"], project, env).stdout.splitlines()[0].split(",")
    assert sum(c.startswith(tuple(f"{v}." for v in VARIANTS)) for c in header) < 100


def test_smoke_scores_lie_in_the_bands_measured_for_their_precision(smoke):
    """A change that breaks a score fails here, on any CPU: each key score of every run lies
    in the band that `tests/expected/smoke-<precision>.json` gives for the precision this run
    trained in (bands from several seeds' spread; see tests/smoke_expectation.py, whose
    command alone writes those files). Every score outside its band is named with its run."""
    project, _, _ = smoke
    expected = load_expected(run_precision(project))
    problems = check(key_metrics(project), expected)
    assert not problems, f"smoke scores outside the bands of {expected['file']}:\n" + "\n".join(problems)


def test_comparison_and_report(smoke):
    project, _, _ = smoke
    comparison = json.loads((project / "reports" / "comparison.json").read_text())
    mnist = comparison["datasets"]["mnist"]
    assert set(mnist["variants"]) == {"gan_mnist", "cgan_mnist", "cdcgan_mnist", "ssgan_mnist"}
    fd = mnist["metrics"]["domain.fd"]
    assert set(fd["summary"]) == set(mnist["variants"]) and fd["summary"]["gan_mnist"]["n"] == 1
    assert set(mnist["metrics"]["semi_supervised.test_error"]["summary"]) == {"ssgan_mnist"}
    assert len(fd["pairwise"]) == 6 and all("not tested" in c["verdict"] for c in fd["pairwise"].values())
    assert comparison["datasets"]["emoji64"]["stand_in"] is True
    assert "identity" in comparison["datasets"]["mnist2color"]["baselines"]
    report = (project / "reports" / "report.md").read_text()
    assert "*identity* (baseline)" in report and "a2b: L1 to the target" in report
    assert "# ganforge report (smoke profile)" in report and "Stand-in data" in report
    assert "### test error (semi-supervised D) against its baseline" in report
    assert "### Leaderboard" in report and "![samples of mnist](figures/samples_mnist.png)" in report
    figures = {p.name for p in (project / "reports" / "figures").iterdir()}
    assert {"samples_mnist.png", "curves_mnist.png", "scores_mnist.png", "samples_ring.png"} <= figures
    assert {"samples_edges2emoji64.png", "samples_mnist2color.png"} <= figures
    # the mode-collapse benchmarks beside their published tables, with the protocol and set-up
    assert "### Beside the published results: Ring of 8 Gaussians" in report
    assert "### Beside the published results: Stacked MNIST (1,000 modes)" in report
    assert "| PacDCGAN2 (published) | 1000.0 ± 0.0 | 0.06 ± 0.00" in report
    assert "- `pacdcgan2_stacked_mnist`: G dcgan, D dcgan (width 8/8, 32 px), pack 2" in report
    stacked = json.loads((project / "reports" / "evaluators" / "stacked_mnist.json").read_text())
    assert stacked["extractors"]["channels"]["classifier_from"] == "mnist"


_OPENED = itertools.count()


def mlflow_runs(project: Path) -> tuple[Any, Any, list[Any]]:
    """A client on the project's store and its runs. MLflow keeps one SQLAlchemy store per URI
    in a process, whose pooled connections outlive a deleted mlflow.db (a test deletes it and
    DVC's processes make a new one), so each call spells the path anew (`…/./mlflow.db`)."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{project}/{'./' * next(_OPENED)}mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("ganforge")
    return client, exp, client.search_runs([exp.experiment_id], max_results=1000)


def test_mlflow_has_one_finished_run_per_variant_and_seed(smoke):
    project, _, _ = smoke
    client, exp, runs = mlflow_runs(project)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI opens on the runs
    by_run = {(r.data.tags["variant"], r.data.tags["seed"]): r for r in runs if "variant" in r.data.tags}
    assert set(by_run) == {(v, "0") for v in VARIANTS} and len(runs) == len(VARIANTS) + 1
    assert any(r.data.tags.get("kind") == "comparison" for r in runs)
    ring = by_run[("gan_ring", "0")]
    assert "score.ema.modes.modes_covered" in ring.data.metrics
    assert ring.info.status == "FINISHED" and ring.data.tags["profile"] == "smoke"
    assert ring.data.params["train.lr"] == "0.001" and "d_loss" in ring.data.metrics
    assert len(client.get_metric_history(ring.info.run_id, "g_loss")) == 4
    assert [a.path for a in client.list_artifacts(ring.info.run_id, "model")] == ["model/generator.pt"]
    cycle = by_run[("cyclegan_mnist2color", "0")]
    assert (
        "score.ema.b2a.label_preservation" in cycle.data.metrics and cycle.data.tags["system"] == "cyclegan"
    )
    for (variant, seed), mlrun in by_run.items():  # each spans its training, on its dataset
        summary = json.loads((project / "data" / "models" / variant / seed / "train.json").read_text())
        assert mlrun.info.start_time == unix_ms(summary["started"]), variant
        assert mlrun.info.end_time == unix_ms(summary["finished"]), variant
        (given,) = client.get_run(mlrun.info.run_id).inputs.dataset_inputs
        assert given.dataset.name == mlrun.data.tags["dataset"], variant


def test_mlflow_is_rebuilt_from_the_artifacts_when_dvc_runs_nothing(smoke):
    """After a lost store (a fresh clone, `dvc pull`), `dvc repro` reproduces nothing but the
    track stage, which brings every run back with its scores; a second time adds nothing."""
    project, env, _ = smoke
    (project / "mlflow.db").unlink()
    out = run(["dvc", "repro"], project, env).stdout
    assert ran_stages(out) == {"track"}
    assert f"{len(VARIANTS) + 1} runs created" in out  # and the comparison
    _, exp, runs = mlflow_runs(project)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    scored = [r for r in runs if "score.ema.domain.fd" in r.data.metrics or "score.ema.modes.modes_covered" in
              r.data.metrics or "score.ema.a2b.l1" in r.data.metrics]  # fmt: skip
    assert len(scored) == len(VARIANTS) and any(r.data.tags.get("kind") == "comparison" for r in runs)
    again = run(["dvc", "repro"], project, env).stdout
    assert f"0 runs created, 0 completed, 0 replaced, {len(VARIANTS) + 1} unchanged" in again
    assert len(mlflow_runs(project)[2]) == len(runs)


def test_the_registry_holds_every_run_and_the_tools_take_its_uris(smoke, tmp_path):
    """The track stage registered one version per run; `ganforge generate` gives the same
    pixels from the variant name and from its registry URI."""
    project, env, _ = smoke
    client, _, _ = mlflow_runs(project)
    versions = {v.name: v for v in client.search_model_versions("")}
    assert set(versions) == VARIANTS
    tags = versions["gan_mnist"].tags
    assert tags["seed"] == "0" and tags["profile"] == "smoke" and "score.fd" in tags and "git_commit" in tags
    assert versions["dcgan_emoji64"].tags["stand_in"] == "True"
    by_name, by_uri = tmp_path / "name", tmp_path / "uri"
    run(["ganforge", "generate", "gan_mnist", "--seeds", "0-7", "--out", str(by_name)], project, env)
    run(["ganforge", "generate", "models:/gan_mnist/1", "--seeds", "0-7", "--out", str(by_uri)], project, env)
    names = sorted(p.name for p in by_name.glob("*.png"))
    assert len(names) == 8 and names == sorted(p.name for p in by_uri.glob("*.png"))
    assert all((by_name / n).read_bytes() == (by_uri / n).read_bytes() for n in names)
    side = json.loads((by_uri / "generate.json").read_text())
    assert side["source"] == "registry" and side["seeds"] == "0-7"
    bad = run(
        ["ganforge", "generate", "nope", "--seeds", "0", "--out", str(tmp_path / "x")],
        project,
        env,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.strip().startswith("error: unknown model 'nope'")
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_an_attribute_vector_raises_the_classifier_rate_of_its_class(smoke, tmp_path):
    """On the smoke gan_mnist (a few hundred steps on the test's striped digits), for the class
    its samples show most often short of a majority: adding the vector makes the domain
    classifier name that class more often on seeds the vector was not built from."""
    from fastapi.testclient import TestClient

    from ganforge.serving.api import ServeSettings, create_app
    from ganforge.serving.catalog import Catalog
    from ganforge.serving.tools import domain_classifier

    project, env, _ = smoke
    model = Catalog(project).get("gan_mnist")
    classify = domain_classifier(project, "mnist")
    counts = torch.bincount(classify(model.decode(model.latents(range(2000)))), minlength=10)
    label = max((c for c in range(10) if counts[c] < 1000), key=lambda c: int(counts[c]))
    out = run(["ganforge", "atvec", "gan_mnist", "--class", str(label), "--scale", "2", "--out", str(tmp_path)],
              project, env)  # fmt: skip
    vec = json.loads((tmp_path / "vector.json").read_text())
    assert vec["labelled"] == int(counts[label]) and vec["built_from"] == 2000
    assert vec["rate_after"] > vec["rate_before"] + 0.05, vec
    api = TestClient(create_app(ServeSettings(project=project)))
    answer = api.post("/atvec", json={"model": "gan_mnist", "class": label, "scale": 2, "seeds": [0, 1]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rate_before"] == vec["rate_before"] and answer.json()["strip_png"]
    assert (
        len(vec["vector"]) == model.latent_dim
        and (tmp_path / "strip.png").is_file()
        and "moved by 2" in out.stdout
    )


def test_dataset_params_invalidate_only_their_stages(smoke):
    project, env, _ = smoke
    params = project / "params.yaml"
    original = params.read_text()
    data = yaml.safe_load(original)
    data["datasets"]["mnist"]["limit"] = 100
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        status = json.loads(run(["dvc", "status", "--json"], project, env).stdout)
    finally:
        params.write_text(original)
    # configure and locate read every dataset's params: they re-run (and write the same files,
    # so no other dataset is prepared again) when one changes
    assert set(status) == {"prepare@mnist", "locate", "configure", "track"}


def test_exp_run_with_a_new_lr_retrains_exactly_the_variants_that_use_it(smoke):
    project, env, _ = smoke
    run(["git", "add", "-A"], project, env)  # as a user would: commit the results, then experiment
    run(["git", "commit", "-q", "-m", "smoke results"], project, env)
    result = run(["dvc", "exp", "run", *SMOKE, "-S", "train.lr=0.0003", "-n", "lr-3e-4"], project, env)
    stages = ran_stages(result.stdout)
    variants = yaml.safe_load((project / "params.yaml").read_text())["variants"]
    own_lr = {v for v in VARIANTS if "lr" in (variants[v].get("train") or {})}
    assert own_lr == {"gan_mnist", "cgan_mnist", "gan_ring", "ssgan_mnist", "pix2pix_edges2emoji64",
                      "cyclegan_mnist2color", "pacdcgan2_stacked_mnist", "progan_emoji64"}  # fmt: skip
    assert "configure" in stages
    assert {f"train@{v}" for v in VARIANTS - own_lr} <= stages
    assert not {f"train@{v}" for v in own_lr} & stages  # their resolved configs are unchanged
    notes = result.stdout + result.stderr
    assert "note: train.lr=0.0003 does not reach gan_ring, which sets its own lr: 0.001" in notes
    shown = run(["dvc", "exp", "show", "--json"], project, env).stdout
    assert "lr-3e-4" in shown
    changed = run(["dvc", "exp", "show", "--only-changed", "--csv"], project, env).stdout.splitlines()
    header = changed[0].split(",")
    assert len(header) < 40 and "train.lr" in header, header
    moved = {c.split(".")[0] for c in header if c.startswith(tuple(f"{v}." for v in VARIANTS))}
    assert moved and moved <= VARIANTS - own_lr  # the scores that moved: the retrained variants'
    configs = project / "data" / "configs"
    assert json.loads((configs / "cdcgan_mnist.json").read_text())["train"]["lr"] == 0.0003
    assert json.loads((configs / "gan_mnist.json").read_text())["train"]["lr"] == 0.0004  # its own lr wins


def test_queued_experiments_run_two_at_a_time_into_one_mlflow_store(smoke):
    """`dvc exp run --queue` twice and `dvc queue start -j 2`: both succeed side by side,
    write their runs into the parent project's SQLite store without lock errors, and every
    run and registered version is tagged with its experiment's name."""
    project, env, _ = smoke
    names = {"ring-lr-5e-4": "0.0005", "ring-lr-2e-3": "0.002"}
    for name, lr in names.items():
        run(["dvc", "exp", "run", "--queue", *SMOKE, "-S", f"variants.gan_ring.train.lr={lr}", "-n", name],
            project, env)  # fmt: skip
    run(["dvc", "queue", "start", "-j", "2"], project, env)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], project, env).stdout
        done = [line for line in status.splitlines() if any(n in line for n in names)]
        if len(done) == 2 and all(("Success" in line or "Failed" in line) for line in done):
            break
        time.sleep(10)  # each `dvc queue status` costs the queued runs seconds of CPU
    assert all("Success" in line for line in done), status
    logs = "".join(run(["dvc", "queue", "logs", n], project, env).stdout for n in names)
    assert "locked" not in logs.lower() and logs.count("MLflow in step") == 2
    client, _, runs = mlflow_runs(project)
    ring = {r.data.tags.get("dvc_experiment") for r in runs if r.data.tags.get("variant") == "gan_ring"}
    assert set(names) <= ring
    queued = [r for r in runs if r.data.tags.get("dvc_experiment") in names]
    assert len(queued) == 2 * (len(VARIANTS) + 1)  # every run of each experiment, and its comparison
    versions = client.search_model_versions("name='gan_ring'")
    assert set(names) <= {v.tags.get("dvc_experiment") for v in versions}


def test_a_folder_remote_gives_a_fresh_clone_everything_but_the_mlflow_mirror(smoke, tmp_path):
    """`dvc push` to a folder remote; a fresh clone that pulls has no stage to reproduce but
    `track` (which rebuilds its MLflow store from what it pulled)."""
    project, env, _ = smoke
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "shared", str(remote)], project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "--allow-empty", "-m", "results and remote"], project, env)
    run(["dvc", "push"], project, env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path, env)
    run(["dvc", "pull"], clone, project_env(clone))
    status = json.loads(run(["dvc", "status", "--json"], clone, project_env(clone)).stdout)
    assert status == {"track": ["always changed"]}, status
    assert (clone / "data" / "models" / "gan_mnist" / "0" / "generator.pt").is_file()


def layout(project: Path, variant: str) -> set[str]:
    """The files a train stage writes (its DVC outputs and its curves)."""
    folders = (project / "data" / "models" / variant, project / "reports" / "curves" / variant)
    return {str(p.relative_to(project)) for folder in folders for p in folder.rglob("*") if p.is_file()}


def test_two_processes_train_through_dvc_into_the_same_layout(smoke):
    """`distributed.nproc_per_node: 2` is an execution option: no stage is invalidated by it;
    a forced `dvc repro` of a train stage launches two gloo workers through
    torch.distributed.run and writes exactly the files a single process writes."""
    project, env, _ = smoke
    variant, lock = "gan_ring", (project / "dvc.lock").read_text()
    params = project / "params.yaml"
    original = params.read_text()
    single = layout(project, variant)
    data = yaml.safe_load(original)
    data["distributed"]["nproc_per_node"] = 2
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    try:
        status = json.loads(run(["dvc", "status", "--json"], project, env).stdout)
        assert set(status) == {"track"}, status
        summary_file = project / "data" / "models" / variant / "0" / "train.json"
        # Its single-process checkpoint is at its last step: taken up on two processes, the
        # run says it is no longer bitwise comparable.
        out = run(["dvc", "repro", "-f", "-s", f"train@{variant}"], project, env).stdout
        assert "× 2 processes" in out and "resumed at step" in out
        summary = json.loads(summary_file.read_text())
        assert summary["processes_by_session"] == [1, 2] and summary["bitwise_comparable"] is False
        run(["rm", "-rf", str(project / "data" / "checkpoints" / variant)], project, env)
        out = run(["dvc", "repro", "-f", "-s", f"train@{variant}"], project, env).stdout
        assert f"trained {variant} seed 0" in out and "× 2 processes" in out and "resumed" not in out
        assert layout(project, variant) == single
        summary = json.loads(summary_file.read_text())
        assert summary["processes"] == 2 and "bitwise_comparable" not in summary
    finally:
        params.write_text(original)
        (project / "dvc.lock").write_text(lock)
        run(["dvc", "checkout", "-f", f"train@{variant}"], project, env)
