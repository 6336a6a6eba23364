/*
 * flo-info - the machine as Flotilla sees it: NUMA nodes and cores, each
 * GPU (name, memory, SMs, PCI bus id, nearest cores), the peer-access
 * matrix, which core each worker of a default runtime is bound to, and
 * with --bandwidth measured host-to-device, device-to-host and peer
 * bandwidth. Works on machines without GPUs and in builds without CUDA.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>

#include "flo_build_config.h"
#include "flotilla.h"
#include "scheduler/sched.h"

#if FLO_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <hwloc/cudart.h>

#include "device/cuda/cuda_backend.h"
#endif

static const char usage[] =
    "usage: flo-info [--bandwidth] [--bytes N] [--reps N] [--no-runtime]\n"
    "  --bandwidth   measure host<->GPU and GPU<->GPU copy bandwidth\n"
    "                (pinned memory, cudaMemcpyAsync, timed with events)\n"
    "  --bytes N     bytes per measured copy (default 64 MiB)\n"
    "  --reps N      copies per figure; the median is printed (default 5)\n"
    "  --no-runtime  do not start a runtime (skip the worker table)\n"
    "The FLO_* environment variables apply to the runtime started here.\n";

static void print_host(hwloc_topology_t topo)
{
    hwloc_obj_t root = hwloc_get_root_obj(topo);
    const char *model = hwloc_obj_get_info_by_name(root, "CPUModel");
    if (!model) {
        hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0);
        model = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
    }
    int npkg = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    int ncore = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int npu = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    printf("Host: %s\n", model ? model : "(unknown CPU)");
    printf("  %d package(s), %d core(s), %d hardware thread(s), "
           "%d NUMA node(s)\n",
           npkg, ncore, npu, nnuma);
    for (int i = 0; i < nnuma; i++) {
        hwloc_obj_t n = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
        char cpus[256];
        hwloc_bitmap_list_snprintf(cpus, sizeof cpus, n->cpuset);
        int cores = hwloc_get_nbobjs_inside_cpuset_by_type(topo, n->cpuset,
                                                           HWLOC_OBJ_CORE);
        unsigned long long mem = n->attr ? n->attr->numanode.local_memory : 0;
        printf("  NUMA node %u: %d cores, CPUs %s, %llu MiB\n", n->os_index,
               cores, cpus, mem >> 20);
    }
}

#if FLO_HAVE_CUDA
static int print_gpus(hwloc_topology_t topo)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        printf("GPUs: no GPU (%s)\n",
               e == cudaSuccess ? "none visible" : cudaGetErrorString(e));
        (void)cudaGetLastError();
        return 0;
    }
    int drv = 0, rtv = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rtv);
    printf("GPUs: %d (driver %d.%d, runtime %d.%d)\n", n, drv / 1000,
           drv % 1000 / 10, rtv / 1000, rtv % 1000 / 10);
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    for (int i = 0; i < n; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
            printf("  cuda %d: %s\n", i,
                   cudaGetErrorString(cudaGetLastError()));
            continue;
        }
        char pci[32] = "?";
        cudaDeviceGetPCIBusId(pci, sizeof pci, i);
        char cpus[256] = "unknown (no hwloc locality)";
        if (set && hwloc_cudart_get_device_cpuset(topo, i, set) == 0 &&
            !hwloc_bitmap_iszero(set))
            hwloc_bitmap_list_snprintf(cpus, sizeof cpus, set);
        printf("  cuda %d: %s, %zu MiB, %d SMs, sm_%d%d, PCI %s\n", i, p.name,
               p.totalGlobalMem >> 20, p.multiProcessorCount, p.major, p.minor,
               pci);
        printf("          nearest CPUs: %s\n", cpus);
    }
    if (set)
        hwloc_bitmap_free(set);
    printf("Peer access (row: from, column: to; 'P' peer, '-' none):\n    ");
    for (int j = 0; j < n; j++)
        printf(" %3d", j);
    printf("\n");
    for (int i = 0; i < n; i++) {
        printf("  %2d", i);
        for (int j = 0; j < n; j++)
            printf(" %3s", i == j ? "x" : flo__cuda_can_peer(i, j) ? "P" : "-");
        printf("\n");
    }
    return n;
}

static void print_bandwidth(int n, size_t bytes, int reps)
{
    printf("Bandwidth (%zu MiB copies, median of %d), GB/s:\n", bytes >> 20,
           reps);
    for (int i = 0; i < n; i++) {
        double h2d = 0, d2h = 0;
        flo_status a = flo__cuda_measure_h2d(i, bytes, reps, &h2d);
        flo_status b = flo__cuda_measure_d2h(i, bytes, reps, &d2h);
        printf("  cuda %d: host->device %s%.1f, device->host %s%.1f\n", i,
               a ? "(failed) " : "", h2d / 1e9, b ? "(failed) " : "",
               d2h / 1e9);
    }
    printf("  device->device (row: source, column: destination):\n    ");
    for (int j = 0; j < n; j++)
        printf(" %7d", j);
    printf("\n");
    for (int i = 0; i < n; i++) {
        printf("  %2d", i);
        for (int j = 0; j < n; j++) {
            double bw = 0;
            if (flo__cuda_measure_p2p(i, j, bytes, reps, &bw) == FLO_OK)
                printf(" %7.1f", bw / 1e9);
            else
                printf(" %7s", "fail");
        }
        printf("\n");
    }
}
#endif

static void print_workers(void)
{
    flo_runtime *rt = NULL;
    flo_status st = flo_init(NULL, &rt);
    if (st != FLO_OK) {
        printf("Runtime: flo_init failed: %s\n", flo_status_str(st));
        return;
    }
    int nw = flo_worker_count(rt);
    printf("Runtime: %d device(s), %d worker(s), %s binding\n",
           flo_device_count(rt), nw, rt->cfg.no_bind ? "no" : "with");
    for (int d = 0; d < flo_device_count(rt); d++) {
        flo_device_info info;
        if (flo_device_get_info(rt, d, &info) != FLO_OK)
            continue;
        if (info.kind == FLO_DEVICE_HOST)
            printf("  device %d: host, %d worker(s)\n", d, info.workers);
        else
            printf("  device %d: %s (cuda %d, logical %d), %zu MiB\n", d,
                   info.name, info.ordinal, info.logical_index,
                   info.memory_bytes >> 20);
    }
    for (int i = 0; i < nw; i++) {
        flo__worker *w = rt->workers[i];
        int dev = flo_worker_device(rt, i);
        if (w->core >= 0)
            printf("  worker %2d: device %d (%s), core %d (PU %d)\n", i, dev,
                   dev == 0 ? "host" : "gpu", w->core,
                   flo__topology_core_os_index(&rt->topo, w->core));
        else
            printf("  worker %2d: device %d (%s), not bound\n", i, dev,
                   dev == 0 ? "host" : "gpu");
    }
    flo_finalize(rt);
}

int main(int argc, char **argv)
{
    int bandwidth = 0, runtime = 1, reps = 5;
    size_t bytes = 64u << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--bandwidth")) {
            bandwidth = 1;
        } else if (!strcmp(argv[i], "--no-runtime")) {
            runtime = 0;
        } else if ((!strcmp(argv[i], "--bytes") ||
                    !strcmp(argv[i], "--reps")) &&
                   i + 1 < argc) {
            char *end;
            errno = 0;
            long long v = strtoll(argv[i + 1], &end, 0);
            if (errno || *end || v <= 0) {
                fprintf(stderr, "flo-info: bad value for %s\n", argv[i]);
                return 2;
            }
            if (!strcmp(argv[i], "--bytes"))
                bytes = (size_t)v;
            else
                reps = (int)v;
            i++;
        } else {
            fprintf(stderr, "flo-info: unknown argument %s\n%s", argv[i],
                    usage);
            return 2;
        }
    }
    printf("Flotilla %s\n", flo_version_string());
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) || hwloc_topology_load(topo)) {
        fprintf(stderr, "flo-info: hwloc cannot read the topology\n");
        return 1;
    }
    print_host(topo);
#if FLO_HAVE_CUDA
    int ngpu = print_gpus(topo);
#else
    printf("GPUs: no GPU (this build has no CUDA backend)\n");
#endif
    if (runtime)
        print_workers();
#if FLO_HAVE_CUDA
    if (bandwidth && ngpu > 0)
        print_bandwidth(ngpu, bytes, reps);
    else if (bandwidth)
        printf("Bandwidth: no GPU to measure\n");
#else
    (void)bytes;
    (void)reps;
    if (bandwidth)
        printf("Bandwidth: no GPU to measure\n");
#endif
    hwloc_topology_destroy(topo);
    return 0;
}
