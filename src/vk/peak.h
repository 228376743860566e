/* The device's own ceilings, measured with two probe shaders (peak.c): what a register-blocked
 * fp32 GEMM and a plain copy reach. Benchmarks report each model's GFLOP/s as a fraction of
 * the GEMM figure. */
#ifndef KVK_VK_PEAK_H
#define KVK_VK_PEAK_H

#include "vk/vk.h"

typedef struct kvk_vk_peak {
    double gemm_gflops; /* best of the timed submissions */
    int gemm_size;      /* M = N = K */
    double copy_gbs;    /* bytes read plus bytes written, per second */
    double copy_bytes;  /* one buffer */
} kvk_vk_peak;

/* Runs both probes, each first checked for correct results (a wrong probe fails naming it). */
kvk_status kvk_vk_measure_peak(kvk_vk_device *dev, kvk_vk_peak *out);

#endif
