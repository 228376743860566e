#!/usr/bin/env bash
# Installs kvk into a scratch prefix and builds a program against it with pkg-config, linked
# both to the shared and to the static library.
# usage: test_install.sh BUILD_DIR PREFIX
set -eu
build=$1
prefix=$2
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
cat >"$prefix/use_kvk.c" <<'C'
#include <kvk.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    /* labels are embedded: no file needed */
    if (strcmp(kvk_imagenet_label(0), "tench") != 0) return 1;
    kvk_context_options o = {.device = "cpu-reference"};
    kvk_context *ctx;
    if (kvk_context_create(&o, &ctx) != KVK_OK) return 2;
    kvk_model_options mo = {.architecture = "nosuchnet"};
    kvk_model *m;
    if (kvk_model_create(ctx, &mo, &m) == KVK_OK || !strstr(kvk_last_error(), "nosuchnet")) return 3;
    kvk_context_destroy(ctx);
    puts("ok");
    return 0;
}
C
pc=$(ls "$prefix"/lib*/pkgconfig/kvk.pc "$prefix"/lib/*/pkgconfig/kvk.pc 2>/dev/null | head -1)
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
gcc -std=c11 -Wall -Wextra -o "$prefix/use_shared" "$prefix/use_kvk.c" $(pkg-config --cflags --libs kvk) -Wl,-rpath,"$(pkg-config --variable=libdir kvk)"
"$prefix/use_shared"
gcc -std=c11 -Wall -Wextra -o "$prefix/use_static" "$prefix/use_kvk.c" $(pkg-config --cflags kvk) \
  "$(pkg-config --variable=libdir kvk)/libkvk.a" $(pkg-config --libs --static kvk | sed 's/-lkvk//')
"$prefix/use_static"
echo "2 passed, 0 failed"
