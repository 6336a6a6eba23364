/*
 * Flotilla CUDA backend - running a recorded task graph (its plan,
 * flo__gplan in device/device.h) as one task: capture once per GPU,
 * replay with one cudaGraphLaunch.
 *
 * The launch task's buffers are the union of the recorded tasks' handles,
 * made valid on this GPU by the worker like any task's. The first launch
 * on a GPU captures the recorded CUDA entry points: stream capture
 * (relaxed mode, so that an entry point may still allocate) on a private
 * origin stream forked into up to CG_BRANCHES branch streams; a task
 * continues on the branch of its first predecessor and waits, through
 * capture events, for its predecessors on other branches, so independent
 * tasks become parallel branches of the graph. Then the graph is
 * instantiated and launched on the launch task's stream. Later launches
 * replay it if every buffer still has the address it was captured with;
 * if not (a replica was evicted and allocated again), the capture is
 * redone and the executable graph updated in place (cudaGraphExecUpdate)
 * or instantiated again.
 *
 * If capture fails (an entry point synchronises or calls what capture
 * forbids), this GPU stops trying: this and later launches call the entry
 * points one after the other on the launch task's stream ("plain"), which
 * respects every order the graph has. A failure an entry point reports
 * (flo_task_fail) fails the launch; during capture nothing ran.
 *
 * Status words attached during capture are remembered and attached to
 * the launch task at every replay: they are read once the launch ends.
 *
 * Runs on the GPU's worker thread only; the state is freed by
 * flo_graph_destroy or flo_finalize once no launch is in flight.
 */
#include <stdlib.h>
#include <string.h>

#include "device/cuda/cuda_backend.h"
#include "flotilla/cuda.h"

#define CG_BRANCHES 4

enum { CG_NONE = 0, CG_GRAPH = 1, CG_PLAIN = 2 };

typedef struct cg_state {
    int ordinal;
    int mode;
    int nbr;
    cudaStream_t br[CG_BRANCHES]; /* br[0]: the capture origin. */
    cudaEvent_t fork, join[CG_BRANCHES];
    cudaEvent_t *ev; /* One per task (capture edges). */
    int nev;
    int *branch; /* Task -> branch, during capture. */
    cudaGraphExec_t exec;
    void **ptrs; /* Union buffer addresses captured. */
    int nptr;
    int nw; /* Status words attached in capture. */
    const int *w_dev[FLO__CUDA_OP_WORDS];
    const char *w_what[FLO__CUDA_OP_WORDS];
} cg_state;

static void cg_free(void *p)
{
    cg_state *s = p;
    int prev = -1;
    if (cudaGetDevice(&prev) != cudaSuccess)
        prev = -1;
    if (cudaSetDevice(s->ordinal) != cudaSuccess)
        (void)cudaGetLastError();
    if (s->exec)
        (void)cudaGraphExecDestroy(s->exec);
    for (int b = 0; b < CG_BRANCHES; b++) {
        if (s->br[b])
            (void)cudaStreamDestroy(s->br[b]);
        if (s->join[b])
            (void)cudaEventDestroy(s->join[b]);
    }
    if (s->fork)
        (void)cudaEventDestroy(s->fork);
    for (int i = 0; i < s->nev; i++)
        (void)cudaEventDestroy(s->ev[i]);
    (void)cudaGetLastError();
    if (prev >= 0)
        (void)cudaSetDevice(prev);
    free(s->ev);
    free(s->branch);
    free(s->ptrs);
    free(s);
}

/* Streams and events for a capture of g (created once, kept). */
static flo_status cg_prepare(cg_state *s, const flo__cuda_dev *cd,
                             const flo__gplan *g)
{
    flo_status st;
    if (!s->fork) {
        s->nbr = cd->nstreams < CG_BRANCHES ? cd->nstreams : CG_BRANCHES;
        if (s->nbr < 1)
            s->nbr = 1;
        for (int b = 0; b < s->nbr; b++) {
            st = FLO__CUDA(
                cudaStreamCreateWithFlags(&s->br[b], cudaStreamNonBlocking));
            if (!st)
                st = FLO__CUDA(cudaEventCreateWithFlags(
                    &s->join[b], cudaEventDisableTiming));
            if (st)
                return st;
        }
        st = FLO__CUDA(
            cudaEventCreateWithFlags(&s->fork, cudaEventDisableTiming));
        if (st)
            return st;
    }
    if (s->nev < g->ntasks) {
        cudaEvent_t *ev = realloc(s->ev, (size_t)g->ntasks * sizeof(*ev));
        if (!ev)
            return FLO_ENOMEM;
        s->ev = ev;
        for (; s->nev < g->ntasks; s->nev++) {
            st = FLO__CUDA(
                cudaEventCreateWithFlags(&ev[s->nev], cudaEventDisableTiming));
            if (st)
                return st;
        }
        int *br = realloc(s->branch, (size_t)g->ntasks * sizeof(*br));
        if (!br)
            return FLO_ENOMEM;
        s->branch = br;
    }
    if (!s->ptrs) {
        s->ptrs = calloc((size_t)(g->nu ? g->nu : 1), sizeof(void *));
        if (!s->ptrs)
            return FLO_ENOMEM;
        s->nptr = g->nu;
    }
    return FLO_OK;
}

/* End a capture that went wrong; nothing of it is kept. */
static void cg_abandon(cg_state *s)
{
    cudaGraph_t gr = NULL;
    if (cudaStreamEndCapture(s->br[0], &gr) == cudaSuccess && gr)
        (void)cudaGraphDestroy(gr);
    (void)cudaGetLastError();
}

/* Outcome of a capture attempt. */
enum { CG_OK = 0, CG_TASK_FAILED = 1, CG_UNCAPTURABLE = 2 };

static int cg_capture(cg_state *s, flo__cuda_dev *cd, flo__gplan *g,
                      flo_task_ctx *ctx)
{
    cudaStream_t outer = cd->cur_stream;
    flo__cuda_op *op = cd->cur_op;
    int nsw0 = op->nsw;
    cudaError_t e;

    (void)cudaGetLastError();
    e = cudaStreamBeginCapture(s->br[0], cudaStreamCaptureModeRelaxed);
    if (e != cudaSuccess)
        goto uncapturable;
    if (cudaEventRecord(s->fork, s->br[0]) != cudaSuccess)
        goto abandon;
    for (int b = 1; b < s->nbr; b++)
        if (cudaStreamWaitEvent(s->br[b], s->fork, 0) != cudaSuccess)
            goto abandon;
    unsigned rr = 0;
    for (int j = 0; j < g->ntasks; j++) {
        const flo__gtask *t = &g->tasks[j];
        int b = t->npred > 0 ? s->branch[t->pred[0]]
                             : (int)(rr++ % (unsigned)s->nbr);
        for (int p = 0; p < t->npred; p++)
            if (s->branch[t->pred[p]] != b &&
                cudaStreamWaitEvent(s->br[b], s->ev[t->pred[p]], 0) !=
                    cudaSuccess)
                goto abandon;
        cd->cur_stream = s->br[b]; /* For flo_task_cuda_status_word. */
        flo_status st =
            flo__task_invoke_inner(ctx, t->k.cuda, t->naccess, t->uidx, t->args,
                                   t->args_size, t->name, s->br[b]);
        cd->cur_stream = outer;
        if (st) {
            cg_abandon(s);
            op->nsw = nsw0;
            return CG_TASK_FAILED;
        }
        if (cudaPeekAtLastError() != cudaSuccess)
            goto abandon;
        if (cudaEventRecord(s->ev[j], s->br[b]) != cudaSuccess)
            goto abandon;
        s->branch[j] = b;
    }
    for (int b = 1; b < s->nbr; b++)
        if (cudaEventRecord(s->join[b], s->br[b]) != cudaSuccess ||
            cudaStreamWaitEvent(s->br[0], s->join[b], 0) != cudaSuccess)
            goto abandon;
    cudaGraph_t gr = NULL;
    e = cudaStreamEndCapture(s->br[0], &gr);
    if (e != cudaSuccess || !gr)
        goto uncapturable;
    if (s->exec) {
        cudaGraphExecUpdateResultInfo info;
        if (cudaGraphExecUpdate(s->exec, gr, &info) != cudaSuccess) {
            (void)cudaGetLastError();
            (void)cudaGraphExecDestroy(s->exec);
            s->exec = NULL;
        }
    }
    if (!s->exec) {
        e = cudaGraphInstantiate(&s->exec, gr, 0);
        if (e != cudaSuccess) {
            s->exec = NULL;
            (void)cudaGraphDestroy(gr);
            goto uncapturable;
        }
    }
    (void)cudaGraphDestroy(gr);
    /* The words the entry points attached (now on the launch task). */
    s->nw = op->nsw - nsw0;
    for (int k = 0; k < s->nw; k++) {
        s->w_dev[k] = op->sw_dev[nsw0 + k];
        s->w_what[k] = op->sw_what[nsw0 + k];
    }
    return CG_OK;

abandon:
    cd->cur_stream = outer;
    cg_abandon(s);
uncapturable:
    (void)cudaGetLastError();
    op->nsw = nsw0;
    return CG_UNCAPTURABLE;
}

/* The entry points one after the other on the launch task's stream. */
static void cg_plain(flo__gplan *g, flo_task_ctx *ctx, cudaStream_t stream)
{
    for (int j = 0; j < g->ntasks; j++) {
        const flo__gtask *t = &g->tasks[j];
        if (flo__task_invoke_inner(ctx, t->k.cuda, t->naccess, t->uidx, t->args,
                                   t->args_size, t->name, stream))
            return;
    }
}

void flo__cuda_graph_run(flo_task_ctx *ctx)
{
    flo__gplan *const *gp = flo_task_args(ctx, NULL);
    flo__gplan *g = *gp;
    flo_runtime *rt = flo_task_runtime(ctx);
    flo__cuda_dev *cd = flo__self_device(rt)->priv;
    cudaStream_t stream = flo_task_cuda_stream(ctx);
    int node = flo_task_device(ctx);
    cg_state *s = g->dev[node];

    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s) {
            flo_task_fail(ctx, FLO_ENOMEM, "graph '%s': out of memory",
                          g->name);
            return;
        }
        s->ordinal = cd->ordinal;
        g->dev_free = cg_free;
        g->dev[node] = s;
    }
    if (s->mode != CG_PLAIN) {
        flo_status st = cg_prepare(s, cd, g);
        if (st) {
            flo_task_fail(ctx, st, "graph '%s': no capture streams on GPU %d",
                          g->name, node);
            return;
        }
        bool same = s->exec != NULL;
        for (int u = 0; u < g->nu && same; u++)
            same = s->ptrs[u] == flo_task_buffer(ctx, u);
        if (!same) {
            int r = cg_capture(s, cd, g, ctx);
            if (r == CG_TASK_FAILED)
                return;
            if (r == CG_UNCAPTURABLE) {
                FLO__WARN("graph '%s': cannot be captured on GPU %d; its "
                          "entry points are launched one by one",
                          g->name, node);
                s->mode = CG_PLAIN;
                if (s->exec)
                    (void)cudaGraphExecDestroy(s->exec);
                s->exec = NULL;
            } else {
                for (int u = 0; u < g->nu; u++)
                    s->ptrs[u] = flo_task_buffer(ctx, u);
                s->mode = CG_GRAPH;
                atomic_fetch_add(&g->captures, 1);
            }
        } else {
            /* A replay: attach the words the capture attached. */
            flo__cuda_op *op = cd->cur_op;
            for (int k = 0; k < s->nw && op->nsw < FLO__CUDA_OP_WORDS; k++) {
                op->sw_dev[op->nsw] = s->w_dev[k];
                op->sw_what[op->nsw] = s->w_what[k];
                op->nsw++;
            }
            atomic_fetch_add(&g->replays, 1);
        }
    }
    if (s->mode == CG_PLAIN) {
        atomic_fetch_add(&g->plain, 1);
        cg_plain(g, ctx, stream);
        return;
    }
    cudaError_t e = cudaGraphLaunch(s->exec, stream);
    if (e != cudaSuccess)
        flo_task_fail(ctx, FLO_EDEVICE,
                      "graph '%s': cudaGraphLaunch on GPU "
                      "%d: %s",
                      g->name, node, cudaGetErrorString(e));
}
