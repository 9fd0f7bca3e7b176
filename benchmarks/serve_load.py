"""Load test of the HTTP API: many clients, valid and invalid requests mixed, against a running
server (`--url`, e.g. the container) or a bare `ganforge serve` process this script starts on
`--project`.

It first times `/health` alone (the reference, measured in the same run), then sends
`--requests` requests from `--clients` threads: generations of 1 to 4 images (70%), `/health`
(10%) and invalid requests (20%: a negative seed, an unknown model, too many images, a
malformed body), and checks that every invalid one got a 4xx, never a 5xx. It prints p50/p99
latency per kind, the generation throughput as a ratio to `/health`'s, the server's resident
memory (from its `/metrics`) at the start, after half the requests and at the end, and whether
the server's counters agree with what the clients received, request for request. The last
line is JSON.

    make run && python benchmarks/serve_load.py                  # the bare process on this project
    python benchmarks/serve_load.py --url http://127.0.0.1:8000  # a server already running
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

Outcome = tuple[str, str, int, float]  # kind, route, status, seconds


def start_bare(project: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "serve", "--project", str(project), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not start: is the project trained (make run)?")


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def request(client: httpx.Client, kind: str, model: str, rng: random.Random) -> Outcome:
    start = time.perf_counter()
    if kind == "health":
        r, route = client.get("/health"), "/health"
    elif kind == "generate":
        seeds = [rng.randrange(2**31) for _ in range(rng.randint(1, 4))]
        r, route = client.post("/generate", json={"model": model, "seeds": seeds}), "/generate"
    else:
        bad = rng.choice(["seed", "model", "count", "body"])
        route = "/generate"
        if bad == "seed":
            r = client.post(route, json={"model": model, "seeds": [-1]})
        elif bad == "model":
            r = client.post(route, json={"model": "no_such_model", "seeds": [1]})
        elif bad == "count":
            r = client.post(route, json={"model": model, "count": 10_000})
        else:
            r = client.post(route, content=b"{not json", headers={"Content-Type": "application/json"})
    return kind, route, r.status_code, time.perf_counter() - start


def run_batch(url: str, kinds: list[str], model: str, clients: int, seed: int) -> list[Outcome]:
    local = threading.local()

    def one(job: tuple[int, str]) -> Outcome:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
        index, kind = job
        return request(local.client, kind, model, random.Random(seed * 1_000_003 + index))

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, enumerate(kinds)))


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(pick(0.5) * 1000, 2), "p99_ms": round(pick(0.99) * 1000, 2), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="a running server (default: start the bare process)")
    parser.add_argument("--project", type=Path, default=Path())
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--model", default=None, help="default: the first unconditional image model the server lists"
    )
    parser.add_argument("--api-key", default=os.environ.get("GANFORGE_API_KEY"))
    args = parser.parse_args()
    proc = None if args.url else start_bare(args.project.resolve(), args.port)
    url = args.url or f"http://127.0.0.1:{args.port}"
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    try:
        admin = httpx.Client(base_url=url, timeout=60, headers=headers)
        listed = admin.get("/models").json()["models"]
        model = args.model or next(
            m["variant"] for m in listed if m["produces"] == "images" and not m["conditional"]
        )
        rss = [scrape(admin).get(("process_resident_memory_bytes", ()), 0.0)]
        health = run_batch(url, ["health"] * 400, model, args.clients, 0)
        mix = ["generate"] * 7 + ["health"] + ["invalid"] * 2
        rng = random.Random(1)
        kinds = [rng.choice(mix) for _ in range(args.requests)]
        before = scrape(admin)
        half = args.requests // 2
        outcomes = run_batch(url, kinds[:half], model, args.clients, 1)
        rss.append(scrape(admin).get(("process_resident_memory_bytes", ()), 0.0))
        start = time.perf_counter()
        outcomes += run_batch(url, kinds[half:], model, args.clients, 2)
        second_half_s = time.perf_counter() - start
        after = scrape(admin)
        rss.append(after.get(("process_resident_memory_bytes", ()), 0.0))
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    received = Counter((route, str(status)) for _, route, status, _ in outcomes)
    counted = {
        (dict(labels)["route"], dict(labels)["status"]): after[(name, labels)]
        - before.get((name, labels), 0.0)
        for name, labels in after
        if name == "ganforge_requests_total" and dict(labels)["route"] in ("/generate", "/health")
    }
    counted = {k: v for k, v in counted.items() if v}
    server_5xx = sum(1 for _, _, status, _ in outcomes if status >= 500)
    invalid_not_4xx = sum(
        1 for kind, _, status, _ in outcomes if kind == "invalid" and not 400 <= status < 500
    )
    health_rate = len(health) / sum(s for *_, s in health) * args.clients
    generate = [s for kind, _, status, s in outcomes if kind == "generate" and status == 200]
    result = {
        "url": url,
        "model": model,
        "requests": len(outcomes),
        "clients": args.clients,
        "statuses": dict(sorted(Counter(str(status) for _, _, status, _ in outcomes).items())),
        "server_errors": server_5xx,
        "invalid_not_4xx": invalid_not_4xx,
        "health": percentiles([s for *_, s in health]),
        "generate": percentiles(generate),
        "invalid": percentiles([s for kind, _, _, s in outcomes if kind == "invalid"]),
        "generate_vs_health_throughput": round(
            (len(generate) / sum(generate) * args.clients) / health_rate, 4
        ),
        "requests_per_s_second_half": round((len(outcomes) - half) / second_half_s, 1),
        "rss_mb": [round(v / 2**20, 1) for v in rss],
        "rss_growth_second_half": round(rss[2] / rss[1] - 1, 4) if rss[1] else None,
        "counters_match": counted == {k: float(v) for k, v in received.items()},
    }
    print(
        f"{result['requests']} requests from {args.clients} clients: statuses {result['statuses']}, "
        f"{server_5xx} server errors; generate p50 {result['generate']['p50_ms']} ms p99 "
        f"{result['generate']['p99_ms']} ms; RSS {result['rss_mb']} MB; "
        f"counters match: {result['counters_match']}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
