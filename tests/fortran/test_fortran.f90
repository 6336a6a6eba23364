! Tests of the Fortran module (fortran/flotilla.f90), printed as TAP: the
! layout of every interoperable type against the C compiler's (layout.c),
! then the lifecycle, data handles, tasks with Fortran entry points,
! failures, explicit dependencies and arrays, each checked on its result,
! and bad input refused with FLO_EINVAL, changing nothing.
module ftest_tasks
    use, intrinsic :: iso_c_binding
    use flotilla
    implicit none

    ! Written by task stage_a, read by stage_b, which runs after it only
    ! through an explicit dependency (the runtime orders the accesses).
    integer :: stage = 0

contains

    ! y += a * x, a the task's argument.
    recursive subroutine axpy(ctx) bind(c)
        type(c_ptr), value :: ctx
        real(c_double), pointer :: x(:), y(:), a(:)

        call flo_task_buffer_f(ctx, 1, x)
        call flo_task_buffer_f(ctx, 2, y)
        call flo_task_args_f(ctx, a)
        if (.not. associated(x) .or. .not. associated(y) .or. &
            .not. associated(a)) then
            call flo_task_fail_f(ctx, FLO_EINVAL, 'axpy: bad arguments')
            return
        end if
        if (size(a) /= 1 .or. size(x) /= size(y)) then
            call flo_task_fail_f(ctx, FLO_EINVAL, 'axpy: bad sizes')
            return
        end if
        y = y + a(1) * x
    end subroutine axpy

    ! b = args(1) * b + args(2) on a buffer of any rank, seen flat.
    recursive subroutine affine(ctx) bind(c)
        type(c_ptr), value :: ctx
        real(c_double), pointer :: b(:), args(:)

        call flo_task_buffer_f(ctx, 1, b)
        call flo_task_args_f(ctx, args)
        if (.not. associated(b) .or. .not. associated(args)) then
            call flo_task_fail_f(ctx, FLO_EINVAL, 'affine: bad arguments')
            return
        end if
        b = args(1) * b + args(2)
    end subroutine affine

    recursive subroutine fails(ctx) bind(c)
        type(c_ptr), value :: ctx

        call flo_task_fail_f(ctx, FLO_ETASK, 'bad 100% value')
    end subroutine fails

    recursive subroutine noop(ctx) bind(c)
        type(c_ptr), value :: ctx

        if (.not. c_associated(ctx)) return
    end subroutine noop

    recursive subroutine stage_a(ctx) bind(c)
        type(c_ptr), value :: ctx

        if (.not. c_associated(ctx)) return
        stage = 1
    end subroutine stage_a

    recursive subroutine stage_b(ctx) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int32_t), pointer :: out(:)

        call flo_task_buffer_f(ctx, 1, out)
        out(1) = int(stage + 10, c_int32_t)
    end subroutine stage_b

    ! Records the worker and the device that ran the task.
    recursive subroutine where_am_i(ctx) bind(c)
        type(c_ptr), value :: ctx
        integer(c_int32_t), pointer :: out(:)

        call flo_task_buffer_f(ctx, 1, out)
        out(1) = flo_task_worker(ctx)
        out(2) = flo_task_device(ctx)
    end subroutine where_am_i

    ! out = args(1) * x + global index (0-based), block by block.
    recursive subroutine map_block(span) bind(c)
        type(flo_array_span), intent(in) :: span
        real(c_double), pointer :: out(:), x(:), args(:)
        integer(c_int64_t) :: i

        call flo_span_out_f(span, out)
        call flo_span_in_f(span, 1, x)
        call c_f_pointer(span%args, args, [span%args_size / 8])
        do i = 1, span%count
            out(i) = args(1) * x(i) + real(span%offset + i - 1, c_double)
        end do
    end subroutine map_block
end module ftest_tasks

module ftest_tap
    use, intrinsic :: iso_c_binding
    implicit none
    integer :: ntests = 0
    integer :: nfailed = 0

contains

    subroutine ok(cond, what)
        logical, intent(in) :: cond
        character(len=*), intent(in) :: what

        ntests = ntests + 1
        if (cond) then
            write (*, '(a, i0, a, a)') 'ok ', ntests, ' - ', what
        else
            nfailed = nfailed + 1
            write (*, '(a, i0, a, a)') 'not ok ', ntests, ' - ', what
        end if
    end subroutine ok

    integer(c_intptr_t) function off(base, field)
        type(c_ptr), intent(in) :: base, field

        off = transfer(field, 0_c_intptr_t) - transfer(base, 0_c_intptr_t)
    end function off
end module ftest_tap

program test_fortran
    use, intrinsic :: iso_c_binding
    use flotilla
    use ftest_tasks
    use ftest_tap
    implicit none

    interface
        function flo_ftest_layout(which, out, max) &
                bind(c, name='flo_ftest_layout')
            import :: c_int, c_size_t
            integer(c_int), value :: which
            integer(c_size_t), intent(inout) :: out(*)
            integer(c_size_t), value :: max
            integer(c_size_t) :: flo_ftest_layout
        end function flo_ftest_layout
    end interface

    type(c_ptr) :: rt

    call test_version()
    call test_layouts()
    call test_init()
    call test_tasks()
    call test_data_2d()
    call test_failure()
    call test_deps()
    call test_arrays()
    call test_register_many()
    call test_register_device()
    call test_dag()
    call ok(flo_finalize(rt) == FLO_OK, 'flo_finalize')

    write (*, '(a, i0)') '1..', ntests
    if (nfailed > 0) error stop 1

contains

    subroutine test_version()
        character(len=32) :: expect

        call ok(flo_version() == FLO_MODULE_VERSION, &
            'the library is the version the module mirrors')
        write (expect, '(i0, ".", i0, ".", i0)') FLO_VERSION_MAJOR, &
            FLO_VERSION_MINOR, FLO_VERSION_PATCH
        call ok(flo_version_string_f() == trim(expect), &
            'flo_version_string_f: ' // flo_version_string_f())
        call ok(index(flo_status_str_f(FLO_EINVAL), 'FLO_EINVAL') == 1, &
            'flo_status_str_f: ' // flo_status_str_f(FLO_EINVAL))
    end subroutine test_version

    ! Every field offset and size of each type equals the C compiler's.
    subroutine test_layouts()
        type(flo_data), target :: d
        type(flo_event), target :: e
        type(flo_mpi_comm), target :: m
        type(flo_config), target :: c
        type(flo_kernel), target :: k
        type(flo_access_desc), target :: a
        type(flo_task_desc), target :: t
        type(flo_array_layout), target :: l
        type(flo_array_block_info), target :: b
        type(flo_array_span), target :: s
        type(flo_array_kernel), target :: ak
        type(c_ptr) :: p

        p = c_loc(d)
        call same(0, 'flo_data', [off(p, c_loc(d%id)), &
            off(p, c_loc(d%gen)), c_sizeof(d)])
        p = c_loc(e)
        call same(1, 'flo_event', [off(p, c_loc(e%id)), &
            off(p, c_loc(e%gen)), c_sizeof(e)])
        p = c_loc(m)
        call same(2, 'flo_mpi_comm', [off(p, c_loc(m%valid)), &
            off(p, c_loc(m%value)), c_sizeof(m)])
        p = c_loc(c)
        call same(3, 'flo_config', [off(p, c_loc(c%size)), &
            off(p, c_loc(c%version)), off(p, c_loc(c%host_workers)), &
            off(p, c_loc(c%sched)), off(p, c_loc(c%devices)), &
            off(p, c_loc(c%no_bind)), off(p, c_loc(c%trace_path)), &
            off(p, c_loc(c%stats)), off(p, c_loc(c%gpus)), &
            off(p, c_loc(c%gpu_list)), off(p, c_loc(c%streams_per_gpu)), &
            off(p, c_loc(c%gpu_mem_limit)), &
            off(p, c_loc(c%logical_gpus)), off(p, c_loc(c%topology)), &
            off(p, c_loc(c%log_level)), off(p, c_loc(c%ignore_env)), &
            off(p, c_loc(c%mpi_comm)), off(p, c_loc(c%coll_timeout_s)), &
            off(p, c_loc(c%no_pin_host)), off(p, c_loc(c%faults)), &
            off(p, c_loc(c%write_through)), off(p, c_loc(c%lineage)), &
            off(p, c_loc(c%dag_path)), c_sizeof(c)])
        p = c_loc(k)
        call same(4, 'flo_kernel', [off(p, c_loc(k%name)), &
            off(p, c_loc(k%host)), off(p, c_loc(k%cuda)), c_sizeof(k)])
        p = c_loc(a)
        call same(5, 'flo_access_desc', [off(p, c_loc(a%data)), &
            off(p, c_loc(a%mode)), c_sizeof(a)])
        p = c_loc(t)
        call same(6, 'flo_task_desc', [off(p, c_loc(t%size)), &
            off(p, c_loc(t%kernel)), off(p, c_loc(t%access)), &
            off(p, c_loc(t%naccess)), off(p, c_loc(t%args)), &
            off(p, c_loc(t%args_size)), off(p, c_loc(t%priority)), &
            off(p, c_loc(t%on_device)), off(p, c_loc(t%on_worker)), &
            off(p, c_loc(t%deps)), off(p, c_loc(t%ndeps)), &
            off(p, c_loc(t%callback)), off(p, c_loc(t%callback_arg)), &
            off(p, c_loc(t%name)), off(p, c_loc(t%retries)), c_sizeof(t)])
        p = c_loc(l)
        call same(7, 'flo_array_layout', [off(p, c_loc(l%size)), &
            off(p, c_loc(l%nblocks)), off(p, c_loc(l%devices)), &
            off(p, c_loc(l%weights)), c_sizeof(l)])
        p = c_loc(b)
        call same(8, 'flo_array_block_info', [off(p, c_loc(b%data)), &
            off(p, c_loc(b%device)), off(p, c_loc(b%offset)), &
            off(p, c_loc(b%count)), c_sizeof(b)])
        p = c_loc(s)
        call same(9, 'flo_array_span', [off(p, c_loc(s%out)), &
            off(p, c_loc(s%in)), off(p, c_loc(s%count)), &
            off(p, c_loc(s%offset)), off(p, c_loc(s%args)), &
            off(p, c_loc(s%args_size)), off(p, c_loc(s%stream)), &
            off(p, c_loc(s%ctx)), c_sizeof(s)])
        p = c_loc(ak)
        call same(10, 'flo_array_kernel', [off(p, c_loc(ak%name)), &
            off(p, c_loc(ak%host)), off(p, c_loc(ak%cuda)), c_sizeof(ak)])
    end subroutine test_layouts

    subroutine same(which, name, f)
        integer, intent(in) :: which
        character(len=*), intent(in) :: name
        integer(c_intptr_t), intent(in) :: f(:)
        integer(c_size_t) :: c(32), n

        c = 0
        n = flo_ftest_layout(int(which, c_int), c, 32_c_size_t)
        call ok(n == size(f) .and. all(c(1:size(f)) == f), &
            name // ': every field offset and the size match C')
    end subroutine same

    subroutine test_init()
        type(c_ptr) :: bad
        type(flo_config) :: cfg
        integer(c_int) :: st

        bad = c_null_ptr
        st = flo_init_f(bad, host_workers=-1, ignore_env=.true.)
        call ok(st == FLO_EINVAL .and. .not. c_associated(bad), &
            'flo_init_f: host_workers -1 is FLO_EINVAL, rt untouched')
        cfg = flo_config_default_f()
        cfg%size = cfg%size - 8
        call ok(flo_init(cfg, bad) == FLO_EINVAL, &
            'flo_init: a config of another size is refused')
        rt = c_null_ptr
        call flo_check(flo_init_f(rt, host_workers=2, &
            devices=FLO_DEVICES_HOST, no_bind=.true., ignore_env=.true.), &
            'flo_init_f')
        call ok(c_associated(rt) .and. flo_worker_count(rt) == 2 .and. &
            flo_device_count(rt) == 1, &
            'flo_init_f: two host workers, one device')
    end subroutine test_init

    subroutine test_tasks()
        integer, parameter :: n = 1000, nb = 4
        real(c_double), target :: x(n), y(n, nb), sec(10)
        type(flo_data) :: hx, hy(nb), h
        type(flo_access_desc) :: acc(3)
        type(flo_event) :: ev
        integer(c_int32_t), target :: loc_out(2)
        integer(c_int) :: st
        integer :: i, b, pass
        real(c_double) :: alpha, bad(4)

        do i = 1, n
            x(i) = real(i, c_double)
        end do
        y = 1
        sec = 0
        h = FLO_DATA_NULL
        st = flo_data_register_f(rt, sec(1:10:2), h)
        call ok(st == FLO_EINVAL .and. flo_data_equal(h, FLO_DATA_NULL), &
            'flo_data_register_f: a strided section is FLO_EINVAL')
        st = flo_data_register_f(rt, sec(1:0), h)
        call ok(st == FLO_EINVAL .and. flo_data_equal(h, FLO_DATA_NULL), &
            'flo_data_register_f: an empty array is FLO_EINVAL')

        call flo_check(flo_data_register_f(rt, x, hx), 'register x')
        do b = 1, nb
            call flo_check(flo_data_register_f(rt, y(:, b), hy(b)), &
                'register y')
        end do
        st = FLO_OK
        do pass = 1, 2
            do b = 1, nb
                alpha = real(pass, c_double)
                if (st == FLO_OK) st = flo_submit_f(rt, 'axpy', axpy, &
                    [flo_r(hx), flo_rw(hy(b))], args=alpha)
            end do
        end do
        call ok(st == FLO_OK, 'flo_submit_f: eight axpy tasks')
        call ok(flo_wait_all(rt) == FLO_OK, 'flo_wait_all')
        do b = 1, nb
            if (flo_data_unregister(rt, hy(b)) /= FLO_OK) st = FLO_EINTERNAL
        end do
        call ok(st == FLO_OK .and. all(y == spread(1 + 3 * x, 2, nb)), &
            'axpy in Fortran tasks: y = 1 + (1 + 2) x in every block')

        ! A strided access list (passed as a contiguous copy) and a name
        ! longer than the module's stack buffer.
        y(:, 1) = 0
        call flo_check(flo_data_register_f(rt, y(:, 1), h), 'register')
        acc = [flo_r(hx), flo_r(hx), flo_rw(h)]
        alpha = 1
        st = flo_submit_f(rt, repeat('long name ', 30), axpy, acc(1:3:2), &
            args=alpha)
        call ok(st == FLO_OK, 'flo_submit_f: strided access, long name')
        st = flo_data_unregister(rt, h)
        call ok(st == FLO_OK .and. all(y(:, 1) == x), &
            'the task saw x and y through them')

        ev = FLO_EVENT_NULL
        st = flo_submit_f(rt, 'nothing', access=[flo_r(hx)], event=ev)
        call ok(st == FLO_EINVAL .and. flo_event_equal(ev, FLO_EVENT_NULL), &
            'flo_submit_f: no entry point is FLO_EINVAL, event untouched')
        bad = 0
        call ok(flo_submit_f(rt, 'axpy', axpy, [flo_r(hx)], &
            args=bad(1:4:2)) == FLO_EINVAL, &
            'flo_submit_f: strided args are FLO_EINVAL')

        ! Placement on worker 1 (device 0, the host).
        loc_out = -5
        call flo_check(flo_data_register_f(rt, loc_out, h), 'register')
        st = flo_submit_f(rt, 'where', where_am_i, [flo_w(h)], worker=1, &
            event=ev)
        call ok(st == FLO_OK, 'a task placed on worker 1')
        call ok(flo_event_wait(rt, ev) == FLO_OK, 'it finishes')
        call flo_check(flo_data_unregister(rt, h), 'unregister')
        call ok(loc_out(1) == 1 .and. loc_out(2) == 0, &
            'it ran on worker 1, device 0')
        call ok(flo_submit_f(rt, 'where', where_am_i, [flo_w(hx)], &
            device=5) == FLO_EINVAL, 'device 5 of 1 is FLO_EINVAL')
        call flo_check(flo_data_unregister(rt, hx), 'unregister x')
    end subroutine test_tasks

    ! A rank-2 array registered whole, updated by a task that sees it
    ! flat, read back through flo_data_acquire_f.
    subroutine test_data_2d()
        real(c_double), target :: a(4, 8), expect(4, 8)
        integer(c_int32_t), target :: three(3)
        type(flo_data) :: h, h3
        real(c_double), pointer :: p(:)
        real(c_double) :: coef(2)
        integer(c_int) :: st
        integer :: i

        a = reshape([(real(i, c_double), i = 1, 32)], [4, 8])
        expect = 2 * a + 1
        coef = [2.0_c_double, 1.0_c_double]
        call flo_check(flo_data_register_f(rt, a, h), 'register a')
        call flo_check(flo_submit_f(rt, 'affine', affine, [flo_rw(h)], &
            args=coef), 'submit affine')
        p => null()
        call ok(flo_data_acquire_f(rt, h, FLO_READ, p) == FLO_OK, &
            'flo_data_acquire_f waits for the task')
        call ok(associated(p), 'it points at the host copy')
        if (associated(p)) then
            call ok(size(p) == 32 .and. &
                all(p == reshape(expect, [32])), &
                'the host copy holds 2 a + 1')
        end if
        call ok(flo_data_release(rt, h) == FLO_OK, 'flo_data_release')
        st = flo_data_unregister(rt, h)
        call ok(st == FLO_OK .and. all(a == expect), &
            'unregister writes 2 a + 1 back into a')

        three = 7
        call flo_check(flo_data_register_f(rt, three, h3), 'register')
        p => null()
        st = flo_data_acquire_f(rt, h3, FLO_READ, p)
        call ok(st == FLO_EINVAL .and. .not. associated(p), &
            'acquiring 12 bytes as real64 is FLO_EINVAL')
        call ok(flo_data_unregister(rt, h3) == FLO_OK, &
            'and acquired nothing (unregister succeeds)')
    end subroutine test_data_2d

    subroutine test_failure()
        real(c_double), target :: v(4)
        type(flo_data) :: h
        type(flo_event) :: ef, ed
        real(c_double) :: alpha
        integer(c_int) :: st

        v = 0
        alpha = 1
        call flo_check(flo_data_register_f(rt, v, h), 'register')
        call flo_check(flo_submit_f(rt, 'fails', fails, [flo_rw(h)], &
            event=ef), 'submit fails')
        call flo_check(flo_submit_f(rt, 'affine', affine, [flo_rw(h)], &
            args=[alpha, alpha], event=ed), 'submit dependent')
        call ok(flo_event_wait(rt, ef) == FLO_ETASK, &
            'a task that calls flo_task_fail_f fails with FLO_ETASK')
        call ok(flo_event_wait(rt, ed) == FLO_ECANCELED, &
            'its dependent is canceled')
        call ok(flo_error_message_f(rt, ef) == 'bad 100% value', &
            'the message, % included: ' // flo_error_message_f(rt, ef))
        st = flo_wait_all(rt)
        call ok(st == FLO_ETASK, 'flo_wait_all reports it')
        call ok(flo_error_message_f(rt) == 'bad 100% value', &
            'with its message')
        st = flo_data_unregister(rt, h)
        call ok(st == FLO_OK .and. all(v == 0), &
            'the canceled task did not run')
    end subroutine test_failure

    ! Task b depends on task a through an event only; a waits for an
    ! acquire held here, so b cannot have finished before the release.
    subroutine test_deps()
        real(c_double), target :: g(1)
        integer(c_int32_t), target :: res(1)
        type(flo_data) :: hg, hr
        type(flo_event) :: ea, eb
        real(c_double), pointer :: p(:)

        g = 0
        res = 0
        stage = 0
        call flo_check(flo_data_register_f(rt, g, hg), 'register')
        call flo_check(flo_data_register_f(rt, res, hr), 'register')
        call flo_check(flo_data_acquire_f(rt, hg, FLO_READ_WRITE, p), &
            'acquire')
        call flo_check(flo_submit_f(rt, 'stage_a', stage_a, [flo_r(hg)], &
            event=ea), 'submit a')
        call flo_check(flo_submit_f(rt, 'stage_b', stage_b, [flo_w(hr)], &
            deps=[ea], event=eb), 'submit b')
        call ok(flo_event_query(rt, eb) == FLO_INPROGRESS, &
            'b waits for a, which waits for the acquire')
        call flo_check(flo_data_release(rt, hg), 'release')
        call ok(flo_event_wait(rt, eb) == FLO_OK, 'b finishes')
        call flo_check(flo_data_unregister(rt, hr), 'unregister')
        call flo_check(flo_data_unregister(rt, hg), 'unregister')
        call ok(res(1) == 11, 'b ran after a (deps)')
    end subroutine test_deps

    subroutine test_arrays()
        integer, parameter :: n = 1000
        real(c_double), target :: x(n), out(n)
        real(c_float) :: small(n)
        integer(c_int64_t), target :: k(n)
        type(flo_array_layout) :: lay
        type(c_ptr) :: ax, ay, az, ak, a0
        real(c_double) :: s
        integer(c_int64_t) :: kmax
        integer(c_int32_t) :: i4
        type(flo_event) :: ev
        integer(c_int) :: st
        integer :: i

        do i = 1, n
            x(i) = real(i, c_double)
            k(i) = int(mod(i * 37, 1009), c_int64_t)
        end do
        lay%size = c_sizeof(lay)
        lay%nblocks = 3
        ax = c_null_ptr
        ay = c_null_ptr
        az = c_null_ptr
        call flo_check(flo_array_create(rt, FLO_F64, int(n, c_int64_t), &
            lay, ax), 'create x')
        call flo_check(flo_array_create(rt, FLO_F64, int(n, c_int64_t), &
            lay, ay), 'create y')
        call flo_check(flo_array_create(rt, FLO_F64, int(n, c_int64_t), &
            lay, az), 'create z')
        call ok(flo_array_nblocks(ay) == 3 .and. flo_array_size(ay) == n &
            .and. flo_array_dtype(ay) == FLO_F64, 'three blocks of f64')
        call ok(flo_array_from_host_f(ax, x) == FLO_OK, &
            'flo_array_from_host_f')

        call ok(flo_array_fill_f(ay, 1.0_c_double) == FLO_OK, &
            'flo_array_fill_f')
        call ok(flo_array_fill_f(ay, 1.0_c_float) == FLO_EINVAL, &
            'filling f64 with a real32 is FLO_EINVAL')
        call ok(flo_array_transform_f(ay, FLO_XF_AXPY, ax, ay, &
            2.0_c_double) == FLO_OK, 'y = 2 x + y')
        s = -1
        st = flo_array_reduce_f(ay, FLO_SUM, s)
        call ok(st == FLO_OK .and. s == 2 * 500500 + n, &
            'sum(y) = 2 * 500500 + 1000')
        i4 = -1
        st = flo_array_reduce_f(ay, FLO_MAX, i4)
        call ok(st == FLO_EINVAL .and. i4 == -1, &
            'reducing f64 into an int32 is FLO_EINVAL')
        call ok(flo_array_scan_f(az, ay, FLO_SUM, FLO_SCAN_INCLUSIVE, &
            5.0_c_double) == FLO_OK, 'z = 5 + inclusive scan of y')
        out = 0
        st = flo_array_to_host_f(az, out)
        call ok(st == FLO_OK .and. all(out == 5 + x * x + 2 * x), &
            'z(i) = 5 + i^2 + 2 i')
        call ok(flo_array_to_host_f(az, out(1:n - 1)) == FLO_EINVAL, &
            'a vector of the wrong size is FLO_EINVAL')
        call ok(flo_array_to_host_f(az, small) == FLO_EINVAL, &
            'a vector of the wrong type is FLO_EINVAL')
        call ok(flo_array_to_host_f(az, out(1:n:2)) == FLO_EINVAL, &
            'a strided vector is FLO_EINVAL')

        ev = FLO_EVENT_NULL
        st = flo_array_map_f(az, 'map_block', map_block, x=ay, &
            args=[3.0_c_double], event=ev)
        call ok(st == FLO_OK, 'flo_array_map_f')
        call ok(flo_event_wait(rt, ev) == FLO_OK, 'its event completes')
        st = flo_array_to_host_f(az, out)
        call ok(st == FLO_OK .and. all(out == 3 * (2 * x + 1) + (x - 1)), &
            'a Fortran block function sees its blocks and offsets')

        ak = c_null_ptr
        st = flo_array_create_from_host_f(rt, k, ak)
        call ok(st == FLO_OK .and. flo_array_dtype(ak) == FLO_I64, &
            'flo_array_create_from_host_f: int64 gives FLO_I64')
        kmax = -1
        st = flo_array_reduce_f(ak, FLO_MAX, kmax)
        call ok(st == FLO_OK .and. kmax == maxval(k), &
            'max of the int64 array')
        call ok(flo_array_transform_f(ak, FLO_XF_SCALE, ak, &
            alpha=3_c_int64_t) == FLO_OK, 'k = 3 k')
        k = 0
        st = flo_array_to_host_f(ak, k)
        call ok(st == FLO_OK .and. &
            all(k == [(3 * mod(i * 37, 1009), i = 1, n)]), &
            'the int64 array scaled by 3')
        a0 = c_null_ptr
        st = flo_array_create_from_host_f(rt, [(.true., i = 1, 4)], a0)
        call ok(st == FLO_EINVAL .and. .not. c_associated(a0), &
            'an array of logicals is FLO_EINVAL, nothing created')

        call ok(flo_array_destroy(ax) == FLO_OK, 'flo_array_destroy x')
        call ok(flo_array_destroy(ay) == FLO_OK, 'flo_array_destroy y')
        call ok(flo_array_destroy(az) == FLO_OK, 'flo_array_destroy z')
        call ok(flo_array_destroy(ak) == FLO_OK, 'flo_array_destroy k')
    end subroutine test_arrays

    ! The raw interfaces: three buffers registered at once by address.
    subroutine test_register_many()
        real(c_double), target :: b1(8), b2(8), b3(8)
        type(c_ptr) :: ptrs(3)
        integer(c_size_t) :: sizes(3)
        type(flo_data) :: hs(3)
        integer(c_int) :: st

        b1 = 1
        b2 = 2
        b3 = 3
        ptrs = [c_loc(b1), c_loc(b2), c_loc(b3)]
        sizes = c_sizeof(b1)
        call ok(flo_data_register_many(rt, 3_c_size_t, ptrs, sizes, 0, hs) &
            == FLO_OK, 'flo_data_register_many')
        call flo_check(flo_submit_f(rt, 'affine', affine, [flo_rw(hs(2))], &
            args=[10.0_c_double, 0.0_c_double]), 'submit')
        st = flo_data_unregister_many(rt, 3_c_size_t, hs)
        call ok(st == FLO_OK .and. all(b1 == 1) .and. all(b2 == 20) .and. &
            all(b3 == 3), &
            'flo_data_unregister_many writes the second buffer back')
    end subroutine test_register_many

    ! flo_data_register_device on a runtime without GPUs: refused
    ! (FLO_ENOTSUP in a build without CUDA), nothing registered.
    subroutine test_register_device()
        real(c_double), target :: b(4)
        type(flo_data) :: h
        integer(c_int) :: st

        h = FLO_DATA_NULL
        st = flo_data_register_device(rt, 1, c_loc(b), c_sizeof(b), h)
        call ok((st == FLO_ENODEV .or. st == FLO_ENOTSUP) .and. &
            flo_data_equal(h, FLO_DATA_NULL), &
            'flo_data_register_device: no GPU to name')
        st = flo_data_register_device(rt, 1, c_null_ptr, c_sizeof(b), h)
        call ok(st == FLO_EINVAL .and. flo_data_equal(h, FLO_DATA_NULL), &
            'flo_data_register_device: a NULL pointer is FLO_EINVAL')
    end subroutine test_register_device

    ! flo_init_f(dag_path=): the task graph is written at finalize.
    subroutine test_dag()
        type(c_ptr) :: r2
        character(len=*), parameter :: path = 'flo-fortran-test-dag.dot'
        character(len=200) :: line
        integer :: u, ios

        r2 = c_null_ptr
        call flo_check(flo_init_f(r2, host_workers=1, &
            devices=FLO_DEVICES_HOST, no_bind=.true., ignore_env=.true., &
            dag_path=path), 'flo_init_f with dag_path')
        call flo_check(flo_submit_f(r2, 'fortran_dag_task', noop), &
            'submit')
        call ok(flo_finalize(r2) == FLO_OK, 'flo_finalize writes the graph')
        open (newunit=u, file=path, status='old', action='read', &
            iostat=ios)
        line = ''
        if (ios == 0) read (u, '(a)', iostat=ios) line
        call ok(ios == 0 .and. index(line, '1 tasks, 0 dependencies') > 0, &
            'the task graph file names one task')
        if (ios == 0) close (u, status='delete')
    end subroutine test_dag

end program test_fortran
