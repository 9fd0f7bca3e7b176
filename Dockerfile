# ganforge's API and page on a mounted project: `docker run -v "$PWD:/project" -p 8000:8000 ganforge`.
# TORCH_INDEX chooses where the PyTorch wheels come from: PyTorch's CPU-only wheel index (the
# index URL that pytorch.org's install selector gives for "CPU") for a small image, or its CUDA
# index for GPUs. Left empty, the default index is used, whose Linux wheels bring several GB of
# CUDA libraries. Example: docker build --build-arg TORCH_INDEX=<PyTorch CPU index URL> -t ganforge .
FROM python:3.11-slim

ARG TORCH_INDEX=
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 ganforge

WORKDIR /opt/ganforge
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
COPY pipeline ./pipeline
# torch and torchvision from the chosen index first, then everything else at the pinned versions.
RUN pip install ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "torch==2.14.1" "torchvision==0.29.1" \
    && grep -v -E '^(torch|torchvision)==' constraints.txt > /tmp/constraints.txt \
    && pip install -c /tmp/constraints.txt . \
    && rm /tmp/constraints.txt

USER ganforge
WORKDIR /project
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
# `docker stop` sends SIGTERM and kills after 10 s: requests in flight get 8 of them to finish.
CMD ["ganforge", "serve", "--host", "0.0.0.0", "--port", "8000", "--project", "/project", "--grace", "8"]
