/* flush.c — the pure core: evidence in, verdict out (see flush.h for the invariants). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flush.h"
#include "macro.h"

void flush_init(struct flush *f, const struct flush_config *cfg) {
        memset(f, 0, sizeof *f);
        f->cfg = *cfg;
        if (f->cfg.workers < 1)
                f->cfg.workers = 1;
        if (f->cfg.workers > FLUSH_MAX_WORKERS)
                f->cfg.workers = FLUSH_MAX_WORKERS;
}

void flush_done(struct flush *f) {
        for (size_t i = 0; i < f->n_chunks; i++) {
                free(f->chunks[i].key);
                free(f->chunks[i].error);
        }
        free(f->chunks);
        free(f->outputs);
        f->chunks = NULL;
        f->outputs = NULL;
        f->n_chunks = f->cap_chunks = f->n_outputs = 0;
}

/* Replace a malloc'd string; on no memory the old value stays (the verdict never depends on it). */
static void set_str(char **dst, const char *src) {
        if (*dst && strcmp(*dst, src) == 0)
                return;
        char *n = strdup(src);
        if (!n)
                return;
        free(*dst);
        *dst = n;
}

static struct flush_chunk *chunk_find(struct flush *f, const char *id) {
        for (size_t i = 0; i < f->n_chunks; i++)
                if (strcmp(f->chunks[i].id, id) == 0)
                        return &f->chunks[i];
        return NULL;
}

static struct flush_chunk *chunk_append(struct flush *f, const char *id, int worker) {
        if (f->n_chunks == f->cap_chunks) {
                size_t cap = f->cap_chunks ? f->cap_chunks * 2 : 16;
                struct flush_chunk *v = realloc(f->chunks, cap * sizeof *v);
                if (!v)
                        return NULL;
                f->chunks = v;
                f->cap_chunks = cap;
        }
        struct flush_chunk *c = &f->chunks[f->n_chunks++];
        memset(c, 0, sizeof *c);
        strncpy0(c->id, sizeof c->id, id, strlen(id));
        c->worker = worker;
        c->loss = FL_NONE;
        return c;
}

int flush_add_chunk(struct flush *f, const struct chunk_file *cf) {
        /* The snapshot is taken before anything is learnt from the log, so snapshot chunks come first. */
        if (f->n_chunks != f->n_snapshot)
                return -EINVAL;
        /* A chunk met twice (its b and q names, renamed during the scan) comes twice in a row: the
         * caller gives the snapshot sorted by id, 'q' last. Keep the later state. */
        if (f->n_snapshot > 0 && strcmp(f->chunks[f->n_snapshot - 1].id, cf->id) == 0) {
                f->chunks[f->n_snapshot - 1].queued_at_snapshot = cf->state == 'q';
                return 0;
        }
        struct flush_chunk *c = chunk_append(f, cf->id, cf->worker);
        if (!c)
                return -ENOMEM;
        c->bytes = cf->bytes;
        c->in_snapshot = true;
        c->queued_at_snapshot = cf->state == 'q';
        f->n_snapshot++;
        return 0;
}

static int64_t nonneg(int64_t v) { return v > 0 ? v : 0; }

int flush_add_output(struct flush *f, int worker, const struct mon_output *o) {
        struct flush_output *v = realloc(f->outputs, (f->n_outputs + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        f->outputs = v;
        struct flush_output *out = &f->outputs[f->n_outputs++];
        memset(out, 0, sizeof *out);
        out->worker = worker;
        out->base = *o;
        /* A chunk being uploaded has left the queue but not the queue bytes. */
        out->chunks_at_snapshot = nonneg(o->buffer_stage_length) + nonneg(o->buffer_queue_length);
        if (o->buffer_queue_length == 0 && o->buffer_queue_byte_size > 0)
                out->chunks_at_snapshot++;
        return 0;
}

static uint64_t output_bytes(const struct mon_output *o) {
        return (uint64_t)(nonneg(o->buffer_stage_byte_size) + nonneg(o->buffer_queue_byte_size));
}

bool flush_nothing_buffered(const struct flush *f) {
        if (f->cfg.have_files && f->n_snapshot > 0)
                return false;
        if (f->cfg.have_monitor) {
                for (size_t i = 0; i < f->n_outputs; i++)
                        if (f->outputs[i].chunks_at_snapshot > 0 || output_bytes(&f->outputs[i].base) > 0)
                                return false;
                /* the monitor answered and saw no buffered bytes in any targeted output */
                return f->cfg.have_files || f->n_outputs > 0;
        }
        return f->cfg.have_files;
}

void flush_signalled(struct flush *f, uint64_t now_ms) {
        f->signalled = true;
        f->signalled_ms = now_ms;
        /* The files prove their own chunks only. When monitor_agent holds more chunks in a worker than the
         * files show there (another output with a memory buffer, a path we were not given), it must drain
         * too. Compared worker by worker: a total could hide an uncovered worker. */
        if (f->cfg.have_files && f->cfg.have_monitor)
                for (int w = 0; w < FLUSH_MAX_WORKERS && !f->need_monitor; w++) {
                        int64_t held = 0, files = 0;
                        for (size_t i = 0; i < f->n_outputs; i++)
                                if (f->outputs[i].worker == w)
                                        held += f->outputs[i].chunks_at_snapshot;
                        for (size_t i = 0; i < f->n_snapshot; i++)
                                files += f->chunks[i].worker == w;
                        f->need_monitor = held > files;
                }
}

void flush_on_rejected_line(struct flush *f) { f->lines_rejected++; }

static void set_first_error(struct flush *f, const char *msg) {
        if (f->first_error[0] == '\0' && msg && msg[0])
                strncpy0(f->first_error, sizeof f->first_error, msg, strlen(msg));
}

static bool plugin_targeted(const struct flush *f, const char *plugin_id) {
        if (!f->cfg.plugin_ids || !f->cfg.plugin_ids[0] || plugin_id[0] == '\0')
                return true;   /* no choice made, or the line does not say: count it (conservative) */
        for (char *const *p = f->cfg.plugin_ids; *p; p++)
                if (strcmp(*p, plugin_id) == 0)
                        return true;
        return false;
}

static void mark_lost(struct flush *f, struct flush_chunk *c, enum fl_kind why, const struct fl_event *ev) {
        /* Bad news wins even over a chunk already counted as committed: the wait loop looks at the files
         * before it drains the log, so a chunk Fluentd moved away (backup, evacuation, …) is first seen
         * "gone" and only then its loss line is read. A forged loss line can only cost a false alarm. */
        c->state = CHUNK_LOST;
        c->loss = why;
        c->retrying = false;
        set_str(&c->error, ev->error[0] ? ev->error : fl_kind_name(why));
        set_first_error(f, ev->error[0] ? ev->error : fl_kind_name(why));
}

/* Bad news may take a few slots beyond FLUSH_MAX_LOG_CHUNKS: a loss must never be dropped because
 * "write chunk" lines (real or forged) filled the table. Once the reserve is used, losses are on record. */
#define LOSS_RESERVE 16

/* The chunk a log event names, or NULL when it is to be ignored. Chunks not in the snapshot are learnt
 * only when the snapshot cannot know the ids (no buffer files: memory buffer). */
static struct flush_chunk *event_chunk(struct flush *f, const struct fl_event *ev, bool learn) {
        if (ev->chunk_id[0] == '\0')
                return NULL;
        struct flush_chunk *c = chunk_find(f, ev->chunk_id);
        if (c)
                return c;
        size_t cap = FLUSH_MAX_LOG_CHUNKS + (fl_kind_is_loss(ev->kind) ? LOSS_RESERVE : 0);
        if (!learn || f->n_chunks - f->n_snapshot >= cap) {
                f->ids_ignored++;
                return NULL;
        }
        return chunk_append(f, ev->chunk_id, ev->worker < 0 ? 0 : ev->worker);
}

/* Two different chunks in S3 under one key: the later PUT replaced the earlier. A chunk is in S3 once
 * out_s3 logged "completed" for it, or once its files went without bad news (out_s3 < 1.8.2 logs only
 * "write chunk … to <key>" before the PUT). */
static bool chunk_in_s3(const struct flush_chunk *c) {
        return c->completed_logged || c->state == CHUNK_COMMITTED;
}

static void check_overwrite(struct flush *f, const struct flush_chunk *c) {
        if (!c->key || !chunk_in_s3(c) || f->overwrite_key[0])
                return;
        for (size_t i = 0; i < f->n_chunks; i++) {
                const struct flush_chunk *o = &f->chunks[i];
                if (o != c && o->key && chunk_in_s3(o) && strcmp(o->key, c->key) == 0) {
                        strncpy0(f->overwrite_key, sizeof f->overwrite_key, c->key, strlen(c->key));
                        return;
                }
        }
}

static void record_key(struct flush *f, struct flush_chunk *c, const char *key, bool completed) {
        if (!key[0])
                return;
        /* Once a chunk is in S3 its key is settled: a later (forged) line must not move it elsewhere and
         * hide an overwrite. A write after a failed one may change it (%{index} moved on). */
        if (c->state == CHUNK_COMMITTED || (c->completed_logged && !completed))
                return;
        set_str(&c->key, key);
        if (completed)
                c->completed_logged = true;
        check_overwrite(f, c);
}

void flush_on_log(struct flush *f, const struct fl_event *ev, uint64_t now_ms) {
        (void)now_ms;
        if (!f->signalled)
                return;                      /* lines before our signal are not ours */
        if (!plugin_targeted(f, ev->plugin_id))
                return;

        struct flush_chunk *c;
        switch (ev->kind) {
        case FL_ACK:
        case FL_FLUSHING_ALL:
                /* Only workers log these; without a supervisor (--no-supervisor) there is no "#N". */
                if (ev->worker < 0)
                        f->acked[0] = true;
                else if (ev->worker < FLUSH_MAX_WORKERS)
                        f->acked[ev->worker] = true;
                break;

        case FL_WRITE:
        case FL_COMPLETED:
                /* Keys of chunks outside the snapshot are kept too: a later chunk written to the key
                 * of one of ours overwrote it. They never count towards a confirmation. */
                c = event_chunk(f, ev, true);
                if (!c)
                        break;
                record_key(f, c, ev->key, ev->kind == FL_COMPLETED);
                if (ev->kind == FL_COMPLETED)
                        c->retrying = false;
                break;

        case FL_FLUSH_FAILED:
        case FL_SECONDARY_FAILED:
                set_first_error(f, ev->error);
                if (ev->next_retry_time[0])
                        strncpy0(f->next_retry_time, sizeof f->next_retry_time, ev->next_retry_time,
                                 strlen(ev->next_retry_time));
                c = event_chunk(f, ev, !f->cfg.have_files);
                if (!c)
                        break;
                c->retrying = true;
                set_str(&c->error, ev->error);
                strncpy0(c->next_retry_time, sizeof c->next_retry_time, ev->next_retry_time,
                         strlen(ev->next_retry_time));
                break;

        case FL_RETRY_SUCCEEDED:
                c = event_chunk(f, ev, !f->cfg.have_files);
                if (c)
                        c->retrying = false;
                break;

        case FL_RETRY_SUCCEEDED_SECONDARY:
        case FL_BACKUP:
        case FL_EVACUATED:
        case FL_THROWN_AWAY:
        case FL_OVERFLOW_DROP:
                c = event_chunk(f, ev, !f->cfg.have_files);
                if (c) {
                        mark_lost(f, c, ev->kind, ev);
                        /* the unrecoverable error before it named this chunk: the others are clear */
                        if (ev->kind == FL_BACKUP || ev->kind == FL_THROWN_AWAY)
                                for (size_t i = 0; i < f->n_chunks; i++)
                                        if (f->chunks[i].worker == c->worker && &f->chunks[i] != c)
                                                f->chunks[i].suspect = false;
                } else
                        set_first_error(f, ev->error);
                break;

        case FL_RETRY_LIMIT:
                /* "dropping all chunks in the buffer queue": every chunk of that worker still pending. */
                f->retry_limit_seen = true;
                if (ev->worker >= 0 && ev->worker < FLUSH_MAX_WORKERS)
                        f->dropped[ev->worker] = true;
                else
                        for (int w = 0; w < FLUSH_MAX_WORKERS; w++)
                                f->dropped[w] = true;
                set_first_error(f, ev->error[0] ? ev->error : "hit limit for retries: buffer queue dropped");
                for (size_t i = 0; i < f->n_chunks; i++) {
                        struct flush_chunk *x = &f->chunks[i];
                        if (x->state == CHUNK_PENDING && (ev->worker < 0 || x->worker == ev->worker))
                                mark_lost(f, x, FL_RETRY_LIMIT, ev);
                }
                break;

        case FL_UNRECOVERABLE:
                /* The chunk being written leaves the buffer (backup, throw-away or the secondary) and the
                 * line does not say which: every pending chunk of the worker is suspect until a line
                 * names it or out_s3 says "completed" for it. */
                set_first_error(f, ev->error);
                for (size_t i = 0; i < f->n_chunks; i++) {
                        struct flush_chunk *x = &f->chunks[i];
                        if (x->state == CHUNK_PENDING && (ev->worker < 0 || x->worker == ev->worker))
                                x->suspect = true;
                }
                /* without files nothing can say which chunk went: the output lost data */
                f->unrecoverable_seen = true;
                break;

        default:
                break;
        }
}

static int cmp_file_id(const void *a, const void *b) {
        return strcmp(((const struct chunk_file *)a)->id, ((const struct chunk_file *)b)->id);
}

static const struct chunk_file *find_sorted(const struct chunk_file *v, size_t n, const char *id) {
        struct chunk_file key = { 0 };   /* only the id is compared */
        strncpy0(key.id, sizeof key.id, id, strlen(id));
        return bsearch(&key, v, n, sizeof *v, cmp_file_id);
}

void flush_on_files(struct flush *f, const struct chunk_list *present, uint64_t now_ms) {
        (void)now_ms;
        /* Thousands of chunks: match by binary search over a sorted copy, not a scan per chunk. */
        struct chunk_file *sorted = NULL;
        if (present->n > 0) {
                sorted = malloc(present->n * sizeof *sorted);
                if (!sorted)
                        return;    /* no memory: nothing is marked gone, so nothing is confirmed */
                memcpy(sorted, present->v, present->n * sizeof *sorted);
                qsort(sorted, present->n, sizeof *sorted, cmp_file_id);
        }
        for (size_t i = 0; i < f->n_snapshot; i++) {
                struct flush_chunk *c = &f->chunks[i];
                const struct chunk_file *p = sorted ? find_sorted(sorted, present->n, c->id) : NULL;
                if (p) {
                        if (p->state == 'q' && !c->queued_at_snapshot)
                                c->queued = true;
                        continue;
                }
                c->file_gone = true;
                /* The caller drained the log after seeing the files: any loss was logged before the
                 * files went away, so a chunk without bad news is committed. */
                if (c->state == CHUNK_PENDING) {
                        if (c->suspect && !c->completed_logged) {
                                struct fl_event why = { .kind = FL_UNRECOVERABLE };
                                mark_lost(f, c, FL_UNRECOVERABLE, &why);
                                continue;
                        }
                        c->state = CHUNK_COMMITTED;
                        c->retrying = false;
                        check_overwrite(f, c);
                }
        }
        free(sorted);
}

static struct flush_output *output_find(struct flush *f, int worker, const char *plugin_id) {
        for (size_t i = 0; i < f->n_outputs; i++)
                if (f->outputs[i].worker == worker && strcmp(f->outputs[i].base.plugin_id, plugin_id) == 0)
                        return &f->outputs[i];
        return NULL;
}

static bool output_drained(const struct flush_output *o) {
        const struct mon_output *b = &o->base, *l = &o->last;
        if (!o->have_last)
                return false;
        if (l->buffer_queue_length != 0 || l->buffer_queue_byte_size != 0 || l->retry_pending)
                return false;
        /* Every chunk present at the snapshot must have been written successfully since. write_count
         * counts attempts and rollback_count the failed ones. */
        int64_t ok = (l->write_count - b->write_count) - (l->rollback_count - b->rollback_count);
        return ok >= o->chunks_at_snapshot;
}

/* Cumulative counters only grow; lower ones mean a new worker process (restarted by the supervisor). */
static bool counters_went_back(const struct mon_output *b, const struct mon_output *m) {
        const int64_t pairs[][2] = {
                { b->write_count, m->write_count },   { b->rollback_count, m->rollback_count },
                { b->retry_count, m->retry_count },   { b->emit_records, m->emit_records },
        };
        for (size_t i = 0; i < ELEMENTSOF(pairs); i++)
                if (pairs[i][0] >= 0 && pairs[i][1] >= 0 && pairs[i][1] < pairs[i][0])
                        return true;
        return false;
}

void flush_on_monitor(struct flush *f, int worker, const struct mon_snapshot *s, uint64_t now_ms) {
        (void)now_ms;
        for (size_t i = 0; i < s->n_outputs; i++) {
                const struct mon_output *m = &s->outputs[i];
                struct flush_output *o = output_find(f, worker, m->plugin_id);
                if (!o)
                        continue;
                o->last = *m;
                o->have_last = true;
                if (counters_went_back(&o->base, m) && !o->reset) {
                        o->reset = true;
                        f->outputs_reset++;
                        set_first_error(f, "a worker restarted during the flush (monitor_agent's counters went "
                                           "back): the memory buffer it held is gone");
                }
                if (m->retry_pending && m->retry_next_time[0])
                        strncpy0(f->next_retry_time, sizeof f->next_retry_time, m->retry_next_time,
                                 strlen(m->retry_next_time));
                /* A write attempt since the snapshot proves the worker took the flush. */
                if (m->write_count > o->base.write_count && worker >= 0 && worker < FLUSH_MAX_WORKERS)
                        f->acked[worker] = true;
                o->drained = !o->reset && output_drained(o);
        }
}

void flush_on_agent_exit(struct flush *f, uint64_t now_ms) {
        (void)now_ms;
        f->agent_gone = true;
}

static bool worker_acked(const struct flush *f, int w) {
        if (f->acked[w])
                return true;
        /* Buffer progress is an acknowledgement too (the log may be at warn level). */
        for (size_t i = 0; i < f->n_snapshot; i++)
                if (f->chunks[i].worker == w && (f->chunks[i].queued || f->chunks[i].file_gone))
                        return true;
        return false;
}

static unsigned count_acked(const struct flush *f) {
        unsigned n = 0;
        for (int w = 0; w < f->cfg.workers; w++)
                n += worker_acked(f, w);
        return n;
}

bool flush_all_acked(const struct flush *f) {
        return count_acked(f) == (unsigned)f->cfg.workers;
}

/* Is every piece of buffered data accounted for (committed or lost)? */
static bool monitor_resolved(const struct flush *f, bool *any_retrying) {
        bool resolved = true;
        for (size_t i = 0; i < f->n_outputs; i++) {
                const struct flush_output *o = &f->outputs[i];
                if (o->reset)
                        continue;      /* accounted for: lost with the worker */
                /* A dropped queue is accounted for (as lost) once the monitor shows it empty. */
                if (o->worker < FLUSH_MAX_WORKERS && f->dropped[o->worker] && o->have_last &&
                    o->last.buffer_queue_length == 0 && o->last.buffer_queue_byte_size == 0)
                        continue;
                if (!o->drained) {
                        resolved = false;
                        *any_retrying |= o->have_last && o->last.retry_pending;
                }
        }
        return resolved;
}

/* Is every piece of buffered data accounted for (committed or lost)? */
static bool all_resolved(const struct flush *f, bool *any_retrying) {
        bool resolved = true;
        *any_retrying = false;
        if (f->cfg.have_files) {
                for (size_t i = 0; i < f->n_snapshot; i++) {
                        if (f->chunks[i].state == CHUNK_PENDING) {
                                resolved = false;
                                *any_retrying |= f->chunks[i].retrying;
                        }
                }
                if (f->need_monitor && !monitor_resolved(f, any_retrying))
                        resolved = false;
        } else if (f->cfg.have_monitor && f->n_outputs > 0) {
                resolved = monitor_resolved(f, any_retrying);
        } else
                return false;     /* nothing can tell */
        if (!f->cfg.have_files)
                for (size_t i = 0; i < f->n_chunks; i++)
                        *any_retrying |= f->chunks[i].state == CHUNK_PENDING && f->chunks[i].retrying;
        return resolved;
}

static bool any_lost(const struct flush *f) {
        for (size_t i = 0; i < f->n_chunks; i++)
                if (f->chunks[i].state == CHUNK_LOST)
                        return true;
        /* a restarted worker loses a memory buffer; a file buffer's chunks stay on disk */
        bool monitor_is_evidence = !f->cfg.have_files || f->need_monitor;
        return f->retry_limit_seen ||
               (monitor_is_evidence && (f->outputs_reset > 0 || f->unrecoverable_seen));
}

/* Several workers writing to %{index} keys: two chunks may have got one key. The keys of every chunk
 * in S3 must have been seen (debug level) for the overwrite check to have looked at them. */
bool flush_unconfirmed_for_keys(const struct flush *f) {
        if (!f->cfg.keys_may_collide || f->n_snapshot + f->n_outputs == 0)
                return false;
        if (!f->cfg.have_files)
                return true;     /* memory buffer: no per-chunk view at all */
        for (size_t i = 0; i < f->n_snapshot; i++)
                if (f->chunks[i].state == CHUNK_COMMITTED && !f->chunks[i].key)
                        return true;
        return false;
}

/* Without files or monitor: the log can show the flush happening, never prove it complete. */
static bool log_writes_settled(const struct flush *f) {
        for (size_t i = f->n_snapshot; i < f->n_chunks; i++)
                if (f->chunks[i].state == CHUNK_PENDING && !f->chunks[i].completed_logged)
                        return false;
        return true;
}

int flush_evaluate(const struct flush *f, uint64_t now_ms, bool deadline_reached) {
        bool retrying = false;
        bool resolved = all_resolved(f, &retrying);
        bool can_confirm = f->cfg.have_files || (f->cfg.have_monitor && f->n_outputs > 0);
        bool acked = count_acked(f) == (unsigned)f->cfg.workers;

        if (resolved) {
                if (f->overwrite_key[0])
                        return FF_EXIT_OVERWRITTEN;
                if (any_lost(f))
                        return FF_EXIT_DATA_LOST;
                if (flush_unconfirmed_for_keys(f) || f->cfg.losses_hidden)
                        return FF_EXIT_UNCONFIRMED;
                return FF_EXIT_CONFIRMED;
        }
        if (f->agent_gone)
                return FF_EXIT_NOT_RUNNING;
        if (!acked && f->cfg.ack_timeout_ms > 0 && f->signalled &&
            now_ms >= f->signalled_ms + (uint64_t)f->cfg.ack_timeout_ms)
                return FF_EXIT_NO_ACK;

        if (!can_confirm) {
                /* Show what the log shows, then say plainly that it proves nothing. */
                if (f->overwrite_key[0])
                        return FF_EXIT_OVERWRITTEN;
                if (any_lost(f))
                        return FF_EXIT_DATA_LOST;
                if (deadline_reached)
                        return retrying ? FF_EXIT_UPLOAD_FAILING : FF_EXIT_UNCONFIRMED;
                if (acked && !retrying && log_writes_settled(f))
                        return FF_EXIT_UNCONFIRMED;
                return -1;
        }
        if (!deadline_reached)
                return -1;
        if (f->overwrite_key[0])
                return FF_EXIT_OVERWRITTEN;
        if (any_lost(f))
                return FF_EXIT_DATA_LOST;
        if (!acked && f->cfg.ack_timeout_ms > 0)
                return FF_EXIT_NO_ACK;
        return retrying ? FF_EXIT_UPLOAD_FAILING : FF_EXIT_DEADLINE;
}

void flush_counts(const struct flush *f, struct flush_counts *c) {
        memset(c, 0, sizeof *c);
        c->workers_expected = (unsigned)f->cfg.workers;
        c->workers_acked = count_acked(f);
        if (f->cfg.have_files) {
                for (size_t i = 0; i < f->n_snapshot; i++) {
                        const struct flush_chunk *k = &f->chunks[i];
                        c->buffered++;
                        c->bytes_buffered += k->bytes;
                        switch (k->state) {
                        case CHUNK_COMMITTED:
                                c->committed++;
                                c->bytes_committed += k->bytes;
                                break;
                        case CHUNK_LOST:
                                c->lost++;
                                break;
                        default:
                                c->pending++;
                                c->failed += k->retrying;
                        }
                }
                return;
        }
        for (size_t i = 0; i < f->n_outputs; i++) {
                const struct flush_output *o = &f->outputs[i];
                unsigned n = (unsigned)o->chunks_at_snapshot;
                uint64_t b = output_bytes(&o->base);
                c->buffered += n;
                c->bytes_buffered += b;
                if (o->reset) {
                        c->lost += n;
                } else if (o->drained) {
                        c->committed += n;
                        c->bytes_committed += b;
                } else {
                        c->pending += n;
                        if (o->have_last && o->last.retry_pending)
                                c->failed += n;
                }
        }
        for (size_t i = 0; i < f->n_chunks; i++)
                if (f->chunks[i].state == CHUNK_LOST) {
                        c->lost++;
                        if (c->committed > 0 && f->cfg.have_monitor)
                                c->committed--;
                }
}
