/* Flotilla tests - a user element kernel with a CUDA entry point
 * (algo_test_kernels.cu): out[i] = x[i] * k + (offset + i), int64, k the
 * int64 argument blob. */
#ifndef FLO_TESTS_ALGO_TEST_KERNELS_H
#define FLO_TESTS_ALGO_TEST_KERNELS_H

#include "flotilla.h"

#ifdef __cplusplus
extern "C" {
#endif

void algo_test_iota_cuda(const flo_array_span *s);

#ifdef __cplusplus
}
#endif
#endif
