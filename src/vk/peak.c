/* `kvk bench --peak`: the device's GEMM and copy ceilings, measured with kvk's own probe
 * shaders (probe_gemm.comp, probe_copy.comp). Each probe's output is checked before it is
 * timed, with fresh random inputs, so a fast but wrong probe cannot pass. Times are wall-clock
 * times of whole submissions of several dispatches (their submission overhead included: a few
 * tens of microseconds against tens of milliseconds of work), the best of three. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "vk/kernels.h"
#include "vk/ops/params.h"
#include "vk/peak.h"

KVK_PARAMS_STRUCT(kvk_probe_gemm_params, KVK_PROBE_GEMM_PARAMS)
KVK_PARAMS_STRUCT(kvk_probe_copy_params, KVK_PROBE_COPY_PARAMS)

enum { GEMM_N = 1024, CHECKED = 512, TRIALS = 3 };
#define COPY_BYTES ((VkDeviceSize)64 << 20)
#define SUBMIT_SECONDS 0.2 /* aim of one timed submission */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t next_random(uint64_t *state) { /* xorshift64* */
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void copy(kvk_vk_recorder *rec, const kvk_vk_buffer *from, VkDeviceSize from_offset,
                 const kvk_vk_buffer *to, VkDeviceSize to_offset, VkDeviceSize bytes) {
    VkBufferCopy region = {from_offset, to_offset, bytes};
    rec->dev->vkd.vkCmdCopyBuffer(rec->cmd, from->buffer, to->buffer, 1, &region);
}

static void host_read_barrier(kvk_vk_recorder *rec) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    rec->dev->vkd.vkCmdPipelineBarrier(rec->cmd, VK_PIPELINE_STAGE_TRANSFER_BIT,
                                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}

typedef kvk_status (*record_fn)(kvk_vk_recorder *rec, const kvk_vk_buffer *bufs);

/* Times one rep of the probe to choose how many fill SUBMIT_SECONDS, records that many, submits
 * TRIALS times and returns the best seconds per rep. */
static kvk_status time_probe(kvk_vk_device *dev, record_fn record, const kvk_vk_buffer *bufs,
                             double *seconds) {
    int reps = 1;
    *seconds = 0;
    for (int round = 0; round < 2; round++) {
        kvk_vk_recorder rec;
        kvk_status st = kvk_vk_recorder_begin(dev, &rec);
        for (int r = 0; r < reps && st == KVK_OK; r++) st = record(&rec, bufs);
        if (st == KVK_OK) st = kvk_vk_recorder_end(&rec);
        double best = 0;
        for (int t = 0; t < (round ? TRIALS : 1) && st == KVK_OK; t++) {
            double t0 = now_seconds();
            st = kvk_vk_submit_wait(dev, rec.cmd);
            double dt = (now_seconds() - t0) / reps;
            if (t == 0 || dt < best) best = dt;
        }
        kvk_vk_recorder_free(&rec);
        if (st != KVK_OK) return st;
        *seconds = best;
        if (round == 0) {
            double n = best > 0 ? SUBMIT_SECONDS / best : 50;
            reps = n < 1 ? 1 : n > 50 ? 50 : (int)n;
        }
    }
    return KVK_OK;
}

/* probe_gemm_rb8 and _rb4 share A's loads across 8 or 4 lanes of a subgroup; _rb1 is for
 * devices without subgroup broadcasts (as kernels.c decides for the convolution's variants;
 * KVK_PROBE_GEMM names one to compare them) */
static const char *gemm_variant(const kvk_vk_device *dev) {
    const char *forced = getenv("KVK_PROBE_GEMM");
    if (forced && *forced) return forced; /* an unknown name fails as "no embedded shader" */
    const kvk_vk_caps *c = &dev->caps;
    VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_BALLOT_BIT;
    int broadcast = c->subgroup_size <= 64 && (c->subgroup_ops & need) == need;
    /* B read as conv2d_rb8_tex reads its weights, where the kernels may choose that */
    const kvk_vk_kernel *tex = kvk_vk_kernel_find("conv2d_rb8_tex");
    if (tex && (!tex->usable || tex->usable(c))) return "probe_gemm_rb8_tex";
    return broadcast && c->subgroup_size >= 8   ? "probe_gemm_rb8"
           : broadcast && c->subgroup_size >= 4 ? "probe_gemm_rb4"
                                                : "probe_gemm_rb1";
}

/* bufs: A, B, C (device-local); per workgroup of 64, RP rows by 256 NG columns (the variant's
 * block, CMakeLists.txt: rb8 and rb4 16 x 512, rb1 32 x 256) */
static kvk_status record_gemm(kvk_vk_recorder *rec, const kvk_vk_buffer *bufs) {
    kvk_probe_gemm_params p = {GEMM_N, GEMM_N, GEMM_N};
    kvk_vk_binding b[3];
    for (int i = 0; i < 3; i++) b[i] = kvk_vk_range(bufs[i].buffer, 0, bufs[i].size);
    const char *variant = gemm_variant(rec->dev);
    b[1].format = VK_FORMAT_R32G32B32A32_SFLOAT; /* probe_gemm_rb8_tex's texels */
    int wide = !strcmp(variant, "probe_gemm_rb8") || !strcmp(variant, "probe_gemm_rb4") ||
               !strcmp(variant, "probe_gemm_rb8_tex");
    int rows = wide ? 16 : 32, cols = wide ? 512 : 256;
    return kvk_vk_dispatch(rec, variant, NULL, 0, b, 3, &p, sizeof p, GEMM_N / cols, GEMM_N / rows,
                           1);
}

static uint32_t copy_groups_x(VkDeviceSize vec4s, uint32_t *groups_y) {
    uint64_t groups = (vec4s + 63) / 64;
    uint32_t x = groups < 1024 ? (uint32_t)groups : 1024;
    *groups_y = (uint32_t)((groups + x - 1) / x);
    return x;
}

/* bufs: source, destination */
static kvk_status record_copy(kvk_vk_recorder *rec, const kvk_vk_buffer *bufs) {
    VkDeviceSize vec4s = bufs[0].size / 16;
    kvk_probe_copy_params p = {(int)vec4s};
    kvk_vk_binding b[2] = {kvk_vk_range(bufs[0].buffer, 0, bufs[0].size),
                           kvk_vk_range(bufs[1].buffer, 0, bufs[1].size)};
    uint32_t gy,
        gx = copy_groups_x(
            (vec4s + KVK_PROBE_COPY_PER_INVOCATION - 1) / KVK_PROBE_COPY_PER_INVOCATION, &gy);
    return kvk_vk_dispatch(rec, "probe_copy", NULL, 0, b, 2, &p, sizeof p, gx, gy, 1);
}

/* Uploads random small integers as A and B (every product and sum exact in fp32), runs one
 * GEMM and compares CHECKED random entries of C with the host's. */
static kvk_status check_gemm(kvk_vk_device *dev, const kvk_vk_buffer *bufs,
                             const kvk_vk_buffer *staging, uint64_t *seed) {
    const VkDeviceSize bytes = (VkDeviceSize)GEMM_N * GEMM_N * sizeof(float);
    float *a = staging->mapped, *b = a + (size_t)GEMM_N * GEMM_N, *c = b + (size_t)GEMM_N * GEMM_N;
    for (size_t i = 0; i < 2 * (size_t)GEMM_N * GEMM_N; i++)
        a[i] = (float)(int)(next_random(seed) % 5) - 2.0f;
    memset(c, 0xff, bytes); /* NaN: an entry the probe does not write fails */
    kvk_vk_recorder rec;
    kvk_status st = kvk_vk_recorder_begin(dev, &rec);
    if (st == KVK_OK) {
        copy(&rec, staging, 0, &bufs[0], 0, bytes);
        copy(&rec, staging, bytes, &bufs[1], 0, bytes);
        kvk_vk_barrier(&rec);
        st = record_gemm(&rec, bufs);
    }
    if (st == KVK_OK) {
        kvk_vk_barrier(&rec);
        copy(&rec, &bufs[2], 0, staging, 2 * bytes, bytes);
        host_read_barrier(&rec);
        st = kvk_vk_recorder_end(&rec);
    }
    if (st == KVK_OK) st = kvk_vk_submit_wait(dev, rec.cmd);
    kvk_vk_recorder_free(&rec);
    for (int k = 0; k < CHECKED && st == KVK_OK; k++) {
        int i = (int)(next_random(seed) % GEMM_N), j = (int)(next_random(seed) % GEMM_N);
        double want = 0;
        for (int q = 0; q < GEMM_N; q++)
            want += (double)a[(size_t)i * GEMM_N + q] * b[(size_t)q * GEMM_N + j];
        float got = c[(size_t)i * GEMM_N + j];
        if (!(got == (float)want))
            st = kvk_fail(KVK_ERROR_VULKAN,
                          "the GEMM probe (%s, %dx%dx%d) is wrong at C[%d][%d]: %g, "
                          "expected %g",
                          gemm_variant(dev), GEMM_N, GEMM_N, GEMM_N, i, j, (double)got, want);
    }
    return st;
}

/* Fills the source's first and last `part` bytes with random words (its middle with a
 * constant), copies once, and compares both ends of the destination. */
static kvk_status check_copy(kvk_vk_device *dev, const kvk_vk_buffer *bufs,
                             const kvk_vk_buffer *staging, VkDeviceSize part, uint64_t *seed) {
    VkDeviceSize size = bufs[0].size;
    uint32_t *w = staging->mapped;
    size_t words = (size_t)(part / 4);
    for (size_t i = 0; i < 2 * words; i++) w[i] = next_random(seed);
    memset(w + 2 * words, 0xff, (size_t)(2 * part));
    kvk_vk_recorder rec;
    kvk_status st = kvk_vk_recorder_begin(dev, &rec);
    if (st == KVK_OK) {
        dev->vkd.vkCmdFillBuffer(rec.cmd, bufs[0].buffer, 0, VK_WHOLE_SIZE, 0x3f800000u);
        kvk_vk_barrier(&rec);
        copy(&rec, staging, 0, &bufs[0], 0, part);
        copy(&rec, staging, part, &bufs[0], size - part, part);
        kvk_vk_barrier(&rec);
        st = record_copy(&rec, bufs);
    }
    if (st == KVK_OK) {
        kvk_vk_barrier(&rec);
        copy(&rec, &bufs[1], 0, staging, 2 * part, part);
        copy(&rec, &bufs[1], size - part, staging, 3 * part, part);
        host_read_barrier(&rec);
        st = kvk_vk_recorder_end(&rec);
    }
    if (st == KVK_OK) st = kvk_vk_submit_wait(dev, rec.cmd);
    kvk_vk_recorder_free(&rec);
    if (st == KVK_OK && memcmp(w, w + 2 * words, (size_t)(2 * part)))
        st = kvk_fail(KVK_ERROR_VULKAN,
                      "the copy probe (probe_copy, %.0f MiB) did not copy its source exactly",
                      size / 1048576.0);
    return st;
}

kvk_status kvk_vk_measure_peak(kvk_vk_device *dev, kvk_vk_peak *out) {
    memset(out, 0, sizeof *out);
    uint64_t seed = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15ULL;
    const VkDeviceSize gemm_bytes = (VkDeviceSize)GEMM_N * GEMM_N * sizeof(float);
    VkDeviceSize copy_bytes = COPY_BYTES;
    if (copy_bytes > dev->props.limits.maxStorageBufferRange)
        copy_bytes = dev->props.limits.maxStorageBufferRange / 16 * 16;
    /* check_copy's four parts must fit the staging buffer */
    const VkDeviceSize part = copy_bytes / 16 < gemm_bytes / 2 ? copy_bytes / 16 : gemm_bytes / 2;
    kvk_vk_buffer staging, gemm[3] = {{0}}, copies[2] = {{0}};
    kvk_status st =
        kvk_vk_buffer_create(dev, 3 * gemm_bytes, 0, "the probes' staging buffer", &staging);
    for (int i = 0; i < 3 && st == KVK_OK; i++)
        st = kvk_vk_buffer_create(dev, gemm_bytes, 1, "a GEMM probe matrix", &gemm[i]);
    double seconds = 0;
    if (st == KVK_OK) st = check_gemm(dev, gemm, &staging, &seed);
    if (st == KVK_OK) st = time_probe(dev, record_gemm, gemm, &seconds);
    if (st == KVK_OK) {
        out->gemm_size = GEMM_N;
        out->gemm_gflops = 2.0 * GEMM_N * GEMM_N * GEMM_N / seconds / 1e9;
    }
    for (int i = 0; i < 3; i++) kvk_vk_buffer_destroy(dev, &gemm[i]);
    for (int i = 0; i < 2 && st == KVK_OK; i++)
        st = kvk_vk_buffer_create(dev, copy_bytes, 1, "a copy probe buffer", &copies[i]);
    if (st == KVK_OK) st = check_copy(dev, copies, &staging, part, &seed);
    if (st == KVK_OK) st = time_probe(dev, record_copy, copies, &seconds);
    if (st == KVK_OK) {
        out->copy_bytes = (double)copy_bytes;
        out->copy_gbs = 2.0 * (double)copy_bytes / seconds / 1e9;
    }
    for (int i = 0; i < 2; i++) kvk_vk_buffer_destroy(dev, &copies[i]);
    kvk_vk_buffer_destroy(dev, &staging);
    return st == KVK_OK ? st : kvk_fail_context(st, "measuring the device's peak: ");
}
