/*
 * Flotilla - the platform: a runtime's devices, found by the backends
 * built into the library. The list below is the one place that knows
 * which backends exist; flo_init only asks the platform to probe.
 */
#include <stdlib.h>

#include "device/device.h"
#include "flo_build_config.h"

/* The GPU backends of this build, probed in this order after the host. */
static const flo__backend *const gpu_backends[] = {
#if FLO_HAVE_CUDA
    &flo__cuda_backend,
#endif
    NULL,
};

flo_status flo__platform_add(flo__platform *plat, flo__device *dev)
{
    if (plat->ndevices >= FLO__MAX_NODES)
        return FLO_ERANGE;
    dev->index = plat->ndevices;
    dev->plat = plat;
    plat->devices[plat->ndevices++] = dev;
    return FLO_OK;
}

/* The backend of this build for devices of kind, or NULL. */
static const flo__backend *gpu_backend(flo_device_kind kind)
{
    for (int i = 0; gpu_backends[i]; i++)
        if (gpu_backends[i]->kind == kind)
            return gpu_backends[i];
    return NULL;
}

bool flo__platform_has_backend(flo_device_kind kind)
{
    return kind == FLO_DEVICE_HOST || gpu_backend(kind) != NULL;
}

flo_status flo__platform_probe(flo__platform *plat)
{
    flo_device_mask want = plat->cfg->devices;
    flo_status st;
    int n = 0;

    st = flo__host_backend.probe(plat, &n);
    if (st != FLO_OK || want == FLO_DEVICES_HOST)
        return st;
    if (want == FLO_DEVICES_CUDA && !gpu_backend(FLO_DEVICE_CUDA)) {
        FLO__ERR("FLO_DEVICES=cuda but Flotilla was built without CUDA");
        return FLO_ENOTSUP;
    }
    for (int i = 0; gpu_backends[i]; i++) {
        const flo__backend *b = gpu_backends[i];
        st = b->probe(plat, &n);
        if (st == FLO_ENODEV && want == FLO_DEVICES_CUDA &&
            b->kind == FLO_DEVICE_CUDA) {
            FLO__ERR("FLO_DEVICES=cuda but no usable GPU");
            return st;
        }
        if (st != FLO_OK && st != FLO_ENODEV)
            return st;
    }
    return FLO_OK;
}

void flo__platform_fini(flo__platform *plat)
{
    for (int i = plat->ndevices - 1; i >= 0; i--) {
        if (plat->devices[i]->ops->fini)
            plat->devices[i]->ops->fini(plat->devices[i]);
    }
}

void flo__platform_free(flo__platform *plat)
{
    for (int i = 0; i < plat->ndevices; i++)
        free(plat->devices[i]);
    plat->ndevices = 0;
}
