#!/bin/sh
# Installs ganforge's dependencies into the image's virtual environment (/opt/venv), run by the
# Dockerfile before the package itself is copied in (so editing the code rebuilds one layer).
#   $1: a folder holding a PyTorch wheel (a local CPU build), or empty
#   $2: the index PyTorch comes from when there is no such folder, or empty for the default
#   $3: a CA bundle for pip (the build host's, where a TLS-intercepting proxy signs the
#       index's certificates), or empty
# The other packages take their versions from constraints.txt (the project's lock); PyTorch's
# CUDA libraries and the test tools stay out. With a local wheel torchvision is left out too:
# serving never imports it (only `prepare` does), and no CPU build of it lies beside the wheel.
set -eu
wheels="$1"
index="$2"
if [ -n "${3:-}" ]; then export PIP_CERT="$3"; fi
grep -v -E '^(torch|torchvision|triton|nvidia-[a-z0-9-]+)==' constraints.txt > /tmp/lock.txt
if [ -n "$wheels" ]; then
    ls "$wheels"/torch-*.whl >/dev/null 2>&1 \
        || { echo "error: no torch-*.whl in the TORCH_WHEELS folder $wheels" >&2; exit 2; }
    pip install -c /tmp/lock.txt "$wheels"/torch-*.whl  # its own dependencies from the index
else
    pip install ${index:+--index-url "$index"} "torch==2.14.1" "torchvision==0.29.1"
fi
# The runtime dependencies of pyproject.toml, less PyTorch's (installed above) and pytorch-fid
# (which would pull torchvision back in; installed without its dependencies).
python3 - > /tmp/runtime.txt <<'PY'
import re
import tomllib

with open("pyproject.toml", "rb") as f:
    deps = tomllib.load(f)["project"]["dependencies"]
skip = {"torch", "torchvision", "pytorch-fid"}
print("\n".join(d for d in deps if re.split(r"[<>=!~ \[;]", d, maxsplit=1)[0] not in skip))
PY
pip install -c /tmp/lock.txt -r /tmp/runtime.txt
pip install -c /tmp/lock.txt --no-deps pytorch-fid
rm /tmp/lock.txt /tmp/runtime.txt
