/* `kvk bench` (bench.c): the command line checks the options, this runs them. */
#ifndef KVK_TOOLS_BENCH_H
#define KVK_TOOLS_BENCH_H

#include "kvk/model.h"

#define KVK_BENCH_MAX_BATCHES 16

typedef struct kvk_bench_options {
    const char *model;       /* an application name */
    const char *device;      /* NULL: the default device */
    int height, width;       /* 0: the model's default size */
    int no_top;              /* the base with global average pooling instead of the classifier */
    double alpha;            /* MobileNet(V2)'s width multiplier; 0: 1.0 */
    int depth_multiplier;    /* MobileNet's; 0: 1 */
    kvk_precision precision; /* the device model's weights (the reference: always fp32) */
    int batches[KVK_BENCH_MAX_BATCHES];
    int batch_count;
    int runs;         /* timed runs per batch, after the first inference */
    int no_reference; /* skip the CPU reference */
    int peak;         /* measure the device's GEMM and copy ceilings */
    int layers;       /* per-layer GPU times (timestamps) */
    long soak;        /* > 0: the soak run instead (this many inferences, batches[0]) */
    int json;
    int verbose;
} kvk_bench_options;

/* Runs the benchmark and prints it; returns the exit status (1 with a message on stderr). */
int kvk_bench_run(const kvk_bench_options *options);

#endif
