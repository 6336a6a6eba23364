/*
 * runtime_status: status names and the version.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flo_build_config.h"
#include "flotilla.h"

static const flo_status all_codes[] = {
    FLO_OK,        FLO_INPROGRESS, FLO_EINVAL,    FLO_ENOMEM,  FLO_ENOTSUP,
    FLO_ECANCELED, FLO_ETASK,      FLO_EBUSY,     FLO_ESTALE,  FLO_EFOREIGN,
    FLO_EDEVICE,   FLO_ETIMEDOUT,  FLO_ENODEV,    FLO_EDEADLK, FLO_ECOMM,
    FLO_ESYS,      FLO_ERANGE,     FLO_EINTERNAL, FLO_EAGAIN,  FLO_EDATALOSS,
};
#define NCODES (sizeof(all_codes) / sizeof(all_codes[0]))

static const char *const code_names[] = {
    "FLO_OK",      "FLO_INPROGRESS", "FLO_EINVAL",  "FLO_ENOMEM",
    "FLO_ENOTSUP", "FLO_ECANCELED",  "FLO_ETASK",   "FLO_EBUSY",
    "FLO_ESTALE",  "FLO_EFOREIGN",   "FLO_EDEVICE", "FLO_ETIMEDOUT",
    "FLO_ENODEV",  "FLO_EDEADLK",    "FLO_ECOMM",   "FLO_ESYS",
    "FLO_ERANGE",  "FLO_EINTERNAL",  "FLO_EAGAIN",  "FLO_EDATALOSS",
};

/* The name part of "FLO_EINVAL: invalid argument". */
static size_t name_len(const char *s)
{
    const char *colon = strchr(s, ':');
    return colon ? (size_t)(colon - s) : strlen(s);
}

static void test_every_code_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        const char *s = flo_status_str(all_codes[i]);
        assert_non_null(s);
        /* Starts with its own name, followed by ':' or the end. */
        size_t n = strlen(code_names[i]);
        assert_int_equal(strncmp(s, code_names[i], n), 0);
        assert_int_equal(s[n], ':');
        assert_true(strstr(s, "?") == NULL);
        /* A description follows the name: "NAME: text". */
        assert_int_equal(s[n + 1], ' ');
        assert_true(strlen(s) > n + 2);
    }
}

static void test_names_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCODES; i++) {
        for (size_t j = i + 1; j < NCODES; j++) {
            const char *a = flo_status_str(all_codes[i]);
            const char *b = flo_status_str(all_codes[j]);
            assert_string_not_equal(a, b);
            size_t la = name_len(a), lb = name_len(b);
            assert_false(la == lb && strncmp(a, b, la) == 0);
        }
    }
}

static void test_unknown_code(void **state)
{
    (void)state;
    static const int unknown[] = {2, 17, -19, -100, 1000, -2147483647 - 1};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *s = flo_status_str((flo_status)unknown[i]);
        assert_non_null(s);
        assert_non_null(strchr(s, '?'));
        for (size_t j = 0; j < NCODES; j++)
            assert_string_not_equal(s, flo_status_str(all_codes[j]));
    }
}

static void test_version(void **state)
{
    (void)state;
    char buf[64];
    int ma = -1, mi = -1, pa = -1;
    /* The header's version is the project's (meson.build), and the
     * library's is the header's. */
    assert_int_equal(sscanf(FLO_VERSION_STRING, "%d.%d.%d", &ma, &mi, &pa), 3);
    assert_int_equal(FLO_VERSION_MAJOR, ma);
    assert_int_equal(FLO_VERSION_MINOR, mi);
    assert_int_equal(FLO_VERSION_PATCH, pa);
    assert_int_equal(FLO_VERSION, ma * 10000 + mi * 100 + pa);
    assert_int_equal(flo_version(), FLO_VERSION);
    const char *vs = flo_version_string();
    assert_non_null(vs);
    snprintf(buf, sizeof(buf), "%d.%d.%d", FLO_VERSION_MAJOR, FLO_VERSION_MINOR,
             FLO_VERSION_PATCH);
    assert_string_equal(vs, buf);
    /* Stable pointer contents across calls. */
    assert_string_equal(flo_version_string(), vs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_code_named),
        cmocka_unit_test(test_names_distinct),
        cmocka_unit_test(test_unknown_code),
        cmocka_unit_test(test_version),
    };
    return cmocka_run_group_tests_name("runtime_status", tests, NULL, NULL);
}
