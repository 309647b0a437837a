#!/usr/bin/env bash
# Install the benchmark's comparison library into benchmarks/.deps, outside the
# project venv, so it never becomes a dependency of landscape-widgets.
# Usage: benchmarks/setup.sh [python]   (default: the project venv's python)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${1:-$here/../.venv/bin/python}"
"$py" -m pip install --no-deps --upgrade --target "$here/.deps" -r "$here/requirements.txt"
# loss-landscapes declares numpy as its only requirement and imports torch; check both are there.
"$py" - "$here/.deps" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy, torch, loss_landscapes, loss_landscapes.metrics  # noqa: F401
print("loss-landscapes importable from", sys.argv[1], "with numpy", numpy.__version__, "torch", torch.__version__)
PY
