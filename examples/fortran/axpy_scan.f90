! A first Flotilla program in Fortran (fortran/flotilla.f90, docs/guide.md
! section 13): y = y + a x over blocks of y, as tasks whose host entry
! point is a Fortran subroutine; then a distributed array: scale, reduce,
! a Fortran block function, and a scan. Every result is checked; a wrong
! one ends the program with a non-zero exit status.
!
!   gfortran -c $(pkg-config --variable=includedir flotilla)/flotilla.f90
!   gfortran axpy_scan.f90 flotilla.o $(pkg-config --libs flotilla)
module axpy_scan_kernels
    use, intrinsic :: iso_c_binding
    use flotilla
    implicit none

contains

    ! y += a * x on one block: buffer 1 is x, buffer 2 the block of y,
    ! the argument is a. Runs on a worker thread, hence recursive.
    recursive subroutine axpy(ctx) bind(c)
        type(c_ptr), value :: ctx
        real(c_double), pointer :: x(:), y(:), a(:)

        call flo_task_buffer_f(ctx, 1, x)
        call flo_task_buffer_f(ctx, 2, y)
        call flo_task_args_f(ctx, a)
        if (.not. (associated(x) .and. associated(y) .and. &
                   associated(a))) then
            call flo_task_fail_f(ctx, FLO_EINVAL, 'axpy: bad arguments')
            return
        end if
        y = y + a(1) * x
    end subroutine axpy

    ! out = x * x, one block of the array at a time.
    recursive subroutine square(span) bind(c)
        type(flo_array_span), intent(in) :: span
        real(c_double), pointer :: out(:), x(:)

        call flo_span_out_f(span, out)
        call flo_span_in_f(span, 1, x)
        out = x * x
    end subroutine square
end module axpy_scan_kernels

program axpy_scan
    use, intrinsic :: iso_c_binding
    use flotilla
    use axpy_scan_kernels
    implicit none

    integer, parameter :: n = 100000, nb = 8
    real(c_double), allocatable, target :: x(:), y(:, :), z(:)
    type(c_ptr) :: rt, a, sq
    type(flo_data) :: hx, hy(nb)
    real(c_double) :: alpha, total, nn
    integer :: i, b, pass

    allocate (x(n), y(n, nb), z(n))
    do i = 1, n
        x(i) = real(i, c_double)
    end do
    y = 1

    ! Host workers and every GPU; FLO_* variables apply (FLO_HOST_WORKERS,
    ! FLO_TRACE, ...).
    call flo_check(flo_init_f(rt), 'flo_init_f')
    print '(a, i0, a, i0, a)', 'flotilla ', flo_worker_count(rt), &
        ' workers, ', flo_device_count(rt), ' devices'

    ! Tasks: the blocks of y are independent, so their tasks run in
    ! parallel, all reading x; the second pass over a block waits for
    ! the first (both write it).
    call flo_check(flo_data_register_f(rt, x, hx), 'register x')
    do b = 1, nb
        call flo_check(flo_data_register_f(rt, y(:, b), hy(b)), &
            'register y')
    end do
    do pass = 1, 2
        alpha = real(pass, c_double)
        do b = 1, nb
            call flo_check(flo_submit_f(rt, 'axpy', axpy, &
                [flo_r(hx), flo_rw(hy(b))], args=alpha), 'flo_submit_f')
        end do
    end do
    call flo_check(flo_wait_all(rt), 'flo_wait_all')
    do b = 1, nb
        call flo_check(flo_data_unregister(rt, hy(b)), 'unregister y')
    end do
    call flo_check(flo_data_unregister(rt, hx), 'unregister x')
    call expect(all(y == spread(1 + 3 * x, 2, nb)), 'y = 1 + 3 x')

    ! An array over every device: a = 2 x, sum(a) = n (n + 1).
    nn = real(n, c_double)
    a = c_null_ptr
    call flo_check(flo_array_create_from_host_f(rt, x, a), 'array')
    call flo_check(flo_array_transform_f(a, FLO_XF_SCALE, a, &
        alpha=2.0_c_double), 'scale')
    call flo_check(flo_array_reduce_f(a, FLO_SUM, total), 'reduce')
    call expect(total == nn * (nn + 1), 'sum(2 x) = n (n + 1)')

    ! A Fortran block function: sq = a * a; sum = 4 n (n + 1) (2n + 1) / 6.
    sq = c_null_ptr
    call flo_check(flo_array_create(rt, FLO_F64, int(n, c_int64_t), &
        out=sq), 'array')
    ! Same blocks as a (the default layout of the same length).
    call flo_check(flo_array_map_f(sq, 'square', square, x=a), 'map')
    call flo_check(flo_array_reduce_f(sq, FLO_SUM, total), 'reduce')
    call expect(total == 4 * nn * (nn + 1) * (2 * nn + 1) / 6, &
        'sum((2 x)^2) = 2 n (n + 1) (2 n + 1) / 3')

    ! Inclusive scan in place: a(i) = i (i + 1).
    call flo_check(flo_array_scan_f(a, a, FLO_SUM, FLO_SCAN_INCLUSIVE), &
        'scan')
    call flo_check(flo_array_to_host_f(a, z), 'to host')
    call expect(all(z == x * (x + 1)), 'inclusive scan of 2 x')

    call flo_check(flo_array_destroy(sq), 'destroy')
    call flo_check(flo_array_destroy(a), 'destroy')
    call flo_check(flo_finalize(rt), 'flo_finalize')
    deallocate (x, y, z)
    print '(a)', 'all results correct'

contains

    subroutine expect(cond, what)
        logical, intent(in) :: cond
        character(len=*), intent(in) :: what

        if (cond) then
            print '(a, a)', 'ok: ', what
        else
            print '(a, a)', 'WRONG: ', what
            error stop 1
        end if
    end subroutine expect
end program axpy_scan
