"""The HTTP API and the page at `/` (FastAPI): the trained runs of a project, generation,
interpolation, attribute vectors and translation. Every route that runs torch is a plain
`def` route (FastAPI runs it in its thread pool, off the event loop) and passes a bounded
gate, so at most `workers` requests compute at once. Bad requests get a 4xx whose `detail`
is one line."""

from __future__ import annotations

import base64
import hmac
import io
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ganforge.errors import ConfigError, DataError, GanforgeError, MissingDataError
from ganforge.serving.catalog import Catalog, UnknownModelError, open_catalog
from ganforge.serving.files import decode_image, png_bytes, square
from ganforge.serving.latent import AttributeVector, attribute_vector, check_attribute_model
from ganforge.serving.model import SEED_MAX, TRUNCATION_RANGE, ServedModel
from ganforge.serving.tools import (
    STRIP_SCALES,
    dataset_class,
    domain_classifier,
    has_domain_classifier,
    interpolation_image,
    vector_strip,
)
from ganforge.systems.translation import DIRECTIONS
from ganforge.viz import image_grid, save_points

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

    @classmethod
    def from_env(cls, **kwargs: Any) -> ServeSettings:
        """Settings with the API key (GANFORGE_API_KEY) and, unless given, the CORS origins
        (GANFORGE_CORS_ORIGINS, comma-separated) from the environment."""
        settings = cls(**kwargs)
        origins = settings.cors_origins or tuple(
            o.strip() for o in os.environ.get(CORS_ENV, "").split(",") if o.strip()
        )
        return replace(settings, api_key=os.environ.get(API_KEY_ENV) or None, cors_origins=origins)


Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Truncation = Annotated[float, Field(ge=TRUNCATION_RANGE[0], le=TRUNCATION_RANGE[1])]
Which = Literal["ema", "raw"]


class ModelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str = Field(min_length=1, max_length=200, description="A variant, or models:/<name>/<version>.")
    run_seed: int | None = Field(None, ge=0, description="Which run of the variant (default: its first).")
    generator: Which = "ema"


class GenerateBody(ModelRequest):
    seeds: list[Seed] | None = Field(None, description="Latent seeds (or give count and base_seed).")
    count: int | None = Field(None, ge=1)
    base_seed: Seed = 0
    label: int | str | None = Field(None, alias="class", description="Class index or name.")
    truncation: Truncation = 1.0
    format: Literal["grid", "png", "points"] = "grid"


class InterpolateBody(ModelRequest):
    seeds: list[Seed] = Field(min_length=2, description="Seeds to pass through (analogy: a, b, c).")
    steps: int = Field(8, ge=2)
    mode: Literal["slerp", "lerp", "analogy"] = "slerp"
    label: int | str | None = Field(None, alias="class")
    truncation: Truncation = 1.0


class AtvecBody(ModelRequest):
    label: int | str = Field(alias="class", description="A class of the model's dataset.")
    scale: float = Field(1.0, ge=-5.0, le=5.0)
    seeds: list[Seed] = Field(default_factory=lambda: list(range(4)), min_length=1)


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
    """The state behind the routes: the catalog, the compute gate and a small cache of
    attribute vectors."""

    def __init__(self, settings: ServeSettings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog or open_catalog(settings.project, settings.cache_size)
        self.gate = threading.BoundedSemaphore(settings.workers)
        self.vectors: OrderedDict[tuple[str, int, int], AttributeVector] = OrderedDict()
        self.vectors_lock = threading.Lock()

    @contextmanager
    def compute(self) -> Iterator[None]:
        with self.gate, torch.inference_mode():
            yield

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


def png_response(images: torch.Tensor, per_row: int, headers: dict[str, str] | None = None) -> Response:
    buf = io.BytesIO()
    image_grid(images, per_row).save(buf, format="PNG")
    return Response(buf.getvalue(), media_type="image/png", headers=headers or {})


def points_png(points: torch.Tensor, title: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = save_points(points, torch.empty(0, 2), {}, Path(tmp) / "points.png", title)
        return path.read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def create_app(settings: ServeSettings, catalog: Catalog | None = None) -> FastAPI:
    """The API on the trained runs of `settings.project`."""
    service = Service(settings, catalog)
    app = FastAPI(title="ganforge", summary="Generate, interpolate and translate with trained GANs.")
    app.state.service = service
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER, "Authorization", "Content-Type"],
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": one_line(exc)}, status_code=422)

    @app.exception_handler(GanforgeError)
    def _user_error(request: Request, exc: GanforgeError) -> JSONResponse:
        return JSONResponse({"detail": str(exc).splitlines()[0]}, status_code=status_of(exc))

    def api_key(request: Request) -> None:
        if settings.api_key is None:
            return
        if not key_matches(presented_key(request.headers), settings.api_key):
            raise HTTPException(
                401,
                f"missing or wrong API key (send it in the {API_KEY_HEADER} header or as a Bearer token)",
            )

    guarded = [Depends(api_key)]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(resources.files("ganforge.serving").joinpath("page.html").read_text("utf-8"))

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(service.catalog.runs()), "auth": settings.api_key is not None}

    @app.get("/models", dependencies=guarded)
    def models() -> dict[str, Any]:
        with service.compute():
            listed = service.catalog.describe()
        for entry in listed:
            entry["dataset_classes"] = _dataset_classes(service, entry)
        limits = {
            "max_count": settings.max_count,
            "max_upload_bytes": settings.max_upload_bytes,
            "max_upload_side": settings.max_upload_side,
            "max_steps": settings.max_steps,
            "seed_max": SEED_MAX,
            "truncation": list(TRUNCATION_RANGE),
        }
        return {"models": listed, "limits": limits}

    @app.post("/generate", dependencies=guarded, response_model=None)
    def generate(body: GenerateBody) -> Response | dict[str, Any]:
        if (body.seeds is None) == (body.count is None):
            raise HTTPException(400, "give either seeds or count (with base_seed)")
        n = len(body.seeds) if body.seeds is not None else int(body.count or 0)
        service.count_ok(n)
        seeds = body.seeds if body.seeds is not None else list(range(body.base_seed, body.base_seed + n))
        if seeds and max(seeds) > SEED_MAX:
            raise HTTPException(400, f"seeds run from 0 to {SEED_MAX}: base_seed + count is past the end")
        with service.compute():
            model = service.model(body)
            label = model.class_index(body.label)
            if body.format == "points" and model.produces != "points":
                raise HTTPException(400, f"{model.name} makes {model.produces}, not points")
            if body.format == "png" and model.produces != "images":
                raise HTTPException(400, f"{model.name} makes {model.produces}: format png is for images")
            out = model.decode(model.latents(seeds, body.truncation), label, body.generator)
            headers = {"X-Seeds": ",".join(map(str, seeds))}
            if body.format == "points":
                return {"model": model.name, "run_seed": model.seed, "seeds": seeds, "points": out.tolist()}
            if body.format == "png":
                images = [{"seed": s, "png": b64(png_bytes(img))} for s, img in zip(seeds, out, strict=True)]
                return {"model": model.name, "run_seed": model.seed, "images": images}
            if model.produces == "points":
                return Response(points_png(out, model.name), media_type="image/png", headers=headers)
            return png_response(out, min(len(seeds), 8), headers)

    @app.post("/interpolate", dependencies=guarded)
    def interpolate(body: InterpolateBody) -> Response:
        if len(body.seeds) > settings.max_interpolation_seeds:
            raise HTTPException(400, f"at most {settings.max_interpolation_seeds} seeds per interpolation")
        if body.steps > settings.max_steps:
            raise HTTPException(400, f"at most {settings.max_steps} steps, asked for {body.steps}")
        total = body.steps**2 if body.mode == "analogy" else (len(body.seeds) - 1) * (body.steps - 1) + 1
        service.count_ok(total)
        with service.compute():
            model = service.model(body)
            label = model.class_index(body.label)
            images, per_row = interpolation_image(
                model, body.seeds, body.steps, body.mode, label, body.truncation, body.generator
            )
            return png_response(images, per_row)

    @app.post("/atvec", dependencies=guarded)
    def atvec(body: AtvecBody) -> dict[str, Any]:
        service.count_ok(len(body.seeds) * len(STRIP_SCALES))
        with service.compute():
            model = service.model(body)
            index, name = dataset_class(model, body.label)
            vec = service.vector(model, index, name)
            scales = [body.scale * f for f in STRIP_SCALES]
            strip = vector_strip(model, vec.vector, body.seeds, scales, body.generator)
            buf = io.BytesIO()
            image_grid(strip, len(scales)).save(buf, format="PNG")
        return {
            "model": model.name,
            "run_seed": model.seed,
            "class": name,
            "built_from": vec.built_from,
            "checked_on": vec.checked_on,
            "rate_before": vec.rate_before,
            "rate_after_scale_1": vec.rate_after,
            "scales": scales,
            "strip_png": b64(buf.getvalue()),
        }

    @app.post("/translate", dependencies=guarded)
    def translate(
        file: Annotated[UploadFile, File(description="An image of the source domain.")],
        model: Annotated[str, Form(min_length=1, max_length=200)],
        run_seed: Annotated[int | None, Form(ge=0)] = None,
        direction: Annotated[Literal["a2b", "b2a"] | None, Form()] = None,
        generator: Annotated[Which, Form()] = "ema",
    ) -> Response:
        data = file.file.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"uploads may be at most {settings.max_upload_bytes} bytes")
        if not data:
            raise HTTPException(400, "the uploaded file is empty")
        with service.compute():
            served = service.catalog.get(model, run_seed)
            routes = served.directions
            if not routes:
                raise HTTPException(400, f"{served.name} does not translate images: use /generate")
            chosen = direction or routes[0]
            if chosen not in routes:
                raise HTTPException(400, f"{served.name} translates {', '.join(routes)}, not {chosen}")
            channels = int(served.trained.spec["model_channels"][DIRECTIONS[chosen][0]])
            image = square(decode_image(data, file.filename or "upload", channels, settings.max_upload_side))
            out = served.translate(image[None], chosen, generator)
            return Response(png_bytes(out[0]), media_type="image/png", headers={"X-Direction": chosen})

    return app


def _dataset_classes(service: Service, entry: dict[str, Any]) -> list[str]:
    """The classes of the model's dataset (what an attribute vector can aim at), for an
    unconditional image model whose dataset has a domain classifier."""
    if entry["produces"] != "images" or entry["conditional"]:
        return []
    if not has_domain_classifier(service.settings.project, entry["dataset"]):
        return []
    model = service.catalog.get(entry["variant"], entry["run_seeds"][0])
    return [str(n) for n in model.trained.info.get("class_names", [])]
