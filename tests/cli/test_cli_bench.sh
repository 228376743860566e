#!/usr/bin/env bash
# `kvk bench`: the shape of its output, not its timings. --json is one valid object with every
# field (--peak, the CPU reference, two batches, every layer timed); the text form lists the
# layers; --soak samples memory and says whether it stayed flat; misuse fails with a message.
# A small MobileNet (32x32, no top) keeps it to seconds per driver.
# usage: test_cli_bench.sh KVK_BINARY
set -u
kvk=$1
. "$(dirname "$0")/../common/cli_checks.sh"
model=(--model mobilenet --size 32 --no-top)

"$kvk" bench "${model[@]}" --batch 1,2 --runs 2 --peak --layers --json >"$tmp/bench.json" 2>"$tmp/err"
check "bench --json exits 0" test $? -eq 0
cat "$tmp/err"
check "bench --json: one object with every field" python3 - "$tmp/bench.json" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1]))
assert d["model"] == "mobilenet" and d["top"] is False and (d["height"], d["width"]) == (32, 32), d
assert d["device"] and d["device"] != d["reference"]["device"]
p = d["peak"]
assert p["gemm_gflops"] > 0 and p["gemm_size"] == 1024 and p["bandwidth_gbs"] > 0, p
r = d["reference"]
assert r["device"].startswith("cpu-reference") and r["seconds"] > 0 and r["batch"] == 1, r
assert [b["batch"] for b in d["batches"]] == [1, 2]
for b in d["batches"]:
    assert b["runs"] == 2 and b["load_s"] > 0 and b["first_s"] > 0, b
    assert 0 < b["min_s"] <= b["median_s"] <= b["max_s"], b
    assert math.isclose(b["images_per_s"], b["batch"] / b["median_s"], rel_tol=1e-6), b
    assert math.isclose(b["gflops"], b["gflop_per_image"] * b["images_per_s"], rel_tol=1e-6), b
    assert math.isclose(b["fraction_of_gemm_peak"], b["gflops"] / p["gemm_gflops"], rel_tol=1e-6)
    assert math.isclose(b["speedup_vs_reference"], b["images_per_s"] * r["seconds"], rel_tol=1e-6)
    # device memory held: at least the weights and the activation pool (the CPU drivers'
    # weights are written in place, with no staging buffer to add to the peak)
    assert b["device_bytes"] >= b["weight_bytes"] + b["activation_bytes"] > 0, b
    assert b["device_peak_bytes"] >= b["device_bytes"], b
    assert b["host_peak_rss_mib"] > 0, b
    names = [l["name"] for l in b["layers"]]
    assert names[0] == "conv1" and "conv_dw_13" in names and "conv_pw_13" in names, names
    assert names[-1] == "global_average_pooling2d", names
    # both CPU drivers have timestamps: every layer timed over the 2 runs
    assert all(l["runs"] == 2 and l["ms"] >= 0 and l["op"] for l in b["layers"]), b["layers"]
    assert any(l["kernel"].startswith("conv2d") for l in b["layers"]), b["layers"]
    # each layer's FLOPs: the products' add up to the model's, and the rest have none
    flops = sum(l["flops_per_image"] for l in b["layers"])
    assert math.isclose(flops, b["gflop_per_image"] * 1e9, rel_tol=1e-9), (flops, b)
    assert all((l["flops_per_image"] > 0) == (l["op"] in ("Conv2D", "DepthwiseConv2D", "Dense"))
               for l in b["layers"]), b["layers"]
PY

"$kvk" bench "${model[@]}" --runs 2 --layers --no-reference >"$tmp/text" 2>"$tmp/err"
check "bench text exits 0" test $? -eq 0
check "bench text: the latency line" grep -qE "^  latency +[0-9.]+ ms per batch \(median of 2\), min [0-9.]+ ms, max [0-9.]+ ms" "$tmp/text"
check "bench text: the load time" grep -qE "^  load +build [0-9.]+ s" "$tmp/text"
check "bench text: the first inference" grep -qE "^  first +first inference [0-9.]+ ms" "$tmp/text"
check "bench text: one line per layer" test "$(grep -cE '^ +[0-9.]+ ms +[0-9.]+% +conv_(dw|pw)_[0-9]+ ' "$tmp/text")" -eq 26
check "bench text: each product layer's rate" test "$(grep -cE '^ +[0-9.]+ ms +[0-9.]+% +conv_(dw|pw)_[0-9]+ .* [0-9.]+ GFLOP/s$' "$tmp/text")" -eq 26
check "bench text: the products' rate" grep -qE "^  products +Conv2D and Dense layers: [0-9.]+ ms of [0-9.]+ ms, [0-9.]+ GFLOP/s$" "$tmp/text"
check "bench text: no reference line" test "$(grep -c reference "$tmp/text")" -eq 0

"$kvk" bench "${model[@]}" --soak 20 >"$tmp/soak" 2>"$tmp/err"
check "soak exits 0" test $? -eq 0
cat "$tmp/soak"
check "soak: samples at 1, every 2 runs and 20" test "$(grep -cE '^soak +[0-9]+ runs: host RSS [0-9.]+ MiB \(peak [0-9.]+ MiB\), device [0-9.]+ MiB in [0-9]+ allocations' "$tmp/soak")" -eq 11
check "soak: the verdict" grep -qE "^soak +host RSS [-+][0-9.]+ MiB .*device memory held by kvk \+0 bytes: flat$" "$tmp/soak"
"$kvk" bench "${model[@]}" --soak 20 --json >"$tmp/soak.json" 2>"$tmp/err"
check "soak --json exits 0" test $? -eq 0
check "soak --json: its samples" python3 - "$tmp/soak.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["soak"]
assert d["inferences"] == 20 and d["flat"] is True and d["device_growth_bytes"] == 0, d
runs = [s["runs"] for s in d["samples"]]
assert runs == [1] + list(range(2, 21, 2)), runs
assert all(s["device_bytes"] == d["samples"][0]["device_bytes"] > 0 for s in d["samples"])
for s in d["samples"]:  # the driver's usage only where it has VK_EXT_memory_budget
    assert s["host_rss_mib"] > 0 and s["device_allocations"] > 0, s
    assert s["device_budget_usage_bytes"] is None or s["device_budget_usage_bytes"] > 0, s
PY

expect_fail "--soak with --peak" "--soak runs alone" bench "${model[@]}" --soak 5 --peak
expect_fail "--soak with two batches" "--soak runs alone" bench "${model[@]}" --soak 5 --batch 1,2
expect_fail "--soak 0" "--soak needs a positive number of inferences, got 0" bench "${model[@]}" --soak 0
expect_fail "--batch 1,,2" "--batch takes positive numbers separated by commas.*got 1,,2" bench "${model[@]}" --batch 1,,2
expect_fail "--batch 2,2" "--batch takes positive numbers.*each once.*got 2,2" bench "${model[@]}" --batch 2,2
expect_fail "--batch 0" "--batch takes positive numbers.*got 0" bench "${model[@]}" --batch 0
expect_fail "predict --peak" "predict does not take --peak \(an option of bench\)" predict x.png --model resnet50 --peak
expect_fail "features --soak" "features does not take --soak \(an option of bench\)" features x.png --model resnet50 --layer conv1 --soak 3
expect_fail "bench of no model" "unknown model 'alexnet'" bench --model alexnet

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
