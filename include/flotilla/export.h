/**
 * @file
 * @brief What the public headers wrap their declarations in.
 *
 * The library is built with hidden symbol visibility: only what a public
 * header declares between FLO_BEGIN_DECLS and FLO_END_DECLS is exported
 * from libflotilla.so. Each public header uses the pair once, around all
 * of its declarations; internal functions (the flo__ prefix) stay hidden.
 * For C++ the pair also gives the declarations C linkage. With compilers
 * that know neither the GCC visibility pragma nor extern "C" (plain C on
 * another compiler), both expand to nothing.
 */
#ifndef FLOTILLA_EXPORT_H
#define FLOTILLA_EXPORT_H

/* Implementation details of FLO_BEGIN_DECLS / FLO_END_DECLS (not part
 * of the API: the reference leaves them out). */
#if defined(__GNUC__) || defined(__clang__)
#define FLO_VISIBILITY_PUSH_ _Pragma("GCC visibility push(default)")
#define FLO_VISIBILITY_POP_ _Pragma("GCC visibility pop")
#else
#define FLO_VISIBILITY_PUSH_
#define FLO_VISIBILITY_POP_
#endif

#ifdef __cplusplus
#define FLO_BEGIN_DECLS                                                        \
    extern "C" {                                                               \
    FLO_VISIBILITY_PUSH_
#define FLO_END_DECLS                                                          \
    FLO_VISIBILITY_POP_                                                        \
    }
#else
/**
 * @brief Opens the declarations of a public header: exported from the
 * shared library, with C linkage in C++.
 */
#define FLO_BEGIN_DECLS FLO_VISIBILITY_PUSH_
/** @brief Closes what FLO_BEGIN_DECLS opened. */
#define FLO_END_DECLS FLO_VISIBILITY_POP_
#endif

#endif
