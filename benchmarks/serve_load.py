"""Load on `ganforge serve`: a real uvicorn process on 127.0.0.1 serving a trained project,
8 concurrent clients (keep-alive connections) sending POST /generate (one image per request,
a new latent seed each time), then the same load on GET /health as the reference measured in
the same run. Prints requests/s, p50/p99 latency, the ratio to the reference, and the
server's resident memory after the first and the last 1,000 requests (flat: within 5%).

    python benchmarks/serve_load.py --project . --model gan_mnist --requests 2000 --clients 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(project: Path, port: int, workers: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pipeline", "serve", "--project", str(project), "--port", str(port)]
    cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def load(port: int, requests: list[tuple[str, str, bytes | None]], clients: int) -> tuple[list[float], float]:
    """Send `requests` from `clients` threads; return per-request latencies and wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    index = iter(range(len(requests)))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                return
            method, path, body = requests[i]
            start = time.perf_counter()
            conn.request(method, path, body, {"Content-Type": "application/json"} if body else {})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise SystemExit(f"{method} {path} answered {resp.status}")
            with lock:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start


def summary(name: str, latencies: list[float], wall: float) -> float:
    rate = len(latencies) / wall
    q = statistics.quantiles(latencies, n=100)
    p50, p99 = q[49] * 1e3, q[98] * 1e3
    print(f"{name:>10}: {len(latencies)} requests, {rate:8.1f} req/s, p50 {p50:6.1f} ms, p99 {p99:6.1f} ms")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path())
    parser.add_argument("--model", default="gan_mnist")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    port = free_port()
    server = start_server(args.project.resolve(), port, args.workers)
    try:
        half = args.requests // 2
        gen = [
            ("POST", "/generate", json.dumps({"model": args.model, "seeds": [i]}).encode())
            for i in range(args.requests)
        ]
        print(f"ganforge serve on 127.0.0.1:{port}: {args.clients} clients, model {args.model}")
        first, wall1 = load(port, gen[:half], args.clients)
        rss1 = rss_mib(server.pid)
        last, wall2 = load(port, gen[half:], args.clients)
        rss2 = rss_mib(server.pid)
        rate = summary("generate", first + last, wall1 + wall2)
        health, wall_h = load(port, [("GET", "/health", None)] * args.requests, args.clients)
        ref = summary("health", health, wall_h)
        print(f"generate / health throughput: {rate / ref:.3f}")
        drift = (rss2 - rss1) / rss1
        verdict = "flat" if abs(drift) <= 0.05 else "NOT flat"
        print(
            f"server RSS after the first {half}: {rss1:.1f} MiB, after the last "
            f"{args.requests - half}: {rss2:.1f} MiB ({drift:+.1%}, {verdict} within 5%)"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
