"""Running the API: checks that fail in one line before anything starts (a project without
trained runs, a port in use), JSON access-log lines on stdout, and a graceful stop: on SIGTERM
or SIGINT the service starts answering new requests with 503, the listening socket closes,
and requests already computing get up to `grace_seconds` to finish."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ganforge.core.errors import ConfigError
from ganforge.layout import MODELS_DIR
from ganforge.serving.monitoring import ACCESS_LOGGER
from ganforge.serving.service import Service


def check_project(project: Path) -> None:
    """A ganforge project: its folder holds dvc.yaml and params.yaml, or trained runs."""
    if not project.is_dir():
        raise ConfigError(f"project folder {project} does not exist")
    if not ((project / "dvc.yaml").is_file() or (project / MODELS_DIR).is_dir()):
        raise ConfigError(
            f"{project} is not a ganforge project (no dvc.yaml and no {MODELS_DIR}/): pass --project"
        )


def check_port(host: str, port: int) -> None:
    """The address can be listened on (a port in use is one line, not a traceback)."""
    if not 0 < port < 65536:
        raise ConfigError(f"port must be between 1 and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def access_log_to_stdout() -> None:
    """One JSON object per line on stdout for every request (the access logger's only output)."""
    log = logging.getLogger(ACCESS_LOGGER)
    if not any(getattr(h, "ganforge_access", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.ganforge_access = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def serve(app: FastAPI, host: str, port: int, grace_seconds: float = 30.0) -> None:
    """Run `app` until SIGTERM or SIGINT, then stop gracefully (see the module's docstring)."""
    import uvicorn

    service: Service = app.state.service

    class GracefulServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            service.stopping.set()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            """uvicorn's, except that the signal is not raised again after the stop: a stop
            asked for and done exits 0."""
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            before = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in before.items():
                    signal.signal(sig, handler)

    access_log_to_stdout()
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=grace_seconds
    )
    GracefulServer(config).run()
