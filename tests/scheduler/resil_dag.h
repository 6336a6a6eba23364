/*
 * A random task graph for the resilience tests: NH handles of NE 64-bit
 * words, NT tasks, each reading up to two handles and updating one in
 * read-write mode with integer arithmetic (exact whatever the order of
 * independent tasks), so that a run equals the sequential reference bit
 * for bit. The host entry point is here; a test may add a CUDA one
 * computing the same (tests/device/resil_kernels.cu).
 */
#ifndef FLO_TESTS_RESIL_DAG_H
#define FLO_TESTS_RESIL_DAG_H

#include <stdint.h>
#include <string.h>

#include "flotilla.h"

#define RD_NE 16

typedef struct rd_task {
    int out, in[2], nin;
    uint64_t mul, add;
} rd_task;

typedef struct rd_args {
    uint64_t mul, add;
    int nin;
} rd_args;

/* out[j] = out[j] * mul + add + sum over inputs of in[(j + 1) % NE]. */
static inline void rd_apply(uint64_t *out, const uint64_t *const *in, int nin,
                            uint64_t mul, uint64_t add)
{
    for (int j = 0; j < RD_NE; j++) {
        uint64_t v = out[j] * mul + add;
        for (int k = 0; k < nin; k++)
            v += in[k][(j + 1) % RD_NE];
        out[j] = v;
    }
}

static inline void rd_host(flo_task_ctx *ctx)
{
    const rd_args *a = flo_task_args(ctx, NULL);
    const uint64_t *in[2];
    for (int k = 0; k < a->nin; k++)
        in[k] = flo_task_buffer(ctx, 1 + k);
    rd_apply(flo_task_buffer(ctx, 0), in, a->nin, a->mul, a->add);
}

static inline uint64_t rd_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A graph of nt tasks over nh handles. */
static inline void rd_make(rd_task *t, int nt, int nh, uint64_t seed)
{
    for (int i = 0; i < nt; i++) {
        t[i].out = (int)(rd_rand(&seed) % (uint64_t)nh);
        t[i].nin = (int)(rd_rand(&seed) % 3);
        for (int k = 0; k < t[i].nin; k++) {
            int h;
            do
                h = (int)(rd_rand(&seed) % (uint64_t)nh);
            while (h == t[i].out);
            t[i].in[k] = h;
        }
        t[i].mul = rd_rand(&seed) | 1;
        t[i].add = rd_rand(&seed);
    }
}

/* Initial contents of handle h. */
static inline void rd_init(uint64_t *v, int h)
{
    for (int j = 0; j < RD_NE; j++)
        v[j] = (uint64_t)h * 1000003u + (uint64_t)j;
}

/* The sequential reference: mem holds nh * RD_NE words. */
static inline void rd_reference(uint64_t *mem, const rd_task *t, int nt, int nh)
{
    for (int h = 0; h < nh; h++)
        rd_init(mem + (size_t)h * RD_NE, h);
    for (int i = 0; i < nt; i++) {
        const uint64_t *in[2];
        for (int k = 0; k < t[i].nin; k++)
            in[k] = mem + (size_t)t[i].in[k] * RD_NE;
        rd_apply(mem + (size_t)t[i].out * RD_NE, in, t[i].nin, t[i].mul,
                 t[i].add);
    }
}

/* Submit task i of the graph over handles h[] with kernel k. */
static inline flo_status rd_submit(flo_runtime *rt, const flo_kernel *k,
                                   const flo_data *h, const rd_task *t,
                                   int retries, flo_event *ev)
{
    flo_access_desc acc[3];
    rd_args a = {t->mul, t->add, t->nin};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    acc[0].data = h[t->out];
    acc[0].mode = FLO_READ_WRITE;
    for (int k2 = 0; k2 < t->nin; k2++) {
        acc[1 + k2].data = h[t->in[k2]];
        acc[1 + k2].mode = FLO_READ;
    }
    d.kernel = k;
    d.access = acc;
    d.naccess = 1 + t->nin;
    d.args = &a;
    d.args_size = sizeof(a);
    d.retries = retries;
    return flo_task_submit(rt, &d, ev);
}

#endif
