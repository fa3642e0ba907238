/* run.c — the flush and status commands: find the agent, snapshot, trigger, follow the evidence in one
 * poll() loop with a deadline, and build the JSON result. The verdict itself is flush.c's. */
#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent.h"
#include "bufferdir.h"
#include "fluentlog.h"
#include "flush.h"
#include "log.h"
#include "logtail.h"
#include "macro.h"
#include "monitor.h"
#include "report.h"
#include "run.h"

#define MAX_CHUNK_DETAIL 200
#define MAX_FIRST_KEYS 5
#define FILE_RESCAN_MS 1000      /* safety net under inotify */
#define FILE_EVENT_GAP_MS 50     /* with a thousand chunk files, a burst of deletions is rescanned at most this
                                    often; the gap shrinks with the files left (a rescan costs as many) */

static const char *const default_logs[] = { "/var/log/fluent/fluentd.log", "/var/log/td-agent/td-agent.log" };

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Everything one run holds; released by ctx_done(). */
struct ctx {
        const struct options *o;
        struct agent agent;
        bool have_agent;
        const char *log_path;
        struct logtail *tail;
        struct bufwatch *watch;
        char **paths;            /* buffer paths in use (NULL-terminated; strings owned when from monitor) */
        bool paths_owned;
        size_t n_paths;
        int workers;
        bool monitor_ok;         /* worker 0 answered at the snapshot */
        bool keys_unique;        /* its targeted outputs give every chunk its own S3 key */
        bool losses_hidden;      /* a targeted output logs at error level or above */
        unsigned monitor_errors;
        char monitor_error[256];
        struct mon_snapshot *mon;    /* scratch */
        struct mon_snapshot *samples;    /* one per worker, held until the log is drained */
        struct flush f;
        bool flush_ready;
        json_t *warnings;
        uint64_t start;
};

static void ctx_done(struct ctx *c) {
        if (c->flush_ready)
                flush_done(&c->f);
        logtail_free(c->tail);
        bufwatch_free(c->watch);
        if (c->have_agent)
                agent_done(&c->agent);
        if (c->paths_owned)
                for (size_t i = 0; i < c->n_paths; i++)
                        free(c->paths[i]);
        free(c->paths);
        free(c->mon);
        free(c->samples);
        json_decref(c->warnings);
}

static void warn(struct ctx *c, const char *fmt, ...) _printf_(2, 3);
static void warn(struct ctx *c, const char *fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        log_warning("%s", buf);
        json_array_append_new(c->warnings, json_string(buf));
}

static json_t *fail(enum ff_exit e, const char *fmt, ...) _printf_(2, 3);
static json_t *fail(enum ff_exit e, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        log_error("%s", buf);
        return report_error_new(e, "%s", buf);
}

static const char *errstr(int r) { return strerror(r < 0 ? -r : r); }

/* 1. The agent. */
static json_t *find_agent(struct ctx *c) {
        const struct options *o = c->o;
        int r = agent_find(o->unit, o->pid, o->pid_file, &c->agent);
        if (r >= 0) {
                c->have_agent = true;
                log_progress("agent: %s%s%spid %d", c->agent.unit, c->agent.unit[0] ? " " : "",
                             c->agent.unit[0] ? "main " : "", (int)c->agent.pid);
                return NULL;
        }
        const char *what = o->unit ? o->unit : o->pid_file ? o->pid_file : o->pid ? "the given pid" :
                           "fluentd.service or td-agent.service";
        switch (-r) {
        case ESRCH:
                return fail(FF_EXIT_NOT_RUNNING, "the Fluentd agent is not running (%s)", what);
        case ENOENT:
                if (o->unit)
                        return fail(FF_EXIT_CONFIG, "no such unit: %s", o->unit);
                return fail(FF_EXIT_NOT_RUNNING, "the Fluentd agent is not running (%s not found)", what);
        case EACCES:
        case EPERM:
                return fail(FF_EXIT_PERMISSION, "not allowed to find the agent through %s: %s (run as root)",
                            what, errstr(r));
        case EBADMSG:
                return fail(FF_EXIT_CONFIG, "%s does not hold a valid pid", what);
        default:
                return fail(ff_exit_from_errno(r), "cannot find the agent (%s): %s", what, errstr(r));
        }
}

/* 2. The log, opened at its end before anything is signalled. */
static json_t *open_log(struct ctx *c) {
        const struct options *o = c->o;
        c->log_path = o->log_file;
        if (!c->log_path && c->have_agent)
                c->log_path = agent_default_log(&c->agent);
        if (!c->log_path) {
                for (size_t i = 0; i < ELEMENTSOF(default_logs) && !c->log_path; i++)
                        if (access(default_logs[i], F_OK) == 0)
                                c->log_path = default_logs[i];
        }
        if (!c->log_path)
                return fail(FF_EXIT_CONFIG, "cannot tell where Fluentd logs: give --log-file");
        int r = logtail_open(c->log_path, true, &c->tail);
        if (r == -EACCES || r == -EPERM)
                return fail(FF_EXIT_PERMISSION, "cannot read the log %s: %s", c->log_path, errstr(r));
        if (r < 0)
                return fail(FF_EXIT_CONFIG, "cannot follow the log %s: %s", c->log_path, errstr(r));
        /* A log the agent does not write would hide every loss it reports: refuse it before any signal. */
        if (c->have_agent) {
                r = agent_has_file_open(&c->agent, c->log_path);
                if (r == 0)
                        return fail(FF_EXIT_CONFIG, "the agent (pid %d) does not have %s open: not its log "
                                    "(give --log-file)", (int)c->agent.pid, c->log_path);
                if (r < 0)
                        log_debug("cannot tell whether the agent writes %s: %s", c->log_path, errstr(r));
        }
        return NULL;
}

static int fetch_monitor_within(struct ctx *c, int worker, long timeout_ms) {
        int r = mon_fetch(c->o->monitor_url, worker, timeout_ms, c->mon);
        if (r < 0) {
                c->monitor_errors++;
                snprintf(c->monitor_error, sizeof c->monitor_error, "monitor_agent of worker %d: %s", worker,
                         r == -EBADMSG ? "answered something that is not its JSON" :
                         r == -EMSGSIZE ? "answered more than 4 MiB" :
                         r == -EPROTO ? "answered an HTTP error" :
                         r == -ETIMEDOUT ? "did not answer in time" : errstr(r));
        }
        return r;
}

static int fetch_monitor(struct ctx *c, int worker) {
        return fetch_monitor_within(c, worker, 2000);
}

static bool targeted(const struct ctx *c, const struct mon_output *m) {
        return mon_output_targeted(m, c->o->plugin_ids);
}

/* Do the targeted outputs give every chunk its own S3 key? Only monitor_agent shows the key format;
 * without it (or with the default, which it does not show) the answer is no. */
static bool keys_unique(const struct ctx *c) {
        bool any = false;
        if (!c->monitor_ok)
                return false;
        for (size_t i = 0; i < c->mon->n_outputs; i++) {
                const struct mon_output *m = &c->mon->outputs[i];
                if (!targeted(c, m))
                        continue;
                if (!mon_key_format_unique(m->key_format))
                        return false;
                any = true;
        }
        return any;
}

/* 3. monitor_agent at the snapshot (worker count, buffer paths from its config). */
static json_t *snapshot_monitor(struct ctx *c, bool *have_outputs) {
        const struct options *o = c->o;
        *have_outputs = false;
        if (o->no_monitor)
                return NULL;
        int r = fetch_monitor(c, 0);
        if (r == -ECONNREFUSED && !o->monitor_url_given) {
                log_progress("monitor_agent: not reachable at %s (not configured): not used", o->monitor_url);
                c->monitor_errors = 0;
                return NULL;
        }
        if (r < 0) {
                warn(c, "%s: not used as evidence", c->monitor_error);
                return NULL;
        }
        c->monitor_ok = true;
        bool any = false;
        for (size_t i = 0; i < c->mon->n_outputs; i++)
                any |= targeted(c, &c->mon->outputs[i]);
        if (!any) {
                if (o->plugin_ids && o->plugin_ids[0])
                        return fail(FF_EXIT_CONFIG, "monitor_agent shows no output with @id %s", o->plugin_ids[0]);
                return fail(FF_EXIT_CONFIG, "monitor_agent shows no output of @type s3: give --plugin-id");
        }
        *have_outputs = true;
        c->keys_unique = keys_unique(c);
        for (size_t i = 0; i < c->mon->n_outputs; i++) {
                const char *l = c->mon->outputs[i].log_level;
                if (targeted(c, &c->mon->outputs[i]) && (strcmp(l, "error") == 0 || strcmp(l, "fatal") == 0)) {
                        c->losses_hidden = true;
                        warn(c, "output %s logs at @log_level %s: its backups and drops (warn) are not logged, so "
                                 "the upload cannot be proven (use warn or lower)", c->mon->outputs[i].plugin_id, l);
                }
        }
        return NULL;
}

static int add_path(struct ctx *c, const char *p) {
        for (size_t i = 0; i < c->n_paths; i++)
                if (strcmp(c->paths[i], p) == 0)
                        return 0;
        char **v = realloc(c->paths, (c->n_paths + 2) * sizeof *v);
        if (!v)
                return -ENOMEM;
        c->paths = v;
        v[c->n_paths] = strdup(p);
        if (!v[c->n_paths])
                return -ENOMEM;
        v[++c->n_paths] = NULL;
        return 0;
}

/* 4. Buffer paths: the options, else what monitor_agent's config shows. */
static json_t *resolve_paths(struct ctx *c) {
        const struct options *o = c->o;
        c->paths_owned = true;
        for (char **p = o->buffer_paths; p && *p; p++)
                if (add_path(c, *p) < 0)
                        return fail(FF_EXIT_INTERNAL, "out of memory");
        if (c->n_paths == 0 && c->monitor_ok)
                for (size_t i = 0; i < c->mon->n_outputs; i++)
                        if (targeted(c, &c->mon->outputs[i]) && c->mon->outputs[i].buffer_path[0])
                                if (add_path(c, c->mon->outputs[i].buffer_path) < 0)
                                        return fail(FF_EXIT_INTERNAL, "out of memory");
        return NULL;
}

static json_t *scan_files(struct ctx *c, struct chunk_list *files, int *workers_seen) {
        *workers_seen = 0;
        for (size_t i = 0; i < c->n_paths; i++) {
                int seen = 0;
                int r = bufdir_scan(c->paths[i], files, &seen);
                if (r == -EACCES || r == -EPERM)
                        return fail(FF_EXIT_PERMISSION, "cannot read the buffer path %s: %s", c->paths[i], errstr(r));
                if (r < 0)
                        return fail(FF_EXIT_CONFIG, "cannot use the buffer path %s: %s", c->paths[i], errstr(r));
                *workers_seen = MAX(*workers_seen, seen);
        }
        return NULL;
}

static int cmp_chunk_file(const void *a, const void *b) {
        const struct chunk_file *x = a, *y = b;
        int r = strcmp(x->id, y->id);
        return r ? r : (x->state == 'q') - (y->state == 'q');   /* the 'q' name after the 'b' one */
}

/* How many workers must acknowledge: --workers, else the monitor_agent ports that answer (worker N on
 * port + N: the running processes), else the worker<N> buffer directories (which outlive a smaller
 * `workers` setting, so they only count when nothing better is known). */
static int detect_workers(struct ctx *c, int workers_seen) {
        if (c->o->workers > 0)
                return c->o->workers;
        if (c->monitor_ok) {
                int w = 1;
                for (; w < FLUSH_MAX_WORKERS; w++)
                        if (mon_fetch(c->o->monitor_url, w, 1000, c->mon) < 0)
                                break;
                if (workers_seen > w)
                        log_debug("%d worker directories but %d monitor_agent ports: %d workers", workers_seen, w, w);
                return w;
        }
        return MIN(MAX(workers_seen, 1), FLUSH_MAX_WORKERS);
}

static json_t *snapshot_outputs(struct ctx *c) {
        for (int w = 0; w < c->workers; w++) {
                int r = fetch_monitor(c, w);
                if (r < 0)
                        return fail(FF_EXIT_EVIDENCE, "%s", c->monitor_error);
                for (size_t i = 0; i < c->mon->n_outputs; i++)
                        if (targeted(c, &c->mon->outputs[i]) && flush_add_output(&c->f, w, &c->mon->outputs[i]) < 0)
                                return fail(FF_EXIT_INTERNAL, "out of memory");
        }
        return NULL;
}

static json_t *trigger(struct ctx *c) {
        const struct options *o = c->o;
        int r;
        if (o->via == VIA_RPC) {
                char err[256] = "";
                r = agent_rpc_flush(o->rpc_url, 5000, err, sizeof err);
                if (r < 0)
                        return fail(FF_EXIT_TRIGGER_FAILED, "flush through %s/api/plugins.flushBuffers failed: %s",
                                    o->rpc_url, err[0] ? err : errstr(r));
                log_progress("flush requested through the RPC endpoint %s", o->rpc_url);
                return NULL;
        }
        r = agent_signal(&c->agent, SIGUSR1);
        if (r == -ESRCH)
                return fail(FF_EXIT_NOT_RUNNING, "the agent (pid %d) is gone", (int)c->agent.pid);
        if (r == -EPERM || r == -EACCES)
                return fail(FF_EXIT_PERMISSION, "not allowed to signal the agent (pid %d): run as root", (int)c->agent.pid);
        if (r < 0)
                return fail(FF_EXIT_TRIGGER_FAILED, "cannot signal the agent (pid %d): %s", (int)c->agent.pid, errstr(r));
        log_progress("SIGUSR1 sent to the supervisor (pid %d)%s%s", (int)c->agent.pid,
                     c->agent.unit[0] ? " through " : "", c->agent.unit);
        return NULL;
}

/* Log lines → events. */
static int on_line(const char *line, size_t len, bool truncated, void *userdata) {
        struct ctx *c = userdata;
        struct fl_event ev;
        if (truncated) {
                flush_on_rejected_line(&c->f);
                return 0;
        }
        int r = fl_parse_line(line, len, c->o->log_format, &ev);
        if (r < 0) {
                if (len > 0)
                        flush_on_rejected_line(&c->f);
                return 0;
        }
        if (ev.kind == FL_NONE || ev.kind == FL_CONTINUATION)
                return 0;
        if (ev.kind == FL_ACK)
                log_progress("worker %d acknowledged the flush", ev.worker);
        else if (fl_kind_is_loss(ev.kind) || ev.kind == FL_FLUSH_FAILED || ev.kind == FL_RETRY_LIMIT)
                log_progress("%s%s%s", fl_kind_name(ev.kind), ev.chunk_id[0] ? " chunk " : "", ev.chunk_id);
        else
                log_debug("log: %s %s", fl_kind_name(ev.kind), ev.chunk_id);
        flush_on_log(&c->f, &ev, now_ms());
        return 0;
}

static int wait_loop(struct ctx *c, struct lifecycle *lc) {
        const struct options *o = c->o;
        uint64_t deadline = c->start + (uint64_t)o->timeout_ms;
        uint64_t next_monitor = now_ms() + (uint64_t)o->monitor_interval_ms;
        uint64_t next_rescan = now_ms(), last_scan = 0, gap = 0;
        bool use_monitor = c->monitor_ok;
        bool events_pending = false;    /* buffer events arrived within FILE_EVENT_GAP_MS of the last scan */
        unsigned pending_logged = 0;

        for (;;) {
                uint64_t t = now_ms();
                bool rescan = t >= next_rescan;
                struct pollfd p[3];
                int n = 0, i_watch = -1, i_pid = -1;

                if (c->tail)     /* readable or not, the log is drained on every wake-up */
                        p[n++] = (struct pollfd){ .fd = logtail_fd(c->tail), .events = POLLIN };
                if (c->watch && !events_pending) {     /* while debouncing, its readiness would spin poll() */
                        p[n] = (struct pollfd){ .fd = bufwatch_fd(c->watch), .events = POLLIN };
                        i_watch = n++;
                }
                if (c->have_agent && c->agent.pidfd >= 0) {
                        p[n] = (struct pollfd){ .fd = c->agent.pidfd, .events = POLLIN };
                        i_pid = n++;
                }
                uint64_t wake = MIN(deadline, next_rescan);
                if (use_monitor)
                        wake = MIN(wake, next_monitor);
                if (lc) {
                        long hb = lifecycle_heartbeat_due_ms(lc, t);
                        if (hb >= 0)
                                wake = MIN(wake, t + (uint64_t)hb);
                }
                /* Wake for the hang check only while a worker has yet to acknowledge: once the time is
                 * past, this term would otherwise turn poll() into a busy loop. */
                if (c->f.cfg.ack_timeout_ms > 0 && c->f.signalled && !flush_all_acked(&c->f))
                        wake = MIN(wake, MAX(t, c->f.signalled_ms + (uint64_t)c->f.cfg.ack_timeout_ms));
                int timeout = rescan ? 0 : (int)MIN(wake > t ? wake - t : 0, 1000);
                if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
                        return log_error_errno(-errno, "poll failed: %m");
                t = now_ms();

                /* Observe the files and the monitor first, then drain the log, and only then hand the
                 * observations over: Fluentd logs every loss before it deletes the chunk's files, so a
                 * deletion seen here has its bad news in the log by now. */
                struct chunk_list present = {};
                bool have_files = false, have_sample[FLUSH_MAX_WORKERS] = {};
                if (c->watch && !rescan && i_watch >= 0 && (p[i_watch].revents & POLLIN)) {
                        if (t >= last_scan + gap)
                                rescan = true;
                        else {
                                events_pending = true;
                                next_rescan = MIN(next_rescan, last_scan + gap);
                        }
                }
                if (c->watch && rescan) {
                        int r = bufwatch_process(c->watch, &present);
                        if (r >= 0)
                                have_files = true;
                        else
                                log_debug("buffer rescan failed: %s", errstr(r));
                        gap = MIN((uint64_t)FILE_EVENT_GAP_MS, (uint64_t)present.n / 20);
                        last_scan = t;
                        events_pending = false;
                        next_rescan = t + FILE_RESCAN_MS;
                }
                if (use_monitor && t >= next_monitor) {
                        /* A monitor_agent that accepts and never answers costs 2 s per worker and round: never
                         * let it carry the loop past the deadline. */
                        for (int w = 0; w < c->workers; w++) {
                                uint64_t now = now_ms();
                                if (now >= deadline)
                                        break;
                                if (fetch_monitor_within(c, w, (long)MIN(deadline - now, (uint64_t)2000)) >= 0) {
                                        c->samples[w] = *c->mon;
                                        have_sample[w] = true;
                                }
                        }
                        next_monitor = t + (uint64_t)o->monitor_interval_ms;
                }
                if (c->tail) {
                        int r = logtail_read(c->tail, on_line, c);
                        if (r < 0)
                                log_debug("reading the log failed: %s", errstr(r));
                }
                if (have_files)
                        flush_on_files(&c->f, &present, t);
                chunk_list_done(&present);
                for (int w = 0; w < c->workers; w++)
                        if (have_sample[w])
                                flush_on_monitor(&c->f, w, &c->samples[w], t);
                if (c->have_agent && ((i_pid >= 0 && (p[i_pid].revents & POLLIN)) || c->agent.pidfd < 0))
                        if (agent_alive(&c->agent) == 0 && !c->f.agent_gone) {
                                log_warning("the agent (pid %d) exited during the flush", (int)c->agent.pid);
                                flush_on_agent_exit(&c->f, t);
                        }
                if (lc) {
                        long hb = lifecycle_heartbeat_due_ms(lc, t);
                        if (hb == 0)
                                (void)lifecycle_heartbeat(lc, t);
                }

                int v = flush_evaluate(&c->f, t, t >= deadline);
                if (v >= 0)
                        return v;
                struct flush_counts k;
                flush_counts(&c->f, &k);
                if (k.pending != pending_logged && log_get_verbosity() >= LOG_NORMAL) {
                        log_progress("%u of %u chunks committed, %u pending%s", k.committed, k.buffered, k.pending,
                                     k.failed ? " (upload failing, retrying)" : "");
                        pending_logged = k.pending;
                }
        }
}

static json_t *chunk_json(const struct flush_chunk *k) {
        static const char *const states[] = { "pending", "committed", "lost" };
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(k->id));
        json_object_set_new(o, "worker", json_integer(k->worker));
        json_object_set_new(o, "bytes", json_integer((json_int_t)k->bytes));
        json_object_set_new(o, "state", json_string(states[k->state]));
        if (k->key)
                json_object_set_new(o, "key", json_string(k->key));
        if (k->retrying)
                json_object_set_new(o, "retrying", json_true());
        if (k->loss != FL_NONE)
                json_object_set_new(o, "loss", json_string(fl_kind_name(k->loss)));
        if (k->error)
                json_object_set_new(o, "error", json_string(k->error));
        return o;
}

static void describe(const struct ctx *c, int v, const struct flush_counts *k, char *msg, size_t size) {
        const struct flush *f = &c->f;
        uint64_t ms = now_ms() - c->start;
        double s = (double)ms / 1000.0;
        switch (v) {
        case FF_EXIT_CONFIRMED:
                snprintf(msg, size, "%u chunk%s (%llu bytes) committed to S3 in %llu ms", k->committed,
                         k->committed == 1 ? "" : "s", (unsigned long long)k->bytes_committed,
                         (unsigned long long)ms);
                break;
        case FF_EXIT_UPLOAD_FAILING:
                snprintf(msg, size, "%u of %u chunks still failing to upload at the deadline (next retry %s): %s",
                         k->pending, k->buffered, f->next_retry_time[0] ? f->next_retry_time : "unknown",
                         f->first_error[0] ? f->first_error : "no error text");
                break;
        case FF_EXIT_DATA_LOST:
                snprintf(msg, size, "%u chunk%s left the buffer without reaching S3: %s", k->lost,
                         k->lost == 1 ? "" : "s", f->first_error[0] ? f->first_error : "dropped");
                break;
        case FF_EXIT_OVERWRITTEN:
                snprintf(msg, size, "two chunks were written to %s: the second overwrote the first", f->overwrite_key);
                break;
        case FF_EXIT_DEADLINE:
                snprintf(msg, size, "deadline reached after %.1f s with %u of %u chunks still uploading", s,
                         k->pending, k->buffered);
                break;
        case FF_EXIT_NO_ACK:
                snprintf(msg, size, "%u of %u workers did not acknowledge the flush within %.1f s: the agent is hung",
                         k->workers_expected - k->workers_acked, k->workers_expected,
                         (double)f->cfg.ack_timeout_ms / 1000.0);
                break;
        case FF_EXIT_NOT_RUNNING:
                snprintf(msg, size, "the agent stopped during the flush with %u of %u chunks not committed",
                         k->pending, k->buffered);
                break;
        case FF_EXIT_UNCONFIRMED:
                if (f->cfg.losses_hidden) {
                        snprintf(msg, size, "%u of %u chunks left the buffer, but the output logs at error level: "
                                 "a backup or a drop would not be in the log (set @log_level warn or lower on the "
                                 "s3 <match>)", k->committed, k->buffered);
                        break;
                }
                if (flush_unconfirmed_for_keys(f)) {
                        snprintf(msg, size, "%u of %u chunks left the buffer, but %d workers write to out_s3's "
                                 "%%{index} keys and the log does not show the keys: two chunks may have gone to "
                                 "one S3 key (use ${chunk_id} in s3_object_key_format, or @log_level debug on the "
                                 "s3 <match>)", k->committed, k->buffered, f->cfg.workers);
                        break;
                }
                snprintf(msg, size, "the flush was triggered and acknowledged, but nothing can prove the upload: "
                         "memory buffer and no monitor_agent (add <source> @type monitor_agent </source>)");
                break;
        case FF_EXIT_EVIDENCE:
                snprintf(msg, size, "%s; the remaining evidence could not confirm the upload", c->monitor_error);
                break;
        default:
                snprintf(msg, size, "%s", ff_exit_verdict(v));
        }
}

static json_t *build_result(struct ctx *c, int v, bool nothing) {
        const struct options *o = c->o;
        const struct flush *f = &c->f;
        struct flush_counts k;
        char msg[2048];
        flush_counts(f, &k);
        describe(c, v, &k, msg, sizeof msg);
        if (nothing)
                snprintf(msg, sizeof msg, "nothing was buffered: nothing to flush");

        json_t *r = json_object();
        json_object_set_new(r, "verdict", json_string(ff_exit_verdict(v)));
        json_object_set_new(r, "exit_code", json_integer(v));
        json_object_set_new(r, "message", json_string(msg));
        json_object_set_new(r, "nothing_buffered", json_boolean(nothing));
        json_object_set_new(r, "elapsed_ms", json_integer((json_int_t)(now_ms() - c->start)));
        json_object_set_new(r, "chunks", json_pack("{s:I,s:I,s:I,s:I,s:I}", "buffered", (json_int_t)k.buffered,
                                                    "committed", (json_int_t)k.committed, "pending",
                                                    (json_int_t)k.pending, "failed", (json_int_t)k.failed, "lost",
                                                    (json_int_t)k.lost));
        json_object_set_new(r, "bytes", json_pack("{s:I,s:I}", "buffered", (json_int_t)k.bytes_buffered,
                                                   "committed", (json_int_t)k.bytes_committed));
        json_object_set_new(r, "workers", json_pack("{s:I,s:I}", "expected", (json_int_t)k.workers_expected,
                                                     "acknowledged", (json_int_t)k.workers_acked));
        json_t *ev = json_array();
        if (f->cfg.have_files)
                json_array_append_new(ev, json_string("buffer_files"));
        if (c->tail)
                json_array_append_new(ev, json_string("log"));
        if (f->cfg.have_monitor)
                json_array_append_new(ev, json_string("monitor"));
        json_object_set_new(r, "evidence", ev);
        json_t *keys = json_array();
        for (size_t i = 0; i < f->n_chunks && json_array_size(keys) < MAX_FIRST_KEYS; i++)
                if (f->chunks[i].key && (f->chunks[i].in_snapshot || !f->cfg.have_files))
                        json_array_append_new(keys, json_string(f->chunks[i].key));
        json_object_set_new(r, "first_keys", keys);
        json_object_set_new(r, "first_error", f->first_error[0] ? json_string(f->first_error) : json_null());
        json_object_set_new(r, "next_retry_time", f->next_retry_time[0] ? json_string(f->next_retry_time) : json_null());
        if (f->overwrite_key[0])
                json_object_set_new(r, "overwritten_key", json_string(f->overwrite_key));
        json_t *a = json_object();
        json_object_set_new(a, "unit", c->have_agent && c->agent.unit[0] ? json_string(c->agent.unit) : json_null());
        json_object_set_new(a, "pid", c->have_agent ? json_integer(c->agent.pid) : json_null());
        json_object_set_new(a, "via", json_string(o->via == VIA_RPC ? "rpc" : "signal"));
        json_object_set_new(a, "log_file", c->log_path ? json_string(c->log_path) : json_null());
        json_object_set_new(r, "agent", a);
        json_object_set(r, "warnings", c->warnings);
        json_t *paths = json_array();
        for (size_t i = 0; i < c->n_paths; i++)
                json_array_append_new(paths, json_string(c->paths[i]));
        json_object_set_new(r, "buffer_paths", paths);
        json_object_set_new(r, "log_lines_rejected", json_integer(f->lines_rejected));
        json_object_set_new(r, "chunk_ids_ignored", json_integer(f->ids_ignored));
        if (c->tail)
                json_object_set_new(r, "log_rotations", json_integer(logtail_rotations(c->tail) + logtail_truncations(c->tail)));
        json_t *list = json_array();
        for (size_t i = 0; i < f->n_chunks && json_array_size(list) < MAX_CHUNK_DETAIL; i++)
                if (f->chunks[i].in_snapshot || !f->cfg.have_files)
                        json_array_append_new(list, chunk_json(&f->chunks[i]));
        json_object_set_new(r, "chunk_list", list);
        return r;
}

static int finish(json_t *result, struct lifecycle *lc, int v, json_t **ret) {
        if (!result)
                return FF_EXIT_INTERNAL;
        if (lc) {
                int r = lifecycle_complete(lc, v == FF_EXIT_CONFIRMED, result);
                if (r < 0) {
                        json_t *e = json_object_get(json_object_get(result, "lifecycle"), "error");
                        log_error("completing the lifecycle action failed: %s",
                                  json_is_string(e) ? json_string_value(e) : strerror(-r));
                }
                if (r < 0 && v == FF_EXIT_CONFIRMED) {
                        json_object_set_new(result, "flush_verdict", json_string(ff_exit_verdict(v)));
                        v = FF_EXIT_LIFECYCLE_FAILED;
                        json_object_set_new(result, "verdict", json_string(ff_exit_verdict(v)));
                        json_object_set_new(result, "exit_code", json_integer(v));
                } else if (r < 0)
                        json_object_set_new(result, "lifecycle_failed", json_true());
        }
        *ret = result;
        return v;
}

static int early(json_t *err, struct lifecycle *lc, json_t **ret) {
        int v = (int)json_integer_value(json_object_get(err, "exit_code"));
        return finish(err, lc, v, ret);
}

int run_flush(const struct options *o, struct lifecycle *lc, json_t **ret) {
        _cleanup_(ctx_done) struct ctx c = { .o = o, .start = now_ms() };
        struct chunk_list files = {};
        json_t *err;
        bool have_outputs;
        int workers_seen = 0, r;

        c.warnings = json_array();
        c.mon = calloc(1, sizeof *c.mon);
        if (!c.warnings || !c.mon)
                return early(report_error_new(FF_EXIT_INTERNAL, "out of memory"), lc, ret);

        if ((err = find_agent(&c)))
                return early(err, lc, ret);
        if ((err = open_log(&c)) || (err = snapshot_monitor(&c, &have_outputs)) || (err = resolve_paths(&c)) ||
            (err = scan_files(&c, &files, &workers_seen))) {
                chunk_list_done(&files);
                return early(err, lc, ret);
        }
        c.workers = detect_workers(&c, workers_seen);
        c.samples = calloc((size_t)c.workers, sizeof *c.samples);
        if (!c.samples) {
                chunk_list_done(&files);
                return early(report_error_new(FF_EXIT_INTERNAL, "out of memory"), lc, ret);
        }
        flush_init(&c.f, &(struct flush_config){
                .workers = c.workers,
                .have_files = c.n_paths > 0,
                .have_monitor = have_outputs,
                .have_log = true,
                .ack_timeout_ms = o->ack_timeout_ms,
                .plugin_ids = o->plugin_ids,
        });
        c.flush_ready = true;
        c.f.cfg.keys_may_collide = c.workers > 1 && !c.keys_unique;
        c.f.cfg.losses_hidden = c.losses_hidden;
        /* Sorted by id: flush_add_chunk() then meets a chunk seen twice (b and q, renamed during the scan)
         * right after itself instead of searching every chunk added before it (O(n^2) at 100 000 chunks). */
        if (files.n > 1)     /* qsort's base may not be NULL, even for nothing */
                qsort(files.v, files.n, sizeof *files.v, cmp_chunk_file);
        for (size_t i = 0; i < files.n; i++)
                if (flush_add_chunk(&c.f, &files.v[i]) < 0) {
                        chunk_list_done(&files);
                        return early(report_error_new(FF_EXIT_INTERNAL, "out of memory"), lc, ret);
                }
        if (have_outputs && (err = snapshot_outputs(&c))) {
                chunk_list_done(&files);
                return early(err, lc, ret);
        }

        /* Files that show nothing while monitor_agent shows chunks do not cover the output (another path,
         * a path_suffix or pattern we don't know): they must not confirm anything. */
        if (c.f.cfg.have_files && have_outputs && c.f.n_snapshot == 0) {
                int64_t held = 0;
                for (size_t i = 0; i < c.f.n_outputs; i++)
                        held += c.f.outputs[i].chunks_at_snapshot;
                if (held > 0) {
                        warn(&c, "the buffer paths hold no chunk files but monitor_agent shows %lld buffered "
                                 "chunk%s: using monitor_agent as the evidence", (long long)held, held == 1 ? "" : "s");
                        c.f.cfg.have_files = false;
                }
        }

        struct flush_counts k;
        flush_counts(&c.f, &k);
        log_progress("snapshot: %u chunk%s, %llu bytes, %d worker%s; evidence:%s%s log", k.buffered,
                     k.buffered == 1 ? "" : "s", (unsigned long long)k.bytes_buffered, c.workers,
                     c.workers == 1 ? "" : "s", c.f.cfg.have_files ? " buffer files," : "", have_outputs ? " monitor," : "");
        if (flush_nothing_buffered(&c.f)) {
                chunk_list_done(&files);
                return finish(build_result(&c, FF_EXIT_CONFIRMED, true), lc, FF_EXIT_CONFIRMED, ret);
        }
        if (!c.f.cfg.have_files && !have_outputs)
                warn(&c, "no buffer files and no monitor_agent: the upload cannot be proven "
                         "(add <source> @type monitor_agent </source> to Fluentd's config)");

        if (c.n_paths > 0) {
                r = bufwatch_new(c.paths, c.n_paths, &c.watch);
                if (r >= 0)
                        r = bufwatch_expect(c.watch, &files);
                if (r < 0) {
                        chunk_list_done(&files);
                        return early(fail(FF_EXIT_INTERNAL, "cannot watch the buffer paths: %s", errstr(r)), lc, ret);
                }
        }
        chunk_list_done(&files);
        if ((err = trigger(&c)))
                return early(err, lc, ret);
        flush_signalled(&c.f, now_ms());

        int v = wait_loop(&c, lc);
        if (v < 0)
                return early(report_error_new(FF_EXIT_INTERNAL, "the wait loop failed: %s", errstr(v)), lc, ret);
        /* A broken monitor that left nothing else to confirm is its own failure. */
        if ((v == FF_EXIT_DEADLINE || v == FF_EXIT_UNCONFIRMED) && c.monitor_errors > 0 && !c.f.cfg.have_files)
                v = FF_EXIT_EVIDENCE;
        json_t *res = build_result(&c, v, false);
        log_progress("%s", json_string_value(json_object_get(res, "message")));
        return finish(res, lc, v, ret);
}

int run_status(const struct options *o, json_t **ret) {
        _cleanup_(ctx_done) struct ctx c = { .o = o, .start = now_ms() };
        struct chunk_list files = {};
        json_t *err;
        bool have_outputs;
        int workers_seen = 0;

        c.warnings = json_array();
        c.mon = calloc(1, sizeof *c.mon);
        if (!c.warnings || !c.mon) {
                *ret = report_error_new(FF_EXIT_INTERNAL, "out of memory");
                return FF_EXIT_INTERNAL;
        }
        json_t *r = json_object();
        err = find_agent(&c);
        json_t *a = json_object();
        json_object_set_new(a, "running", json_boolean(c.have_agent));
        json_object_set_new(a, "unit", c.have_agent && c.agent.unit[0] ? json_string(c.agent.unit) : json_null());
        json_object_set_new(a, "pid", c.have_agent ? json_integer(c.agent.pid) : json_null());
        if (err) {
                json_object_set_new(a, "error", json_incref(json_object_get(err, "message")));
                json_decref(err);
        }
        if ((err = snapshot_monitor(&c, &have_outputs)) || (err = resolve_paths(&c)) ||
            (err = scan_files(&c, &files, &workers_seen))) {
                chunk_list_done(&files);
                json_decref(r);
                json_decref(a);
                *ret = err;
                return (int)json_integer_value(json_object_get(err, "exit_code"));
        }
        c.workers = detect_workers(&c, workers_seen);
        uint64_t bytes = 0;
        json_t *list = json_array();
        for (size_t i = 0; i < files.n; i++) {
                bytes += files.v[i].bytes;
                if (i < MAX_CHUNK_DETAIL)
                        json_array_append_new(list, json_pack("{s:s,s:i,s:s#,s:I}", "id", files.v[i].id, "worker",
                                                              files.v[i].worker, "state", &files.v[i].state, 1,
                                                              "bytes", (json_int_t)files.v[i].bytes));
        }
        json_object_set_new(r, "command", json_string("status"));
        json_object_set_new(r, "exit_code", json_integer(0));
        json_object_set_new(r, "chunks", json_integer((json_int_t)files.n));
        json_object_set_new(r, "bytes", json_integer((json_int_t)bytes));
        json_object_set_new(r, "workers", json_integer(c.workers));
        json_object_set_new(r, "agent", a);
        json_t *paths = json_array();
        for (size_t i = 0; i < c.n_paths; i++)
                json_array_append_new(paths, json_string(c.paths[i]));
        json_object_set_new(r, "buffer_paths", paths);
        json_t *mon = json_array();
        if (have_outputs)
                for (int w = 0; w < c.workers; w++) {
                        if (fetch_monitor(&c, w) < 0) {
                                warn(&c, "%s", c.monitor_error);
                                continue;
                        }
                        for (size_t i = 0; i < c.mon->n_outputs; i++) {
                                const struct mon_output *m = &c.mon->outputs[i];
                                if (!targeted(&c, m))
                                        continue;
                                json_array_append_new(mon, json_pack(
                                        "{s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:s?}", "worker", w, "plugin_id",
                                        m->plugin_id, "type", m->type, "buffer_queue_length",
                                        (json_int_t)m->buffer_queue_length, "buffer_queue_byte_size",
                                        (json_int_t)m->buffer_queue_byte_size, "buffer_stage_length",
                                        (json_int_t)m->buffer_stage_length, "buffer_stage_byte_size",
                                        (json_int_t)m->buffer_stage_byte_size, "write_count",
                                        (json_int_t)m->write_count, "rollback_count", (json_int_t)m->rollback_count,
                                        "retry_pending", m->retry_pending, "next_retry_time",
                                        m->retry_next_time[0] ? m->retry_next_time : NULL));
                        }
                }
        json_object_set_new(r, "monitor", mon);
        json_object_set(r, "warnings", c.warnings);
        json_object_set_new(r, "chunk_list", list);
        chunk_list_done(&files);
        *ret = r;
        return FF_EXIT_CONFIRMED;
}

