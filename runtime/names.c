/*
 * Flotilla - interned names (flo__name_intern, runtime/internal.h).
 *
 * A process-wide, insert-only, lock-free hash set of strings. Storage is a
 * sequence of open-addressing levels of growing size (level k has
 * NAMES_L0 << k slots); a level is allocated the first time some name
 * finds no room in the levels before it. A name is looked for along a
 * fixed probe sequence: the first NAMES_PROBE slots from its hash in
 * level 0, then in level 1, and so on.
 *
 * Invariants:
 * - A slot goes from NULL to an entry once (compare-and-swap) and never
 *   changes again; entries are immutable and never freed.
 * - Every thread scans a name's probe sequence in the same order and
 *   tries to claim the first empty slot it meets. Slots only fill, so a
 *   thread reaching an empty slot has seen every slot the name could
 *   occupy before it: a name is stored at most once, and the pointer is
 *   a content identity.
 * - Memory order: an entry is written before the release CAS that
 *   publishes it; readers load slots with acquire. Levels are published
 *   the same way.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

#define NAMES_L0 4096   /* Slots of level 0 (power of two). */
#define NAMES_LEVELS 20 /* Up to NAMES_L0 * (2^20 - 1) names. */
#define NAMES_PROBE 32  /* Slots tried per level. */

typedef struct name_ent {
    uint64_t hash;
    char s[]; /* The copy. */
} name_ent;

typedef _Atomic(name_ent *) name_slot;

static _Atomic(name_slot *) levels[NAMES_LEVELS];

uint64_t flo__name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* Level k, allocated (zeroed) on first use; NULL if out of memory. */
static name_slot *level_get(int k)
{
    name_slot *tab = atomic_load_explicit(&levels[k], memory_order_acquire);
    if (tab)
        return tab;
    name_slot *fresh = calloc((size_t)NAMES_L0 << k, sizeof(*fresh));
    if (!fresh)
        return NULL;
    name_slot *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&levels[k], &expected, fresh,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return fresh;
    free(fresh); /* Another thread installed it first. */
    return expected;
}

const char *flo__name_intern(const char *s)
{
    if (!s)
        return NULL;
    uint64_t h = flo__name_hash(s);
    name_ent *mine = NULL; /* Allocated once, at the first empty slot. */
    size_t len = 0;

    for (int k = 0; k < NAMES_LEVELS; k++) {
        name_slot *tab = level_get(k);
        if (!tab)
            break;
        size_t mask = ((size_t)NAMES_L0 << k) - 1;
        for (size_t i = 0; i < NAMES_PROBE; i++) {
            name_slot *slot = &tab[(h + i * (i + 1) / 2) & mask];
            name_ent *e = atomic_load_explicit(slot, memory_order_acquire);
            if (!e) {
                if (!mine) {
                    len = strlen(s);
                    mine = malloc(sizeof(*mine) + len + 1);
                    if (!mine)
                        return NULL;
                    mine->hash = h;
                    memcpy(mine->s, s, len + 1);
                }
                if (atomic_compare_exchange_strong_explicit(
                        slot, &e, mine, memory_order_acq_rel,
                        memory_order_acquire))
                    return mine->s;
                /* Lost the slot: e is the winner; compare below. */
            }
            if (e->hash == h && strcmp(e->s, s) == 0) {
                free(mine);
                return e->s;
            }
        }
    }
    free(mine);
    return NULL; /* Out of memory for a new level. */
}
