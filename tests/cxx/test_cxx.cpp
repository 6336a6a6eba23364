/*
 * cxx_flotilla: the C++17 layer (include/flotilla.hpp) and the C headers
 * compiled as C++: RAII runtime and data handles, lambdas as entry points
 * (kept by value or on the heap, destroyed exactly once, also when the
 * task is canceled or refused), flo::span buffers, exceptions in both
 * directions, C kernels with typed arguments. Public headers only.
 *
 * Tasks record into atomics; the main thread asserts (CMocka is not
 * thread-safe).
 */
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "flotilla.hpp"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* This cmocka.h does not declare its functions extern "C" itself. */
extern "C" {
#include <cmocka.h>
}

namespace
{

flo::runtime make_rt(int workers)
{
    flo_config cfg;
    flo_config_init(&cfg);
    cfg.host_workers = workers;
    cfg.devices = FLO_DEVICES_HOST;
    cfg.ignore_env = 1;
    return flo::runtime(cfg);
}

/* ---- RAII -------------------------------------------------------------- */

void test_runtime_raii(void **)
{
    flo::runtime a = make_rt(2);
    assert_non_null(a.get());
    assert_true(static_cast<bool>(a));
    assert_int_equal(a.worker_count(), 2);
    assert_int_equal(a.device_count(), 1);

    flo::runtime b = std::move(a);
    assert_null(a.get());
    assert_false(static_cast<bool>(a));
    assert_non_null(b.get());

    std::atomic<int> ran{0};
    b.submit([&ran] { ran++; });
    b.wait_all();
    assert_int_equal(ran.load(), 1);

    /* Move-assigning finalizes the target's runtime first. */
    flo::runtime c = make_rt(1);
    c = std::move(b);
    assert_null(b.get());
    c.submit([&ran](flo::task_ctx &) { ran++; });
    c.finalize();
    assert_null(c.get());
    assert_int_equal(ran.load(), 2);
    c.finalize(); /* Nothing left: a no-op. */

    /* A bad configuration: flo_init's status as an exception. */
    flo_config bad;
    flo_config_init(&bad);
    bad.size = 3;
    try {
        flo::runtime r(bad);
        fail_msg("flo_init accepted a config of size 3");
    } catch (const flo::error &e) {
        assert_int_equal(e.status(), FLO_EINVAL);
        assert_non_null(std::strstr(e.what(), "FLO_EINVAL"));
    }
}

void test_data_raii(void **)
{
    flo::runtime rt = make_rt(2);
    double v[4] = {1, 2, 3, 4};
    {
        flo::data h(rt, v, sizeof(v));
        assert_true(static_cast<bool>(h));
        flo::data moved = std::move(h);
        assert_false(static_cast<bool>(h));
        rt.submit(
            [](flo::task_ctx &ctx) {
                for (double &x : ctx.buffer<double>(0))
                    x *= 10;
            },
            {flo::read_write(moved)});
        /* moved's destructor unregisters: it waits for the task and
         * writes the data back. */
    }
    assert_true(v[0] == 10 && v[3] == 40);

    flo::data owned = flo::data::alloc(rt, 3 * sizeof(int));
    size_t bytes = 0;
    assert_int_equal(flo_data_size(rt.get(), owned, &bytes), FLO_OK);
    assert_int_equal(bytes, 3 * sizeof(int));
    owned.unregister();
    assert_false(static_cast<bool>(owned));
    owned.unregister(); /* Empty: a no-op. */

    try {
        flo::data bad(rt, nullptr, 8);
        fail_msg("flo_data_register accepted NULL");
    } catch (const flo::error &e) {
        assert_int_equal(e.status(), FLO_EINVAL);
    }
    try {
        flo::data::alloc(rt, 0);
        fail_msg("flo_data_alloc accepted 0 bytes");
    } catch (const flo::error &e) {
        assert_int_equal(e.status(), FLO_EINVAL);
    }
    /* A host-only runtime has no GPU to register device memory on
     * (FLO_ENOTSUP first in a build without CUDA). */
    try {
        double dev[4];
        flo::data d = flo::data::register_device(rt, 1, dev, sizeof(dev));
        fail_msg("flo_data_register_device accepted a host-only runtime");
    } catch (const flo::error &e) {
        assert_true(e.status() == FLO_ENODEV || e.status() == FLO_ENOTSUP);
    }
}

/* ---- Lambdas as entry points ----------------------------------------- */

void test_lambda_axpy(void **)
{
    enum { N = 1000 };
    flo::runtime rt = make_rt(4);
    std::vector<double> x(N), y(N, 1.0), want(N, 1.0);
    for (int i = 0; i < N; i++)
        x[i] = i;
    {
        flo::data hx(rt, x.data(), N * sizeof(double));
        flo::data hy(rt, y.data(), N * sizeof(double));
        for (int rep = 0; rep < 20; rep++) {
            double alpha = 0.5 + rep;
            auto axpy = [alpha](flo::task_ctx &ctx) {
                flo::span<const double> xs = ctx.buffer<const double>(0);
                flo::span<double> ys = ctx.buffer<double>(1);
                if (xs.size() != ys.size())
                    throw std::runtime_error("sizes differ");
                for (std::size_t i = 0; i < ys.size(); i++)
                    ys[i] += alpha * xs[i];
            };
            static_assert(flo::stored_by_value_v<decltype(axpy)>,
                          "a lambda capturing a double is kept by value");
            flo::task_options opt;
            opt.priority = rep % 3;
            opt.name = "axpy";
            rt.submit(axpy, {flo::read(hx), flo::read_write(hy)}, opt);
            for (int i = 0; i < N; i++)
                want[i] += alpha * x[i];
        }
        rt.wait_all();
    }
    for (int i = 0; i < N; i++)
        if (y[i] != want[i])
            fail_msg("y[%d] = %g, expected %g", i, y[i], want[i]);
}

/* Counts live copies of a callable kept on the heap. */
std::atomic<int> live{0}, calls{0};
struct counted {
    std::vector<int> payload{1, 2, 3};
    counted()
    {
        live++;
    }
    counted(const counted &o) : payload(o.payload)
    {
        live++;
    }
    counted(counted &&o) noexcept : payload(std::move(o.payload))
    {
        live++;
    }
    ~counted()
    {
        live--;
    }
    void operator()(flo::task_ctx &) const
    {
        if (payload.size() == 3 && payload[2] == 3)
            calls++;
    }
};

void k_fail(flo_task_ctx *ctx)
{
    flo_task_fail(ctx, FLO_ETASK, "planned failure");
}
const flo_kernel kfail = {"fail", k_fail, nullptr};

void test_heap_callables(void **)
{
    static_assert(!flo::stored_by_value_v<counted>,
                  "a callable owning a vector goes to the heap");
    live = 0;
    calls = 0;
    {
        flo::runtime rt = make_rt(2);
        for (int i = 0; i < 100; i++)
            rt.submit(counted{});
        counted lvalue;
        rt.submit(lvalue); /* Copied. */
        rt.wait_all();
        assert_int_equal(calls.load(), 101);
        assert_int_equal(live.load(), 1); /* Only `lvalue`. */

        /* A large trivially copyable capture: also the heap, also run. */
        double big[32];
        for (int i = 0; i < 32; i++)
            big[i] = i;
        std::atomic<double> sum{0};
        auto large = [big, &sum] {
            double s = 0;
            for (double b : big)
                s += b;
            sum = s;
        };
        static_assert(!flo::stored_by_value_v<decltype(large)>,
                      "more than 64 bytes goes to the heap");
        rt.submit(large);
        rt.wait_all();
        assert_true(sum.load() == 31 * 32 / 2);

        /* Canceled before it ran: destroyed all the same. */
        flo_event bad = rt.submit(kfail);
        flo_event deps[1] = {bad};
        flo::task_options opt;
        opt.deps = deps;
        opt.ndeps = 1;
        flo_event canceled = rt.submit(counted{}, {}, opt);
        try {
            rt.wait(canceled);
            fail_msg("a task after a failed one was not canceled");
        } catch (const flo::error &e) {
            assert_int_equal(e.status(), FLO_ECANCELED);
        }
        try {
            rt.wait_all();
            fail_msg("flo_wait_all did not report the failure");
        } catch (const flo::error &e) {
            assert_int_equal(e.status(), FLO_ETASK);
            assert_non_null(std::strstr(e.what(), "planned failure"));
        }
        assert_int_equal(calls.load(), 101);
        assert_int_equal(live.load(), 1);

        /* Refused at submit: destroyed before the exception. */
        opt = flo::task_options();
        opt.on_worker = FLO_WORKER(99);
        try {
            rt.submit(counted{}, {}, opt);
            fail_msg("a task for worker 99 of 2 was accepted");
        } catch (const flo::error &e) {
            assert_int_equal(e.status(), FLO_EINVAL);
        }
        assert_int_equal(live.load(), 1);
    }
    assert_int_equal(live.load(), 0);
}

/* A mutable lambda runs on its own copy; a lambda without parameters;
 * a plain function. */
std::atomic<int> plain_runs{0};
void plain_task(flo::task_ctx &ctx)
{
    if (ctx.worker() >= 0 && ctx.device() == 0 && ctx.runtime() != nullptr)
        plain_runs++;
}

void test_callable_kinds(void **)
{
    flo::runtime rt = make_rt(2);
    std::atomic<int> total{0};
    int n = 5;
    auto mut = [n, &total](flo::task_ctx &) mutable {
        n += 1;
        total += n;
    };
    static_assert(flo::stored_by_value_v<decltype(mut)>, "small, trivial");
    for (int i = 0; i < 10; i++)
        rt.submit(mut);
    rt.submit(plain_task);
    rt.submit(&plain_task);
    rt.wait_all();
    assert_int_equal(total.load(), 60); /* Each copy starts from n = 5. */
    assert_int_equal(plain_runs.load(), 2);

    /* Submission from inside a task, through its runtime. */
    std::atomic<int> children{0};
    rt.submit([&children](flo::task_ctx &ctx) {
        for (int i = 0; i < 10; i++)
            flo::submit(ctx.runtime(), [&children] { children++; });
    });
    rt.wait_all();
    assert_int_equal(children.load(), 10);
}

/* ---- Errors inside tasks -------------------------------------------- */

void test_task_exceptions(void **)
{
    flo::runtime rt = make_rt(2);
    alignas(8) char odd[10] = {0};
    flo::data h(rt, odd, sizeof(odd));

    flo_event e1 = rt.submit([] { throw std::runtime_error("boom"); });
    try {
        rt.wait(e1);
        fail_msg("a throwing task succeeded");
    } catch (const flo::error &e) {
        assert_int_equal(e.status(), FLO_ETASK);
        assert_non_null(std::strstr(e.what(), "boom"));
    }
    flo_event e2 =
        rt.submit([] { throw flo::error(FLO_EDEVICE, "device fell over"); });
    try {
        rt.wait(e2);
        fail_msg("a throwing task succeeded");
    } catch (const flo::error &e) {
        assert_int_equal(e.status(), FLO_EDEVICE);
        assert_non_null(std::strstr(e.what(), "device fell over"));
    }
    flo_event e3 = rt.submit([] { throw 42; });
    /* A 10-byte buffer is not an array of doubles; there is no buffer 1. */
    flo_event e4 =
        rt.submit([](flo::task_ctx &ctx) { (void)ctx.buffer<double>(0); },
                  {flo::read(h)});
    flo_event e5 = rt.submit(
        [](flo::task_ctx &ctx) { (void)ctx.buffer<char>(1); }, {flo::read(h)});
    std::atomic<int> ok{0};
    flo_event e6 = rt.submit(
        [&ok](flo::task_ctx &ctx) {
            if (ctx.buffer<char>(0).size() == 10 &&
                ctx.buffer<std::int16_t>(0).size_bytes() == 10 &&
                ctx.buffer_size(0) == 10 && ctx.buffer_size(1) == 0)
                ok++;
            /* Parenthesised: cmocka.h defines a fail() macro. */
            (ctx.fail)(FLO_ERANGE, "explicit failure");
        },
        {flo::read(h)});
    assert_int_equal(flo_event_wait(rt.get(), e3), FLO_ETASK);
    assert_int_equal(flo_event_wait(rt.get(), e4), FLO_EINVAL);
    assert_int_equal(flo_event_wait(rt.get(), e5), FLO_EINVAL);
    assert_int_equal(flo_event_wait(rt.get(), e6), FLO_ERANGE);
    assert_int_equal(ok.load(), 1);
    char msg[256];
    assert_int_equal(flo_error_message(rt.get(), e4, msg, sizeof(msg)), FLO_OK);
    assert_non_null(std::strstr(msg, "not an array of 8-byte"));
    try {
        rt.wait_all();
        fail_msg("flo_wait_all did not report the failures");
    } catch (const flo::error &e) {
        assert_true(e.status() < 0);
    }
    /* The runtime goes on. */
    std::atomic<int> after{0};
    rt.submit([&after] { after++; });
    rt.wait_all();
    assert_int_equal(after.load(), 1);
}

/* ---- C kernels and the C macros in C++ ------------------------------ */

struct scale_args {
    double factor;
    int n;
};

void k_scale(flo_task_ctx *ctx)
{
    const scale_args *a = FLO_TASK_ARGS(ctx, scale_args);
    double *p = FLO_TASK_BUFFER(ctx, 0, double);
    if (!a || !p ||
        flo_task_buffer_count(ctx, 0, sizeof(double)) !=
            static_cast<std::size_t>(a->n)) {
        flo_task_fail(ctx, FLO_EINVAL, "bad arguments");
        return;
    }
    for (int i = 0; i < a->n; i++)
        p[i] *= a->factor;
}
const flo_kernel kscale = {"scale", k_scale, nullptr};

void test_c_kernels(void **)
{
    flo::runtime rt = make_rt(2);
    double v[3] = {1, 2, 3};
    {
        flo::data h(rt, v, sizeof(v));
        scale_args a{3.0, 3};
        rt.submit(kscale, {flo::read_write(h)}, a);
        flo_access_desc acc[] = {FLO_RW(h)};
        flo::submit(rt.get(), kscale, {acc[0]}, scale_args{2.0, 3});
        /* Wrong argument type: the kernel refuses it. */
        flo_event bad = rt.submit(kscale, {flo::read_write(h)}, 1.0);
        assert_int_equal(flo_event_wait(rt.get(), bad), FLO_EINVAL);
        try {
            rt.wait_all();
            fail_msg("flo_wait_all did not report the refused arguments");
        } catch (const flo::error &e) {
            assert_int_equal(e.status(), FLO_EINVAL);
        }
        /* The C descriptor, zero-initialised, from C++. */
        flo_task_desc d = FLO_TASK_DESC_INIT;
        d.kernel = &kscale;
        d.access = acc;
        d.naccess = 1;
        d.args = &a;
        d.args_size = sizeof(a);
        assert_int_equal(flo_task_submit(rt.get(), &d, nullptr), FLO_OK);
        /* Entries from a vector, through flo::span. */
        std::vector<flo_access_desc> many(50, flo::read(h));
        std::atomic<int> seen{0};
        rt.submit(
            [&seen](flo::task_ctx &ctx) {
                if (ctx.buffer<double>(49).data() ==
                    ctx.buffer<double>(0).data())
                    seen++;
            },
            flo::span<const flo_access_desc>(many.data(), many.size()));
        rt.wait_all();
        assert_int_equal(seen.load(), 1);
    }
    assert_true(v[0] == 18 && v[1] == 36 && v[2] == 54);
}

} // namespace

int main()
{
    const char *filter = std::getenv("FLOTILLA_TEST_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtime_raii),
        cmocka_unit_test(test_data_raii),
        cmocka_unit_test(test_lambda_axpy),
        cmocka_unit_test(test_heap_callables),
        cmocka_unit_test(test_callable_kinds),
        cmocka_unit_test(test_task_exceptions),
        cmocka_unit_test(test_c_kernels),
    };
    return cmocka_run_group_tests_name("cxx_flotilla", tests, nullptr, nullptr);
}
