/* GPU time per recorded step (timestamps), summed over runs: KVK_PROFILE=1 prints it when the
 * model is released (a development aid); a model created with layer timing on keeps it for
 * kvk_model_layer_time. With neither, nothing is recorded. */
#ifndef KVK_VK_PROFILE_H
#define KVK_VK_PROFILE_H

#include "core/plan.h"
#include "vk/vk.h"

typedef struct kvk_vk_profile {
    kvk_vk_device *dev;
    VkQueryPool pool; /* VK_NULL_HANDLE: not profiling */
    int steps, runs;
    int report;    /* KVK_PROFILE is set: print when released */
    uint64_t mask; /* the queue's timestampValidBits */
    double *ms;    /* per step, summed over runs */
} kvk_vk_profile;

/* Records the reset and the first timestamp, if KVK_PROFILE is set or timing `requested`, and
 * the queue can (else nothing: kvk_vk_profile_step_ms then says 0 runs). */
kvk_status kvk_vk_profile_begin(kvk_vk_profile *p, kvk_vk_device *dev, VkCommandBuffer cmd,
                                int steps, int requested);
void kvk_vk_profile_mark(kvk_vk_profile *p, VkCommandBuffer cmd, int step);
/* After a submission completed: adds its step times. */
void kvk_vk_profile_collect(kvk_vk_profile *p);
/* Step `step`'s mean milliseconds over the runs collected; returns that number of runs (0:
 * not timed). */
int kvk_vk_profile_step_ms(const kvk_vk_profile *p, int step, double *ms);
/* Forgets the runs collected so far (a benchmark's warm-up). */
void kvk_vk_profile_reset(kvk_vk_profile *p);
/* Prints the totals (with KVK_PROFILE) and frees the query pool. */
void kvk_vk_profile_report(kvk_vk_profile *p, const kvk_graph *g, const kvk_plan *plan);

#endif
