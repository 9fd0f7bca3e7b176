"""Fail unless every output and every expected score of the smoke profile is there (run after
the smoke profile in CI)."""

import json
import sys
from pathlib import Path

import yaml

params = yaml.safe_load(Path("params.yaml").read_text())
assert params["profile"] == "smoke", params["profile"]
run = params["run"]
expected = [Path(f"data/prepared/{d}.json") for d in [*run["datasets"], *run["derived"]]]
expected += [Path(f"reports/evaluators/{d}.json") for d in [*run["evaluators"], *run["cross_evaluators"]]]
expected += [Path("reports/comparison.json"), Path("reports/comparison.md"), Path("reports/report.md")]
expected += [Path("reports/scores.json"), Path("reports/scores.protocol.json"), Path("mlflow.db")]
for variant in run["variants"]:
    for seed in run["seeds"]:
        expected += [
            Path(f"data/models/{variant}/{seed}/generator.pt"),
            Path(f"reports/validation/{variant}/{seed}.csv"),
            Path(f"data/samples/{variant}/{seed}.pt"),
            Path(f"reports/curves/{variant}/{seed}.csv"),
            Path(f"reports/metrics/{variant}/{seed}.json"),
            Path(f"reports/samples/{variant}/{seed}/figures.json"),
        ]
missing = [str(p) for p in expected if not p.is_file()]
if missing:
    sys.exit(f"smoke profile: missing outputs: {missing}")

# Every run has its scores: domain scores for image datasets, mode scores for the toys, and
# Inception either computed or marked unavailable with a reason.
problems = []
for variant in run["variants"]:
    for seed in run["seeds"]:
        metrics = json.loads(Path(f"reports/metrics/{variant}/{seed}.json").read_text())
        for which, scores in metrics["generators"].items():
            if "a2b" in scores or "b2a" in scores:  # translation: every direction scored
                needed = [f"{d}.{k}" for d in scores for k in ("l1", "ssim", "psnr", "domain.fd")]
            elif "points" in scores:
                needed = ["points.fd", "modes.modes_covered", "modes.high_quality_fraction"]
            elif "channels" in scores:  # stacked: each channel read by another dataset's classifier
                needed = ["channels.fd", "modes.modes_covered", "modes.reverse_kl"]
            else:
                needed = [
                    "domain.fd",
                    "domain.kid_mean",
                    "domain.is",
                    "domain.precision",
                    "domain.recall",
                    "domain.density",
                    "domain.coverage",
                    "classes.classes_hit",
                ]
                inception = scores.get("inception", {})
                if "fd" not in inception and not inception.get("reason"):
                    problems.append(f"{variant}/{seed}/{which}: Inception neither scored nor explained")
            for key in needed:
                value = scores
                for part in key.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if not isinstance(value, (int, float)):
                    problems.append(f"{variant}/{seed}/{which}: {key} missing")
        # Scores during training, the best checkpoint scored beside the final one, and a protocol
        # stamp on every generator's scores.
        training = json.loads(Path(f"data/models/{variant}/{seed}/train.json").read_text())
        points = (training.get("validation") or {}).get("points", 0)
        if points < 4:
            problems.append(f"{variant}/{seed}: {points} scores during training, expected 4 or more")
        if not Path(f"data/models/{variant}/{seed}/best.pt").is_file() or "best" not in metrics["generators"]:
            problems.append(f"{variant}/{seed}: no best checkpoint scored")
        for which in metrics["generators"]:
            if not (metrics.get("protocol") or {}).get(which):
                problems.append(f"{variant}/{seed}/{which}: no protocol stamp")
if problems:
    sys.exit("smoke profile: missing scores:\n" + "\n".join(problems))
for name in [*run["datasets"], *run["derived"]]:
    meta = json.loads(Path(f"data/prepared/{name}.json").read_text())
    print(f"{name}: {meta['examples']} examples, stand-in: {meta.get('stand_in')}")
for dataset in run["evaluators"]:
    report = json.loads(Path(f"reports/evaluators/{dataset}.json").read_text())
    accuracy = report["extractors"].get("domain", {}).get("heldout_accuracy")
    print(f"evaluator {dataset}: domain classifier held-out accuracy {accuracy}")
print(f"smoke profile: all {len(expected)} expected outputs and their scores are present")
