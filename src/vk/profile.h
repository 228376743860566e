/* KVK_PROFILE=1: GPU time per recorded step (timestamps), summed over runs, printed when the
 * model is released. A development aid; without the variable nothing is recorded. */
#ifndef KVK_VK_PROFILE_H
#define KVK_VK_PROFILE_H

#include "core/plan.h"
#include "vk/vk.h"

typedef struct kvk_vk_profile {
    kvk_vk_device *dev;
    VkQueryPool pool; /* VK_NULL_HANDLE: not profiling */
    int steps, runs;
    double *ms; /* per step, summed over runs */
} kvk_vk_profile;

/* Records the reset and the first timestamp, if KVK_PROFILE is set and the queue can. */
kvk_status kvk_vk_profile_begin(kvk_vk_profile *p, kvk_vk_device *dev, VkCommandBuffer cmd,
                                int steps);
void kvk_vk_profile_mark(kvk_vk_profile *p, VkCommandBuffer cmd, int step);
/* After a submission completed: adds its step times. */
void kvk_vk_profile_collect(kvk_vk_profile *p);
/* Prints the totals and frees the query pool. */
void kvk_vk_profile_report(kvk_vk_profile *p, const kvk_graph *g, const kvk_plan *plan);

#endif
