# shellcheck shell=bash
# Set-up shared by scripts/demo and scripts/test (sourced, not run).
#
# Idempotent and quick the second time: each step checks before it acts.
#   - .venv is created if absent (the only place Python packages go);
#   - torch/torchvision are installed at the pinned versions only if absent;
#   - js/node_modules comes from `npm ci` (package-lock.json) when absent or stale;
#   - `pip install -e ".[test]"` reruns only when pyproject.toml changed
#     (a hash is kept in .venv/.landscape-widgets-installed);
#   - the JS bundle is rebuilt when a source is newer than it;
#   - Debian's chromium is apt-installed only for the browser tests, only if missing.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
TORCH_PINS=(torch==2.14.1 torchvision==0.29.1)
STAMP="$VENV/.landscape-widgets-installed"
CHROMIUM=/usr/bin/chromium
export PIP_DISABLE_PIP_VERSION_CHECK=1

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

lw_check_tools() {
  local missing=()
  command -v "${PYTHON:-python3}" >/dev/null 2>&1 || missing+=("${PYTHON:-python3} (3.11+)")
  command -v node >/dev/null 2>&1 || missing+=("node (20+)")
  command -v npm >/dev/null 2>&1 || missing+=("npm")
  if [ "${#missing[@]}" -gt 0 ]; then
    die "missing: ${missing[*]} (on Debian: apt-get install nodejs npm python3 python3-venv)"
  fi
  node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
    die "node $(node --version) is too old: vitest 4 and esbuild need node 20 or newer"
}

lw_venv() {
  if [ ! -x "$PY" ]; then
    say "creating .venv with $("${PYTHON:-python3}" --version 2>&1)"
    if ! "${PYTHON:-python3}" -m venv "$VENV"; then
      rm -rf "$VENV"
      command -v apt-get >/dev/null 2>&1 || die "python3 cannot create a venv (install its venv module)"
      say "python3 lacks venv: apt-get install python3-venv"
      as_root apt-get update -qq
      DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
      "${PYTHON:-python3}" -m venv "$VENV"
    fi
  fi
}

lw_torch() {
  # Compare installed metadata (no import: fast); local tags like +cu130 are fine.
  if ! "$PY" - "${TORCH_PINS[@]}" <<'PYEOF'
import sys
from importlib.metadata import PackageNotFoundError, version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    try:
        have = version(name).split("+")[0]
    except PackageNotFoundError:
        sys.exit(1)
    if have != want:
        sys.exit(1)
PYEOF
  then
    say "installing ${TORCH_PINS[*]} into .venv (about 90 s the first time)"
    "$PY" -m pip install -q "${TORCH_PINS[@]}"
  fi
}

lw_node_modules() {
  local lock="$ROOT/js/package-lock.json" seen="$ROOT/js/node_modules/.package-lock.json"
  if [ ! -d "$ROOT/js/node_modules" ] || [ ! -f "$seen" ] || [ "$lock" -nt "$seen" ]; then
    say "npm ci in js/ (from package-lock.json)"
    (cd "$ROOT/js" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

lw_pip_install() {
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    say "pip install -e \".[test]\" (pyproject.toml changed or first run; about a minute)"
    (cd "$ROOT" && "$PY" -m pip install -q -e ".[test]")
    printf '%s\n' "$want" >"$STAMP"
  fi
}

lw_build_js() {
  local bundle="$ROOT/landscape_widgets/static/landscape.js"
  local static="$ROOT/landscape_widgets/static"
  if [ ! -f "$bundle" ] || [ ! -f "$static/colormaps.json" ] || [ ! -f "$static/styles.json" ] ||
    [ ! -f "$static/embed/embed-amd.js" ] || [ ! -f "$static/embed/require.js" ] ||
    [ -n "$(find "$ROOT/js/src" "$ROOT/js/build.mjs" "$ROOT/js/package-lock.json" \
      -newer "$bundle" -print -quit)" ]; then
    say "building the JS bundle"
    (cd "$ROOT/js" && node build.mjs >/dev/null)
  fi
}

lw_chromium() {
  if [ ! -x "$CHROMIUM" ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing: $CHROMIUM (the browser tests use Debian's chromium)"
    say "apt-get install chromium (for the browser tests, about 40 s)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
  fi
}

# lw_setup [--browser]: everything, in order.
lw_setup() {
  lw_check_tools
  lw_venv
  lw_torch
  lw_node_modules
  lw_pip_install
  lw_build_js
  if [ "${1:-}" = "--browser" ]; then lw_chromium; fi
}
