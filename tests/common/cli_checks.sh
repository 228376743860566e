# Shared by the command-line test scripts (sourced after they set $kvk): a scratch folder
# $tmp removed at exit, pass/fail counters, and the three kinds of check.
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check NAME COMMAND... : passes when the command succeeds
  local name=$1
  shift
  if "$@"; then passed=$((passed + 1)); else
    failed=$((failed + 1))
    echo "FAIL: $name"
  fi
}

# expect_fail NAME PATTERN ARGS... : kvk must exit non-zero and stderr must match PATTERN
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  if "$kvk" "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL: $name: exit status 0"
    failed=$((failed + 1))
  elif ! grep -qE -- "$pattern" "$tmp/err"; then
    echo "FAIL: $name: stderr does not match /$pattern/:"
    cat "$tmp/err"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}

# expect_ok NAME PATTERN ARGS... : kvk must exit 0 and stdout must match PATTERN
expect_ok() {
  local name=$1 pattern=$2
  shift 2
  "$kvk" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: $name: exit status $rc"
    cat "$tmp/err"
    failed=$((failed + 1))
  elif ! grep -qE -- "$pattern" "$tmp/out"; then
    echo "FAIL: $name: stdout does not match /$pattern/"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}
