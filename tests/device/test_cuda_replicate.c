/*
 * gpu suite - replicated tasks (flo_task_submit_replicated) over two
 * logical GPUs and the host. Copies go to the GPUs first, then the host
 * (resilience.h), so a kernel whose host entry point corrupts its result
 * has exactly one bad copy among three: the GPUs' result must win, bit
 * for bit. Each copy's private versions of a read-write buffer start
 * from the buffer on the copy's own device (the backend's copy entry).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cuda_test_util.h"
#include "flotilla/resilience.h"

enum { N = 4096 };

static flo_runtime *start(void)
{
    flo_config cfg = flo_test_gpu_config(2);
    flo_runtime *rt = NULL;
    cfg.devices = FLO_DEVICES_CUDA;
    assert_int_equal(flo_init(&cfg, &rt), FLO_OK);
    assert_int_equal(flo_device_count(rt), 3);
    return rt;
}

/* The host twin of flo_test_cuda_mix, with one bit flipped: a silent
 * error of the host copy. */
static void host_mix_corrupt(flo_task_ctx *ctx)
{
    uint32_t *x = flo_task_buffer(ctx, 0);
    flo_test_host_mix(ctx);
    x[N / 2] ^= 1u << 7;
}

static void host_fail(flo_task_ctx *ctx)
{
    flo_task_fail(ctx, FLO_ETASK, "host copy refused");
}

static const flo_kernel k_mix_bad_host = {
    .name = "mix", .host = host_mix_corrupt, .cuda = flo_test_cuda_mix};
static const flo_kernel k_mix = {
    .name = "mix", .host = flo_test_host_mix, .cuda = flo_test_cuda_mix};
static const flo_kernel k_fail = {
    .name = "fail", .host = host_fail, .cuda = flo_test_cuda_fail};
static const flo_kernel k_set = {
    .name = "set", .host = flo_test_host_set, .cuda = flo_test_cuda_set};

/* a = a * 3 + b + k + i on the host: what every correct copy computes. */
static void mix_ref(uint32_t *a, const uint32_t *b, uint32_t k)
{
    for (uint32_t i = 0; i < N; i++)
        a[i] = a[i] * 3u + b[i] + k + i;
}

static void set_ref(uint32_t *a, uint32_t k)
{
    for (uint32_t i = 0; i < N; i++)
        a[i] = k ^ (uint32_t)(i * 2654435761u);
}

static flo_status submit_rep(flo_runtime *rt, const flo_kernel *k, flo_data ha,
                             flo_data hb, const flo_test_args *a, int copies,
                             flo_replicate_vote vote,
                             flo_replicate_validate_fn validate, void *varg,
                             flo_event *ev)
{
    flo_access_desc acc[2] = {FLO_RW(ha), FLO_R(hb)};
    flo_task_desc d = FLO_TASK_DESC_INIT;
    flo_replicate_desc r = {sizeof(r), copies, vote, validate, varg};

    d.kernel = k;
    d.access = acc;
    d.naccess = 2;
    d.args = a;
    d.args_size = sizeof(*a);
    return flo_task_submit_replicated(rt, &d, &r, ev);
}

static void make_inputs(uint32_t *a, uint32_t *b, uint64_t seed)
{
    for (int i = 0; i < N; i++) {
        a[i] = (uint32_t)flo_test_rand(&seed);
        b[i] = (uint32_t)flo_test_rand(&seed);
    }
}

/* Three copies (GPU 1, GPU 2, host), the host's corrupt: the majority is
 * the GPUs', bit for bit; repeated as a chain, each from the last. */
static void test_majority_over_devices(void **state)
{
    (void)state;
    flo_runtime *rt = start();
    uint32_t *a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b));
    uint32_t *want = malloc(N * sizeof(*want));
    flo_test_args args = {5, 2};
    flo_data ha, hb;
    flo_event ev;

    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(want);
    make_inputs(a, b, 11);
    memcpy(want, a, N * sizeof(*a));
    assert_int_equal(flo_data_register(rt, a, N * sizeof(*a), &ha), FLO_OK);
    assert_int_equal(flo_data_register(rt, b, N * sizeof(*b), &hb), FLO_OK);
    for (int it = 0; it < 8; it++) {
        mix_ref(want, b, args.k);
        assert_int_equal(submit_rep(rt, &k_mix_bad_host, ha, hb, &args, 3,
                                    FLO_REPLICATE_MAJORITY, NULL, NULL, &ev),
                         FLO_OK);
    }
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_int_equal(flo_wait_all(rt), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, ha), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hb), FLO_OK);
    assert_memory_equal(a, want, N * sizeof(*a));
    assert_int_equal(flo_finalize(rt), FLO_OK);
    free(a);
    free(b);
    free(want);
}

/* FIRST with a validate function that rejects the corrupt result. */
typedef struct vref {
    const uint32_t *want;
    int calls, rejected; /* Run on one host worker at a time: the vote. */
} vref;

static int v_ref(void *arg, int copy, const void *const *bufs,
                 const size_t *sizes, int nbufs)
{
    vref *v = arg;
    int ok;
    (void)copy;
    __atomic_add_fetch(&v->calls, 1, __ATOMIC_RELAXED);
    ok = nbufs == 1 && sizes[0] == N * sizeof(uint32_t) &&
         memcmp(bufs[0], v->want, sizes[0]) == 0;
    if (!ok)
        __atomic_add_fetch(&v->rejected, 1, __ATOMIC_RELAXED);
    return ok;
}

static void test_first_validate(void **state)
{
    (void)state;
    flo_runtime *rt = start();
    uint32_t *a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b));
    uint32_t *want = malloc(N * sizeof(*want));
    flo_test_args args = {9, 2};
    flo_data ha, hb;
    flo_event ev;
    vref v = {0};

    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(want);
    make_inputs(a, b, 12);
    memcpy(want, a, N * sizeof(*a));
    mix_ref(want, b, args.k);
    v.want = want;
    assert_int_equal(flo_data_register(rt, a, N * sizeof(*a), &ha), FLO_OK);
    assert_int_equal(flo_data_register(rt, b, N * sizeof(*b), &hb), FLO_OK);
    assert_int_equal(submit_rep(rt, &k_mix_bad_host, ha, hb, &args, 3,
                                FLO_REPLICATE_FIRST, v_ref, &v, &ev),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);
    assert_true(__atomic_load_n(&v.calls, __ATOMIC_RELAXED) >= 1);
    assert_true(__atomic_load_n(&v.rejected, __ATOMIC_RELAXED) <= 1);
    assert_int_equal(flo_data_unregister(rt, ha), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hb), FLO_OK);
    assert_memory_equal(a, want, N * sizeof(*a));
    assert_int_equal(flo_finalize(rt), FLO_OK);
    free(a);
    free(b);
    free(want);
}

/*
 * The input's only valid copy on GPU 1 (written there last): every copy
 * starts from it, wherever it runs, and five copies wrap around the
 * three devices. Then every copy fails: FLO_ETASK, and the buffer keeps
 * what the GPU wrote.
 */
static void test_inputs_on_gpu_and_all_fail(void **state)
{
    (void)state;
    flo_runtime *rt = start();
    uint32_t *a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b));
    uint32_t *want = malloc(N * sizeof(*want));
    flo_test_args set = {77, 1}, args = {3, 2};
    flo_data ha, hb;
    flo_event ev;
    char msg[512];

    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(want);
    make_inputs(a, b, 13);
    set_ref(want, set.k);
    mix_ref(want, b, args.k);
    assert_int_equal(flo_data_register(rt, a, N * sizeof(*a), &ha), FLO_OK);
    assert_int_equal(flo_data_register(rt, b, N * sizeof(*b), &hb), FLO_OK);
    assert_int_equal(flo_submit(rt, NULL, .kernel = &k_set,
                                FLO_ACCESS(FLO_W(ha)), FLO_ARGS(set),
                                .on_device = FLO_DEVICE(1)),
                     FLO_OK);
    assert_int_equal(submit_rep(rt, &k_mix, ha, hb, &args, 5,
                                FLO_REPLICATE_MAJORITY, NULL, NULL, &ev),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_OK);

    assert_int_equal(submit_rep(rt, &k_fail, ha, hb, &args, 3,
                                FLO_REPLICATE_FIRST, NULL, NULL, &ev),
                     FLO_OK);
    assert_int_equal(flo_event_wait(rt, ev), FLO_ETASK);
    assert_int_equal(flo_error_message(rt, ev, msg, sizeof(msg)), FLO_OK);
    assert_non_null(strstr(msg, "copy 0 on device 1"));
    assert_non_null(strstr(msg, "copy 1 on device 2"));
    assert_non_null(strstr(msg, "host copy refused"));
    assert_int_equal(flo_wait_all(rt), FLO_ETASK);
    assert_int_equal(flo_data_unregister(rt, ha), FLO_OK);
    assert_int_equal(flo_data_unregister(rt, hb), FLO_OK);
    assert_memory_equal(a, want, N * sizeof(*a));
    assert_int_equal(flo_finalize(rt), FLO_OK);
    free(a);
    free(b);
    free(want);
}

int main(void)
{
    FLO_TEST_REQUIRE_GPU();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_majority_over_devices),
        cmocka_unit_test(test_first_validate),
        cmocka_unit_test(test_inputs_on_gpu_and_all_fail),
    };
    return cmocka_run_group_tests_name("device_cuda_replicate", tests, NULL,
                                       NULL);
}
