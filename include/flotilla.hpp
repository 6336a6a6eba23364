/*
 * Flotilla - a thin C++17 layer over the C API, header only.
 *
 *     flo::runtime rt;                               // flo_init
 *     flo::data hx(rt, x, n * sizeof(double));       // flo_data_register
 *     flo::data hy(rt, y, n * sizeof(double));
 *     rt.submit([alpha](flo::task_ctx &ctx) {        // flo_task_submit
 *         auto x = ctx.buffer<const double>(0);
 *         auto y = ctx.buffer<double>(1);
 *         for (std::size_t i = 0; i < y.size(); i++)
 *             y[i] += alpha * x[i];
 *     }, {flo::read(hx), flo::read_write(hy)});
 *     rt.wait_all();                                 // throws flo::error
 *
 * Everything here is an inline call of the C functions: the layer keeps
 * no state of its own. Errors are thrown as flo::error, which carries the
 * flo_status. Host entry points may be lambdas or any callable; CUDA
 * kernels keep the C form (a flo_kernel, see flotilla/cuda.h), which
 * flo::submit also takes.
 */
#ifndef FLOTILLA_HPP
#define FLOTILLA_HPP

#include <cstddef>
#include <exception>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "flotilla.h"

namespace flo {

/* ---- Errors ------------------------------------------------------------ */

/** A failed call or task: its status and a message. */
class error : public std::exception {
  public:
    error(flo_status status, std::string message)
        : status_(status), msg_(std::move(message))
    {
    }
    /** The flo_status (a negative error code). */
    flo_status status() const noexcept { return status_; }
    /** "<call>: FLO_E...: <description>[: <task's message>]". */
    const char *what() const noexcept override { return msg_.c_str(); }

  private:
    flo_status status_;
    std::string msg_;
};

/**
 * Throw flo::error when st is an error (negative), with a message naming
 * `what` and the status; otherwise return st (FLO_OK, FLO_INPROGRESS).
 */
inline flo_status check(flo_status st, const char *what)
{
    if (st < 0)
        throw error(st, std::string(what) + ": " + flo_status_str(st));
    return st;
}

namespace detail {
/* Throw the failure of event ev (status st) with its message, if the
 * runtime kept one. */
[[noreturn]] inline void throw_task_error(flo_runtime *rt, flo_event ev,
                                          flo_status st, const char *what)
{
    char buf[512];
    std::string msg = std::string(what) + ": " + flo_status_str(st);
    if (flo_error_message(rt, ev, buf, sizeof(buf)) == FLO_OK && buf[0])
        msg += std::string(": ") + buf;
    throw error(st, std::move(msg));
}
} // namespace detail

/* ---- span -------------------------------------------------------------- */

/**
 * A view of n contiguous T (std::span is C++20). Indexing is not checked,
 * like std::span; the buffer a task gets is checked once, when the span is
 * made (task_ctx::buffer).
 */
template <class T> class span {
  public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using size_type = std::size_t;
    using pointer = T *;
    using reference = T &;
    using iterator = T *;

    constexpr span() noexcept = default;
    constexpr span(T *data, std::size_t size) noexcept
        : data_(data), size_(size)
    {
    }
    /** A span<T> converts to a span<const T>. */
    template <class U, class = std::enable_if_t<
                           std::is_convertible_v<U (*)[], T (*)[]>>>
    constexpr span(const span<U> &o) noexcept
        : data_(o.data()), size_(o.size())
    {
    }

    constexpr T *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept
    {
        return size_ * sizeof(T);
    }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T &operator[](std::size_t i) const noexcept
    {
        return data_[i];
    }
    constexpr T *begin() const noexcept { return data_; }
    constexpr T *end() const noexcept { return data_ + size_; }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

/* ---- Inside a task ----------------------------------------------------- */

/**
 * What a running task sees (flo_task_ctx). Valid only inside the task's
 * entry point, on the worker running it, like the C functions it calls.
 */
class task_ctx {
  public:
    explicit task_ctx(flo_task_ctx *ctx) noexcept : ctx_(ctx) {}

    /** The C context, for the C functions (flo_task_stream, ...). */
    flo_task_ctx *get() const noexcept { return ctx_; }

    /**
     * Buffer i (in access order) as a span of T; T may be const. Throws
     * flo::error(FLO_EINVAL) when there is no buffer i or it is not an
     * array of T (its size is not a multiple of sizeof(T), or its address
     * not aligned for T): inside a task submitted through this header,
     * that fails the task with the message.
     */
    template <class T> span<T> buffer(int i) const
    {
        static_assert(std::is_trivially_copyable_v<std::remove_cv_t<T>>,
                      "a buffer holds bytes: T must be trivially copyable");
        void *p = flo_task_buffer_as(ctx_, i, sizeof(T), alignof(T));
        if (!p)
            throw error(FLO_EINVAL,
                        "flo::task_ctx::buffer: buffer " + std::to_string(i) +
                            " is not an array of " +
                            std::to_string(sizeof(T)) + "-byte elements");
        return span<T>(static_cast<T *>(p),
                       flo_task_buffer_count(ctx_, i, sizeof(T)));
    }
    /** Size in bytes of buffer i; 0 if there is none. */
    std::size_t buffer_size(int i) const noexcept
    {
        return flo_task_buffer_size(ctx_, i);
    }
    /** The worker running the task. */
    int worker() const noexcept { return flo_task_worker(ctx_); }
    /** The device it runs on (0: host). */
    int device() const noexcept { return flo_task_device(ctx_); }
    /** The runtime, to submit tasks from inside the task. */
    flo_runtime *runtime() const noexcept { return flo_task_runtime(ctx_); }
    /** Fail the task with code (FLO_ETASK if not an error) and msg. */
    void fail(flo_status code, const char *msg) const noexcept
    {
        flo_task_fail(ctx_, code, "%s", msg);
    }

  private:
    flo_task_ctx *ctx_;
};

/* ---- Submission -------------------------------------------------------- */

/** A buffer entry: handle h read, written, or read and written. */
inline flo_access_desc read(flo_data h) noexcept { return {h, FLO_READ}; }
inline flo_access_desc write(flo_data h) noexcept { return {h, FLO_WRITE}; }
inline flo_access_desc read_write(flo_data h) noexcept
{
    return {h, FLO_READ_WRITE};
}

/** The optional fields of flo_task_desc (see flotilla/task.h). */
struct task_options {
    const char *name = nullptr;     /**< Trace and performance-model name;
                                         default "flo::task" for callables,
                                         the kernel's name otherwise. */
    int priority = 0;               /**< Higher runs first. */
    int on_device = 0;              /**< 0 or FLO_DEVICE(d). */
    int on_worker = 0;              /**< 0 or FLO_WORKER(w). */
    const flo_event *deps = nullptr; /**< Explicit predecessors... */
    int ndeps = 0;                  /**< ...and their number. */
};

namespace detail {
/* A callable is kept in the task's argument bytes when copying its bytes
 * is copying it (trivially copyable), it fits the bytes a task record
 * holds inline (64: no allocation at all), and its alignment is that of
 * the argument bytes' at most. Otherwise a heap copy. */
template <class Fn>
inline constexpr bool by_value = std::is_trivially_copyable_v<Fn> &&
                                 sizeof(Fn) <= 64 &&
                                 alignof(Fn) <= alignof(std::max_align_t);

/* Run the callable; an exception fails the task (it must not cross the C
 * frames of the worker). */
template <class Fn> void call(Fn &f, flo_task_ctx *c) noexcept
{
    try {
        task_ctx ctx(c);
        if constexpr (std::is_invocable_v<Fn &, task_ctx &>)
            f(ctx);
        else
            f();
    } catch (const error &e) {
        flo_task_fail(c, e.status(), "%s", e.what());
    } catch (const std::exception &e) {
        flo_task_fail(c, FLO_ETASK, "%s", e.what());
    } catch (...) {
        flo_task_fail(c, FLO_ETASK, "a C++ task threw an exception");
    }
}

template <class Fn> struct task_entry {
    /* The argument bytes are a copy of the callable (by_value). */
    static void run_value(flo_task_ctx *c)
    {
        const void *a = flo_task_args(c, nullptr);
        if constexpr (std::is_invocable_v<const Fn &, task_ctx &> ||
                      std::is_invocable_v<const Fn &>) {
            const Fn &f = *static_cast<const Fn *>(a);
            call(f, c);
        } else {
            /* A mutable callable runs on a copy of its bytes. */
            Fn f = *static_cast<const Fn *>(a);
            call(f, c);
        }
    }
    /* The argument bytes are a pointer to a heap copy, deleted by
     * done_heap once the task finished, failed or was canceled. */
    static void run_heap(flo_task_ctx *c)
    {
        Fn *f = *static_cast<Fn *const *>(flo_task_args(c, nullptr));
        call(*f, c);
    }
    static void done_heap(void *p, flo_status) noexcept
    {
        delete static_cast<Fn *>(p);
    }
    static inline const flo_kernel value_kernel = {"flo::task", &run_value,
                                                   nullptr};
    static inline const flo_kernel heap_kernel = {"flo::task", &run_heap,
                                                  nullptr};
};

inline flo_task_desc make_desc(const flo_access_desc *acc, std::size_t nacc,
                               const task_options &opt)
{
    flo_task_desc d{};
    if (nacc > static_cast<std::size_t>(FLO_TASK_MAX_ACCESS))
        throw error(FLO_EINVAL, "flo::submit: too many buffers");
    d.access = nacc ? acc : nullptr;
    d.naccess = static_cast<int>(nacc);
    d.name = opt.name;
    d.priority = opt.priority;
    d.on_device = opt.on_device;
    d.on_worker = opt.on_worker;
    d.deps = opt.deps;
    d.ndeps = opt.ndeps;
    return d;
}

template <class F>
flo_event submit_callable(flo_runtime *rt, F &&f, const flo_access_desc *acc,
                          std::size_t nacc, const task_options &opt)
{
    using Fn = std::decay_t<F>;
    flo_task_desc d = make_desc(acc, nacc, opt);
    flo_event ev{};
    if constexpr (by_value<Fn>) {
        /* flo_task_submit copies the bytes before it returns. */
        const Fn &ref = f;
        d.kernel = &task_entry<Fn>::value_kernel;
        d.args = std::addressof(ref);
        d.args_size = sizeof(Fn);
        check(flo_task_submit(rt, &d, &ev), "flo::submit");
    } else {
        Fn *p = new Fn(std::forward<F>(f));
        d.kernel = &task_entry<Fn>::heap_kernel;
        d.args = &p;
        d.args_size = sizeof(p);
        d.callback = &task_entry<Fn>::done_heap;
        d.callback_arg = p;
        flo_status st = flo_task_submit(rt, &d, &ev);
        if (st < 0) {
            delete p;
            check(st, "flo::submit");
        }
    }
    return ev;
}

template <class F>
inline constexpr bool is_task_callable =
    std::is_invocable_v<std::decay_t<F> &, task_ctx &> ||
    std::is_invocable_v<std::decay_t<F> &>;
} // namespace detail

/**
 * Whether flo::submit keeps a callable of type F in the task's argument
 * bytes (no allocation), rather than in a heap copy.
 */
template <class F>
inline constexpr bool stored_by_value_v = detail::by_value<std::decay_t<F>>;

/**
 * Submit a task whose host entry point is f, a callable taking a
 * flo::task_ctx & (or nothing), with buffers `access` (flo::read(h), ...,
 * in task_ctx::buffer order).
 *
 * The callable is copied. A trivially copyable callable of at most 64
 * bytes (a lambda capturing a few scalars or pointers, by value or by
 * reference) is kept in the task's argument bytes: submitting it costs
 * what flo_task_submit costs. Any other callable (capturing a
 * std::vector, a std::string, or more than 64 bytes) is moved or copied
 * to the heap: one new at submit, and one delete on the worker that
 * completes the task, after it ran or was canceled (through the task's
 * completion callback, which this form therefore uses); its destructor
 * runs there. stored_by_value_v<F> tells which form a type gets.
 *
 * An exception escaping f fails the task: a flo::error with its status,
 * any other with FLO_ETASK; its what() becomes the task's message.
 *
 * @return the task's event.
 * @throws flo::error with the status of flo_task_submit (nothing was
 *         submitted); std::bad_alloc.
 * Thread-safe; may be called from inside a task (task_ctx::runtime()).
 */
template <class F,
          class = std::enable_if_t<detail::is_task_callable<F>>>
flo_event submit(flo_runtime *rt, F &&f,
                 std::initializer_list<flo_access_desc> access = {},
                 const task_options &opt = task_options())
{
    return detail::submit_callable(rt, std::forward<F>(f), access.begin(),
                                   access.size(), opt);
}

/** The same with the buffer entries in an array (e.g. a std::vector's). */
template <class F,
          class = std::enable_if_t<detail::is_task_callable<F>>>
flo_event submit(flo_runtime *rt, F &&f, span<const flo_access_desc> access,
                 const task_options &opt = task_options())
{
    return detail::submit_callable(rt, std::forward<F>(f), access.data(),
                                   access.size(), opt);
}

/**
 * Submit a task of a C kernel (host and/or CUDA entry points) with the
 * bytes of args as its arguments (read them with FLO_TASK_ARGS(ctx, A)).
 * @throws flo::error with the status of flo_task_submit.
 */
template <class A>
flo_event submit(flo_runtime *rt, const flo_kernel &k,
                 std::initializer_list<flo_access_desc> access,
                 const A &args, const task_options &opt = task_options())
{
    static_assert(std::is_trivially_copyable_v<A>,
                  "task arguments are copied as bytes");
    flo_task_desc d = detail::make_desc(access.begin(), access.size(), opt);
    flo_event ev{};
    d.kernel = &k;
    d.args = std::addressof(args);
    d.args_size = sizeof(A);
    check(flo_task_submit(rt, &d, &ev), "flo::submit");
    return ev;
}

/** A C kernel without arguments. */
inline flo_event submit(flo_runtime *rt, const flo_kernel &k,
                        std::initializer_list<flo_access_desc> access = {},
                        const task_options &opt = task_options())
{
    flo_task_desc d = detail::make_desc(access.begin(), access.size(), opt);
    flo_event ev{};
    d.kernel = &k;
    check(flo_task_submit(rt, &d, &ev), "flo::submit");
    return ev;
}

/* ---- Runtime ----------------------------------------------------------- */

/**
 * Owns a flo_runtime: flo_init in the constructor, flo_finalize in the
 * destructor (which cannot report a task error: call finalize() for
 * that). Move-only. Thread-safety: that of the C calls.
 */
class runtime {
  public:
    /** flo_init with the defaults (and the FLO_* environment). */
    runtime() { check(flo_init(nullptr, &rt_), "flo_init"); }
    /** flo_init with cfg (start from FLO_CONFIG_INIT). */
    explicit runtime(const flo_config &cfg)
    {
        check(flo_init(&cfg, &rt_), "flo_init");
    }
    ~runtime() { reset(); }
    runtime(runtime &&o) noexcept : rt_(std::exchange(o.rt_, nullptr)) {}
    runtime &operator=(runtime &&o) noexcept
    {
        if (this != &o) {
            reset();
            rt_ = std::exchange(o.rt_, nullptr);
        }
        return *this;
    }
    runtime(const runtime &) = delete;
    runtime &operator=(const runtime &) = delete;

    /** The C runtime; nullptr once moved from or finalized. */
    flo_runtime *get() const noexcept { return rt_; }
    explicit operator bool() const noexcept { return rt_ != nullptr; }

    /**
     * flo_finalize now. The runtime is finalized (get() is nullptr) even
     * when this throws.
     * @throws flo::error with the first task error no wait reported.
     */
    void finalize()
    {
        flo_runtime *rt = std::exchange(rt_, nullptr);
        if (rt)
            check(flo_finalize(rt), "flo_finalize");
    }

    /** flo::submit on this runtime. */
    template <class F,
              class = std::enable_if_t<detail::is_task_callable<F>>>
    flo_event submit(F &&f, std::initializer_list<flo_access_desc> access = {},
                     const task_options &opt = task_options())
    {
        return flo::submit(rt_, std::forward<F>(f), access, opt);
    }
    template <class F,
              class = std::enable_if_t<detail::is_task_callable<F>>>
    flo_event submit(F &&f, span<const flo_access_desc> access,
                     const task_options &opt = task_options())
    {
        return flo::submit(rt_, std::forward<F>(f), access, opt);
    }
    flo_event submit(const flo_kernel &k,
                     std::initializer_list<flo_access_desc> access = {},
                     const task_options &opt = task_options())
    {
        return flo::submit(rt_, k, access, opt);
    }
    template <class A>
    flo_event submit(const flo_kernel &k,
                     std::initializer_list<flo_access_desc> access,
                     const A &args, const task_options &opt = task_options())
    {
        return flo::submit(rt_, k, access, args, opt);
    }

    /** flo_event_wait. @throws flo::error with the task's status and
     *  its message (FLO_ETASK, FLO_ECANCELED, ...). */
    void wait(flo_event ev) const
    {
        flo_status st = flo_event_wait(rt_, ev);
        if (st < 0)
            detail::throw_task_error(rt_, ev, st, "flo_event_wait");
    }
    /** flo_event_query: true when finished. @throws like wait. */
    bool done(flo_event ev) const
    {
        flo_status st = flo_event_query(rt_, ev);
        if (st < 0)
            detail::throw_task_error(rt_, ev, st, "flo_event_query");
        return st == FLO_OK;
    }
    /** flo_wait_all. @throws flo::error with the first failure since the
     *  last wait_all and its message. */
    void wait_all() const
    {
        flo_status st = flo_wait_all(rt_);
        if (st < 0)
            detail::throw_task_error(rt_, flo_event{}, st, "flo_wait_all");
    }
    int device_count() const noexcept { return flo_device_count(rt_); }
    int worker_count() const noexcept { return flo_worker_count(rt_); }

  private:
    void reset() noexcept
    {
        if (rt_)
            (void)flo_finalize(std::exchange(rt_, nullptr));
    }
    flo_runtime *rt_ = nullptr;
};

/* ---- Data handles ------------------------------------------------------ */

/**
 * Owns a data handle: registered (or allocated) in the constructor,
 * unregistered in the destructor (which waits for the tasks using it and
 * writes registered memory back). Move-only; converts to flo_data for
 * flo::read(h) and the C calls. Destroy or unregister() it before its
 * runtime is finalized.
 */
class data {
  public:
    /** An empty handle (owns nothing). */
    data() noexcept = default;
    /** flo_data_register(rt, ptr, bytes). */
    data(runtime &rt, void *ptr, std::size_t bytes) : rt_(rt.get())
    {
        check(flo_data_register(rt_, ptr, bytes, &h_), "flo_data_register");
    }
    /** flo_data_alloc(rt, bytes): memory owned by the runtime. */
    static data alloc(runtime &rt, std::size_t bytes)
    {
        data d;
        check(flo_data_alloc(rt.get(), bytes, &d.h_), "flo_data_alloc");
        d.rt_ = rt.get();
        return d;
    }
    ~data() { reset(); }
    data(data &&o) noexcept
        : rt_(std::exchange(o.rt_, nullptr)), h_(std::exchange(o.h_, {}))
    {
    }
    data &operator=(data &&o) noexcept
    {
        if (this != &o) {
            reset();
            rt_ = std::exchange(o.rt_, nullptr);
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    data(const data &) = delete;
    data &operator=(const data &) = delete;

    flo_data get() const noexcept { return h_; }
    operator flo_data() const noexcept { return h_; }
    explicit operator bool() const noexcept { return rt_ != nullptr; }

    /** flo_data_unregister now; the handle is empty afterwards, even
     *  when this throws. @throws flo::error (FLO_EBUSY while acquired,
     *  FLO_EDEADLK inside a task, ...). */
    void unregister()
    {
        flo_runtime *rt = std::exchange(rt_, nullptr);
        if (rt)
            check(flo_data_unregister(rt, std::exchange(h_, {})),
                  "flo_data_unregister");
    }

  private:
    void reset() noexcept
    {
        if (rt_)
            (void)flo_data_unregister(std::exchange(rt_, nullptr),
                                      std::exchange(h_, {}));
    }
    flo_runtime *rt_ = nullptr;
    flo_data h_{};
};

} // namespace flo

#endif
