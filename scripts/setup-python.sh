#!/usr/bin/env bash
# Create (or reuse) the Python venv used by the Keras oracle scripts.
#
#   scripts/setup-python.sh [VENV_DIR]
#
# Default VENV_DIR: ${KVK_CACHE_DIR:-$HOME/.cache/kvk}/venv. Idempotent: pip
# only runs when a pinned package is missing or has another version. Prints
# the venv's python path on stdout (progress goes to stderr).
set -euo pipefail

VENV="${1:-${KVK_CACHE_DIR:-$HOME/.cache/kvk}/venv}"
PY="$VENV/bin/python"

# Pinned versions (tested together on Python 3.11, Debian 12).
# tf-keras declares a dependency on "tensorflow" (the full wheel); we install
# tensorflow-cpu instead and add tf-keras with --no-deps (same `tensorflow`
# module, ~350 MB less to download). keras (Keras 3) comes with tensorflow-cpu; it is
# pinned because the Keras 3 oracle (make_keras3_cases.py) writes its files.
PINS=(
  tensorflow-cpu==2.21.0
  keras==3.15.1
  keras-applications==1.0.8
  h5py==3.14.0
  numpy==2.4.6
  pillow==13.0.0
  pytest==9.2.0
)
# tensorflowjs: its Keras converter module only (tests/oracle/make_config_cases.py loads
# keras_h5_conversion without the package's __init__, whose SavedModel and JAX converters
# would pull jax, flax and tensorflow-decision-forests)
NODEPS_PINS=(tf-keras==2.21.0 tensorflowjs==4.22.0)

log() { echo "setup-python: $*" >&2; }

# The oracle fixtures run this script in parallel (ctest -j): one at a time, or two of them
# create the venv (or pip-install into it) at once and both fail.
mkdir -p "$(dirname "$VENV")"
exec 9>"$VENV.lock"
flock 9

# 1. The venv. Debian's python3 ships without ensurepip unless python3-venv
#    is installed; install it when we can (root or sudo).
if [ ! -x "$PY" ]; then
  command -v python3 >/dev/null || { log "python3 not found"; exit 1; }
  log "creating venv $VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    pyver="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    log "python3 -m venv failed; installing python3-venv (python$pyver-venv)"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv "python$pyver-venv" >&2 ||
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >&2
    python3 -m venv "$VENV"
  fi
fi

# 2. Packages: compare installed distribution versions with the pins (cheap,
#    no tensorflow import), then check that the modules import.
check() {
  "$PY" "$(dirname "${BASH_SOURCE[0]}")/pins_installed.py" setup-python "${PINS[@]}" "${NODEPS_PINS[@]}"
}
import_check() {
  TF_CPP_MIN_LOG_LEVEL=3 "$PY" -c 'import tensorflow, tf_keras, keras, keras_applications, h5py, numpy, PIL, pytest' >/dev/null 2>&1
}

if ! check || ! import_check; then
  log "installing packages into $VENV (a few minutes on first run)"
  "$PY" -m pip install -q --disable-pip-version-check --upgrade pip >&2
  "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]}" >&2
  "$PY" -m pip install -q --disable-pip-version-check --no-deps "${NODEPS_PINS[@]}" >&2
  check && import_check || { log "import check still fails after install"; exit 1; }
fi

echo "$PY"
