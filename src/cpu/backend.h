/* The reference backend for one planned model (backend.c): the plan's steps run by the
 * reference kernels over one host arena laid out exactly as the Vulkan backend lays out its
 * buffer, so the plan itself is exercised by the reference too. */
#ifndef KVK_CPU_BACKEND_H
#define KVK_CPU_BACKEND_H

#include "core/plan.h"

typedef struct kvk_cpu_model kvk_cpu_model;

/* The graph and plan must outlive the model. Fails naming the layer whose op or tensor type
 * the reference does not run. */
kvk_status kvk_cpu_model_create(const kvk_graph *graph, const kvk_plan *plan, kvk_cpu_model **out);
kvk_status kvk_cpu_model_run(kvk_cpu_model *m, const float *input, int batch,
                             float *const *outputs);
void kvk_cpu_model_destroy(kvk_cpu_model *m);

/* Whether the reference has an entry for this op kind. */
int kvk_cpu_op_supported(kvk_op op);

#endif
