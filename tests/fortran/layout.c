/*
 * The C side of the Fortran module's layout test (test_fortran.f90): the
 * offset of every field of each public struct that fortran/flotilla.f90
 * mirrors, in declaration order, then the struct's size, as this C
 * compiler lays them out.
 */
#include <stddef.h>

#include <flotilla.h>

#define F(T, f) offsetof(T, f)

/* Fills out[0 .. n-1] for struct number which (the order of the Fortran
 * test's list) and returns n, or 0 for an unknown number or max < n. */
size_t flo_ftest_layout(int which, size_t *out, size_t max);

size_t flo_ftest_layout(int which, size_t *out, size_t max)
{
    size_t v[32];
    size_t n = 0;

    switch (which) {
    case 0:
        v[n++] = F(flo_data, id);
        v[n++] = F(flo_data, gen);
        v[n++] = sizeof(flo_data);
        break;
    case 1:
        v[n++] = F(flo_event, id);
        v[n++] = F(flo_event, gen);
        v[n++] = sizeof(flo_event);
        break;
    case 2:
        v[n++] = F(flo_mpi_comm, valid);
        v[n++] = F(flo_mpi_comm, value);
        v[n++] = sizeof(flo_mpi_comm);
        break;
    case 3:
        v[n++] = F(flo_config, size);
        v[n++] = F(flo_config, version);
        v[n++] = F(flo_config, host_workers);
        v[n++] = F(flo_config, sched);
        v[n++] = F(flo_config, devices);
        v[n++] = F(flo_config, no_bind);
        v[n++] = F(flo_config, trace_path);
        v[n++] = F(flo_config, stats);
        v[n++] = F(flo_config, gpus);
        v[n++] = F(flo_config, gpu_list);
        v[n++] = F(flo_config, streams_per_gpu);
        v[n++] = F(flo_config, gpu_mem_limit);
        v[n++] = F(flo_config, logical_gpus);
        v[n++] = F(flo_config, topology);
        v[n++] = F(flo_config, log_level);
        v[n++] = F(flo_config, ignore_env);
        v[n++] = F(flo_config, mpi_comm);
        v[n++] = F(flo_config, coll_timeout_s);
        v[n++] = F(flo_config, no_pin_host);
        v[n++] = F(flo_config, faults);
        v[n++] = F(flo_config, write_through);
        v[n++] = F(flo_config, lineage);
        v[n++] = F(flo_config, dag_path);
        v[n++] = sizeof(flo_config);
        break;
    case 4:
        v[n++] = F(flo_kernel, name);
        v[n++] = F(flo_kernel, host);
        v[n++] = F(flo_kernel, cuda);
        v[n++] = sizeof(flo_kernel);
        break;
    case 5:
        v[n++] = F(flo_access_desc, data);
        v[n++] = F(flo_access_desc, mode);
        v[n++] = sizeof(flo_access_desc);
        break;
    case 6:
        v[n++] = F(flo_task_desc, size);
        v[n++] = F(flo_task_desc, kernel);
        v[n++] = F(flo_task_desc, access);
        v[n++] = F(flo_task_desc, naccess);
        v[n++] = F(flo_task_desc, args);
        v[n++] = F(flo_task_desc, args_size);
        v[n++] = F(flo_task_desc, priority);
        v[n++] = F(flo_task_desc, on_device);
        v[n++] = F(flo_task_desc, on_worker);
        v[n++] = F(flo_task_desc, deps);
        v[n++] = F(flo_task_desc, ndeps);
        v[n++] = F(flo_task_desc, callback);
        v[n++] = F(flo_task_desc, callback_arg);
        v[n++] = F(flo_task_desc, name);
        v[n++] = F(flo_task_desc, retries);
        v[n++] = sizeof(flo_task_desc);
        break;
    case 7:
        v[n++] = F(flo_array_layout, size);
        v[n++] = F(flo_array_layout, nblocks);
        v[n++] = F(flo_array_layout, devices);
        v[n++] = F(flo_array_layout, weights);
        v[n++] = sizeof(flo_array_layout);
        break;
    case 8:
        v[n++] = F(flo_array_block_info, data);
        v[n++] = F(flo_array_block_info, device);
        v[n++] = F(flo_array_block_info, offset);
        v[n++] = F(flo_array_block_info, count);
        v[n++] = sizeof(flo_array_block_info);
        break;
    case 9:
        v[n++] = F(flo_array_span, out);
        v[n++] = F(flo_array_span, in);
        v[n++] = F(flo_array_span, count);
        v[n++] = F(flo_array_span, offset);
        v[n++] = F(flo_array_span, args);
        v[n++] = F(flo_array_span, args_size);
        v[n++] = F(flo_array_span, stream);
        v[n++] = F(flo_array_span, ctx);
        v[n++] = sizeof(flo_array_span);
        break;
    case 10:
        v[n++] = F(flo_array_kernel, name);
        v[n++] = F(flo_array_kernel, host);
        v[n++] = F(flo_array_kernel, cuda);
        v[n++] = sizeof(flo_array_kernel);
        break;
    default: return 0;
    }
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = v[i];
    return n;
}
