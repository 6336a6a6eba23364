/*
 * Flotilla - CUDA launchers of the array algorithms: the scratch size
 * query and error names. The launchers themselves are in
 * algo_cuda_{transform,reduce,scan}.cu (CUB, 64-bit counts throughout).
 */
#include "collectives/algo/algo_cuda.cuh"

using namespace flo_algo;

extern "C" int flo__algo_cuda_temp_bytes(int dt, uint64_t n, int ordinal,
                                         size_t *bytes)
{
    int prev = -1;
    /* A size query launches nothing: an error left over from an earlier
     * call on this thread (seen: a failed allocation elsewhere) must not
     * be taken for its own. */
    (void)cudaGetLastError();
    cudaError_t e = cudaGetDevice(&prev);
    if (e != cudaSuccess)
        return (int)e;
    if (ordinal >= 0 && ordinal != prev) {
        e = cudaSetDevice(ordinal);
        if (e != cudaSuccess)
            return (int)e;
    }
    size_t most = 0;
    for (int op = 0; op < FLO_REDOP_COUNT && e == cudaSuccess; op++) {
        for (int arg = 0; arg < 2 && e == cudaSuccess; arg++) {
            size_t b = 0;
            if (arg && op != FLO_MIN && op != FLO_MAX)
                continue;
            e = reduce_temp(dt, op, arg, n, &b);
            most = b > most ? b : most;
        }
        for (int k = 0; k < 4 && e == cudaSuccess; k++) {
            size_t b = 0;
            e = scan_temp(dt, op, k & 1, k >> 1, n, &b);
            most = b > most ? b : most;
        }
    }
    if (ordinal >= 0 && ordinal != prev)
        cudaSetDevice(prev);
    if (e != cudaSuccess)
        return (int)e;
    *bytes = most;
    return 0;
}

extern "C" const char *flo__algo_cuda_strerror(int err)
{
    return cudaGetErrorString((cudaError_t)err);
}
