#!/usr/bin/env bash
# The GPU check (see benchmarks/gpu_check.py): refuses with exit 2 on a machine without CUDA.
#   benchmarks/gpu_check.sh [--out gpu_check.json] [--steps 200] [--budget-s 450] [--mirror DIR]
set -euo pipefail
exec "${PYTHON:-python}" "$(dirname "$0")/gpu_check.py" "$@"
