/*
 * Prints the layout of the public structures the Python package mirrors
 * with ctypes (python/flotilla/_lib.py): one line per structure,
 * "STRUCT sizeof SIZE", and one per field, "STRUCT FIELD OFFSET".
 * python/tests/test_layout.py compares them with ctypes' layout.
 */
#include <stddef.h>
#include <stdio.h>

#include <flotilla.h>

#define SIZE(s) printf("%s sizeof %zu\n", #s, sizeof(s))
#define FIELD(s, f) printf("%s %s %zu\n", #s, #f, offsetof(s, f))

int main(void)
{
    SIZE(flo_mpi_comm);
    FIELD(flo_mpi_comm, valid);
    FIELD(flo_mpi_comm, value);

    SIZE(flo_config);
    FIELD(flo_config, size);
    FIELD(flo_config, version);
    FIELD(flo_config, host_workers);
    FIELD(flo_config, sched);
    FIELD(flo_config, devices);
    FIELD(flo_config, no_bind);
    FIELD(flo_config, trace_path);
    FIELD(flo_config, stats);
    FIELD(flo_config, gpus);
    FIELD(flo_config, gpu_list);
    FIELD(flo_config, streams_per_gpu);
    FIELD(flo_config, gpu_mem_limit);
    FIELD(flo_config, logical_gpus);
    FIELD(flo_config, topology);
    FIELD(flo_config, log_level);
    FIELD(flo_config, ignore_env);
    FIELD(flo_config, mpi_comm);
    FIELD(flo_config, coll_timeout_s);
    FIELD(flo_config, no_pin_host);
    FIELD(flo_config, faults);
    FIELD(flo_config, write_through);
    FIELD(flo_config, lineage);
    FIELD(flo_config, dag_path);

    SIZE(flo_device_info);
    FIELD(flo_device_info, kind);
    FIELD(flo_device_info, ordinal);
    FIELD(flo_device_info, logical_index);
    FIELD(flo_device_info, workers);
    FIELD(flo_device_info, memory_bytes);
    FIELD(flo_device_info, name);
    FIELD(flo_device_info, failed);

    SIZE(flo_stats);
    FIELD(flo_stats, tasks_submitted);
    FIELD(flo_stats, tasks_completed);
    FIELD(flo_stats, tasks_failed);
    FIELD(flo_stats, tasks_canceled);
    FIELD(flo_stats, steals);
    FIELD(flo_stats, bytes_h2d);
    FIELD(flo_stats, bytes_d2h);
    FIELD(flo_stats, bytes_p2p);
    FIELD(flo_stats, evictions);
    FIELD(flo_stats, stream_ordered);
    FIELD(flo_stats, retries);
    FIELD(flo_stats, replaced);
    FIELD(flo_stats, reexecuted);
    FIELD(flo_stats, recomputed);
    FIELD(flo_stats, data_lost);
    FIELD(flo_stats, devices_lost);
    FIELD(flo_stats, faults_injected);
    FIELD(flo_stats, recovery_ns);

    SIZE(flo_data);
    FIELD(flo_data, id);
    FIELD(flo_data, gen);

    SIZE(flo_event);
    FIELD(flo_event, id);
    FIELD(flo_event, gen);

    SIZE(flo_kernel);
    FIELD(flo_kernel, name);
    FIELD(flo_kernel, host);
    FIELD(flo_kernel, cuda);

    SIZE(flo_access_desc);
    FIELD(flo_access_desc, data);
    FIELD(flo_access_desc, mode);

    SIZE(flo_task_desc);
    FIELD(flo_task_desc, size);
    FIELD(flo_task_desc, kernel);
    FIELD(flo_task_desc, access);
    FIELD(flo_task_desc, naccess);
    FIELD(flo_task_desc, args);
    FIELD(flo_task_desc, args_size);
    FIELD(flo_task_desc, priority);
    FIELD(flo_task_desc, on_device);
    FIELD(flo_task_desc, on_worker);
    FIELD(flo_task_desc, deps);
    FIELD(flo_task_desc, ndeps);
    FIELD(flo_task_desc, callback);
    FIELD(flo_task_desc, callback_arg);
    FIELD(flo_task_desc, name);
    FIELD(flo_task_desc, retries);

    SIZE(flo_array_layout);
    FIELD(flo_array_layout, size);
    FIELD(flo_array_layout, nblocks);
    FIELD(flo_array_layout, devices);
    FIELD(flo_array_layout, weights);

    SIZE(flo_array_block_info);
    FIELD(flo_array_block_info, data);
    FIELD(flo_array_block_info, device);
    FIELD(flo_array_block_info, offset);
    FIELD(flo_array_block_info, count);

    SIZE(flo_array_span);
    FIELD(flo_array_span, out);
    FIELD(flo_array_span, in);
    FIELD(flo_array_span, count);
    FIELD(flo_array_span, offset);
    FIELD(flo_array_span, args);
    FIELD(flo_array_span, args_size);
    FIELD(flo_array_span, stream);
    FIELD(flo_array_span, ctx);

    SIZE(flo_array_kernel);
    FIELD(flo_array_kernel, name);
    FIELD(flo_array_kernel, host);
    FIELD(flo_array_kernel, cuda);

    /* Enumerations and macros the package restates. */
    printf("enum sizeof %zu\n", sizeof(flo_status));
    printf("const FLO_DATA_NO_PIN %u\n", FLO_DATA_NO_PIN);
    printf("const FLO_TASK_MAX_ACCESS %d\n", FLO_TASK_MAX_ACCESS);
    printf("const FLO_TASK_MAX_ARGS %d\n", FLO_TASK_MAX_ARGS);
    printf("const FLO_TASK_MAX_DEPS %d\n", FLO_TASK_MAX_DEPS);
    printf("const FLO_ARRAY_MAX_BLOCKS %d\n", FLO_ARRAY_MAX_BLOCKS);
    printf("const FLO_ARRAY_MAX_ARGS %d\n", FLO_ARRAY_MAX_ARGS);
    printf("const FLO_VERSION %d\n", FLO_VERSION);
    /* Enumerators: "value CLASS C_NAME VALUE". */
    printf("value Access FLO_READ %d\n", (int)FLO_READ);
    printf("value Access FLO_WRITE %d\n", (int)FLO_WRITE);
    printf("value Access FLO_READ_WRITE %d\n", (int)FLO_READ_WRITE);
    printf("value Sched FLO_SCHED_DEFAULT %d\n", (int)FLO_SCHED_DEFAULT);
    printf("value Sched FLO_SCHED_EAGER %d\n", (int)FLO_SCHED_EAGER);
    printf("value Sched FLO_SCHED_WS %d\n", (int)FLO_SCHED_WS);
    printf("value Sched FLO_SCHED_LOCALITY %d\n", (int)FLO_SCHED_LOCALITY);
    printf("value Devices FLO_DEVICES_AUTO %d\n", (int)FLO_DEVICES_AUTO);
    printf("value Devices FLO_DEVICES_HOST %d\n", (int)FLO_DEVICES_HOST);
    printf("value Devices FLO_DEVICES_CUDA %d\n", (int)FLO_DEVICES_CUDA);
    printf("value DeviceKind FLO_DEVICE_HOST %d\n", (int)FLO_DEVICE_HOST);
    printf("value DeviceKind FLO_DEVICE_CUDA %d\n", (int)FLO_DEVICE_CUDA);
    printf("value DType FLO_I32 %d\n", (int)FLO_I32);
    printf("value DType FLO_I64 %d\n", (int)FLO_I64);
    printf("value DType FLO_U32 %d\n", (int)FLO_U32);
    printf("value DType FLO_U64 %d\n", (int)FLO_U64);
    printf("value DType FLO_F32 %d\n", (int)FLO_F32);
    printf("value DType FLO_F64 %d\n", (int)FLO_F64);
    printf("value RedOp FLO_SUM %d\n", (int)FLO_SUM);
    printf("value RedOp FLO_PROD %d\n", (int)FLO_PROD);
    printf("value RedOp FLO_MIN %d\n", (int)FLO_MIN);
    printf("value RedOp FLO_MAX %d\n", (int)FLO_MAX);
    printf("value ScanKind FLO_SCAN_INCLUSIVE %d\n", (int)FLO_SCAN_INCLUSIVE);
    printf("value ScanKind FLO_SCAN_EXCLUSIVE %d\n", (int)FLO_SCAN_EXCLUSIVE);
    printf("value TransformOp FLO_XF_COPY %d\n", (int)FLO_XF_COPY);
    printf("value TransformOp FLO_XF_FILL %d\n", (int)FLO_XF_FILL);
    printf("value TransformOp FLO_XF_SCALE %d\n", (int)FLO_XF_SCALE);
    printf("value TransformOp FLO_XF_AXPY %d\n", (int)FLO_XF_AXPY);
    printf("value TransformOp FLO_XF_ADD %d\n", (int)FLO_XF_ADD);
    printf("value TransformOp FLO_XF_SUB %d\n", (int)FLO_XF_SUB);
    printf("value TransformOp FLO_XF_MUL %d\n", (int)FLO_XF_MUL);
    printf("value TransformOp FLO_XF_DIV %d\n", (int)FLO_XF_DIV);
    printf("value TransformOp FLO_XF_MIN %d\n", (int)FLO_XF_MIN);
    printf("value TransformOp FLO_XF_MAX %d\n", (int)FLO_XF_MAX);
    printf("value TransformOp FLO_XF_ABS %d\n", (int)FLO_XF_ABS);
    return 0;
}
