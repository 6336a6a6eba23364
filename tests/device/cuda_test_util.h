/*
 * Helpers shared by the gpu suite: the host twins of the test kernels,
 * a deterministic random generator, and the visible skip used when no GPU
 * is present (a TAP plan "1..0 # SKIP", which meson reports as SKIP).
 */
#ifndef FLO_TEST_CUDA_UTIL_H
#define FLO_TEST_CUDA_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "flotilla.h"
#include "cuda_test_kernels.h"

/* Print the TAP skip and return from main when no GPU is visible. */
#define FLO_TEST_REQUIRE_GPU()                                                 \
    do {                                                                       \
        if (flo_test_gpu_count() <= 0) {                                       \
            printf("1..0 # SKIP no CUDA GPU visible\n");                       \
            return 0;                                                          \
        }                                                                      \
    } while (0)

/* A test runtime's configuration on one GPU, split into `logical`
 * logical GPUs (0: the default, one): the environment ignored, two host
 * workers, no binding. */
static inline flo_config flo_test_gpu_config(int logical)
{
    flo_config cfg = FLO_CONFIG_INIT;
    cfg.ignore_env = 1;
    cfg.host_workers = 2;
    cfg.no_bind = 1;
    cfg.gpus = 1;
    cfg.logical_gpus = logical;
    return cfg;
}

static inline uint64_t flo_test_rand(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline const flo_test_args *flo_test_args_of(flo_task_ctx *ctx)
{
    size_t sz = 0;
    const void *a = flo_task_args(ctx, &sz);
    return sz == sizeof(flo_test_args) ? (const flo_test_args *)a : NULL;
}

static inline void flo_test_host_mix(flo_task_ctx *ctx)
{
    const flo_test_args *a = flo_test_args_of(ctx);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(uint32_t);
    uint32_t *x = flo_task_buffer(ctx, 0);
    const uint32_t *b = a && a->nbuf > 1 ? flo_task_buffer(ctx, 1) : NULL;
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * 3u + (b ? b[i] : 0u) + (a ? a->k : 0u) + (uint32_t)i;
}

static inline void flo_test_host_set(flo_task_ctx *ctx)
{
    const flo_test_args *a = flo_test_args_of(ctx);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(uint32_t);
    uint32_t *x = flo_task_buffer(ctx, 0);
    for (size_t i = 0; i < n; i++)
        x[i] = (a ? a->k : 0u) ^ (uint32_t)(i * 2654435761u);
}

static inline void flo_test_host_xor(flo_task_ctx *ctx)
{
    const flo_test_args *a = flo_test_args_of(ctx);
    size_t n = flo_task_buffer_size(ctx, 0) / sizeof(uint32_t);
    uint32_t *c = flo_task_buffer(ctx, 0);
    const uint32_t *x = flo_task_buffer(ctx, 1);
    for (size_t i = 0; i < n; i++)
        c[i] = x[i] ^ (a ? a->k : 0u);
}

static inline void flo_test_host_count(flo_task_ctx *ctx)
{
    uint64_t *c = flo_task_buffer(ctx, 0);
    (*c)++;
}

#endif
