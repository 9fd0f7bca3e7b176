"""Watching the server: Prometheus metrics on the app's own registry (no process-global state;
`/metrics` serves them) and one JSON access-log line per request, under a request id that
the response echoes in `X-Request-ID` (a well-formed id the client sent is kept).

Metrics: requests by route, method and status; latency per route; images generated and the
seconds spent generating them, per route; model-cache hits and misses and the models loaded;
rejected requests by reason; computations in flight; and the process's own (resident memory,
CPU seconds, open files), as Prometheus' process collector reads them on Linux."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ganforge.serving.catalog import Catalog

REQUEST_ID_HEADER = "X-Request-ID"
ACCESS_LOGGER = "ganforge.access"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REASONS = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    413: "too_large",
    422: "invalid",
    503: "stopping",
}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CatalogCollector:
    """The model cache's hits and misses and how many models it holds, read at each scrape."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def collect(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            "ganforge_model_cache", "Model lookups by the cache's answer", labels=["result"]
        )
        lookups.add_metric(["hit"], self.catalog.hits)
        lookups.add_metric(["miss"], self.catalog.misses)
        yield lookups
        yield GaugeMetricFamily(
            "ganforge_models_loaded", "Models held in the cache", value=self.catalog.cached()
        )


class Monitor:
    """The server's metrics, on a registry of its own."""

    def __init__(self, catalog: Catalog) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "ganforge_requests", "Requests answered", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "ganforge_request_seconds",
            "Seconds from request to response",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.images = Counter(
            "ganforge_images_generated", "Images (or point sets) made", ["route"], registry=r
        )
        self.generation = Histogram(
            "ganforge_generation_seconds", "Seconds computing a request's images", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "ganforge_rejected_requests", "Requests refused, by reason", ["reason"], registry=r
        )
        self.in_flight = Gauge("ganforge_computations_in_flight", "Requests computing now", registry=r)
        r.register(CatalogCollector(catalog))  # type: ignore[arg-type]
        ProcessCollector(registry=r)  # process_resident_memory_bytes, CPU seconds, open fds (Linux)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if 400 <= status < 500 or status == 503:
            self.rejected.labels(REASONS.get(status, "client_error")).inc()


def request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is well formed (1-64 of A-Z a-z 0-9 . _ -), else a new one."""
    for name, value in scope.get("headers", []):
        if name.decode("latin-1").lower() == REQUEST_ID_HEADER.lower():
            given = value.decode("latin-1")
            if _REQUEST_ID.match(given):
                return given
    return uuid.uuid4().hex


class Observe:
    """ASGI middleware: a request id, the metrics and one JSON access-log line per request;
    while the server is stopping (`is_stopping()`), a new request gets 503 at once."""

    def __init__(self, app: ASGIApp, monitor: Monitor, is_stopping: Callable[[], bool]) -> None:
        self.app, self.monitor, self.is_stopping = app, monitor, is_stopping
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid, start, status = request_id(scope), time.perf_counter(), 500
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.lower().encode(), rid.encode())]
            await send(message)

        try:
            if self.is_stopping():
                await _stopping(send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, rid, status, time.perf_counter() - start)

    def _record(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "unmatched"
        method = str(scope.get("method", ""))
        self.monitor.answered(route, method, status, seconds)
        state = scope.get("state", {})
        line = {
            "ts": round(time.time(), 3),
            "request_id": rid,
            "method": method,
            "route": route,
            "path": scope.get("path", ""),
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "model": state.get("model"),
            "count": state.get("count"),
        }
        self.log.info(json.dumps(line))


async def _stopping(send: Send) -> None:
    body = json.dumps({"detail": "the server is stopping: retry on another instance"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": 503, "headers": [*headers, (b"connection", b"close")]}
    )
    await send({"type": "http.response.body", "body": body})
