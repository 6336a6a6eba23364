! Flotilla - the Fortran module.
!
! `use flotilla` gives a Fortran 2018 program the C API through
! iso_c_binding: the status codes and other constants, interoperable
! types that mirror the C structs (flo_data, flo_event, flo_config,
! flo_task_desc, flo_array_span, ...), interfaces to the C functions
! under their C names and with their C meaning (include/flotilla/*.h is
! the reference), and a few Fortran-friendly wrappers whose names end in
! _f (HDF5's convention) that take Fortran arrays, strings and logicals.
!
! Everything here is an interface or a small wrapper over the C calls: the
! module keeps no state, so each wrapper is as thread-safe as the C
! function it calls, and the ones meant for task entry points are
! declared recursive (safe on several worker threads at once).
!
! The library checks the layout of the structs that start with a size
! (flo_config, flo_task_desc, flo_array_layout): a Fortran type that no
! longer matches its C struct makes the call fail with FLO_EINVAL instead
! of being misread. The test tests/fortran/test_fortran.f90 compares
! every struct's size and field offsets with the C compiler's.
!
! Build: compile this file with the program (it is installed next to the
! C headers, as <includedir>/flotilla.f90) and link with libflotilla:
!
!     gfortran -c $(pkg-config --variable=includedir flotilla)/flotilla.f90
!     gfortran app.f90 flotilla.o $(pkg-config --libs flotilla)
!
! or, with CMake, flotilla_add_fortran_module() (docs/packaging.md). The
! guide's Fortran section (docs/guide.md) shows a first program.
module flotilla
    use, intrinsic :: iso_c_binding
    implicit none
    private

    ! ---- Constants (include/flotilla/status.h, types.h, ...) -----------

    ! The version of the C headers this module mirrors (FLO_VERSION in C,
    ! a name Fortran cannot reuse next to the function flo_version).
    integer(c_int), parameter, public :: FLO_VERSION_MAJOR = 0
    integer(c_int), parameter, public :: FLO_VERSION_MINOR = 1
    integer(c_int), parameter, public :: FLO_VERSION_PATCH = 0
    integer(c_int), parameter, public :: FLO_MODULE_VERSION = &
        FLO_VERSION_MAJOR * 10000 + FLO_VERSION_MINOR * 100 + &
        FLO_VERSION_PATCH

    ! flo_status.
    integer(c_int), parameter, public :: FLO_OK = 0
    integer(c_int), parameter, public :: FLO_INPROGRESS = 1
    integer(c_int), parameter, public :: FLO_EINVAL = -1
    integer(c_int), parameter, public :: FLO_ENOMEM = -2
    integer(c_int), parameter, public :: FLO_ENOTSUP = -3
    integer(c_int), parameter, public :: FLO_ECANCELED = -4
    integer(c_int), parameter, public :: FLO_ETASK = -5
    integer(c_int), parameter, public :: FLO_EBUSY = -6
    integer(c_int), parameter, public :: FLO_ESTALE = -7
    integer(c_int), parameter, public :: FLO_EFOREIGN = -8
    integer(c_int), parameter, public :: FLO_EDEVICE = -9
    integer(c_int), parameter, public :: FLO_ETIMEDOUT = -10
    integer(c_int), parameter, public :: FLO_ENODEV = -11
    integer(c_int), parameter, public :: FLO_EDEADLK = -12
    integer(c_int), parameter, public :: FLO_ECOMM = -13
    integer(c_int), parameter, public :: FLO_ESYS = -14
    integer(c_int), parameter, public :: FLO_ERANGE = -15
    integer(c_int), parameter, public :: FLO_EINTERNAL = -16
    integer(c_int), parameter, public :: FLO_EAGAIN = -17
    integer(c_int), parameter, public :: FLO_EDATALOSS = -18

    ! flo_dtype, flo_redop, flo_scan_kind.
    integer(c_int), parameter, public :: FLO_I32 = 0
    integer(c_int), parameter, public :: FLO_I64 = 1
    integer(c_int), parameter, public :: FLO_U32 = 2
    integer(c_int), parameter, public :: FLO_U64 = 3
    integer(c_int), parameter, public :: FLO_F32 = 4
    integer(c_int), parameter, public :: FLO_F64 = 5
    integer(c_int), parameter, public :: FLO_SUM = 0
    integer(c_int), parameter, public :: FLO_PROD = 1
    integer(c_int), parameter, public :: FLO_MIN = 2
    integer(c_int), parameter, public :: FLO_MAX = 3
    integer(c_int), parameter, public :: FLO_SCAN_INCLUSIVE = 0
    integer(c_int), parameter, public :: FLO_SCAN_EXCLUSIVE = 1

    ! flo_sched_policy, flo_device_mask, flo_device_kind.
    integer(c_int), parameter, public :: FLO_SCHED_DEFAULT = 0
    integer(c_int), parameter, public :: FLO_SCHED_EAGER = 1
    integer(c_int), parameter, public :: FLO_SCHED_WS = 2
    integer(c_int), parameter, public :: FLO_SCHED_LOCALITY = 3
    integer(c_int), parameter, public :: FLO_DEVICES_AUTO = 0
    integer(c_int), parameter, public :: FLO_DEVICES_HOST = 1
    integer(c_int), parameter, public :: FLO_DEVICES_CUDA = 2
    integer(c_int), parameter, public :: FLO_DEVICE_HOST = 0
    integer(c_int), parameter, public :: FLO_DEVICE_CUDA = 1

    ! flo_access, flo_data_register_flags.
    integer(c_int), parameter, public :: FLO_READ = 1
    integer(c_int), parameter, public :: FLO_WRITE = 2
    integer(c_int), parameter, public :: FLO_READ_WRITE = 3
    integer(c_int), parameter, public :: FLO_DATA_NO_PIN = 1

    ! No device or worker preference (see flo_device, flo_worker).
    integer(c_int), parameter, public :: FLO_ANY = -1

    ! flo_transform_op.
    integer(c_int), parameter, public :: FLO_XF_COPY = 0
    integer(c_int), parameter, public :: FLO_XF_FILL = 1
    integer(c_int), parameter, public :: FLO_XF_SCALE = 2
    integer(c_int), parameter, public :: FLO_XF_AXPY = 3
    integer(c_int), parameter, public :: FLO_XF_ADD = 4
    integer(c_int), parameter, public :: FLO_XF_SUB = 5
    integer(c_int), parameter, public :: FLO_XF_MUL = 6
    integer(c_int), parameter, public :: FLO_XF_DIV = 7
    integer(c_int), parameter, public :: FLO_XF_MIN = 8
    integer(c_int), parameter, public :: FLO_XF_MAX = 9
    integer(c_int), parameter, public :: FLO_XF_ABS = 10

    ! ---- Interoperable types ---------------------------------------------

    ! A data handle (a value: copy it freely). flo_data_equal compares.
    type, bind(c), public :: flo_data
        integer(c_int64_t) :: id = 0
        integer(c_int64_t) :: gen = 0
    end type flo_data

    ! A submitted task, as a value; FLO_EVENT_NULL has always completed.
    type, bind(c), public :: flo_event
        integer(c_int64_t) :: id = 0
        integer(c_int64_t) :: gen = 0
    end type flo_event

    type(flo_data), parameter, public :: FLO_DATA_NULL = flo_data(0, 0)
    type(flo_event), parameter, public :: FLO_EVENT_NULL = flo_event(0, 0)

    ! An MPI communicator held without mpi.h (flo_mpi_comm_wrap in C).
    type, bind(c), public :: flo_mpi_comm
        integer(c_int) :: valid = 0
        integer(c_int64_t) :: value(2) = 0
    end type flo_mpi_comm

    ! flo_config. Start from flo_config_default_f() (size set, every
    ! other field its default), as C starts from FLO_CONFIG_INIT. Strings
    ! are C strings (flo_init copies them).
    type, bind(c), public :: flo_config
        integer(c_size_t) :: size = 0
        integer(c_int) :: version = 0
        integer(c_int) :: host_workers = 0
        integer(c_int) :: sched = 0
        integer(c_int) :: devices = 0
        integer(c_int) :: no_bind = 0
        type(c_ptr) :: trace_path = c_null_ptr
        integer(c_int) :: stats = 0
        integer(c_int) :: gpus = 0
        type(c_ptr) :: gpu_list = c_null_ptr
        integer(c_int) :: streams_per_gpu = 0
        integer(c_size_t) :: gpu_mem_limit = 0
        integer(c_int) :: logical_gpus = 0
        type(c_ptr) :: topology = c_null_ptr
        integer(c_int) :: log_level = 0
        integer(c_int) :: ignore_env = 0
        type(flo_mpi_comm) :: mpi_comm
        real(c_double) :: coll_timeout_s = 0
        integer(c_int) :: no_pin_host = 0
        type(c_ptr) :: faults = c_null_ptr
        integer(c_int) :: write_through = 0
        integer(c_int) :: lineage = 0
        type(c_ptr) :: dag_path = c_null_ptr
    end type flo_config

    ! A kernel: a name (C string) and entry points (c_funloc of a
    ! procedure with the flo_task_fn interface).
    type, bind(c), public :: flo_kernel
        type(c_ptr) :: name = c_null_ptr
        type(c_funptr) :: host = c_null_funptr
        type(c_funptr) :: cuda = c_null_funptr
    end type flo_kernel

    ! One buffer of a task and how it is used (flo_r, flo_w, flo_rw).
    type, bind(c), public :: flo_access_desc
        type(flo_data) :: data
        integer(c_int) :: mode = 0
    end type flo_access_desc

    ! flo_task_desc, for flo_task_submit (flo_submit_f fills one).
    type, bind(c), public :: flo_task_desc
        integer(c_size_t) :: size = 0
        type(c_ptr) :: kernel = c_null_ptr
        type(c_ptr) :: access = c_null_ptr
        integer(c_int) :: naccess = 0
        type(c_ptr) :: args = c_null_ptr
        integer(c_size_t) :: args_size = 0
        integer(c_int) :: priority = 0
        integer(c_int) :: on_device = 0
        integer(c_int) :: on_worker = 0
        type(c_ptr) :: deps = c_null_ptr
        integer(c_int) :: ndeps = 0
        type(c_funptr) :: callback = c_null_funptr
        type(c_ptr) :: callback_arg = c_null_ptr
        type(c_ptr) :: name = c_null_ptr
        integer(c_int) :: retries = 0
    end type flo_task_desc

    ! flo_array_layout (set size to c_sizeof of it, as flo_init_f does
    ! for flo_config).
    type, bind(c), public :: flo_array_layout
        integer(c_size_t) :: size = 0
        integer(c_int) :: nblocks = 0
        type(c_ptr) :: devices = c_null_ptr
        type(c_ptr) :: weights = c_null_ptr
    end type flo_array_layout

    type, bind(c), public :: flo_array_block_info
        type(flo_data) :: data
        integer(c_int) :: device = 0
        integer(c_int64_t) :: offset = 0
        integer(c_int64_t) :: count = 0
    end type flo_array_block_info

    ! What a block function of flo_array_map sees (flo_span_out_f and
    ! flo_span_in_f make Fortran arrays of its blocks).
    type, bind(c), public :: flo_array_span
        type(c_ptr) :: out = c_null_ptr
        type(c_ptr) :: in(2) = c_null_ptr
        integer(c_int64_t) :: count = 0
        integer(c_int64_t) :: offset = 0
        type(c_ptr) :: args = c_null_ptr
        integer(c_size_t) :: args_size = 0
        type(c_ptr) :: stream = c_null_ptr
        type(c_ptr) :: ctx = c_null_ptr
    end type flo_array_span

    type, bind(c), public :: flo_array_kernel
        type(c_ptr) :: name = c_null_ptr
        type(c_funptr) :: host = c_null_funptr
        type(c_funptr) :: cuda = c_null_funptr
    end type flo_array_kernel

    ! ---- Entry points -----------------------------------------------------

    abstract interface
        ! A task's host (or CUDA) entry point: a bind(c) subroutine that
        ! takes the task context by value. It runs on a worker thread:
        ! declare it recursive (or compile with -frecursive) so that its
        ! locals live on that thread's stack.
        subroutine flo_task_fn(ctx) bind(c)
            import :: c_ptr
            type(c_ptr), value :: ctx
        end subroutine flo_task_fn

        ! A block function of flo_array_map (runs on a worker thread too).
        subroutine flo_array_fn(span) bind(c)
            import :: flo_array_span
            type(flo_array_span), intent(in) :: span
        end subroutine flo_array_fn
    end interface
    public :: flo_task_fn, flo_array_fn

    ! ---- The C API (names and meaning as in include/flotilla/*.h) -------
    !
    ! Opaque objects (flo_runtime *, flo_array *, flo_task_ctx *) are
    ! type(c_ptr) values. Outputs are intent(inout): as in C, they are
    ! written only on success. Optional arguments stand for pointers that
    ! may be NULL in C. The queries of fixed properties (counts, sizes,
    ! types, names) are declared pure, so that they may appear in any
    ! expression; every other call has effects: call it in a statement of
    ! its own, not inside a condition whose other operands depend on it
    ! (Fortran may evaluate the operands of .and. in any order, or not at
    ! all).

    interface
        pure function flo_status_str(status) bind(c, name='flo_status_str')
            import :: c_int, c_ptr
            integer(c_int), value :: status
            type(c_ptr) :: flo_status_str
        end function flo_status_str

        pure function flo_version() bind(c, name='flo_version')
            import :: c_int
            integer(c_int) :: flo_version
        end function flo_version

        pure function flo_version_string() bind(c, name='flo_version_string')
            import :: c_ptr
            type(c_ptr) :: flo_version_string
        end function flo_version_string

        pure function flo_dtype_size(t) bind(c, name='flo_dtype_size')
            import :: c_int, c_size_t
            integer(c_int), value :: t
            integer(c_size_t) :: flo_dtype_size
        end function flo_dtype_size

        ! Lifecycle.
        function flo_init(cfg, rt) bind(c, name='flo_init')
            import :: c_int, c_ptr, flo_config
            type(flo_config), intent(in), optional :: cfg
            type(c_ptr), intent(inout) :: rt
            integer(c_int) :: flo_init
        end function flo_init

        function flo_finalize(rt) bind(c, name='flo_finalize')
            import :: c_int, c_ptr
            type(c_ptr), value :: rt
            integer(c_int) :: flo_finalize
        end function flo_finalize

        pure function flo_device_count(rt) bind(c, name='flo_device_count')
            import :: c_int, c_ptr
            type(c_ptr), value :: rt
            integer(c_int) :: flo_device_count
        end function flo_device_count

        pure function flo_worker_count(rt) bind(c, name='flo_worker_count')
            import :: c_int, c_ptr
            type(c_ptr), value :: rt
            integer(c_int) :: flo_worker_count
        end function flo_worker_count

        pure function flo_worker_device(rt, worker) &
                bind(c, name='flo_worker_device')
            import :: c_int, c_ptr
            type(c_ptr), value :: rt
            integer(c_int), value :: worker
            integer(c_int) :: flo_worker_device
        end function flo_worker_device

        ! Data handles.
        function flo_data_register(rt, ptr, bytes, out) &
                bind(c, name='flo_data_register')
            import :: c_int, c_ptr, c_size_t, flo_data
            type(c_ptr), value :: rt, ptr
            integer(c_size_t), value :: bytes
            type(flo_data), intent(inout) :: out
            integer(c_int) :: flo_data_register
        end function flo_data_register

        function flo_data_register_flags(rt, ptr, bytes, flags, out) &
                bind(c, name='flo_data_register_flags')
            import :: c_int, c_ptr, c_size_t, flo_data
            type(c_ptr), value :: rt, ptr
            integer(c_size_t), value :: bytes
            integer(c_int), value :: flags
            type(flo_data), intent(inout) :: out
            integer(c_int) :: flo_data_register_flags
        end function flo_data_register_flags

        ! Device memory (dev_ptr: c_loc of a CUDA Fortran device array,
        ! or a cudaMalloc pointer) of GPU device (1 or more), zero copy.
        function flo_data_register_device(rt, device, dev_ptr, bytes, out) &
                bind(c, name='flo_data_register_device')
            import :: c_int, c_ptr, c_size_t, flo_data
            type(c_ptr), value :: rt
            integer(c_int), value :: device
            type(c_ptr), value :: dev_ptr
            integer(c_size_t), value :: bytes
            type(flo_data), intent(inout) :: out
            integer(c_int) :: flo_data_register_device
        end function flo_data_register_device

        function flo_data_register_many(rt, n, ptrs, sizes, flags, out) &
                bind(c, name='flo_data_register_many')
            import :: c_int, c_ptr, c_size_t, flo_data
            type(c_ptr), value :: rt
            integer(c_size_t), value :: n
            type(c_ptr), intent(in) :: ptrs(*)
            integer(c_size_t), intent(in) :: sizes(*)
            integer(c_int), value :: flags
            type(flo_data), intent(inout) :: out(*)
            integer(c_int) :: flo_data_register_many
        end function flo_data_register_many

        function flo_data_alloc(rt, bytes, out) &
                bind(c, name='flo_data_alloc')
            import :: c_int, c_ptr, c_size_t, flo_data
            type(c_ptr), value :: rt
            integer(c_size_t), value :: bytes
            type(flo_data), intent(inout) :: out
            integer(c_int) :: flo_data_alloc
        end function flo_data_alloc

        function flo_data_acquire(rt, d, mode, ptr) &
                bind(c, name='flo_data_acquire')
            import :: c_int, c_ptr, flo_data
            type(c_ptr), value :: rt
            type(flo_data), value :: d
            integer(c_int), value :: mode
            type(c_ptr), intent(inout) :: ptr
            integer(c_int) :: flo_data_acquire
        end function flo_data_acquire

        function flo_data_release(rt, d) bind(c, name='flo_data_release')
            import :: c_int, c_ptr, flo_data
            type(c_ptr), value :: rt
            type(flo_data), value :: d
            integer(c_int) :: flo_data_release
        end function flo_data_release

        function flo_data_unregister(rt, d) &
                bind(c, name='flo_data_unregister')
            import :: c_int, c_ptr, flo_data
            type(c_ptr), value :: rt
            type(flo_data), value :: d
            integer(c_int) :: flo_data_unregister
        end function flo_data_unregister

        function flo_data_unregister_many(rt, n, hs) &
                bind(c, name='flo_data_unregister_many')
            import :: c_int, c_ptr, c_size_t, flo_data
            type(c_ptr), value :: rt
            integer(c_size_t), value :: n
            type(flo_data), intent(in) :: hs(*)
            integer(c_int) :: flo_data_unregister_many
        end function flo_data_unregister_many

        function flo_data_prefetch(rt, d, device) &
                bind(c, name='flo_data_prefetch')
            import :: c_int, c_ptr, flo_data
            type(c_ptr), value :: rt
            type(flo_data), value :: d
            integer(c_int), value :: device
            integer(c_int) :: flo_data_prefetch
        end function flo_data_prefetch

        function flo_data_flush(rt, d) bind(c, name='flo_data_flush')
            import :: c_int, c_ptr, flo_data
            type(c_ptr), value :: rt
            type(flo_data), value :: d
            integer(c_int) :: flo_data_flush
        end function flo_data_flush

        function flo_data_size(rt, d, bytes) bind(c, name='flo_data_size')
            import :: c_int, c_ptr, c_size_t, flo_data
            type(c_ptr), value :: rt
            type(flo_data), value :: d
            integer(c_size_t), intent(inout) :: bytes
            integer(c_int) :: flo_data_size
        end function flo_data_size

        ! Tasks and events.
        function flo_task_submit(rt, desc, ev) &
                bind(c, name='flo_task_submit')
            import :: c_int, c_ptr, flo_task_desc, flo_event
            type(c_ptr), value :: rt
            type(flo_task_desc), intent(in) :: desc
            type(flo_event), intent(inout), optional :: ev
            integer(c_int) :: flo_task_submit
        end function flo_task_submit

        function flo_event_wait(rt, ev) bind(c, name='flo_event_wait')
            import :: c_int, c_ptr, flo_event
            type(c_ptr), value :: rt
            type(flo_event), value :: ev
            integer(c_int) :: flo_event_wait
        end function flo_event_wait

        function flo_event_query(rt, ev) bind(c, name='flo_event_query')
            import :: c_int, c_ptr, flo_event
            type(c_ptr), value :: rt
            type(flo_event), value :: ev
            integer(c_int) :: flo_event_query
        end function flo_event_query

        function flo_wait_all(rt) bind(c, name='flo_wait_all')
            import :: c_int, c_ptr
            type(c_ptr), value :: rt
            integer(c_int) :: flo_wait_all
        end function flo_wait_all

        function flo_error_message(rt, ev, buf, len) &
                bind(c, name='flo_error_message')
            import :: c_int, c_ptr, c_char, c_size_t, flo_event
            type(c_ptr), value :: rt
            type(flo_event), value :: ev
            character(kind=c_char), intent(inout) :: buf(*)
            integer(c_size_t), value :: len
            integer(c_int) :: flo_error_message
        end function flo_error_message

        ! Inside a task (ctx is the entry point's argument). Buffer
        ! indices are 0-based here, as in C; the _f wrappers count from 1.
        function flo_task_buffer(ctx, i) bind(c, name='flo_task_buffer')
            import :: c_int, c_ptr
            type(c_ptr), value :: ctx
            integer(c_int), value :: i
            type(c_ptr) :: flo_task_buffer
        end function flo_task_buffer

        function flo_task_buffer_size(ctx, i) &
                bind(c, name='flo_task_buffer_size')
            import :: c_int, c_ptr, c_size_t
            type(c_ptr), value :: ctx
            integer(c_int), value :: i
            integer(c_size_t) :: flo_task_buffer_size
        end function flo_task_buffer_size

        function flo_task_buffer_count(ctx, i, elem_size) &
                bind(c, name='flo_task_buffer_count')
            import :: c_int, c_ptr, c_size_t
            type(c_ptr), value :: ctx
            integer(c_int), value :: i
            integer(c_size_t), value :: elem_size
            integer(c_size_t) :: flo_task_buffer_count
        end function flo_task_buffer_count

        function flo_task_buffer_as(ctx, i, elem_size, align) &
                bind(c, name='flo_task_buffer_as')
            import :: c_int, c_ptr, c_size_t
            type(c_ptr), value :: ctx
            integer(c_int), value :: i
            integer(c_size_t), value :: elem_size, align
            type(c_ptr) :: flo_task_buffer_as
        end function flo_task_buffer_as

        function flo_task_args(ctx, size) bind(c, name='flo_task_args')
            import :: c_ptr, c_size_t
            type(c_ptr), value :: ctx
            integer(c_size_t), intent(inout), optional :: size
            type(c_ptr) :: flo_task_args
        end function flo_task_args

        function flo_task_args_as(ctx, size) &
                bind(c, name='flo_task_args_as')
            import :: c_ptr, c_size_t
            type(c_ptr), value :: ctx
            integer(c_size_t), value :: size
            type(c_ptr) :: flo_task_args_as
        end function flo_task_args_as

        function flo_task_worker(ctx) bind(c, name='flo_task_worker')
            import :: c_int, c_ptr
            type(c_ptr), value :: ctx
            integer(c_int) :: flo_task_worker
        end function flo_task_worker

        function flo_task_device(ctx) bind(c, name='flo_task_device')
            import :: c_int, c_ptr
            type(c_ptr), value :: ctx
            integer(c_int) :: flo_task_device
        end function flo_task_device

        function flo_task_runtime(ctx) bind(c, name='flo_task_runtime')
            import :: c_ptr
            type(c_ptr), value :: ctx
            type(c_ptr) :: flo_task_runtime
        end function flo_task_runtime

        function flo_task_stream(ctx) bind(c, name='flo_task_stream')
            import :: c_ptr
            type(c_ptr), value :: ctx
            type(c_ptr) :: flo_task_stream
        end function flo_task_stream

        ! Arrays.
        function flo_array_create(rt, dtype, n, layout, out) &
                bind(c, name='flo_array_create')
            import :: c_int, c_ptr, c_int64_t, flo_array_layout
            type(c_ptr), value :: rt
            integer(c_int), value :: dtype
            integer(c_int64_t), value :: n
            type(flo_array_layout), intent(in), optional :: layout
            type(c_ptr), intent(inout) :: out
            integer(c_int) :: flo_array_create
        end function flo_array_create

        function flo_array_create_from_host(rt, dtype, n, src, layout, &
                out) bind(c, name='flo_array_create_from_host')
            import :: c_int, c_ptr, c_int64_t, flo_array_layout
            type(c_ptr), value :: rt
            integer(c_int), value :: dtype
            integer(c_int64_t), value :: n
            type(c_ptr), value :: src
            type(flo_array_layout), intent(in), optional :: layout
            type(c_ptr), intent(inout) :: out
            integer(c_int) :: flo_array_create_from_host
        end function flo_array_create_from_host

        function flo_array_destroy(a) bind(c, name='flo_array_destroy')
            import :: c_int, c_ptr
            type(c_ptr), value :: a
            integer(c_int) :: flo_array_destroy
        end function flo_array_destroy

        pure function flo_array_size(a) bind(c, name='flo_array_size')
            import :: c_ptr, c_int64_t
            type(c_ptr), value :: a
            integer(c_int64_t) :: flo_array_size
        end function flo_array_size

        pure function flo_array_dtype(a) bind(c, name='flo_array_dtype')
            import :: c_int, c_ptr
            type(c_ptr), value :: a
            integer(c_int) :: flo_array_dtype
        end function flo_array_dtype

        pure function flo_array_nblocks(a) bind(c, name='flo_array_nblocks')
            import :: c_int, c_ptr
            type(c_ptr), value :: a
            integer(c_int) :: flo_array_nblocks
        end function flo_array_nblocks

        function flo_array_block(a, i, info) &
                bind(c, name='flo_array_block')
            import :: c_int, c_ptr, flo_array_block_info
            type(c_ptr), value :: a
            integer(c_int), value :: i
            type(flo_array_block_info), intent(inout) :: info
            integer(c_int) :: flo_array_block
        end function flo_array_block

        function flo_array_from_host(a, src) &
                bind(c, name='flo_array_from_host')
            import :: c_int, c_ptr
            type(c_ptr), value :: a, src
            integer(c_int) :: flo_array_from_host
        end function flo_array_from_host

        function flo_array_to_host(a, dst) bind(c, name='flo_array_to_host')
            import :: c_int, c_ptr
            type(c_ptr), value :: a, dst
            integer(c_int) :: flo_array_to_host
        end function flo_array_to_host

        function flo_array_transform(out, op, x, y, alpha, ev) &
                bind(c, name='flo_array_transform')
            import :: c_int, c_ptr, flo_event
            type(c_ptr), value :: out
            integer(c_int), value :: op
            type(c_ptr), value :: x, y, alpha
            type(flo_event), intent(inout), optional :: ev
            integer(c_int) :: flo_array_transform
        end function flo_array_transform

        function flo_array_transform_sync(out, op, x, y, alpha) &
                bind(c, name='flo_array_transform_sync')
            import :: c_int, c_ptr
            type(c_ptr), value :: out
            integer(c_int), value :: op
            type(c_ptr), value :: x, y, alpha
            integer(c_int) :: flo_array_transform_sync
        end function flo_array_transform_sync

        function flo_array_fill(a, value, ev) bind(c, name='flo_array_fill')
            import :: c_int, c_ptr, flo_event
            type(c_ptr), value :: a, value
            type(flo_event), intent(inout), optional :: ev
            integer(c_int) :: flo_array_fill
        end function flo_array_fill

        function flo_array_map(out, k, x, y, args, args_size, ev) &
                bind(c, name='flo_array_map')
            import :: c_int, c_ptr, c_size_t, flo_array_kernel, flo_event
            type(c_ptr), value :: out
            type(flo_array_kernel), intent(in) :: k
            type(c_ptr), value :: x, y, args
            integer(c_size_t), value :: args_size
            type(flo_event), intent(inout), optional :: ev
            integer(c_int) :: flo_array_map
        end function flo_array_map

        function flo_array_reduce(a, op, result, ev) &
                bind(c, name='flo_array_reduce')
            import :: c_int, c_ptr, flo_data, flo_event
            type(c_ptr), value :: a
            integer(c_int), value :: op
            type(flo_data), value :: result
            type(flo_event), intent(inout), optional :: ev
            integer(c_int) :: flo_array_reduce
        end function flo_array_reduce

        function flo_array_reduce_sync(a, op, value) &
                bind(c, name='flo_array_reduce_sync')
            import :: c_int, c_ptr
            type(c_ptr), value :: a
            integer(c_int), value :: op
            type(c_ptr), value :: value
            integer(c_int) :: flo_array_reduce_sync
        end function flo_array_reduce_sync

        function flo_array_argreduce_sync(a, op, value, index) &
                bind(c, name='flo_array_argreduce_sync')
            import :: c_int, c_ptr, c_int64_t
            type(c_ptr), value :: a
            integer(c_int), value :: op
            type(c_ptr), value :: value
            integer(c_int64_t), intent(inout), optional :: index
            integer(c_int) :: flo_array_argreduce_sync
        end function flo_array_argreduce_sync

        function flo_array_scan(out, x, op, kind, carry_in, ev) &
                bind(c, name='flo_array_scan')
            import :: c_int, c_ptr, flo_event
            type(c_ptr), value :: out, x
            integer(c_int), value :: op, kind
            type(c_ptr), value :: carry_in
            type(flo_event), intent(inout), optional :: ev
            integer(c_int) :: flo_array_scan
        end function flo_array_scan

        function flo_array_scan_sync(out, x, op, kind, carry_in) &
                bind(c, name='flo_array_scan_sync')
            import :: c_int, c_ptr
            type(c_ptr), value :: out, x
            integer(c_int), value :: op, kind
            type(c_ptr), value :: carry_in
            integer(c_int) :: flo_array_scan_sync
        end function flo_array_scan_sync
    end interface

    public :: flo_status_str, flo_version, flo_version_string
    public :: flo_dtype_size
    public :: flo_init, flo_finalize, flo_device_count, flo_worker_count
    public :: flo_worker_device
    public :: flo_data_register, flo_data_register_flags
    public :: flo_data_register_many, flo_data_register_device
    public :: flo_data_alloc, flo_data_acquire
    public :: flo_data_release, flo_data_unregister
    public :: flo_data_unregister_many, flo_data_prefetch, flo_data_flush
    public :: flo_data_size
    public :: flo_task_submit, flo_event_wait, flo_event_query
    public :: flo_wait_all, flo_error_message
    public :: flo_task_buffer, flo_task_buffer_size, flo_task_buffer_count
    public :: flo_task_buffer_as, flo_task_args, flo_task_args_as
    public :: flo_task_worker, flo_task_device, flo_task_runtime
    public :: flo_task_stream
    public :: flo_array_create, flo_array_create_from_host
    public :: flo_array_destroy, flo_array_size, flo_array_dtype
    public :: flo_array_nblocks, flo_array_block, flo_array_from_host
    public :: flo_array_to_host, flo_array_transform
    public :: flo_array_transform_sync, flo_array_fill, flo_array_map
    public :: flo_array_reduce, flo_array_reduce_sync
    public :: flo_array_argreduce_sync, flo_array_scan, flo_array_scan_sync

    ! flo_task_fail is variadic in C (a printf format). It is called here
    ! with its fixed arguments only and a format whose '%' are doubled,
    ! which the x86-64 and AArch64 Linux calling conventions allow: use
    ! flo_task_fail_f.
    interface
        subroutine c_task_fail(ctx, code, fmt) bind(c, name='flo_task_fail')
            import :: c_ptr, c_int, c_char
            type(c_ptr), value :: ctx
            integer(c_int), value :: code
            character(kind=c_char), intent(in) :: fmt(*)
        end subroutine c_task_fail

        pure function c_strlen(s) bind(c, name='strlen')
            import :: c_ptr, c_size_t
            type(c_ptr), value, intent(in) :: s
            integer(c_size_t) :: c_strlen
        end function c_strlen
    end interface

    ! ---- Fortran-friendly wrappers ----------------------------------------

    public :: flo_check, flo_status_str_f, flo_c_string_f
    public :: flo_version_string_f, flo_config_default_f, flo_init_f
    public :: flo_data_equal, flo_event_equal, flo_device, flo_worker
    public :: flo_r, flo_w, flo_rw
    public :: flo_data_register_f, flo_data_acquire_f
    public :: flo_submit_f, flo_task_buffer_f, flo_task_args_f
    public :: flo_task_fail_f, flo_error_message_f
    public :: flo_array_create_from_host_f, flo_array_from_host_f
    public :: flo_array_to_host_f, flo_array_fill_f, flo_array_transform_f
    public :: flo_array_reduce_f, flo_array_scan_f, flo_array_map_f
    public :: flo_span_out_f, flo_span_in_f

    ! flo_data_acquire_f(rt, h, mode, p): acquire h and point p (a rank-1
    ! pointer to real64, real32, int64 or int32 elements) at its host copy.
    interface flo_data_acquire_f
        module procedure acquire_r8, acquire_r4, acquire_i8, acquire_i4
    end interface flo_data_acquire_f

    ! flo_task_buffer_f(ctx, i, p): buffer i (1-based) as a rank-1
    ! pointer of that type, or a disassociated pointer.
    interface flo_task_buffer_f
        module procedure task_buffer_r8, task_buffer_r4, task_buffer_i8, &
            task_buffer_i4
    end interface flo_task_buffer_f

    ! flo_task_args_f(ctx, p): the argument bytes as a rank-1 pointer of
    ! that type, or a disassociated pointer.
    interface flo_task_args_f
        module procedure task_args_r8, task_args_r4, task_args_i8, &
            task_args_i4
    end interface flo_task_args_f

    ! flo_span_out_f(span, p) / flo_span_in_f(span, j, p): a block
    ! function's output and its input j (1: x, 2: y) as rank-1 pointers
    ! of span%count elements.
    interface flo_span_out_f
        module procedure span_out_r8, span_out_r4, span_out_i8, span_out_i4
    end interface flo_span_out_f

    interface flo_span_in_f
        module procedure span_in_r8, span_in_r4, span_in_i8, span_in_i4
    end interface flo_span_in_f

    integer(c_size_t), parameter :: R8 = storage_size(1.0_c_double) / 8
    integer(c_size_t), parameter :: R4 = storage_size(1.0_c_float) / 8
    integer(c_size_t), parameter :: I8 = storage_size(1_c_int64_t) / 8
    integer(c_size_t), parameter :: I4 = storage_size(1_c_int32_t) / 8
    ! Kernel names up to this length (NUL included) need no allocation.
    integer, parameter :: NAME_BUF = 128

contains

    ! ---- Strings, status, version ----------------------------------------

    ! Stop the program with a message on standard error when st is an
    ! error (negative); what names the call. Informational codes pass.
    subroutine flo_check(st, what)
        use, intrinsic :: iso_fortran_env, only: error_unit
        integer(c_int), intent(in) :: st
        character(len=*), intent(in) :: what

        if (st >= 0) return
        write (error_unit, '(a, ": ", a)') what, flo_status_str_f(st)
        error stop 1
    end subroutine flo_check

    ! A C string (NUL-terminated; NULL gives "") as a Fortran string.
    function flo_c_string_f(p) result(s)
        type(c_ptr), intent(in) :: p
        character(len=:), allocatable :: s
        character(kind=c_char), pointer :: chars(:)
        integer(c_size_t) :: n, i

        if (.not. c_associated(p)) then
            s = ''
            return
        end if
        n = c_strlen(p)
        call c_f_pointer(p, chars, [n])
        allocate (character(len=n) :: s)
        do i = 1, n
            s(i:i) = chars(i)
        end do
    end function flo_c_string_f

    ! flo_status_str as a Fortran string: "FLO_EINVAL: invalid argument".
    function flo_status_str_f(st) result(s)
        integer(c_int), intent(in) :: st
        character(len=:), allocatable :: s

        s = flo_c_string_f(flo_status_str(st))
    end function flo_status_str_f

    ! The library's version, "major.minor.patch".
    function flo_version_string_f() result(s)
        character(len=:), allocatable :: s

        s = flo_c_string_f(flo_version_string())
    end function flo_version_string_f

    ! A Fortran string as a NUL-terminated C string.
    pure subroutine to_c(s, c)
        character(len=*), intent(in) :: s
        character(kind=c_char), intent(out) :: c(:)
        integer :: i

        do i = 1, len(s)
            c(i) = s(i:i)
        end do
        c(len(s) + 1) = c_null_char
    end subroutine to_c

    ! ---- Lifecycle ---------------------------------------------------------

    ! The default configuration, as FLO_CONFIG_INIT: size (this type's
    ! layout, checked by flo_init) and version set, every other field its
    ! default.
    function flo_config_default_f() result(cfg)
        type(flo_config) :: cfg

        cfg%size = c_sizeof(cfg)
        cfg%version = FLO_MODULE_VERSION
    end function flo_config_default_f

    ! flo_init with the common settings as optional arguments (absent:
    ! the default, and the FLO_* environment variables apply unless
    ! ignore_env is true). rt is written only on success.
    !
    ! host_workers  host worker threads (0: one per free core);
    ! devices       FLO_DEVICES_AUTO, _HOST or _CUDA;
    ! sched         FLO_SCHED_DEFAULT, _EAGER, _WS or _LOCALITY;
    ! no_bind       leave the worker threads unbound;
    ! ignore_env    do not read FLO_* variables;
    ! stats         print statistics at finalize;
    ! trace_path    write a Chrome trace there at finalize;
    ! log_level     0 errors .. 3 debug;
    ! dag_path      write the task graph there at finalize (Graphviz).
    ! Returns flo_init's status (FLO_EINVAL for a value out of range).
    ! Thread-safe.
    function flo_init_f(rt, host_workers, devices, sched, no_bind, &
            ignore_env, stats, trace_path, log_level, dag_path) result(st)
        type(c_ptr), intent(inout) :: rt
        integer, intent(in), optional :: host_workers, devices, sched
        logical, intent(in), optional :: no_bind, ignore_env, stats
        character(len=*), intent(in), optional :: trace_path, dag_path
        integer, intent(in), optional :: log_level
        integer(c_int) :: st
        type(flo_config) :: cfg
        character(kind=c_char), allocatable, target :: path(:), dpath(:)
        type(c_ptr) :: out

        cfg = flo_config_default_f()
        if (present(host_workers)) cfg%host_workers = int(host_workers, c_int)
        if (present(devices)) cfg%devices = int(devices, c_int)
        if (present(sched)) cfg%sched = int(sched, c_int)
        if (present(no_bind)) cfg%no_bind = merge(1, 0, no_bind)
        if (present(ignore_env)) cfg%ignore_env = merge(1, 0, ignore_env)
        if (present(stats)) cfg%stats = merge(1, 0, stats)
        if (present(log_level)) cfg%log_level = int(log_level, c_int)
        if (present(trace_path)) then
            allocate (path(len(trace_path) + 1))
            call to_c(trace_path, path)
            cfg%trace_path = c_loc(path)
        end if
        if (present(dag_path)) then
            allocate (dpath(len(dag_path) + 1))
            call to_c(dag_path, dpath)
            cfg%dag_path = c_loc(dpath)
        end if
        out = c_null_ptr
        st = flo_init(cfg, out)
        if (st == FLO_OK) rt = out
    end function flo_init_f

    ! ---- Handles, placement, access entries -------------------------------

    ! Whether two handles (events) name the same registration (task).
    elemental function flo_data_equal(a, b) result(eq)
        type(flo_data), intent(in) :: a, b
        logical :: eq

        eq = a%id == b%id .and. a%gen == b%gen
    end function flo_data_equal

    elemental function flo_event_equal(a, b) result(eq)
        type(flo_event), intent(in) :: a, b
        logical :: eq

        eq = a%id == b%id .and. a%gen == b%gen
    end function flo_event_equal

    ! flo_task_desc%on_device and %on_worker values: FLO_DEVICE(d) and
    ! FLO_WORKER(w) in C (d + 1; FLO_ANY gives 0, any).
    elemental function flo_device(d) result(v)
        integer, intent(in) :: d
        integer(c_int) :: v

        v = int(d + 1, c_int)
    end function flo_device

    elemental function flo_worker(w) result(v)
        integer, intent(in) :: w
        integer(c_int) :: v

        v = int(w + 1, c_int)
    end function flo_worker

    ! Access entries: h read, written, or read and written (FLO_R, FLO_W,
    ! FLO_RW in C). An access list is an array constructor of them.
    elemental function flo_r(h) result(a)
        type(flo_data), intent(in) :: h
        type(flo_access_desc) :: a

        a%data = h
        a%mode = FLO_READ
    end function flo_r

    elemental function flo_w(h) result(a)
        type(flo_data), intent(in) :: h
        type(flo_access_desc) :: a

        a%data = h
        a%mode = FLO_WRITE
    end function flo_w

    elemental function flo_rw(h) result(a)
        type(flo_data), intent(in) :: h
        type(flo_access_desc) :: a

        a%data = h
        a%mode = FLO_READ_WRITE
    end function flo_rw

    ! ---- Data --------------------------------------------------------------

    ! The address of a (contiguous) object of any type and rank.
    function addr_of(x) result(p)
        type(*), dimension(..), intent(in), target :: x
        type(c_ptr) :: p

        p = c_loc(x)
    end function addr_of

    ! Whether an object is contiguous. Through an assumed-type argument:
    ! gfortran 12's is_contiguous reports every class(*) array contiguous.
    logical function contiguous_obj(x)
        type(*), dimension(..), intent(in) :: x

        contiguous_obj = is_contiguous(x)
    end function contiguous_obj

    ! Register the Fortran array x (any interoperable type and rank; it
    ! must be contiguous and have the target attribute, since the runtime
    ! keeps its address until flo_data_unregister) as a data handle, with
    ! flags 0 (default) or FLO_DATA_NO_PIN. h is written only on success.
    ! Returns FLO_EINVAL for an empty or non-contiguous x; otherwise
    ! flo_data_register_flags's status. Thread-safe; may be called from
    ! inside a task.
    function flo_data_register_f(rt, x, h, flags) result(st)
        type(c_ptr), intent(in) :: rt
        class(*), dimension(..), intent(inout), target :: x
        type(flo_data), intent(inout) :: h
        integer, intent(in), optional :: flags
        integer(c_int) :: st
        integer(c_int) :: fl

        fl = 0
        if (present(flags)) fl = int(flags, c_int)
        if (size(x) == 0 .or. .not. contiguous_obj(x)) then
            st = FLO_EINVAL
            return
        end if
        st = flo_data_register_flags(rt, addr_of(x), &
            size(x, kind=c_size_t) * (storage_size(x) / 8), fl, h)
    end function flo_data_register_f

    ! flo_data_acquire, after checking that h holds whole elements of
    ! elem bytes (FLO_EINVAL, nothing acquired, if not). As in C, the
    ! address is returned whenever the data was acquired, also with an
    ! error status (a failed writer): release it then too.
    function acquire_raw(rt, h, mode, elem, p, n) result(st)
        type(c_ptr), intent(in) :: rt
        type(flo_data), intent(in) :: h
        integer(c_int), intent(in) :: mode
        integer(c_size_t), intent(in) :: elem
        type(c_ptr), intent(out) :: p
        integer(c_size_t), intent(out) :: n
        integer(c_int) :: st
        integer(c_size_t) :: bytes

        p = c_null_ptr
        n = 0
        bytes = 0
        st = flo_data_size(rt, h, bytes)
        if (st /= FLO_OK) return
        if (mod(bytes, elem) /= 0) then
            st = FLO_EINVAL
            return
        end if
        n = bytes / elem
        st = flo_data_acquire(rt, h, mode, p)
    end function acquire_raw

    function acquire_r8(rt, h, mode, p) result(st)
        type(c_ptr), intent(in) :: rt
        type(flo_data), intent(in) :: h
        integer(c_int), intent(in) :: mode
        real(c_double), pointer, intent(inout) :: p(:)
        integer(c_int) :: st
        type(c_ptr) :: a
        integer(c_size_t) :: n

        st = acquire_raw(rt, h, mode, R8, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end function acquire_r8

    function acquire_r4(rt, h, mode, p) result(st)
        type(c_ptr), intent(in) :: rt
        type(flo_data), intent(in) :: h
        integer(c_int), intent(in) :: mode
        real(c_float), pointer, intent(inout) :: p(:)
        integer(c_int) :: st
        type(c_ptr) :: a
        integer(c_size_t) :: n

        st = acquire_raw(rt, h, mode, R4, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end function acquire_r4

    function acquire_i8(rt, h, mode, p) result(st)
        type(c_ptr), intent(in) :: rt
        type(flo_data), intent(in) :: h
        integer(c_int), intent(in) :: mode
        integer(c_int64_t), pointer, intent(inout) :: p(:)
        integer(c_int) :: st
        type(c_ptr) :: a
        integer(c_size_t) :: n

        st = acquire_raw(rt, h, mode, I8, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end function acquire_i8

    function acquire_i4(rt, h, mode, p) result(st)
        type(c_ptr), intent(in) :: rt
        type(flo_data), intent(in) :: h
        integer(c_int), intent(in) :: mode
        integer(c_int32_t), pointer, intent(inout) :: p(:)
        integer(c_int) :: st
        type(c_ptr) :: a
        integer(c_size_t) :: n

        st = acquire_raw(rt, h, mode, I4, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end function acquire_i4

    ! ---- Tasks -------------------------------------------------------------

    ! Submit a task (flo_task_submit with a descriptor built from the
    ! arguments; everything is copied before it returns).
    !
    ! name      the kernel's name (traces, the performance model);
    ! host      the host entry point, a bind(c) subroutine with the
    !           flo_task_fn interface;
    ! access    the buffers, e.g. [flo_r(hx), flo_rw(hy)]: buffer i
    !           inside the task (flo_task_buffer_f) is access(i);
    ! args      a value or contiguous array of any interoperable type,
    !           copied by value (flo_task_args_f reads it back);
    ! priority  higher runs first (default 0);
    ! device    run on device `device` (0 host, 1.. GPUs); default any;
    ! worker    run on worker `worker` (0 ..); default any;
    ! deps      events the task waits for besides its data;
    ! event     the task's event, written only on success;
    ! cuda      a CUDA entry point (c_funloc of a bind(c) procedure that
    !           enqueues work on flo_task_stream(ctx)), or absent.
    ! Returns flo_task_submit's status; FLO_EINVAL also for non-contiguous
    ! args or an entry point missing on both sides. Thread-safe; callable
    ! from inside a task (rt = flo_task_runtime(ctx)).
    function flo_submit_f(rt, name, host, access, args, priority, device, &
            worker, deps, event, cuda) result(st)
        type(c_ptr), intent(in) :: rt
        character(len=*), intent(in) :: name
        procedure(flo_task_fn), optional :: host
        ! Contiguous: a strided actual is passed as a contiguous copy,
        ! which is enough (the runtime copies the list before returning).
        type(flo_access_desc), intent(in), optional, target, contiguous :: &
            access(:)
        class(*), dimension(..), intent(in), optional, target :: args
        integer, intent(in), optional :: priority, device, worker
        type(flo_event), intent(in), optional, target, contiguous :: deps(:)
        type(flo_event), intent(inout), optional :: event
        type(c_funptr), intent(in), optional :: cuda
        integer(c_int) :: st
        type(flo_kernel), target :: k
        type(flo_task_desc) :: d
        character(kind=c_char), target :: short(NAME_BUF)
        character(kind=c_char), allocatable, target :: long(:)

        ! The name as a C string: on the stack unless it is long (no
        ! allocation per task; the runtime interns it at submit).
        if (len(name) < NAME_BUF) then
            call to_c(name, short)
            k%name = c_loc(short)
        else
            allocate (long(len(name) + 1))
            call to_c(name, long)
            k%name = c_loc(long)
        end if
        if (present(host)) k%host = c_funloc(host)
        if (present(cuda)) k%cuda = cuda
        d%size = c_sizeof(d)
        d%kernel = c_loc(k)
        if (present(access)) then
            d%access = c_loc(access)
            d%naccess = int(size(access), c_int)
        end if
        if (present(args)) then
            if (.not. contiguous_obj(args)) then
                st = FLO_EINVAL
                return
            end if
            if (size(args) > 0) then
                d%args = addr_of(args)
                d%args_size = size(args, kind=c_size_t) * &
                    (storage_size(args) / 8)
            end if
        end if
        if (present(priority)) d%priority = int(priority, c_int)
        if (present(device)) d%on_device = flo_device(device)
        if (present(worker)) d%on_worker = flo_worker(worker)
        if (present(deps)) then
            d%deps = c_loc(deps)
            d%ndeps = int(size(deps), c_int)
        end if
        st = flo_task_submit(rt, d, event)
    end function flo_submit_f

    ! Buffer i (1-based) of the running task as elements of elem bytes:
    ! its address and count, or NULL when it is not such an array.
    recursive subroutine buffer_raw(ctx, i, elem, p, n)
        type(c_ptr), intent(in) :: ctx
        integer, intent(in) :: i
        integer(c_size_t), intent(in) :: elem
        type(c_ptr), intent(out) :: p
        integer(c_size_t), intent(out) :: n

        p = flo_task_buffer_as(ctx, int(i - 1, c_int), elem, elem)
        n = 0
        if (c_associated(p)) n = flo_task_buffer_count(ctx, &
            int(i - 1, c_int), elem)
    end subroutine buffer_raw

    recursive subroutine task_buffer_r8(ctx, i, p)
        type(c_ptr), intent(in) :: ctx
        integer, intent(in) :: i
        real(c_double), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call buffer_raw(ctx, i, R8, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_buffer_r8

    recursive subroutine task_buffer_r4(ctx, i, p)
        type(c_ptr), intent(in) :: ctx
        integer, intent(in) :: i
        real(c_float), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call buffer_raw(ctx, i, R4, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_buffer_r4

    recursive subroutine task_buffer_i8(ctx, i, p)
        type(c_ptr), intent(in) :: ctx
        integer, intent(in) :: i
        integer(c_int64_t), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call buffer_raw(ctx, i, I8, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_buffer_i8

    recursive subroutine task_buffer_i4(ctx, i, p)
        type(c_ptr), intent(in) :: ctx
        integer, intent(in) :: i
        integer(c_int32_t), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call buffer_raw(ctx, i, I4, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_buffer_i4

    ! The running task's argument bytes as elements of elem bytes, or
    ! NULL when there are none or their size is not a multiple of elem.
    recursive subroutine args_raw(ctx, elem, p, n)
        type(c_ptr), intent(in) :: ctx
        integer(c_size_t), intent(in) :: elem
        type(c_ptr), intent(out) :: p
        integer(c_size_t), intent(out) :: n
        integer(c_size_t) :: bytes

        bytes = 0
        p = flo_task_args(ctx, bytes)
        n = bytes / elem
        if (bytes == 0 .or. mod(bytes, elem) /= 0) p = c_null_ptr
    end subroutine args_raw

    recursive subroutine task_args_r8(ctx, p)
        type(c_ptr), intent(in) :: ctx
        real(c_double), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call args_raw(ctx, R8, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_args_r8

    recursive subroutine task_args_r4(ctx, p)
        type(c_ptr), intent(in) :: ctx
        real(c_float), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call args_raw(ctx, R4, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_args_r4

    recursive subroutine task_args_i8(ctx, p)
        type(c_ptr), intent(in) :: ctx
        integer(c_int64_t), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call args_raw(ctx, I8, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_args_i8

    recursive subroutine task_args_i4(ctx, p)
        type(c_ptr), intent(in) :: ctx
        integer(c_int32_t), pointer, intent(out) :: p(:)
        type(c_ptr) :: a
        integer(c_size_t) :: n

        p => null()
        call args_raw(ctx, I4, a, n)
        if (c_associated(a)) call c_f_pointer(a, p, [n])
    end subroutine task_args_i4

    ! Report the running task's failure: it finishes with code (FLO_ETASK
    ! unless a negative error), its dependents are canceled, and waiters
    ! see msg (flo_error_message_f). The first call wins. Only from the
    ! task's own entry point.
    recursive subroutine flo_task_fail_f(ctx, code, msg)
        type(c_ptr), intent(in) :: ctx
        integer(c_int), intent(in) :: code
        character(len=*), intent(in) :: msg
        character(kind=c_char) :: fmt(2 * len(msg) + 1)
        integer :: i, j

        j = 0
        do i = 1, len(msg)
            j = j + 1
            fmt(j) = msg(i:i)
            if (msg(i:i) == '%') then
                j = j + 1
                fmt(j) = '%'
            end if
        end do
        fmt(j + 1) = c_null_char
        call c_task_fail(ctx, code, fmt)
    end subroutine flo_task_fail_f

    ! The message of ev's failure (absent: of the first failure the last
    ! flo_wait_all reported); "" when none is known. At most 1023 bytes.
    function flo_error_message_f(rt, ev) result(msg)
        type(c_ptr), intent(in) :: rt
        type(flo_event), intent(in), optional :: ev
        character(len=:), allocatable :: msg
        character(kind=c_char), target :: buf(1024)
        type(flo_event) :: e
        integer(c_int) :: st

        e = FLO_EVENT_NULL
        if (present(ev)) e = ev
        buf = c_null_char
        st = flo_error_message(rt, e, buf, size(buf, kind=c_size_t))
        if (st /= FLO_OK) buf(1) = c_null_char
        msg = flo_c_string_f(c_loc(buf))
    end function flo_error_message_f

    ! ---- Arrays ------------------------------------------------------------

    ! The flo_dtype of a Fortran value (-1 for another type).
    integer(c_int) function dtype_of(x)
        class(*), intent(in) :: x(..)

        dtype_of = -1
        select rank (x)
        rank (0)
            dtype_of = dtype_scalar(x)
        rank (1)
            dtype_of = dtype_vector(x)
        end select
    end function dtype_of

    integer(c_int) function dtype_scalar(x)
        class(*), intent(in) :: x

        select type (x)
        type is (real(c_double))
            dtype_scalar = FLO_F64
        type is (real(c_float))
            dtype_scalar = FLO_F32
        type is (integer(c_int64_t))
            dtype_scalar = FLO_I64
        type is (integer(c_int32_t))
            dtype_scalar = FLO_I32
        class default
            dtype_scalar = -1
        end select
    end function dtype_scalar

    integer(c_int) function dtype_vector(x)
        class(*), intent(in) :: x(:)

        select type (x)
        type is (real(c_double))
            dtype_vector = FLO_F64
        type is (real(c_float))
            dtype_vector = FLO_F32
        type is (integer(c_int64_t))
            dtype_vector = FLO_I64
        type is (integer(c_int32_t))
            dtype_vector = FLO_I32
        class default
            dtype_vector = -1
        end select
    end function dtype_vector

    ! Whether Fortran values of type t hold elements of dtype: the same
    ! type, or int32/int64 for the unsigned types (same bits).
    logical function holds(t, dtype)
        integer(c_int), intent(in) :: t, dtype

        holds = t >= 0 .and. (t == dtype .or. &
            (t == FLO_I32 .and. dtype == FLO_U32) .or. &
            (t == FLO_I64 .and. dtype == FLO_U64))
    end function holds

    ! The address of the optional value v if it holds one element of a's
    ! type (NULL when absent); ok false if it does not.
    subroutine value_ptr(a, v, p, ok)
        type(c_ptr), intent(in) :: a
        class(*), intent(in), optional, target :: v
        type(c_ptr), intent(out) :: p
        logical, intent(out) :: ok

        p = c_null_ptr
        ok = .true.
        if (.not. present(v)) return
        ok = holds(dtype_of(v), flo_array_dtype(a))
        if (ok) p = addr_of(v)
    end subroutine value_ptr

    ! flo_array_create_from_host for a Fortran vector of real64 (FLO_F64),
    ! real32 (FLO_F32), int64 (FLO_I64) or int32 (FLO_I32), with the
    ! default layout. a is written only on success. Returns FLO_EINVAL
    ! for another type or a non-contiguous x; otherwise the C status.
    ! Thread-safe.
    function flo_array_create_from_host_f(rt, x, a) result(st)
        type(c_ptr), intent(in) :: rt
        class(*), intent(in), target :: x(:)
        type(c_ptr), intent(inout) :: a
        integer(c_int) :: st
        integer(c_int) :: t

        t = dtype_of(x)
        if (t < 0 .or. .not. contiguous_obj(x)) then
            st = FLO_EINVAL
            return
        end if
        st = flo_array_create_from_host(rt, t, size(x, kind=c_int64_t), &
            addr_of(x), out=a)
    end function flo_array_create_from_host_f

    ! Copy the contiguous vector x (exactly flo_array_size(a) elements of
    ! a's type; int32/int64 for the unsigned types) into / out of a.
    ! Blocking. FLO_EINVAL, nothing copied, for a NULL array, a wrong
    ! type, size or layout of x; otherwise the C status.
    function flo_array_from_host_f(a, x) result(st)
        type(c_ptr), intent(in) :: a
        class(*), intent(in), target :: x(:)
        integer(c_int) :: st

        st = FLO_EINVAL
        if (.not. fits(a, x)) return
        st = flo_array_from_host(a, addr_of(x))
    end function flo_array_from_host_f

    function flo_array_to_host_f(a, x) result(st)
        type(c_ptr), intent(in) :: a
        class(*), intent(inout), target :: x(:)
        integer(c_int) :: st

        st = FLO_EINVAL
        if (.not. fits(a, x)) return
        st = flo_array_to_host(a, addr_of(x))
    end function flo_array_to_host_f

    logical function fits(a, x)
        type(c_ptr), intent(in) :: a
        class(*), intent(in) :: x(:)
        integer(c_int64_t) :: n

        fits = .false.
        if (.not. c_associated(a) .or. .not. contiguous_obj(x)) return
        if (.not. holds(dtype_of(x), flo_array_dtype(a))) return
        n = flo_array_size(a)
        fits = size(x, kind=c_int64_t) == n
    end function fits

    ! Set every element of a to value (one element of a's type). Blocking.
    ! FLO_EINVAL, nothing changed, for a NULL array or a value of another
    ! type; otherwise flo_array_transform_sync's status.
    function flo_array_fill_f(a, value) result(st)
        type(c_ptr), intent(in) :: a
        class(*), intent(in), target :: value
        integer(c_int) :: st
        type(c_ptr) :: p
        logical :: ok

        st = FLO_EINVAL
        if (.not. c_associated(a)) return
        call value_ptr(a, value, p, ok)
        if (.not. ok) return
        st = flo_array_transform_sync(a, FLO_XF_FILL, c_null_ptr, &
            c_null_ptr, p)
    end function flo_array_fill_f

    ! out = op(x, y) (flo_array_transform), blocking. x and y are arrays
    ! (absent: NULL, as the operation requires); alpha, for FILL, SCALE
    ! and AXPY, is one element of out's type. FLO_EINVAL, nothing changed,
    ! for a NULL out or an alpha of another type; otherwise the C status.
    function flo_array_transform_f(out, op, x, y, alpha) result(st)
        type(c_ptr), intent(in) :: out
        integer(c_int), intent(in) :: op
        type(c_ptr), intent(in), optional :: x, y
        class(*), intent(in), optional, target :: alpha
        integer(c_int) :: st
        type(c_ptr) :: px, py, pa
        logical :: ok

        st = FLO_EINVAL
        if (.not. c_associated(out)) return
        call value_ptr(out, alpha, pa, ok)
        if (.not. ok) return
        px = c_null_ptr
        py = c_null_ptr
        if (present(x)) px = x
        if (present(y)) py = y
        st = flo_array_transform_sync(out, op, px, py, pa)
    end function flo_array_transform_f

    ! Reduce a with op into value (a scalar of a's type), blocking.
    ! FLO_EINVAL, value untouched, for a NULL array or a value of another
    ! type; otherwise flo_array_reduce_sync's status.
    function flo_array_reduce_f(a, op, value) result(st)
        type(c_ptr), intent(in) :: a
        integer(c_int), intent(in) :: op
        class(*), intent(inout), target :: value
        integer(c_int) :: st
        type(c_ptr) :: p
        logical :: ok

        st = FLO_EINVAL
        if (.not. c_associated(a)) return
        call value_ptr(a, value, p, ok)
        if (.not. ok) return
        st = flo_array_reduce_sync(a, op, p)
    end function flo_array_reduce_f

    ! Prefix scan of x into out (out may be x) with op, kind
    ! FLO_SCAN_INCLUSIVE or _EXCLUSIVE, seeded with carry (one element of
    ! out's type; absent: the identity). Blocking. FLO_EINVAL, nothing
    ! changed, for a NULL out or a carry of another type; otherwise
    ! flo_array_scan_sync's status.
    function flo_array_scan_f(out, x, op, kind, carry) result(st)
        type(c_ptr), intent(in) :: out, x
        integer(c_int), intent(in) :: op, kind
        class(*), intent(in), optional, target :: carry
        integer(c_int) :: st
        type(c_ptr) :: p
        logical :: ok

        st = FLO_EINVAL
        if (.not. c_associated(out)) return
        call value_ptr(out, carry, p, ok)
        if (.not. ok) return
        st = flo_array_scan_sync(out, x, op, kind, p)
    end function flo_array_scan_f

    ! Submit the block function host (flo_array_fn interface) over every
    ! block of out (flo_array_map): x and y (optional) are read, out is
    ! written; args (a value or contiguous array, copied) reaches the
    ! function as span%args. Asynchronous like flo_submit_f: event is
    ! written only on success; wait with flo_event_wait or flo_wait_all.
    ! cuda: optional CUDA block function (c_funloc of a bind(c)
    ! procedure). Returns FLO_EINVAL for non-contiguous args; otherwise
    ! flo_array_map's status. Thread-safe.
    function flo_array_map_f(out, name, host, x, y, args, event, cuda) &
            result(st)
        type(c_ptr), intent(in) :: out
        character(len=*), intent(in) :: name
        procedure(flo_array_fn), optional :: host
        type(c_ptr), intent(in), optional :: x, y
        class(*), dimension(..), intent(in), optional, target :: args
        type(flo_event), intent(inout), optional :: event
        type(c_funptr), intent(in), optional :: cuda
        integer(c_int) :: st
        type(flo_array_kernel) :: k
        character(kind=c_char), target :: short(NAME_BUF)
        character(kind=c_char), allocatable, target :: long(:)
        type(c_ptr) :: px, py, pa
        integer(c_size_t) :: na

        if (len(name) < NAME_BUF) then
            call to_c(name, short)
            k%name = c_loc(short)
        else
            allocate (long(len(name) + 1))
            call to_c(name, long)
            k%name = c_loc(long)
        end if
        if (present(host)) k%host = c_funloc(host)
        if (present(cuda)) k%cuda = cuda
        px = c_null_ptr
        py = c_null_ptr
        pa = c_null_ptr
        na = 0
        if (present(x)) px = x
        if (present(y)) py = y
        if (present(args)) then
            if (.not. contiguous_obj(args)) then
                st = FLO_EINVAL
                return
            end if
            if (size(args) > 0) then
                pa = addr_of(args)
                na = size(args, kind=c_size_t) * (storage_size(args) / 8)
            end if
        end if
        st = flo_array_map(out, k, px, py, pa, na, event)
    end function flo_array_map_f

    ! A block function's output (or input j: 1 x, 2 y) as span%count
    ! elements; disassociated for an absent input or a bad j.
    recursive subroutine span_out_r8(span, p)
        type(flo_array_span), intent(in) :: span
        real(c_double), pointer, intent(out) :: p(:)

        call c_f_pointer(span%out, p, [span%count])
    end subroutine span_out_r8

    recursive subroutine span_out_r4(span, p)
        type(flo_array_span), intent(in) :: span
        real(c_float), pointer, intent(out) :: p(:)

        call c_f_pointer(span%out, p, [span%count])
    end subroutine span_out_r4

    recursive subroutine span_out_i8(span, p)
        type(flo_array_span), intent(in) :: span
        integer(c_int64_t), pointer, intent(out) :: p(:)

        call c_f_pointer(span%out, p, [span%count])
    end subroutine span_out_i8

    recursive subroutine span_out_i4(span, p)
        type(flo_array_span), intent(in) :: span
        integer(c_int32_t), pointer, intent(out) :: p(:)

        call c_f_pointer(span%out, p, [span%count])
    end subroutine span_out_i4

    recursive function span_input(span, j) result(p)
        type(flo_array_span), intent(in) :: span
        integer, intent(in) :: j
        type(c_ptr) :: p

        p = c_null_ptr
        if (j == 1 .or. j == 2) p = span%in(j)
    end function span_input

    recursive subroutine span_in_r8(span, j, p)
        type(flo_array_span), intent(in) :: span
        integer, intent(in) :: j
        real(c_double), pointer, intent(out) :: p(:)
        type(c_ptr) :: a

        p => null()
        a = span_input(span, j)
        if (c_associated(a)) call c_f_pointer(a, p, [span%count])
    end subroutine span_in_r8

    recursive subroutine span_in_r4(span, j, p)
        type(flo_array_span), intent(in) :: span
        integer, intent(in) :: j
        real(c_float), pointer, intent(out) :: p(:)
        type(c_ptr) :: a

        p => null()
        a = span_input(span, j)
        if (c_associated(a)) call c_f_pointer(a, p, [span%count])
    end subroutine span_in_r4

    recursive subroutine span_in_i8(span, j, p)
        type(flo_array_span), intent(in) :: span
        integer, intent(in) :: j
        integer(c_int64_t), pointer, intent(out) :: p(:)
        type(c_ptr) :: a

        p => null()
        a = span_input(span, j)
        if (c_associated(a)) call c_f_pointer(a, p, [span%count])
    end subroutine span_in_i8

    recursive subroutine span_in_i4(span, j, p)
        type(flo_array_span), intent(in) :: span
        integer, intent(in) :: j
        integer(c_int32_t), pointer, intent(out) :: p(:)
        type(c_ptr) :: a

        p => null()
        a = span_input(span, j)
        if (c_associated(a)) call c_f_pointer(a, p, [span%count])
    end subroutine span_in_i4

end module flotilla
