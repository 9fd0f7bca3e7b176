"""The API's routes, each a plain function on an `APIRouter`: `public` (the page, health) and
`guarded` (everything that reads or runs a model, and `/metrics`; it checks the API key when
one is set).
Every route that runs torch is a plain `def` (FastAPI runs it in its thread pool, off the
event loop) and passes the service's gate."""

from __future__ import annotations

import base64
import io
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ganforge.serving.files import decode_image, png_bytes, square
from ganforge.serving.model import SEED_MAX, TRUNCATION_RANGE
from ganforge.serving.schemas import AtvecBody, GenerateBody, InterpolateBody, Which
from ganforge.serving.service import API_KEY_HEADER, Service, key_matches, presented_key
from ganforge.serving.tools import (
    STRIP_SCALES,
    dataset_class,
    has_domain_classifier,
    interpolation_image,
    vector_strip,
)
from ganforge.systems.translation import DIRECTIONS
from ganforge.viz import image_grid, save_points


def get_service(request: Request) -> Service:
    """The app's service (set by `create_app`)."""
    return request.app.state.service  # type: ignore[no-any-return]


ServiceDep = Annotated[Service, Depends(get_service)]


def require_key(request: Request, service: ServiceDep) -> None:
    """401 unless the request carries the server's API key (when one is set)."""
    expected = service.settings.api_key
    if expected is not None and not key_matches(presented_key(request.headers), expected):
        raise HTTPException(
            401, f"missing or wrong API key (send it in the {API_KEY_HEADER} header or as a Bearer token)"
        )


public = APIRouter()
guarded = APIRouter(dependencies=[Depends(require_key)])


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


@public.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    return HTMLResponse(resources.files("ganforge.serving").joinpath("page.html").read_text("utf-8"))


@public.get("/health")
def health(service: ServiceDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "models": len(service.catalog.runs()),
        "auth": service.settings.api_key is not None,
    }


@guarded.get("/models")
def models(service: ServiceDep) -> dict[str, Any]:
    settings = service.settings
    with service.compute("/models"):
        listed = service.catalog.describe()
    for entry in listed:
        entry["dataset_classes"] = dataset_classes(service, entry)
    limits = {
        "max_count": settings.max_count,
        "max_upload_bytes": settings.max_upload_bytes,
        "max_upload_side": settings.max_upload_side,
        "max_steps": settings.max_steps,
        "seed_max": SEED_MAX,
        "truncation": list(TRUNCATION_RANGE),
    }
    return {"models": listed, "limits": limits}


@guarded.post("/generate", response_model=None)
def generate(body: GenerateBody, request: Request, service: ServiceDep) -> Response | dict[str, Any]:
    if (body.seeds is None) == (body.count is None):
        raise HTTPException(400, "give either seeds or count (with base_seed)")
    n = len(body.seeds) if body.seeds is not None else int(body.count or 0)
    service.count_ok(n)
    seeds = body.seeds if body.seeds is not None else list(range(body.base_seed, body.base_seed + n))
    if seeds and max(seeds) > SEED_MAX:
        raise HTTPException(400, f"seeds run from 0 to {SEED_MAX}: base_seed + count is past the end")
    with service.compute("/generate"):
        model = service.model(body)
        label = model.class_index(body.label)
        if body.format == "points" and model.produces != "points":
            raise HTTPException(400, f"{model.name} makes {model.produces}, not points")
        if body.format == "png" and model.produces != "images":
            raise HTTPException(400, f"{model.name} makes {model.produces}: format png is for images")
        out = model.decode(model.latents(seeds, body.truncation), label, body.generator)
        service.made(request, "/generate", model.name, len(seeds))
        headers = {"X-Seeds": ",".join(map(str, seeds))}
        if body.format == "points":
            return {"model": model.name, "run_seed": model.seed, "seeds": seeds, "points": out.tolist()}
        if body.format == "png":
            images = [{"seed": s, "png": b64(png_bytes(img))} for s, img in zip(seeds, out, strict=True)]
            return {"model": model.name, "run_seed": model.seed, "images": images}
        if model.produces == "points":
            return Response(points_png(out, model.name), media_type="image/png", headers=headers)
        return png_response(out, min(len(seeds), 8), headers)


@guarded.post("/interpolate")
def interpolate(body: InterpolateBody, request: Request, service: ServiceDep) -> Response:
    settings = service.settings
    if len(body.seeds) > settings.max_interpolation_seeds:
        raise HTTPException(400, f"at most {settings.max_interpolation_seeds} seeds per interpolation")
    if body.steps > settings.max_steps:
        raise HTTPException(400, f"at most {settings.max_steps} steps, asked for {body.steps}")
    total = body.steps**2 if body.mode == "analogy" else (len(body.seeds) - 1) * (body.steps - 1) + 1
    service.count_ok(total)
    with service.compute("/interpolate"):
        model = service.model(body)
        label = model.class_index(body.label)
        images, per_row = interpolation_image(
            model, body.seeds, body.steps, body.mode, label, body.truncation, body.generator
        )
        service.made(request, "/interpolate", model.name, len(images))
        return png_response(images, per_row)


@guarded.post("/atvec")
def atvec(body: AtvecBody, request: Request, service: ServiceDep) -> dict[str, Any]:
    service.count_ok(len(body.seeds) * len(STRIP_SCALES))
    with service.compute("/atvec"):
        model = service.model(body)
        index, name = dataset_class(model, body.label)
        vec = service.vector(model, index, name)
        scales = [body.scale * f for f in STRIP_SCALES]
        strip = vector_strip(model, vec.vector, body.seeds, scales, body.generator)
        service.made(request, "/atvec", model.name, len(strip))
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


@guarded.post("/translate")
def translate(
    file: Annotated[UploadFile, File(description="An image of the source domain.")],
    model: Annotated[str, Form(min_length=1, max_length=200)],
    request: Request,
    service: ServiceDep,
    run_seed: Annotated[int | None, Form(ge=0)] = None,
    direction: Annotated[Literal["a2b", "b2a"] | None, Form()] = None,
    generator: Annotated[Which, Form()] = "ema",
) -> Response:
    settings = service.settings
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"uploads may be at most {settings.max_upload_bytes} bytes")
    if not data:
        raise HTTPException(400, "the uploaded file is empty")
    with service.compute("/translate"):
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
        service.made(request, "/translate", served.name, 1)
        return Response(png_bytes(out[0]), media_type="image/png", headers={"X-Direction": chosen})


@guarded.get("/metrics", include_in_schema=False)
def metrics(service: ServiceDep) -> Response:
    """The server's metrics in Prometheus' text format (behind the API key when one is set)."""
    return Response(service.monitor.exposition(), media_type=CONTENT_TYPE_LATEST)


def dataset_classes(service: Service, entry: dict[str, Any]) -> list[str]:
    """The classes of the model's dataset (what an attribute vector can aim at), for an
    unconditional image model whose dataset has a domain classifier."""
    if entry["produces"] != "images" or entry["conditional"]:
        return []
    if not has_domain_classifier(service.settings.project, entry["dataset"]):
        return []
    model = service.catalog.get(entry["variant"], entry["run_seeds"][0])
    return [str(n) for n in model.trained.info.get("class_names", [])]
