"""Why `make test` gives each worker cores / workers threads: a smoke-sized training loop
(DCGAN-shaped nets of width 8 at 32 px, batch 4, Adam), run by `--processes` processes side by side,
each on every core (torch's default) and then each on cores / processes threads, with one
process alone on every core as the reference, all measured in this run.

It prints the seconds of each setting and its ratio to the reference (the lone process's
time for the same steps): the oversubscribed setting pays for OpenMP threads that spin
waiting for a core another process holds. The last line is JSON.

    python benchmarks/thread_oversubscription.py                   # 2 processes, 1,500 steps
    python benchmarks/thread_oversubscription.py --processes 3 --steps 800
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

LOOP = """
import sys, time, torch
from torch import nn
torch.manual_seed(0)
g = nn.Sequential(nn.ConvTranspose2d(16, 32, 4, 1, 0), nn.BatchNorm2d(32), nn.ReLU(),
                  nn.ConvTranspose2d(32, 16, 4, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                  nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.BatchNorm2d(8), nn.ReLU(),
                  nn.ConvTranspose2d(8, 3, 4, 2, 1), nn.Tanh())
d = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 16, 4, 2, 1),
                  nn.BatchNorm2d(16), nn.LeakyReLU(0.2), nn.Conv2d(16, 32, 4, 2, 1),
                  nn.BatchNorm2d(32), nn.LeakyReLU(0.2), nn.Conv2d(32, 1, 4, 1, 0))
opt = torch.optim.Adam([*g.parameters(), *d.parameters()], lr=2e-4)
z = torch.randn(4, 16, 1, 1)
start = time.perf_counter()
for _ in range(int(sys.argv[1])):
    opt.zero_grad(set_to_none=True)
    d(g(z)).mean().backward()
    opt.step()
print(time.perf_counter() - start)
"""


def side_by_side(processes: int, threads: int, steps: int) -> float:
    """Seconds until the slowest of `processes` loops, each on `threads` threads, finishes."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    procs = [
        subprocess.Popen([sys.executable, "-c", LOOP, str(steps)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    return max(float(p.communicate()[0]) for p in procs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=2, help="processes side by side (pytest -n)")
    parser.add_argument("--steps", type=int, default=1500, help="training steps of each process")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    shared = max(1, cores // args.processes)
    started = time.perf_counter()
    reference = side_by_side(1, cores, args.steps)
    rows = {
        f"1 process, {cores} threads (reference)": reference,
        f"{args.processes} processes, {cores} threads each": side_by_side(args.processes, cores, args.steps),
        f"{args.processes} processes, {shared} thread(s) each": side_by_side(
            args.processes, shared, args.steps
        ),
    }
    for name, seconds in rows.items():
        print(f"{name:<40} {seconds:7.2f} s   x{seconds / reference:.2f}")
    print(
        json.dumps(
            {"cores": cores, "steps": args.steps, "seconds": rows, "total_s": time.perf_counter() - started}
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
