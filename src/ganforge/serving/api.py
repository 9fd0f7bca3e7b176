"""The HTTP API and the page at `/` (FastAPI): the trained runs of a project, generation,
interpolation, attribute vectors and translation. `create_app` wires the service, CORS, the
error handlers, the routes (`routes`) and the monitoring middleware (`monitoring`: metrics at
`/metrics`, a JSON access-log line and an `X-Request-ID` per request, 503 while stopping); at
most `workers` requests compute at once. Bad requests get a 4xx whose `detail` is one line."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from ganforge.core.errors import GanforgeError
from ganforge.serving import routes
from ganforge.serving.catalog import Catalog
from ganforge.serving.monitoring import Observe
from ganforge.serving.service import API_KEY_HEADER, ServeSettings, Service, one_line, status_of

__all__ = ["ServeSettings", "create_app"]


def invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": one_line(exc)}, status_code=422)


def user_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GanforgeError)
    return JSONResponse({"detail": str(exc).splitlines()[0]}, status_code=status_of(exc))


def create_app(settings: ServeSettings, catalog: Catalog | None = None) -> FastAPI:
    """The API on the trained runs of `settings.project`."""
    app = FastAPI(title="ganforge", summary="Generate, interpolate and translate with trained GANs.")
    service = Service(settings, catalog)
    app.state.service = service
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[API_KEY_HEADER, "Authorization", "Content-Type"],
        )
    app.add_middleware(Observe, monitor=service.monitor, is_stopping=service.stopping.is_set)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(GanforgeError, user_error)
    app.include_router(routes.public)
    app.include_router(routes.guarded)
    return app
