/* Per-step GPU time, for finding where a network spends it: with KVK_PROFILE=1 (or when the
 * model asks for layer timing, `kvk bench --layers`) the recorded command buffer writes a
 * timestamp after every step and each run adds the differences up; with KVK_PROFILE,
 * releasing the model prints the totals per op and the slowest steps to stderr. */
#include "vk/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kvk_status kvk_vk_profile_begin(kvk_vk_profile *p, kvk_vk_device *dev, VkCommandBuffer cmd,
                                int steps, int requested) {
    memset(p, 0, sizeof *p);
    const char *env = getenv("KVK_PROFILE");
    p->report = env && *env && strcmp(env, "0");
    if (!p->report && !requested) return KVK_OK;
    uint32_t n = 0;
    dev->vki.vkGetPhysicalDeviceQueueFamilyProperties(dev->physical, &n, NULL);
    VkQueueFamilyProperties *qf = calloc(n ? n : 1, sizeof *qf);
    if (!qf) return KVK_OK; /* profiling is optional */
    dev->vki.vkGetPhysicalDeviceQueueFamilyProperties(dev->physical, &n, qf);
    uint32_t bits = dev->queue_family < n ? qf[dev->queue_family].timestampValidBits : 0;
    free(qf);
    if (!bits) {
        if (p->report) fprintf(stderr, "kvk: KVK_PROFILE: this queue has no timestamps\n");
        return KVK_OK;
    }
    p->mask = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    p->ms = calloc((size_t)steps, sizeof *p->ms);
    VkQueryPoolCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                .queryCount = (uint32_t)steps + 1};
    if (!p->ms || dev->vkd.vkCreateQueryPool(dev->device, &qi, NULL, &p->pool) != VK_SUCCESS) {
        free(p->ms);
        p->ms = NULL;
        return KVK_OK;
    }
    p->dev = dev;
    p->steps = steps;
    dev->vkd.vkCmdResetQueryPool(cmd, p->pool, 0, (uint32_t)steps + 1);
    dev->vkd.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->pool, 0);
    return KVK_OK;
}

void kvk_vk_profile_mark(kvk_vk_profile *p, VkCommandBuffer cmd, int step) {
    if (p->pool)
        p->dev->vkd.vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->pool,
                                        (uint32_t)step + 1);
}

void kvk_vk_profile_collect(kvk_vk_profile *p) {
    if (!p->pool) return;
    uint64_t *t = calloc((size_t)p->steps + 1, sizeof *t);
    if (!t) return;
    if (p->dev->vkd.vkGetQueryPoolResults(
            p->dev->device, p->pool, 0, (uint32_t)p->steps + 1, sizeof *t * ((size_t)p->steps + 1),
            t, sizeof *t, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
        double period = p->dev->props.limits.timestampPeriod * 1e-6; /* ns -> ms */
        for (int i = 0; i < p->steps; i++)
            p->ms[i] += (double)((t[i + 1] - t[i]) & p->mask) * period; /* counters wrap */
        p->runs++;
    }
    free(t);
}

int kvk_vk_profile_step_ms(const kvk_vk_profile *p, int step, double *ms) {
    if (!p->pool || !p->runs || step < 0 || step >= p->steps) return 0;
    *ms = p->ms[step] / p->runs;
    return p->runs;
}

void kvk_vk_profile_reset(kvk_vk_profile *p) {
    if (!p->pool) return;
    memset(p->ms, 0, (size_t)p->steps * sizeof *p->ms);
    p->runs = 0;
}

void kvk_vk_profile_report(kvk_vk_profile *p, const kvk_graph *g, const kvk_plan *plan) {
    if (!p->pool) return;
    if (p->runs && p->report) {
        double by_op[KVK_OP_COUNT] = {0}, total = 0;
        int count[KVK_OP_COUNT] = {0};
        for (int i = 0; i < p->steps; i++) {
            by_op[plan->steps[i].op] += p->ms[i] / p->runs;
            count[plan->steps[i].op]++;
            total += p->ms[i] / p->runs;
        }
        fprintf(stderr, "kvk profile: %.2f ms per run over %d runs\n", total, p->runs);
        for (int k = 0; k < KVK_OP_COUNT; k++)
            if (count[k])
                fprintf(stderr, "  %-24s %4d steps %10.2f ms %5.1f%%\n", kvk_op_name((kvk_op)k),
                        count[k], by_op[k], 100 * by_op[k] / (total > 0 ? total : 1));
        /* KVK_PROFILE=2: every step, slowest first */
        int show = getenv("KVK_PROFILE")[0] == '2' ? p->steps : 12;
        fprintf(stderr, "  slowest steps:\n");
        for (int shown = 0; shown < show; shown++) { /* a selection sort: it runs once */
            int best = -1;
            for (int i = 0; i < p->steps; i++)
                if (p->ms[i] >= 0 && (best < 0 || p->ms[i] > p->ms[best])) best = i;
            if (best < 0) break;
            const kvk_node *n = &g->nodes[plan->steps[best].node];
            kvk_shape s = n->shape;
            fprintf(stderr, "  %10.2f ms  %-32s %s %dx%dx%d\n", p->ms[best] / p->runs, n->name,
                    kvk_op_name(plan->steps[best].op), s.h, s.w, s.c);
            p->ms[best] = -1;
        }
    }
    p->dev->vkd.vkDestroyQueryPool(p->dev->device, p->pool, NULL);
    free(p->ms);
    memset(p, 0, sizeof *p);
}
