# syntax=docker/dockerfile:1
# ganforge's API and page on a mounted project: `docker run -v "$PWD:/project:ro" -p 8000:8000 ganforge`.
#
# Build arguments:
#   BASE_IMAGE    any Debian-like image; with Python 3.11 (python:3.11-slim, the default) or
#                 without (a bare Debian bookworm: python3 is installed from its packages).
#                 Where no registry image can be pulled, `scripts/container.sh base` makes a
#                 local one from the Debian archive with debootstrap.
#   TORCH_INDEX   where the PyTorch wheels come from: PyTorch's CPU-only wheel index (the URL
#                 that pytorch.org's install selector gives for "CPU") for a small image, or its
#                 CUDA index for GPUs. Empty: the default index (several GB of CUDA libraries).
#   TORCH_WHEELS  a folder inside the build context holding a PyTorch wheel to install instead
#                 (a CPU build on this machine's disk); it is bind-mounted, not copied, so the
#                 wheel does not stay in a layer. `scripts/container.sh build` fills it.
#   CA_BUNDLE     a CA bundle inside the build context for pip's downloads, where a proxy
#                 re-signs TLS (bind-mounted too; `scripts/container.sh build` passes the
#                 host's bundle when pip on the host is configured with one).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG TORCH_INDEX=
ARG TORCH_WHEELS=
ARG CA_BUNDLE=
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PATH=/opt/venv/bin:$PATH GANFORGE_PORT=8000

# Python 3.11 from the base, or from Debian's packages on a bare base; git (provenance records
# read the commit); a virtual environment of the image's own; the user that runs the server.
RUN set -eu; apt-get update; \
    packages="git ca-certificates"; \
    command -v python3 >/dev/null || packages="$packages python3 python3-venv"; \
    apt-get install -y --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/*; \
    python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "ganforge needs Python 3.11, the base has " + sys.version'; \
    python3 -m venv /opt/venv; \
    useradd --create-home --uid 1000 ganforge

WORKDIR /opt/ganforge
# The dependencies first, from the lock alone; then the package, without dependencies.
COPY pyproject.toml constraints.txt ./
RUN --mount=type=bind,target=/context \
    sh /context/docker/install.sh "${TORCH_WHEELS:+/context/$TORCH_WHEELS}" "$TORCH_INDEX" \
        "${CA_BUNDLE:+/context/$CA_BUNDLE}"
COPY README.md ./
COPY src ./src
COPY pipeline ./pipeline
RUN --mount=type=bind,target=/context \
    if [ -n "$CA_BUNDLE" ]; then export PIP_CERT="/context/$CA_BUNDLE"; fi; \
    pip install --no-deps . \
    && python -c "import torch, ganforge.serving.api; print('torch', torch.__version__)"

USER ganforge
WORKDIR /project
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['GANFORGE_PORT'])"
# `docker stop` sends SIGTERM and kills after 10 s: requests in flight get 8 of them to finish.
# The port comes from GANFORGE_PORT (8000), which `-e GANFORGE_PORT=...` changes under host networking.
CMD ["ganforge", "serve", "--host", "0.0.0.0", "--project", "/project", "--grace", "8"]
