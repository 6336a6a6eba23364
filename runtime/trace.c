/*
 * Flotilla - Chrome / Perfetto trace. Each recording thread appends to its
 * own buffer without locks; the file is written once, at finalize.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

typedef struct str_node {
    struct str_node *next;
    char s[];
} str_node;

struct flo__trace {
    char *path;
    uint64_t origin;
    pthread_mutex_t mu; /* Guards rows, bufs, strs. */
    char **rows;
    int nrows, rows_cap;
    flo__trace_buf **bufs;
    int nbufs, bufs_cap;
    str_node *strs;
};

int flo__trace_create(const char *path, uint64_t t_origin, flo__trace **out)
{
    flo__trace *tr = calloc(1, sizeof(*tr));

    if (!tr)
        return FLO_ENOMEM;
    tr->path = strdup(path);
    if (!tr->path) {
        free(tr);
        return FLO_ENOMEM;
    }
    tr->origin = t_origin;
    pthread_mutex_init(&tr->mu, NULL);
    *out = tr;
    return FLO_OK;
}

int flo__trace_row(flo__trace *tr, const char *name)
{
    int id = -1;
    char *copy = strdup(name);

    if (!copy)
        return 0;
    pthread_mutex_lock(&tr->mu);
    if (tr->nrows == tr->rows_cap) {
        int cap = tr->rows_cap ? 2 * tr->rows_cap : 16;
        char **r = realloc(tr->rows, (size_t)cap * sizeof(*r));
        if (!r) {
            pthread_mutex_unlock(&tr->mu);
            free(copy);
            return 0;
        }
        tr->rows = r;
        tr->rows_cap = cap;
    }
    id = tr->nrows++;
    tr->rows[id] = copy;
    pthread_mutex_unlock(&tr->mu);
    return id;
}

const char *flo__trace_intern(flo__trace *tr, const char *name)
{
    size_t n = strlen(name) + 1;
    str_node *s = malloc(sizeof(*s) + n);

    if (!s)
        return "?";
    memcpy(s->s, name, n);
    pthread_mutex_lock(&tr->mu);
    s->next = tr->strs;
    tr->strs = s;
    pthread_mutex_unlock(&tr->mu);
    return s->s;
}

void flo__trace_buf_add(flo__trace *tr, flo__trace_buf *b)
{
    pthread_mutex_lock(&tr->mu);
    if (tr->nbufs == tr->bufs_cap) {
        int cap = tr->bufs_cap ? 2 * tr->bufs_cap : 16;
        flo__trace_buf **nb = realloc(tr->bufs, (size_t)cap * sizeof(*nb));
        if (!nb) {
            pthread_mutex_unlock(&tr->mu);
            return;
        }
        tr->bufs = nb;
        tr->bufs_cap = cap;
    }
    tr->bufs[tr->nbufs++] = b;
    pthread_mutex_unlock(&tr->mu);
}

void flo__trace_record(flo__trace_buf *b, int row, const char *name,
                       const char *cat, uint64_t t0, uint64_t t1, uint64_t arg)
{
    flo__trace_chunk *c = b->cur;
    flo__trace_ev *e;

    if (!c || c->n == (int)(sizeof(c->ev) / sizeof(c->ev[0]))) {
        flo__trace_chunk *nc = malloc(sizeof(*nc));
        if (!nc)
            return; /* The trace loses events rather than the run. */
        nc->next = NULL;
        nc->n = 0;
        if (c)
            c->next = nc;
        else
            b->head = nc;
        b->cur = c = nc;
    }
    e = &c->ev[c->n++];
    e->name = name;
    e->cat = cat;
    e->t0 = t0;
    e->t1 = t1 > t0 ? t1 : t0;
    e->row = row;
    e->arg = arg;
}

static void put_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

int flo__trace_write_and_destroy(flo__trace *tr)
{
    int rc = FLO_OK;
    FILE *f;
    bool first = true;

    if (!tr)
        return FLO_OK;
    f = fopen(tr->path, "w");
    if (!f) {
        FLO__ERR("cannot write trace file %s", tr->path);
        rc = FLO_ESYS;
    } else {
        fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", f);
        for (int r = 0; r < tr->nrows; r++) {
            fprintf(f,
                    "%s{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,"
                    "\"tid\":%d,\"args\":{\"name\":",
                    first ? "" : ",\n", r);
            put_json_str(f, tr->rows[r]);
            fputs("}}", f);
            fprintf(f,
                    ",\n{\"name\":\"thread_sort_index\",\"ph\":\"M\","
                    "\"pid\":0,\"tid\":%d,\"args\":{\"sort_index\":%d}}",
                    r, r);
            first = false;
        }
        for (int i = 0; i < tr->nbufs; i++) {
            for (flo__trace_chunk *c = tr->bufs[i]->head; c; c = c->next) {
                for (int k = 0; k < c->n; k++) {
                    flo__trace_ev *e = &c->ev[k];
                    double ts = (double)(e->t0 - tr->origin) / 1e3;
                    double dur = (double)(e->t1 - e->t0) / 1e3;
                    if (e->t0 < tr->origin)
                        ts = 0;
                    fprintf(f, "%s{\"name\":", first ? "" : ",\n");
                    put_json_str(f, e->name ? e->name : "task");
                    fputs(",\"cat\":", f);
                    put_json_str(f, e->cat ? e->cat : "task");
                    fprintf(f,
                            ",\"ph\":\"X\",\"pid\":0,\"tid\":%d,"
                            "\"ts\":%.3f,\"dur\":%.3f,"
                            "\"args\":{\"arg\":%llu}}",
                            e->row, ts, dur, (unsigned long long)e->arg);
                    first = false;
                }
            }
        }
        fputs("\n]}\n", f);
        if (fclose(f))
            rc = FLO_ESYS;
    }
    for (int i = 0; i < tr->nbufs; i++) {
        flo__trace_chunk *c = tr->bufs[i]->head;
        while (c) {
            flo__trace_chunk *n = c->next;
            free(c);
            c = n;
        }
        tr->bufs[i]->head = tr->bufs[i]->cur = NULL;
    }
    for (int r = 0; r < tr->nrows; r++)
        free(tr->rows[r]);
    while (tr->strs) {
        str_node *n = tr->strs->next;
        free(tr->strs);
        tr->strs = n;
    }
    free(tr->rows);
    free(tr->bufs);
    pthread_mutex_destroy(&tr->mu);
    free(tr->path);
    free(tr);
    return rc;
}
