#!/usr/bin/env bash
# The README's two commands, run one after the other as written, in a scratch copy of the
# checkout: the main job (scripts/classify.sh, which configures build/ with the tests off) must
# classify the photo, and the test command must then configure build/ with the tests on, so it
# cannot pass without running them (it once reused build/ and CTest found no tests).
# The test command is run with --configure-only: running the whole suite inside the suite would
# recurse; what it does after configuring (build, ctest --no-tests=error) does not depend on
# the state it found.
# usage: test_readme_commands.sh SOURCE_DIR
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/kvk"
# what a clone of this checkout would hold: tracked files and new files git does not ignore
(cd "$src" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$tmp/kvk")
ln -s "$KVK_SHARED_DATA/.." "$tmp/shared"
unset KVK_BUILD_DIR
cd "$tmp/kvk"
passed=0
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# 1. the main job, exactly as the README writes it
if bash scripts/classify.sh ../shared/data/images/skimage_chelsea.png >"$tmp/classify.out" 2>"$tmp/classify.err" &&
  grep -q "tabby" "$tmp/classify.out"; then
  passed=$((passed + 1))
else
  fail "scripts/classify.sh did not classify the photo as a tabby:"
  cat "$tmp/classify.out" "$tmp/classify.err"
fi

# 2. the test command's configuration, in the build folder classify.sh left behind
if ! bash scripts/test.sh --configure-only >"$tmp/test.out" 2>&1; then
  fail "scripts/test.sh --configure-only failed:"
  cat "$tmp/test.out"
fi
for dir in build build-sanitize; do
  count=$(ctest --test-dir "$dir" -N 2>/dev/null | sed -n 's/^Total Tests: //p')
  if [ "${count:-0}" -gt 0 ]; then passed=$((passed + 1)); else
    fail "after classify.sh, scripts/test.sh would find no tests in $dir"
  fi
done
# and CTest itself refuses to pass on an empty folder, as the test command asks it to
mkdir -p "$tmp/empty"
if ctest --test-dir "$tmp/empty" --no-tests=error >/dev/null 2>&1; then
  fail "ctest --no-tests=error passed on a folder without tests"
else passed=$((passed + 1)); fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
