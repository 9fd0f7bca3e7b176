"""What the API's routes share: the server's settings (limits, API key, CORS origins), the
`Service` behind the routes (the catalog, a gate bounding how many requests compute at once,
a cache of attribute vectors), the API key check, and how an error becomes a status code."""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError

from ganforge.core.errors import ConfigError, DataError, GanforgeError, MissingDataError
from ganforge.serving.catalog import Catalog, UnknownModelError, open_catalog
from ganforge.serving.latent import AttributeVector, attribute_vector, check_attribute_model
from ganforge.serving.model import ServedModel
from ganforge.serving.monitoring import Monitor
from ganforge.serving.schemas import ModelRequest
from ganforge.serving.tools import domain_classifier

API_KEY_ENV = "GANFORGE_API_KEY"
CORS_ENV = "GANFORGE_CORS_ORIGINS"
API_KEY_HEADER = "X-API-Key"


def presented_key(headers: Mapping[str, str]) -> str:
    """The key a client sent: the X-API-Key header, else an `Authorization: Bearer <key>`."""
    if API_KEY_HEADER in headers:
        return headers[API_KEY_HEADER]
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def key_matches(given: str, expected: str) -> bool:
    """Constant-time comparison (the time taken says nothing about how much of the key matched)."""
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class ServeSettings:
    """What the server serves and its limits."""

    project: Path
    max_count: int = 64
    max_upload_bytes: int = 4 * 2**20
    max_upload_side: int = 1024
    max_interpolation_seeds: int = 8
    max_steps: int = 16
    atvec_samples: int = 2000
    atvec_check: int = 500
    cache_size: int = 8
    workers: int = 2
    api_key: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    checkpoint: str = "final"
    """Which generators of each run: "final" (the last step's) or "best" (the best validation step's)."""

    @classmethod
    def from_env(cls, **kwargs: Any) -> ServeSettings:
        """Settings with the API key (GANFORGE_API_KEY) and, unless given, the CORS origins
        (GANFORGE_CORS_ORIGINS, comma-separated) from the environment."""
        settings = cls(**kwargs)
        origins = settings.cors_origins or tuple(
            o.strip() for o in os.environ.get(CORS_ENV, "").split(",") if o.strip()
        )
        return replace(settings, api_key=os.environ.get(API_KEY_ENV) or None, cors_origins=origins)


def one_line(exc: RequestValidationError) -> str:
    """The first validation error as `where: what` on one line."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body",)) or "body"
    return f"{where}: {first.get('msg', 'invalid')}".replace("\n", " ")


def status_of(exc: GanforgeError) -> int:
    if isinstance(exc, UnknownModelError | MissingDataError):
        return 404
    return 400 if isinstance(exc, ConfigError | DataError) else 500


class Service:
    """The state behind the routes: the catalog, the compute gate, a small cache of attribute
    vectors, the metrics, and whether the server is stopping (new requests then get 503)."""

    def __init__(self, settings: ServeSettings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog or open_catalog(
            settings.project, settings.cache_size, checkpoint=settings.checkpoint
        )
        self.gate = threading.BoundedSemaphore(settings.workers)
        self.vectors: OrderedDict[tuple[str, int, int], AttributeVector] = OrderedDict()
        self.vectors_lock = threading.Lock()
        self.monitor = Monitor(self.catalog)
        self.stopping = threading.Event()

    @contextmanager
    def compute(self, route: str) -> Iterator[None]:
        """Run torch for a request of `route`: through the gate, counted in flight, timed."""
        with self.gate, torch.inference_mode():
            self.monitor.in_flight.inc()
            start = time.perf_counter()
            try:
                yield
            finally:
                self.monitor.generation.labels(route).observe(time.perf_counter() - start)
                self.monitor.in_flight.dec()

    def made(self, request: Request, route: str, model: str, count: int) -> None:
        """Count what a request generated, and name it in the request's access-log line."""
        self.monitor.images.labels(route).inc(count)
        request.state.model, request.state.count = model, count

    def model(self, body: ModelRequest) -> ServedModel:
        return self.catalog.get(body.model, body.run_seed)

    def count_ok(self, n: int) -> None:
        if n > self.settings.max_count:
            raise HTTPException(400, f"at most {self.settings.max_count} images per request, asked for {n}")

    def vector(self, model: ServedModel, index: int, name: str) -> AttributeVector:
        key = (model.name, model.seed, index)
        check_attribute_model(model)
        with self.vectors_lock:
            if key in self.vectors:
                return self.vectors[key]
        classify = domain_classifier(self.settings.project, model.dataset)
        vec = attribute_vector(
            model, classify, index, name, self.settings.atvec_samples, check=self.settings.atvec_check
        )
        with self.vectors_lock:
            self.vectors[key] = vec
            while len(self.vectors) > 32:
                self.vectors.popitem(last=False)
        return vec
