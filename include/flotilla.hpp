/**
 * @file
 * @brief A thin C++17 layer over the C API, header only.
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
 *
 * Thread-safety and what may be called in a task are those of the C
 * functions each member calls; the members that wait (runtime::wait,
 * runtime::wait_all, runtime::finalize, data::unregister) throw
 * flo::error with FLO_EDEADLK in a task.
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

/** @brief The C++ layer of Flotilla. */
namespace flo
{

/* ---- Errors ------------------------------------------------------------ */

/** @brief A failed call or task: its status and a message. */
class error : public std::exception
{
  public:
    /**
     * @brief An error of status with a message.
     * @param status   the flo_status (a negative error code).
     * @param message  what what() returns.
     */
    error(flo_status status, std::string message)
        : status_(status), msg_(std::move(message))
    {
    }
    /** @brief The status.
     *  @return the flo_status (a negative error code). */
    flo_status status() const noexcept
    {
        return status_;
    }
    /** @brief The message.
     *  @return "<call>: FLO_E...: <description>[: <task's message>]",
     *          valid as long as the error object. */
    const char *what() const noexcept override
    {
        return msg_.c_str();
    }

  private:
    flo_status status_;
    std::string msg_;
};

/**
 * @brief Throw flo::error when st is an error (negative), with a message
 * naming `what` and the status.
 *
 * @param st    a status.
 * @param what  the name of the call, for the message.
 * @return st when it is not an error (FLO_OK, FLO_INPROGRESS).
 * @throws flo::error with status st when st < 0.
 */
inline flo_status check(flo_status st, const char *what)
{
    if (st < 0)
        throw error(st, std::string(what) + ": " + flo_status_str(st));
    return st;
}

namespace detail
{
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
 * @brief A view of n contiguous T (std::span is C++20).
 *
 * Indexing is not checked, like std::span; the buffer a task gets is
 * checked once, when the span is made (task_ctx::buffer).
 *
 * @tparam T  the element type; may be const.
 */
template <class T> class span
{
  public:
    using element_type = T;                 /**< @brief T. */
    using value_type = std::remove_cv_t<T>; /**< @brief T without
                                                 const or volatile. */
    using size_type = std::size_t;          /**< @brief Sizes. */
    using pointer = T *;                    /**< @brief T *. */
    using reference = T &;                  /**< @brief T &. */
    using iterator = T *;                   /**< @brief Iterators are
                                                 pointers. */

    /** @brief An empty span. */
    constexpr span() noexcept = default;
    /**
     * @brief The span of size elements at data.
     * @param data  the first element.
     * @param size  number of elements.
     */
    constexpr span(T *data, std::size_t size) noexcept
        : data_(data), size_(size)
    {
    }
    /**
     * @brief A span<T> converts to a span<const T>.
     * @param o  the span to view.
     */
    template <class U,
              class = std::enable_if_t<std::is_convertible_v<U (*)[], T (*)[]>>>
    constexpr span(const span<U> &o) noexcept : data_(o.data()), size_(o.size())
    {
    }

    /** @brief The first element.
     *  @return its address (NULL for an empty default span). */
    constexpr T *data() const noexcept
    {
        return data_;
    }
    /** @brief Number of elements.
     *  @return the number of elements. */
    constexpr std::size_t size() const noexcept
    {
        return size_;
    }
    /** @brief Size in bytes.
     *  @return size() * sizeof(T). */
    constexpr std::size_t size_bytes() const noexcept
    {
        return size_ * sizeof(T);
    }
    /** @brief Whether the span has no element.
     *  @return size() == 0. */
    constexpr bool empty() const noexcept
    {
        return size_ == 0;
    }
    /**
     * @brief Element i (not checked).
     * @param i  index, < size().
     * @return a reference to it.
     */
    constexpr T &operator[](std::size_t i) const noexcept
    {
        return data_[i];
    }
    /** @brief Iterator to the first element.
     *  @return data(). */
    constexpr T *begin() const noexcept
    {
        return data_;
    }
    /** @brief Iterator past the last element.
     *  @return data() + size(). */
    constexpr T *end() const noexcept
    {
        return data_ + size_;
    }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};

/* ---- Inside a task ----------------------------------------------------- */

/**
 * @brief What a running task sees (flo_task_ctx).
 *
 * Valid only inside the task's entry point, on the worker running it,
 * like the C functions it calls.
 */
class task_ctx
{
  public:
    /** @brief Wrap the C context (flo::submit does it).
     *  @param ctx  the context passed to the entry point. */
    explicit task_ctx(flo_task_ctx *ctx) noexcept : ctx_(ctx)
    {
    }

    /** @brief The C context, for the C functions (flo_task_stream, ...).
     *  @return the flo_task_ctx. */
    flo_task_ctx *get() const noexcept
    {
        return ctx_;
    }

    /**
     * @brief Buffer i (in access order) as a span of T; T may be const.
     *
     * Inside a task submitted through this header, the exception fails
     * the task with its message.
     *
     * @tparam T  the element type, trivially copyable; may be const.
     * @param i   buffer index, in access order.
     * @return the buffer as flo_task_buffer_count(ctx, i, sizeof(T))
     *         elements of T.
     * @throws flo::error with FLO_EINVAL when there is no buffer i or it
     *         is not an array of T (its size is not a multiple of
     *         sizeof(T), or its address not aligned for T).
     */
    template <class T> span<T> buffer(int i) const
    {
        static_assert(std::is_trivially_copyable_v<std::remove_cv_t<T>>,
                      "a buffer holds bytes: T must be trivially copyable");
        void *p = flo_task_buffer_as(ctx_, i, sizeof(T), alignof(T));
        if (!p)
            throw error(FLO_EINVAL,
                        "flo::task_ctx::buffer: buffer " + std::to_string(i) +
                            " is not an array of " + std::to_string(sizeof(T)) +
                            "-byte elements");
        return span<T>(static_cast<T *>(p),
                       flo_task_buffer_count(ctx_, i, sizeof(T)));
    }
    /** @brief Size in bytes of buffer i (flo_task_buffer_size).
     *  @param i  buffer index, in access order.
     *  @return the size; 0 if there is no buffer i. */
    std::size_t buffer_size(int i) const noexcept
    {
        return flo_task_buffer_size(ctx_, i);
    }
    /** @brief The worker running the task (flo_task_worker).
     *  @return its index. */
    int worker() const noexcept
    {
        return flo_task_worker(ctx_);
    }
    /** @brief The device it runs on (flo_task_device).
     *  @return 0 for the host, >= 1 for a GPU. */
    int device() const noexcept
    {
        return flo_task_device(ctx_);
    }
    /** @brief The runtime, to submit tasks from inside the task
     *  (flo_task_runtime).
     *  @return the C runtime. */
    flo_runtime *runtime() const noexcept
    {
        return flo_task_runtime(ctx_);
    }
    /**
     * @brief Fail the task with code (FLO_ETASK if not an error) and msg
     * (flo_task_fail; the first failure wins).
     * @param code  a negative flo_status, or anything else for FLO_ETASK.
     * @param msg   the message (a plain string, not a format).
     */
    void fail(flo_status code, const char *msg) const noexcept
    {
        flo_task_fail(ctx_, code, "%s", msg);
    }

  private:
    flo_task_ctx *ctx_;
};

/* ---- Submission -------------------------------------------------------- */

/** @brief A buffer entry: handle h, read (FLO_R).
 *  @param h  the handle (a flo::data converts).
 *  @return the entry. */
inline flo_access_desc read(flo_data h) noexcept
{
    return {h, FLO_READ};
}
/** @brief A buffer entry: handle h, written (FLO_W).
 *  @param h  the handle (a flo::data converts).
 *  @return the entry. */
inline flo_access_desc write(flo_data h) noexcept
{
    return {h, FLO_WRITE};
}
/** @brief A buffer entry: handle h, read and written (FLO_RW).
 *  @param h  the handle (a flo::data converts).
 *  @return the entry. */
inline flo_access_desc read_write(flo_data h) noexcept
{
    return {h, FLO_READ_WRITE};
}

/** @brief The optional fields of flo_task_desc (see flotilla/task.h). */
struct task_options {
    const char *name = nullptr;      /**< Trace and performance-model name;
                                          default "flo::task" for callables,
                                          the kernel's name otherwise. */
    int priority = 0;                /**< Higher runs first. */
    int on_device = 0;               /**< 0 or FLO_DEVICE(d). */
    int on_worker = 0;               /**< 0 or FLO_WORKER(w). */
    const flo_event *deps = nullptr; /**< Explicit predecessors... */
    int ndeps = 0;                   /**< ...and their number. */
};

namespace detail
{
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
 * @brief Whether flo::submit keeps a callable of type F in the task's
 * argument bytes (no allocation), rather than in a heap copy.
 * @tparam F  the callable's type.
 */
template <class F>
inline constexpr bool stored_by_value_v = detail::by_value<std::decay_t<F>>;

/**
 * @brief Submit a task whose host entry point is f, a callable taking a
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
 * While the calling thread records a graph (flotilla/graph.h), only a
 * callable kept by value can be recorded: the heap form needs a
 * completion callback, which recording refuses (flo::error with
 * FLO_EINVAL).
 *
 * @tparam F       the callable's type.
 * @param rt       the runtime.
 * @param f        the callable, copied or moved.
 * @param access   the buffers, in task_ctx::buffer order.
 * @param opt      the other fields of the task.
 * @return the task's event.
 * @throws flo::error with the status of flo_task_submit (nothing was
 *         submitted); std::bad_alloc.
 *
 * @par Thread-safety:
 * Thread-safe, as flo_task_submit.
 * @par In a task:
 * Allowed (with task_ctx::runtime()).
 */
template <class F, class = std::enable_if_t<detail::is_task_callable<F>>>
flo_event submit(flo_runtime *rt, F &&f,
                 std::initializer_list<flo_access_desc> access = {},
                 const task_options &opt = task_options())
{
    return detail::submit_callable(rt, std::forward<F>(f), access.begin(),
                                   access.size(), opt);
}

/**
 * @brief The same with the buffer entries in an array (a std::vector's,
 * say).
 *
 * @tparam F       the callable's type.
 * @param rt       the runtime.
 * @param f        the callable, copied or moved.
 * @param access   the buffers, in task_ctx::buffer order.
 * @param opt      the other fields of the task.
 * @return the task's event.
 * @throws flo::error with the status of flo_task_submit; std::bad_alloc.
 *
 * @par Thread-safety:
 * Thread-safe, as flo_task_submit.
 * @par In a task:
 * Allowed.
 */
template <class F, class = std::enable_if_t<detail::is_task_callable<F>>>
flo_event submit(flo_runtime *rt, F &&f, span<const flo_access_desc> access,
                 const task_options &opt = task_options())
{
    return detail::submit_callable(rt, std::forward<F>(f), access.data(),
                                   access.size(), opt);
}

/**
 * @brief Submit a task of a C kernel (host and/or CUDA entry points)
 * with the bytes of args as its arguments (read them with
 * FLO_TASK_ARGS(ctx, A)).
 *
 * @tparam A       the arguments' type, trivially copyable.
 * @param rt       the runtime.
 * @param k        the kernel; it must outlive the task.
 * @param access   the buffers, in flo_task_buffer order.
 * @param args     the arguments, copied at submit.
 * @param opt      the other fields of the task.
 * @return the task's event.
 * @throws flo::error with the status of flo_task_submit.
 *
 * @par Thread-safety:
 * Thread-safe, as flo_task_submit.
 * @par In a task:
 * Allowed.
 */
template <class A>
flo_event submit(flo_runtime *rt, const flo_kernel &k,
                 std::initializer_list<flo_access_desc> access, const A &args,
                 const task_options &opt = task_options())
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

/**
 * @brief Submit a task of a C kernel without arguments.
 *
 * @param rt       the runtime.
 * @param k        the kernel; it must outlive the task.
 * @param access   the buffers, in flo_task_buffer order.
 * @param opt      the other fields of the task.
 * @return the task's event.
 * @throws flo::error with the status of flo_task_submit.
 *
 * @par Thread-safety:
 * Thread-safe, as flo_task_submit.
 * @par In a task:
 * Allowed.
 */
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
 * @brief Owns a flo_runtime: flo_init in the constructor, flo_finalize in
 * the destructor.
 *
 * The destructor cannot report a task error: call finalize() for that.
 * Move-only. Thread-safety: that of the C calls; the object itself is
 * not changed by the const members, which several threads may call at
 * once.
 */
class runtime
{
  public:
    /** @brief flo_init with the defaults (and the FLO_* environment).
     *  @throws flo::error with the status of flo_init. */
    runtime()
    {
        check(flo_init(nullptr, &rt_), "flo_init");
    }
    /** @brief flo_init with cfg (start from FLO_CONFIG_INIT).
     *  @param cfg  the configuration.
     *  @throws flo::error with the status of flo_init. */
    explicit runtime(const flo_config &cfg)
    {
        check(flo_init(&cfg, &rt_), "flo_init");
    }
    /** @brief flo_finalize, unless moved from or finalized; its status is
     *  lost (in a task, FLO_EDEADLK: the runtime is then never
     *  finalized). */
    ~runtime()
    {
        reset();
    }
    /** @brief Take over o's runtime; o is left empty.
     *  @param o  the runtime to move from. */
    runtime(runtime &&o) noexcept : rt_(std::exchange(o.rt_, nullptr))
    {
    }
    /** @brief Finalize this runtime (as the destructor), then take over
     *  o's; o is left empty.
     *  @param o  the runtime to move from.
     *  @return *this. */
    runtime &operator=(runtime &&o) noexcept
    {
        if (this != &o) {
            reset();
            rt_ = std::exchange(o.rt_, nullptr);
        }
        return *this;
    }
    /** @brief Not copyable (one owner). */
    runtime(const runtime &) = delete;
    /** @brief Not copyable (one owner).
     *  @return never. */
    runtime &operator=(const runtime &) = delete;

    /** @brief The C runtime, for the C functions.
     *  @return it; nullptr once moved from or finalized. */
    flo_runtime *get() const noexcept
    {
        return rt_;
    }
    /** @brief Whether it holds a runtime.
     *  @return get() != nullptr. */
    explicit operator bool() const noexcept
    {
        return rt_ != nullptr;
    }

    /**
     * @brief flo_finalize now.
     *
     * The runtime is finalized (get() is nullptr) even when this throws
     * a task's error; with FLO_EDEADLK (called in a task) it is not, and
     * is no longer owned either.
     *
     * @throws flo::error with the first task error no wait reported, or
     *         FLO_EDEADLK.
     */
    void finalize()
    {
        flo_runtime *rt = std::exchange(rt_, nullptr);
        if (rt)
            check(flo_finalize(rt), "flo_finalize");
    }

    /**
     * @brief flo::submit of a callable on this runtime.
     * @tparam F      the callable's type.
     * @param f       the callable.
     * @param access  the buffers.
     * @param opt     the other fields of the task.
     * @return the task's event.
     * @throws flo::error as flo::submit.
     */
    template <class F, class = std::enable_if_t<detail::is_task_callable<F>>>
    flo_event submit(F &&f, std::initializer_list<flo_access_desc> access = {},
                     const task_options &opt = task_options())
    {
        return flo::submit(rt_, std::forward<F>(f), access, opt);
    }
    /**
     * @brief flo::submit of a callable, with the buffers in an array.
     * @tparam F      the callable's type.
     * @param f       the callable.
     * @param access  the buffers.
     * @param opt     the other fields of the task.
     * @return the task's event.
     * @throws flo::error as flo::submit.
     */
    template <class F, class = std::enable_if_t<detail::is_task_callable<F>>>
    flo_event submit(F &&f, span<const flo_access_desc> access,
                     const task_options &opt = task_options())
    {
        return flo::submit(rt_, std::forward<F>(f), access, opt);
    }
    /**
     * @brief flo::submit of a C kernel without arguments.
     * @param k       the kernel; it must outlive the task.
     * @param access  the buffers.
     * @param opt     the other fields of the task.
     * @return the task's event.
     * @throws flo::error as flo::submit.
     */
    flo_event submit(const flo_kernel &k,
                     std::initializer_list<flo_access_desc> access = {},
                     const task_options &opt = task_options())
    {
        return flo::submit(rt_, k, access, opt);
    }
    /**
     * @brief flo::submit of a C kernel with arguments.
     * @tparam A      the arguments' type, trivially copyable.
     * @param k       the kernel; it must outlive the task.
     * @param access  the buffers.
     * @param args    the arguments, copied at submit.
     * @param opt     the other fields of the task.
     * @return the task's event.
     * @throws flo::error as flo::submit.
     */
    template <class A>
    flo_event submit(const flo_kernel &k,
                     std::initializer_list<flo_access_desc> access,
                     const A &args, const task_options &opt = task_options())
    {
        return flo::submit(rt_, k, access, args, opt);
    }

    /**
     * @brief flo_event_wait: wait for a task.
     * @param ev  its event.
     * @throws flo::error with the task's status and its message
     *         (FLO_ETASK, FLO_ECANCELED, ...), or with FLO_EDEADLK in a
     *         task.
     */
    void wait(flo_event ev) const
    {
        flo_status st = flo_event_wait(rt_, ev);
        if (st < 0)
            detail::throw_task_error(rt_, ev, st, "flo_event_wait");
    }
    /**
     * @brief flo_event_query: whether a task has finished; never blocks.
     * @param ev  its event.
     * @return true when it has finished (successfully).
     * @throws flo::error as wait, when it finished with an error.
     */
    bool done(flo_event ev) const
    {
        flo_status st = flo_event_query(rt_, ev);
        if (st < 0)
            detail::throw_task_error(rt_, ev, st, "flo_event_query");
        return st == FLO_OK;
    }
    /**
     * @brief flo_wait_all: wait for every task.
     * @throws flo::error with the first failure since the last wait_all
     *         and its message, or with FLO_EDEADLK in a task.
     */
    void wait_all() const
    {
        flo_status st = flo_wait_all(rt_);
        if (st < 0)
            detail::throw_task_error(rt_, flo_event{}, st, "flo_wait_all");
    }
    /** @brief flo_device_count.
     *  @return the number of devices (0 when empty). */
    int device_count() const noexcept
    {
        return flo_device_count(rt_);
    }
    /** @brief flo_worker_count.
     *  @return the number of workers (0 when empty). */
    int worker_count() const noexcept
    {
        return flo_worker_count(rt_);
    }

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
 * @brief Owns a data handle: registered (or allocated) in the
 * constructor, unregistered in the destructor.
 *
 * The destructor waits for the tasks using the handle and writes
 * registered memory back. Move-only; converts to flo_data for
 * flo::read(h) and the C calls. Destroy or unregister() it before its
 * runtime is finalized.
 */
class data
{
  public:
    /** @brief An empty handle (owns nothing). */
    data() noexcept = default;
    /**
     * @brief flo_data_register(rt, ptr, bytes).
     * @param rt     the runtime.
     * @param ptr    the memory; it must outlive the handle.
     * @param bytes  its size, > 0.
     * @throws flo::error with the status of flo_data_register.
     */
    data(runtime &rt, void *ptr, std::size_t bytes) : rt_(rt.get())
    {
        check(flo_data_register(rt_, ptr, bytes, &h_), "flo_data_register");
    }
    /**
     * @brief flo_data_alloc(rt, bytes): memory owned by the runtime.
     * @param rt     the runtime.
     * @param bytes  size, > 0.
     * @return the owning handle.
     * @throws flo::error with the status of flo_data_alloc.
     */
    static data alloc(runtime &rt, std::size_t bytes)
    {
        data d;
        check(flo_data_alloc(rt.get(), bytes, &d.h_), "flo_data_alloc");
        d.rt_ = rt.get();
        return d;
    }
    /**
     * @brief flo_data_register_device(rt, device, dev_ptr, bytes): the
     * program's device memory, zero copy (never freed by the runtime;
     * the destructor writes the latest contents back into it).
     * @param rt       the runtime.
     * @param device   the GPU it is on (device index, 1 or more).
     * @param dev_ptr  the device memory; it must outlive the handle.
     * @param bytes    its size, > 0.
     * @return the owning handle.
     * @throws flo::error with the status of flo_data_register_device.
     */
    static data register_device(runtime &rt, int device, void *dev_ptr,
                                std::size_t bytes)
    {
        data d;
        check(flo_data_register_device(rt.get(), device, dev_ptr, bytes, &d.h_),
              "flo_data_register_device");
        d.rt_ = rt.get();
        return d;
    }
    /** @brief flo_data_unregister, unless empty; its status is lost (in a
     *  task, FLO_EDEADLK: the handle then stays registered until
     *  flo_finalize). */
    ~data()
    {
        reset();
    }
    /** @brief Take over o's handle; o is left empty.
     *  @param o  the handle to move from. */
    data(data &&o) noexcept
        : rt_(std::exchange(o.rt_, nullptr)), h_(std::exchange(o.h_, {}))
    {
    }
    /** @brief Unregister this handle (as the destructor), then take
     *  over o's; o is left empty.
     *  @param o  the handle to move from.
     *  @return *this. */
    data &operator=(data &&o) noexcept
    {
        if (this != &o) {
            reset();
            rt_ = std::exchange(o.rt_, nullptr);
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    /** @brief Not copyable (one owner). */
    data(const data &) = delete;
    /** @brief Not copyable (one owner).
     *  @return never. */
    data &operator=(const data &) = delete;

    /** @brief The C handle.
     *  @return it; FLO_DATA_NULL when empty. */
    flo_data get() const noexcept
    {
        return h_;
    }
    /** @brief The C handle, implicitly (for flo::read(h) and the C
     *  calls).
     *  @return get(). */
    operator flo_data() const noexcept
    {
        return h_;
    }
    /** @brief Whether it owns a handle.
     *  @return true unless empty. */
    explicit operator bool() const noexcept
    {
        return rt_ != nullptr;
    }

    /**
     * @brief flo_data_unregister now.
     *
     * The object is empty afterwards, even when this throws (after
     * FLO_EBUSY or FLO_EDEADLK the C handle stays registered until
     * flo_finalize).
     *
     * @throws flo::error with the status of flo_data_unregister
     *         (FLO_EBUSY while acquired, FLO_EDEADLK inside a task, ...).
     */
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
