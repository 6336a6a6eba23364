/*
 * Flotilla - parking a thread until another wakes it.
 */
#include <errno.h>

#include "runtime/internal.h"

int flo__parker_init(flo__parker *p)
{
    pthread_condattr_t ca;
    int rc;

    rc = pthread_mutex_init(&p->mu, NULL);
    if (rc)
        return rc;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc) {
        pthread_mutex_destroy(&p->mu);
        return rc;
    }
    atomic_init(&p->sleeping, 0);
    p->signaled = 0;
    return 0;
}

void flo__parker_destroy(flo__parker *p)
{
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

void flo__parker_park(flo__parker *p, uint64_t timeout_ns)
{
    pthread_mutex_lock(&p->mu);
    if (!p->signaled) {
        if (timeout_ns) {
            struct timespec ts;
            uint64_t t;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            t = (uint64_t)ts.tv_nsec + timeout_ns;
            ts.tv_sec += (time_t)(t / 1000000000ull);
            ts.tv_nsec = (long)(t % 1000000000ull);
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        } else {
            pthread_cond_wait(&p->cv, &p->mu);
        }
    }
    p->signaled = 0;
    atomic_store(&p->sleeping, 0);
    pthread_mutex_unlock(&p->mu);
}

bool flo__parker_wake(flo__parker *p)
{
    bool woke = false;

    if (!atomic_load(&p->sleeping))
        return false;
    pthread_mutex_lock(&p->mu);
    /* A sleeper already signaled counts as awake: report false so that
     * the waker looks for another sleeper instead of losing its wake-up
     * on this one. */
    if (atomic_load(&p->sleeping) && !p->signaled) {
        /* Re-checked under the lock: park clears `sleeping` under it, so
         * a wake-up never lands on a thread that has already left. */
        p->signaled = 1;
        pthread_cond_signal(&p->cv);
        woke = true;
    }
    pthread_mutex_unlock(&p->mu);
    return woke;
}
