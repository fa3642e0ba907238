/* fuzz_flush.c — libFuzzer target for the state machine (flush.c): the input is decoded into a sequence of
 * snapshot chunks, monitor outputs, the signal, log events, buffer-file lists, monitor samples, agent exit
 * and flush_evaluate() calls. A small model kept here checks, after every step:
 *   - FF_EXIT_CONFIRMED (with buffer files) only once every snapshot chunk's files were seen gone;
 *   - a snapshot chunk that got bad news after the signal (secondary, backup, evacuated, thrown away,
 *     overflow drop) is never in state "committed";
 *   - never FF_EXIT_CONFIRMED once any targeted bad news arrived after the signal (a loss naming a
 *     snapshot chunk, any loss in memory-buffer mode, or "hit limit for retries");
 *   - the verdict is -1 or one of the flush exit codes, and the counts add up.
 * abort() on a violation. Input layout: byte 0 = configuration, then ops (low nibble = op, high nibble =
 * time step of 250 ms) with their argument bytes; a missing byte reads as 0.
 * Build: fuzz/fuzz.mk (`make fuzz-build`); the unit test test_corpus.c replays tests/unit/corpus/flush/. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flush.h"

#define FZF_POOL 8            /* chunk ids an input can name; ids 8 and 9 are never in any snapshot */
#define FZF_MAX_OPS 2048
#define FZF_FLOOD_MAX 4200    /* beyond FLUSH_MAX_LOG_CHUNKS and the loss reserve */

#define FZF_CHECK(x)                                                                    \
        do {                                                                            \
                if (!(x)) {                                                             \
                        fprintf(stderr, "fuzz_flush: invariant violated: %s (line %d)\n", \
                                #x, __LINE__);                                          \
                        abort();                                                        \
                }                                                                       \
        } while (0)

struct fzf_in {
        const uint8_t *p;
        size_t n;
};

static uint8_t fzf_byte(struct fzf_in *in) {
        if (in->n == 0)
                return 0;
        in->n--;
        return *in->p++;
}

static void fzf_id(unsigned idx, char out[33]) {
        /* pool ids share a prefix, like real ids created in the same second */
        snprintf(out, 33, "661d3a8cf64e953754b07c6f27cc52%02x", idx & 0xffu);
}

/* Distinct ids that differ in their first bytes: flush.c compares ids linearly, and ids sharing a long
 * prefix would make a flood needlessly slow. */
static void fzf_fresh_id(unsigned long n, char out[33]) {
        snprintf(out, 33, "%08lxffff%020lx", (unsigned long)((n * 2654435761u) & 0xffffffffu), n);
}

static const char *const fzf_plugins[] = { "", "out_s3", "other" };
static const char *const fzf_keys[] = { "", "s3://b/p/k_0.gz", "s3://b/p/k_1.gz", "s3://b/p/k_0.gz" };
static char *fzf_targets[] = { (char *)"out_s3", NULL };

/* The model: what the harness fed in. */
struct fzf_model {
        bool in_snapshot[FZF_POOL];
        bool files_gone[FZF_POOL];
        bool bad_news[FZF_POOL];
        bool any_bad_news;          /* a targeted loss after the signal, naming any id (memory buffer) */
        bool retry_limit;
        bool signalled;
};

static bool fzf_is_chunk_loss(enum fl_kind k) {
        return k == FL_RETRY_SUCCEEDED_SECONDARY || k == FL_BACKUP || k == FL_EVACUATED || k == FL_THROWN_AWAY ||
               k == FL_OVERFLOW_DROP;
}

static bool fzf_targeted(const struct flush *f, const char *plugin_id) {
        if (!f->cfg.plugin_ids || !f->cfg.plugin_ids[0] || plugin_id[0] == '\0')
                return true;
        for (char *const *p = f->cfg.plugin_ids; *p; p++)
                if (strcmp(*p, plugin_id) == 0)
                        return true;
        return false;
}

/* A snapshot chunk (they come first in f->chunks). */
static const struct flush_chunk *fzf_chunk(const struct flush *f, unsigned idx) {
        char id[33];
        fzf_id(idx, id);
        for (size_t i = 0; i < f->n_snapshot; i++)
                if (strcmp(f->chunks[i].id, id) == 0)
                        return &f->chunks[i];
        return NULL;
}

/* Every string in the state is terminated (once per input: thousands of learnt chunks make it slow). */
static void fzf_check_strings(const struct flush *f) {
        for (size_t i = 0; i < f->n_chunks; i++) {
                FZF_CHECK(strlen(f->chunks[i].id) == 32);
                /* key and error are malloc'd strings (NULL when none): touch every byte for ASan */
                FZF_CHECK(!f->chunks[i].key || strlen(f->chunks[i].key) < 4096);
                FZF_CHECK(!f->chunks[i].error || strlen(f->chunks[i].error) < 4096);
                FZF_CHECK(memchr(f->chunks[i].next_retry_time, 0, sizeof f->chunks[i].next_retry_time));
        }
        FZF_CHECK(memchr(f->first_error, 0, sizeof f->first_error));
        FZF_CHECK(memchr(f->next_retry_time, 0, sizeof f->next_retry_time));
        FZF_CHECK(memchr(f->overwrite_key, 0, sizeof f->overwrite_key));
}

static void fzf_check_state(const struct flush *f, const struct fzf_model *m) {
        FZF_CHECK(f->n_snapshot <= f->n_chunks && f->n_chunks <= f->cap_chunks);
        FZF_CHECK(f->n_chunks - f->n_snapshot <= FLUSH_MAX_LOG_CHUNKS + 16); /* + flush.c LOSS_RESERVE */
        for (unsigned i = 0; i < FZF_POOL; i++) {
                if (!m->in_snapshot[i])
                        continue;
                const struct flush_chunk *c = fzf_chunk(f, i);
                FZF_CHECK(c && c->in_snapshot);
                if (m->bad_news[i])
                        FZF_CHECK(c->state != CHUNK_COMMITTED);
                if (c->state == CHUNK_COMMITTED)
                        FZF_CHECK(m->files_gone[i]);
        }
}

static void fzf_check_verdict(const struct flush *f, const struct fzf_model *m, int v) {
        FZF_CHECK(v == -1 || v == FF_EXIT_CONFIRMED || v == FF_EXIT_NOT_RUNNING || v == FF_EXIT_NO_ACK ||
                  v == FF_EXIT_UPLOAD_FAILING || v == FF_EXIT_DATA_LOST || v == FF_EXIT_OVERWRITTEN ||
                  v == FF_EXIT_DEADLINE || v == FF_EXIT_UNCONFIRMED);
        if (v == FF_EXIT_CONFIRMED) {
                FZF_CHECK(f->cfg.have_files || f->cfg.have_monitor);
                FZF_CHECK(!m->retry_limit);
                if (f->cfg.have_files) {
                        for (unsigned i = 0; i < FZF_POOL; i++) {
                                if (!m->in_snapshot[i])
                                        continue;
                                FZF_CHECK(m->files_gone[i]);
                                FZF_CHECK(!m->bad_news[i]);
                        }
                } else
                        FZF_CHECK(!m->any_bad_news);
        }
        struct flush_counts c;
        flush_counts(f, &c);
        FZF_CHECK(c.committed + c.pending <= c.buffered + c.lost);
        FZF_CHECK(c.workers_acked <= c.workers_expected);
        if (f->cfg.have_files)
                FZF_CHECK(c.committed + c.pending + c.lost == c.buffered);
}

static void fzf_mon_output(struct fzf_in *in, struct mon_output *o) {
        memset(o, 0, sizeof *o);
        strcpy(o->plugin_id, fzf_plugins[1 + fzf_byte(in) % 2]);
        strcpy(o->type, "s3");
        uint8_t a = fzf_byte(in), b = fzf_byte(in), c = fzf_byte(in);
        o->buffer_queue_length = a == 255 ? -1 : a % 4;
        o->buffer_queue_byte_size = a == 255 ? -1 : (a >> 2) % 4 * 1000;
        o->buffer_stage_length = b == 255 ? -1 : b % 4;
        o->buffer_stage_byte_size = b == 255 ? -1 : (b >> 2) % 4 * 1000;
        o->buffer_total_queued_size = -1;
        o->write_count = c == 255 ? -1 : c % 16;
        o->rollback_count = c == 255 ? -1 : (c >> 4) % 4;
        o->retry_count = -1;
        o->emit_records = -1;
        o->has_retry = a & 0x40;
        o->retry_pending = o->has_retry && (a & 0x80);
        if (o->retry_pending)
                strcpy(o->retry_next_time, "2026-12-04 20:00:00 +0000");
}

static struct mon_snapshot fzf_snap;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fzf_in in = { data, size };
        struct fzf_model m;
        struct flush f;
        uint64_t now = 1000;
        unsigned long fresh = 0;

        memset(&m, 0, sizeof m);
        uint8_t cfgb = fzf_byte(&in);
        struct flush_config cfg = {
                .workers = 1 + (cfgb & 3),
                .have_files = cfgb & 4,
                .have_monitor = cfgb & 8,
                .have_log = !(cfgb & 16),
                .ack_timeout_ms = (cfgb & 64) ? 0 : 15000,
                .plugin_ids = (cfgb & 32) ? fzf_targets : NULL,
        };
        flush_init(&f, &cfg);

        for (unsigned ops = 0; in.n > 0 && ops < FZF_MAX_OPS; ops++) {
                uint8_t op = fzf_byte(&in);
                now += (uint64_t)(op >> 4) * 250;
                switch (op & 15) {
                case 0: { /* a snapshot chunk (the caller only takes one with buffer paths) */
                        uint8_t a = fzf_byte(&in), b = fzf_byte(&in);
                        if (!cfg.have_files || m.signalled)
                                break;
                        struct chunk_file cf = { .worker = (a >> 3) % 4, .state = (a & 0x80) ? 'q' : 'b',
                                                 .bytes = (uint64_t)b * 1000 };
                        fzf_id(a % FZF_POOL, cf.id);
                        int r = flush_add_chunk(&f, &cf);
                        FZF_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
                        if (r == 0)
                                m.in_snapshot[a % FZF_POOL] = true;
                        break;
                }
                case 1: { /* a monitor output at the snapshot */
                        uint8_t w = fzf_byte(&in);
                        struct mon_output o;
                        fzf_mon_output(&in, &o);
                        if (!cfg.have_monitor || m.signalled)
                                break;
                        FZF_CHECK(flush_add_output(&f, w % cfg.workers, &o) == 0);
                        break;
                }
                case 2:
                        if (!m.signalled)
                                (void)flush_nothing_buffered(&f);
                        flush_signalled(&f, now);
                        m.signalled = true;
                        break;
                case 3:
                case 4:
                case 5: { /* a log event, as fl_parse_line() reports it */
                        uint8_t k = fzf_byte(&in), w = fzf_byte(&in), c = fzf_byte(&in), x = fzf_byte(&in);
                        struct fl_event ev;
                        memset(&ev, 0, sizeof ev);
                        ev.kind = (enum fl_kind)(k % _FL_KIND_MAX);
                        ev.level = (enum fl_level)((k >> 5) % 6);
                        ev.worker = (w & 0x80) ? -1 : (w & 0x40) ? 70 + (w & 7) : (w % 5);
                        ev.retry_times = -1;
                        strcpy(ev.plugin_id, fzf_plugins[(x & 3) % 3]);
                        unsigned idx = c % 16;
                        if (idx < 10)
                                fzf_id(idx, ev.chunk_id);
                        strcpy(ev.key, fzf_keys[(x >> 2) & 3]);
                        if (x & 0x10)
                                strcpy(ev.error, "error_class=Aws::S3::Errors::ServiceUnavailable error=\"down\"");
                        if (x & 0x20)
                                strcpy(ev.next_retry_time, "2026-12-04 20:00:01 +0000");
                        if (m.signalled && fzf_targeted(&f, ev.plugin_id)) {
                                if (fzf_is_chunk_loss(ev.kind) && ev.chunk_id[0]) {
                                        m.any_bad_news = true;
                                        if (idx < FZF_POOL)
                                                m.bad_news[idx] = true;
                                }
                                if (ev.kind == FL_RETRY_LIMIT)
                                        m.retry_limit = true;
                        }
                        flush_on_log(&f, &ev, now);
                        break;
                }
                case 6: { /* the buffer files present now */
                        uint8_t mask = fzf_byte(&in), q = fzf_byte(&in), extra = fzf_byte(&in);
                        struct chunk_list l = { 0 };
                        l.v = calloc(FZF_POOL + 2, sizeof *l.v);
                        if (!l.v)
                                break;
                        l.cap = FZF_POOL + 2;
                        for (unsigned i = 0; i < FZF_POOL + 2; i++) {
                                bool present = i < FZF_POOL ? (mask >> i) & 1 : (extra >> (i - FZF_POOL)) & 1;
                                if (!present) {
                                        if (i < FZF_POOL && m.in_snapshot[i])
                                                m.files_gone[i] = true;
                                        continue;
                                }
                                struct chunk_file *cf = &l.v[l.n++];
                                fzf_id(i, cf->id);
                                cf->state = (i < 8 && ((q >> i) & 1)) ? 'q' : 'b';
                                cf->worker = (extra >> 4) % 4;
                                cf->bytes = 100;
                        }
                        flush_on_files(&f, &l, now);
                        chunk_list_done(&l);
                        break;
                }
                case 7: { /* a monitor sample of one worker */
                        uint8_t w = fzf_byte(&in), n = fzf_byte(&in);
                        memset(&fzf_snap, 0, sizeof fzf_snap);
                        fzf_snap.n_outputs = n % 4;
                        for (size_t i = 0; i < fzf_snap.n_outputs; i++)
                                fzf_mon_output(&in, &fzf_snap.outputs[i]);
                        if (!cfg.have_monitor)
                                break;
                        flush_on_monitor(&f, w % (cfg.workers + 1), &fzf_snap, now);
                        break;
                }
                case 8:
                        flush_on_agent_exit(&f, now);
                        break;
                case 9:
                        flush_on_rejected_line(&f);
                        break;
                case 10: { /* many chunk ids learnt from the log (a big memory buffer, or forged lines) */
                        uint8_t n = fzf_byte(&in), k = fzf_byte(&in);
                        /* flush.c looks chunk ids up linearly: a flood costs ~10 ms, so it needs a
                         * two-byte key (F1 0D) and does not slow every other input down */
                        if (fzf_byte(&in) != 0xf1 || fzf_byte(&in) != 0x0d)
                                break;
                        static const enum fl_kind kinds[] = { FL_WRITE, FL_COMPLETED, FL_FLUSH_FAILED,
                                                              FL_CHUNK_CREATED };
                        struct fl_event ev;
                        memset(&ev, 0, sizeof ev);
                        ev.kind = kinds[k % 4];
                        ev.worker = 0;
                        ev.retry_times = -1;
                        strcpy(ev.key, "s3://b/p/flood");
                        for (unsigned i = 0; i < (unsigned)n * 32 && fresh < FZF_FLOOD_MAX; i++) {
                                fzf_fresh_id(fresh++, ev.chunk_id);
                                flush_on_log(&f, &ev, now);
                        }
                        break;
                }
                default: { /* evaluate, as the wait loop does after every batch of evidence */
                        uint8_t d = fzf_byte(&in);
                        int v = flush_evaluate(&f, now, d & 1);
                        fzf_check_verdict(&f, &m, v);
                        break;
                }
                }
                fzf_check_state(&f, &m);
        }
        /* The wait loop always ends with the deadline. */
        fzf_check_verdict(&f, &m, flush_evaluate(&f, now + 1000, true));
        fzf_check_state(&f, &m);
        fzf_check_strings(&f);
        flush_done(&f);
        return 0;
}
