/*
 * A C++ program built with CMake against an installed Flotilla
 * (find_package(Flotilla), Flotilla::flotilla): lambdas as tasks over
 * blocks of a vector, then a distributed array reduced through the C API.
 * It checks its results and exits non-zero if one is wrong.
 */
#include <flotilla.hpp>

#include <cstdint>
#include <cstdio>
#include <vector>

int main()
{
    constexpr std::size_t n = 1 << 16, nb = 8;
    try {
        flo::runtime rt; /* host workers and every GPU; FLO_* apply */
        std::printf("flotilla %s: %d workers, %d devices\n",
                    flo_version_string(), rt.worker_count(),
                    rt.device_count());

        /* y[b] += alpha * x for each block b, twice: 1 + 3 x. */
        std::vector<double> x(n);
        std::vector<std::vector<double>> y(nb, std::vector<double>(n, 1.0));
        for (std::size_t i = 0; i < n; i++)
            x[i] = double(i);
        {
            flo::data hx(rt, x.data(), n * sizeof(double));
            std::vector<flo::data> hy;
            for (auto &blk : y)
                hy.emplace_back(rt, blk.data(), n * sizeof(double));
            for (double alpha : {1.0, 2.0}) {
                for (auto &h : hy) {
                    rt.submit(
                        [alpha](flo::task_ctx &ctx) {
                            auto xs = ctx.buffer<const double>(0);
                            auto ys = ctx.buffer<double>(1);
                            for (std::size_t i = 0; i < ys.size(); i++)
                                ys[i] += alpha * xs[i];
                        },
                        {flo::read(hx), flo::read_write(h)});
                }
            }
            rt.wait_all();
        } /* the handles unregister here: the data is back in y */
        for (std::size_t b = 0; b < nb; b++) {
            for (std::size_t i = 0; i < n; i++) {
                if (y[b][i] != 1.0 + 3.0 * x[i]) {
                    std::printf("WRONG: y[%zu][%zu] = %g\n", b, i, y[b][i]);
                    return 1;
                }
            }
        }
        std::printf("ok: y = 1 + 3 x in %zu blocks\n", nb);

        /* sum of 0 .. n-1 over an array spread across the devices. */
        std::vector<std::int64_t> v(n);
        for (std::size_t i = 0; i < n; i++)
            v[i] = std::int64_t(i);
        flo_array *a = nullptr;
        flo::check(flo_array_create_from_host(rt.get(), FLO_I64, n, v.data(),
                                              nullptr, &a),
                   "flo_array_create_from_host");
        std::int64_t sum = -1;
        flo_status st = flo_array_reduce_sync(a, FLO_SUM, &sum);
        flo::check(flo_array_destroy(a), "flo_array_destroy");
        flo::check(st, "flo_array_reduce_sync");
        const std::int64_t expect = std::int64_t(n) * (std::int64_t(n) - 1) / 2;
        if (sum != expect) {
            std::printf("WRONG: sum = %lld, expected %lld\n",
                        static_cast<long long>(sum),
                        static_cast<long long>(expect));
            return 1;
        }
        std::printf("ok: reduce gives %lld\n", static_cast<long long>(sum));
        rt.finalize();
    } catch (const flo::error &e) {
        std::printf("flotilla error: %s\n", e.what());
        return 1;
    }
    std::printf("all results correct\n");
    return 0;
}
