"""Fail unless every output the smoke profile should produce is there (run after the smoke
profile in CI)."""

import json
import sys
from pathlib import Path

import yaml

params = yaml.safe_load(Path("params.yaml").read_text())
assert params["profile"] == "smoke", params["profile"]
run = params["run"]
expected = [Path(f"data/prepared/{d}.json") for d in [*run["datasets"], *run["derived"]]]
for variant in run["variants"]:
    for seed in run["seeds"]:
        expected += [
            Path(f"data/models/{variant}/{seed}/generator.pt"),
            Path(f"data/samples/{variant}/{seed}.pt"),
            Path(f"reports/curves/{variant}/{seed}.csv"),
        ]
missing = [str(p) for p in expected if not p.is_file()]
if missing:
    sys.exit(f"smoke profile: missing outputs: {missing}")
for name in [*run["datasets"], *run["derived"]]:
    meta = json.loads(Path(f"data/prepared/{name}.json").read_text())
    print(f"{name}: {meta['examples']} examples, stand-in: {meta.get('stand_in')}")
print(f"smoke profile: all {len(expected)} expected outputs present")
