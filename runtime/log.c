/*
 * Flotilla - logging and environment parsing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

_Atomic int flo__log_level = FLO__LOG_WARN;

void flo__log(int level, const char *file, int line, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char msg[1024];
    va_list ap;
    const char *base = strrchr(file, '/');

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One fprintf call per message so lines from threads do not mix. */
    fprintf(stderr, "flotilla %s: %s (%s:%d)\n",
            names[level < 0   ? 0
                  : level > 3 ? 3
                              : level],
            msg, base ? base + 1 : file, line);
}

const char *flo__env_str(const char *name)
{
    const char *v = getenv(name);
    return (v && *v) ? v : NULL;
}

bool flo__env_int(const char *name, long *out)
{
    const char *v = flo__env_str(name);
    char *end;
    long x;

    if (!v)
        return false;
    errno = 0;
    x = strtol(v, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if ((errno && errno != ERANGE) || end == v || *end) {
        FLO__WARN("ignoring %s=%s: not an integer", name, v);
        return false;
    }
    /* A value beyond long reads as LONG_MIN/LONG_MAX (strtol): out of
     * every range, so the setting it feeds is refused, not truncated. */
    *out = x;
    return true;
}

bool flo__env_size(const char *name, size_t *out)
{
    const char *v = flo__env_str(name);
    char *end;
    unsigned long long x;
    unsigned long long mul = 1;

    if (!v)
        return false;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (errno || end == v || *v == '-')
        goto bad;
    switch (toupper((unsigned char)*end)) {
    case 'K':
        mul = 1ull << 10;
        end++;
        break;
    case 'M':
        mul = 1ull << 20;
        end++;
        break;
    case 'G':
        mul = 1ull << 30;
        end++;
        break;
    case 'T':
        mul = 1ull << 40;
        end++;
        break;
    default: break;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        goto bad;
    if (x && mul > ~0ull / x)
        goto bad;
    *out = (size_t)(x * mul);
    return true;
bad:
    FLO__WARN("ignoring %s=%s: not a size (e.g. 512M, 4G)", name, v);
    return false;
}
