"""The server watched: /metrics counts exactly what clients sent, each request gets an id and
one JSON access-log line, a stopping server answers 503, and the command refuses a folder that
is no project and a port in use in one line; SIGTERM stops a real process cleanly."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ganforge.core.errors import ConfigError
from ganforge.serving.api import ServeSettings, create_app
from ganforge.serving.monitoring import ACCESS_LOGGER, REQUEST_ID_HEADER
from ganforge.serving.server import check_port, check_project
from tests.project import ROOT, project_env
from tests.served import start_server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by (name, sorted labels)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_exactly_what_was_sent(project):
    client = TestClient(create_app(ServeSettings(project=project, max_count=16)))
    for seeds in ([1, 2], [3], [4, 5, 6]):
        assert client.post("/generate", json={"model": "dcgan_emoji64", "seeds": seeds}).status_code == 200
    assert client.post("/generate", json={"model": "dcgan_emoji64", "seeds": [-1]}).status_code == 422
    assert client.post("/generate", json={"model": "nope", "seeds": [1]}).status_code == 404
    assert client.post("/generate", json={"model": "dcgan_emoji64", "count": 99}).status_code == 400
    got = samples(client.get("/metrics").text)
    route = (("method", "POST"), ("route", "/generate"))
    assert got[("ganforge_requests_total", (*route, ("status", "200")))] == 3
    assert got[("ganforge_requests_total", (*route, ("status", "422")))] == 1
    assert got[("ganforge_requests_total", (*route, ("status", "404")))] == 1
    assert got[("ganforge_images_generated_total", (("route", "/generate"),))] == 6
    assert got[("ganforge_request_seconds_count", (("route", "/generate"),))] == 6
    assert got[("ganforge_generation_seconds_count", (("route", "/generate"),))] == 4  # 3 + the unknown name
    for reason, n in (("invalid", 1), ("not_found", 1), ("bad_request", 1)):
        assert got[("ganforge_rejected_requests_total", (("reason", reason),))] == n
    assert got[("ganforge_model_cache_total", (("result", "miss"),))] == 1
    assert got[("ganforge_model_cache_total", (("result", "hit"),))] == 2
    assert got[("ganforge_models_loaded", ())] == 1
    assert got[("ganforge_computations_in_flight", ())] == 0


def test_metrics_sit_behind_the_api_key(project, monkeypatch):
    client = TestClient(create_app(ServeSettings(project=project, api_key="k3y")))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer k3y"}).status_code == 200


def test_each_request_has_an_id_and_one_json_access_line(project, caplog):
    client = TestClient(create_app(ServeSettings(project=project)))
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        kept = client.post(
            "/generate", json={"model": "gan_mnist", "count": 3}, headers={REQUEST_ID_HEADER: "abc-1"}
        )
        fresh = client.get("/health", headers={REQUEST_ID_HEADER: "bad id with spaces"})
    assert kept.headers[REQUEST_ID_HEADER] == "abc-1"
    assert (
        fresh.headers[REQUEST_ID_HEADER] != "bad id with spaces"
        and len(fresh.headers[REQUEST_ID_HEADER]) == 32
    )
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert [(x["request_id"], x["route"], x["status"]) for x in lines] == [
        ("abc-1", "/generate", 200),
        (fresh.headers[REQUEST_ID_HEADER], "/health", 200),
    ]
    assert lines[0]["model"] == "gan_mnist" and lines[0]["count"] == 3 and lines[0]["duration_ms"] > 0


def test_a_stopping_server_answers_503_in_one_line(project):
    app = create_app(ServeSettings(project=project))
    client = TestClient(app)
    app.state.service.stopping.set()
    r = client.post("/generate", json={"model": "gan_mnist", "count": 1})
    assert r.status_code == 503 and "stopping" in r.json()["detail"] and REQUEST_ID_HEADER in r.headers
    app.state.service.stopping.clear()
    got = samples(client.get("/metrics").text)
    assert got[("ganforge_rejected_requests_total", (("reason", "stopping"),))] == 1


def test_a_folder_that_is_no_project_and_a_port_in_use_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"is not a ganforge project .*: pass --project$"):
        check_project(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: "):
            check_port("127.0.0.1", port)
        out = subprocess.run(
            [sys.executable, "-m", "pipeline", "serve", "--project", str(tmp_path), "--port", str(port)],
            cwd=ROOT, env=project_env(ROOT), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0, out.stderr
    assert "is not a ganforge project" in out.stderr


def test_sigterm_lets_requests_finish_and_stops_cleanly(project):
    import httpx

    proc, url = start_server(project, "--grace", "20")

    def call(seed: int) -> int | str:
        try:
            body = {"model": "dcgan_emoji64", "count": 16, "base_seed": seed}
            return httpx.post(f"{url}/generate", json=body, timeout=60).status_code
        except httpx.HTTPError as exc:
            return type(exc).__name__

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        futures = [pool.submit(call, seed) for seed in range(24)]
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGTERM)
        outcomes = [f.result() for f in futures]
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert all(o in (200, 503) or isinstance(o, str) for o in outcomes), outcomes
    assert 200 in outcomes
    logged = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert sum(1 for x in logged if x["route"] == "/generate" and x["status"] == 200) == outcomes.count(200)
