"""Peak memory of the prepare and train stages' work on a large image folder, in the compact
format (one tensor) against the streaming format (chunks written while decoding, read back
memory-mapped), measured in the same run.

A folder of `--images` generated JPEGs is prepared at `--size` px both ways, then a DCGAN
trains one epoch (batch 64) on each prepared set through the library's `train_run`, the code
`pipeline train` runs. Every phase runs in its own process, which reports:

- `baseline_mb` / `baseline_private_mb`: its resident / private memory after the imports,
  before any work;
- `peak_rss_mb`: the kernel's high-water mark of resident memory (VmHWM), which counts the
  pages of a memory-mapped file the process has touched (page cache, shared, reclaimable);
- `peak_private_mb`: the highest private (anonymous) memory seen, sampled every 5 ms
  (RssAnon): what the process itself holds and cannot give back.

The bound the streaming format states: private memory stays within the baseline plus one
chunk of decoded images (prepare) or one batch and the nets (train), whatever the number of
images; the compact format holds the whole set. The last line is JSON with every figure and
the ratios streaming / compact.

    python benchmarks/streaming_memory.py                     # 4,000 images at 128 px
    python benchmarks/streaming_memory.py --images 8000 --size 64
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

PHASES = ("prepare", "train")
STORAGES = ("compact", "streaming")


def write_folder(folder: Path, images: int, size: int) -> None:
    """`images` JPEGs of smooth random colour at 5/4 of `size` (so every one is resized)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    side = size * 5 // 4
    for i in range(images):
        small = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((side, side), Image.Resampling.BILINEAR).save(
            folder / f"{i:06d}.jpg", quality=85
        )


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class PrivatePeak:
    """The highest RssAnon seen by a sampling thread."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.peak = status_mb("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self.peak = max(self.peak, status_mb("RssAnon"))

    def __enter__(self) -> PrivatePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, status_mb("RssAnon"))


def prepare(work: Path, storage: str, size: int) -> None:
    from ganforge.data.fetch import SourceContext
    from ganforge.data.folder import FolderConfig, load_folder
    from ganforge.data.prepared import save_prepared

    cfg = FolderConfig(path=str(work / "images"), image_size=size, storage=storage, chunk=256)
    ctx = SourceContext(storage, work / "raw", work / "prepared", offline=True)
    save_prepared(load_folder(cfg, ctx), ctx.prepared_dir)


def train(work: Path, storage: str, size: int) -> None:
    import yaml

    from ganforge.data.prepared import load_prepared
    from ganforge.runner import RunPaths, train_run
    from ganforge.systems.registry import SYSTEM_OPTIONS
    from ganforge.variants import resolve_variant

    data = load_prepared(work / "prepared", storage)
    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    spec = dict(params["variants"]["dcgan_emoji64"])
    spec["dataset"] = storage
    spec.pop("train", None)  # the profile's own budget for the variant: one epoch here
    spec["model"] = {
        **spec["model"],
        "generator": {"arch": "dcgan", "width": 8},
        "discriminator": {"arch": "dcgan", "width": 8},
    }
    steps = len(data) // 64
    train_cfg = {
        **params["train"],
        "steps": steps,
        "batch_size": 64,
        "eval_every": 0,
        "log_every": steps,
        "checkpoint_every": steps,
        "grid_every": 0,
        "threads": 2,
        "device": "cpu",
        "amp": "off",
    }
    variant = resolve_variant(
        f"dcgan_{storage}", spec, train_cfg, data.meta["data_sha256"], table=SYSTEM_OPTIONS
    )
    out = work / "runs" / storage
    paths = RunPaths(out / "checkpoint.pt", out / "grids", out / "model", out / "curves.csv")
    train_run(variant, 0, data, paths, say=lambda _: None)


def phase(args: argparse.Namespace) -> None:
    """One phase in this process: print its memory figures as JSON."""
    import torch  # noqa: F401  (the baseline includes torch, as every stage's does)

    import ganforge.runner  # noqa: F401

    baseline, baseline_private = status_mb("VmRSS"), status_mb("RssAnon")
    start = time.perf_counter()
    with PrivatePeak() as private:
        (prepare if args.phase == "prepare" else train)(Path(args.work), args.storage, args.size)
    print(
        json.dumps(
            {
                "baseline_mb": round(baseline, 1),
                "baseline_private_mb": round(baseline_private, 1),
                "peak_rss_mb": round(status_mb("VmHWM"), 1),
                "peak_private_mb": round(private.peak, 1),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


def run_phase(work: Path, name: str, storage: str, size: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--storage",
        storage,
        "--work",
        str(work),
        "--size",
        str(size),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} ({storage}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--storage", choices=STORAGES, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return
    with tempfile.TemporaryDirectory(prefix="streaming-memory-") as tmp:
        work = Path(tmp)
        write_folder(work / "images", args.images, args.size)
        dataset_mb = args.images * 3 * args.size * args.size / 2**20
        results: dict[str, Any] = {
            "images": args.images,
            "size": args.size,
            "dataset_mb": round(dataset_mb, 1),
        }
        for name in PHASES:
            for storage in STORAGES:
                figures = run_phase(work, name, storage, args.size)
                results[f"{name}_{storage}"] = figures
                print(
                    f"{name:8s} {storage:10s} baseline {figures['baseline_mb']:7.1f} MB  "
                    f"peak RSS {figures['peak_rss_mb']:7.1f} MB  "
                    f"peak private {figures['peak_private_mb']:7.1f} MB  "
                    f"{figures['seconds']:6.1f} s",
                    flush=True,
                )
            over = {
                s: results[f"{name}_{s}"]["peak_private_mb"] - results[f"{name}_{s}"]["baseline_private_mb"]
                for s in STORAGES
            }
            results[f"{name}_private_over_baseline_mb"] = {s: round(v, 1) for s, v in over.items()}
            results[f"{name}_ratio"] = (
                round(over["streaming"] / over["compact"], 3) if over["compact"] > 0 else None
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
