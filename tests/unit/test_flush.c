/* test_flush.c — the state machine: synthetic evidence sequences, and replays of the real Fluentd runs. */
#include "unit.h"

#include <errno.h>

#include "flush.h"
#include "flushtest.h"

#define ID_A "661d3a8cf64e953754b07c6f27cc5214"
#define ID_B "661d3b2a55face116dcc2f995dbcef37"
#define ID_X "00000000000000000000000000000000"

static struct fl_event ev(enum fl_kind kind, int worker, const char *id) {
        struct fl_event e;
        memset(&e, 0, sizeof e);
        e.kind = kind;
        e.worker = worker;
        e.retry_times = -1;
        strcpy(e.plugin_id, "out_s3");
        if (id)
                strcpy(e.chunk_id, id);
        return e;
}

static struct fl_event ev_key(enum fl_kind kind, int worker, const char *id, const char *key) {
        struct fl_event e = ev(kind, worker, id);
        strcpy(e.key, key);
        return e;
}

static void test_file_buffer_confirmed(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 46690, 'b');
        assert_false(flush_nothing_buffered(&f));
        flush_signalled(&f, 1000);
        assert_int_equal(flush_evaluate(&f, 1001, false), -1);
        struct fl_event e = ev(FL_ACK, 0, NULL);
        flush_on_log(&f, &e, 1002);
        e = ev_key(FL_COMPLETED, 0, ID_A, "s3://b/k_0.gz");
        flush_on_log(&f, &e, 1003);
        /* "completed" alone proves nothing: the files are still there */
        files_present(&f, (const char *const[]){ ID_A, NULL }, 1004);
        assert_int_equal(flush_evaluate(&f, 1005, false), -1);
        files_present(&f, NULL, 1006);
        assert_int_equal(flush_evaluate(&f, 1007, false), FF_EXIT_CONFIRMED);
        struct flush_counts c;
        flush_counts(&f, &c);
        assert_int_equal(c.buffered, 1);
        assert_int_equal(c.committed, 1);
        assert_int_equal(c.bytes_committed, 46690);
        assert_int_equal(c.workers_acked, 1);
        flush_done(&f);
}

static void test_nothing_buffered(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        assert_true(flush_nothing_buffered(&f));
        flush_done(&f);
        /* no files and no monitor: we cannot say nothing is buffered */
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_log = true });
        assert_false(flush_nothing_buffered(&f));
        flush_done(&f);
}

static void test_forged_completed_never_confirms(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 10, 'b');
        flush_signalled(&f, 0);
        struct fl_event e = ev(FL_ACK, 0, NULL);
        flush_on_log(&f, &e, 1);
        for (int i = 0; i < 3; i++) {
                e = ev_key(FL_COMPLETED, 0, ID_A, "s3://b/forged");
                flush_on_log(&f, &e, 2);
                e = ev(FL_RETRY_SUCCEEDED, 0, ID_A);
                flush_on_log(&f, &e, 2);
        }
        files_present(&f, (const char *const[]){ ID_A, NULL }, 3);
        assert_int_equal(flush_evaluate(&f, 4, false), -1);
        assert_int_equal(flush_evaluate(&f, 999999, true), FF_EXIT_DEADLINE);
        flush_done(&f);
}

static void test_unknown_ids_ignored(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 10, 'b');
        flush_signalled(&f, 0);
        struct fl_event e = ev(FL_BACKUP, 0, ID_X);    /* not ours: another output's chunk */
        flush_on_log(&f, &e, 1);
        files_present(&f, NULL, 2);
        assert_int_equal(flush_evaluate(&f, 3, false), FF_EXIT_CONFIRMED);
        assert_int_equal(f.ids_ignored, 1);
        flush_done(&f);
}

static void test_lines_before_signal_ignored(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 10, 'b');
        struct fl_event e = ev(FL_BACKUP, 0, ID_A);
        flush_on_log(&f, &e, 1);    /* before our signal */
        flush_signalled(&f, 2);
        files_present(&f, NULL, 3);
        assert_int_equal(flush_evaluate(&f, 4, false), FF_EXIT_CONFIRMED);
        flush_done(&f);
}

static void test_loss_kinds(void **state) {
        (void)state;
        static const enum fl_kind kinds[] = { FL_BACKUP, FL_EVACUATED, FL_THROWN_AWAY, FL_OVERFLOW_DROP,
                                              FL_RETRY_SUCCEEDED_SECONDARY };
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
                struct flush f;
                files_init(&f, 1);
                add_chunk(&f, ID_A, 0, 10, 'q');
                add_chunk(&f, ID_B, 0, 20, 'b');
                flush_signalled(&f, 0);
                struct fl_event e = ev(kinds[i], 0, ID_A);
                strcpy(e.error, "the reason");
                flush_on_log(&f, &e, 1);
                /* the lost chunk's files go, the other chunk is still uploading: keep waiting */
                files_present(&f, (const char *const[]){ ID_B, NULL }, 2);
                assert_int_equal(flush_evaluate(&f, 3, false), -1);
                files_present(&f, NULL, 4);
                assert_int_equal(flush_evaluate(&f, 5, false), FF_EXIT_DATA_LOST);
                struct flush_counts c;
                flush_counts(&f, &c);
                assert_int_equal(c.lost, 1);
                assert_int_equal(c.committed, 1);
                assert_string_equal(f.first_error, "the reason");
                flush_done(&f);
        }
}

static void test_retry_limit_drops_worker_queue(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 2);
        add_chunk(&f, ID_A, 0, 10, 'b');
        add_chunk(&f, ID_B, 1, 10, 'b');
        flush_signalled(&f, 0);
        struct fl_event e = ev(FL_RETRY_LIMIT, 0, NULL);
        flush_on_log(&f, &e, 1);
        files_present(&f, NULL, 2);
        assert_int_equal(flush_evaluate(&f, 3, false), FF_EXIT_DATA_LOST);
        struct flush_counts c;
        flush_counts(&f, &c);
        assert_int_equal(c.lost, 1);        /* worker 0's chunk */
        assert_int_equal(c.committed, 1);   /* worker 1's chunk */
        flush_done(&f);
}

static void test_overwrite(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 2);
        add_chunk(&f, ID_A, 0, 10, 'b');
        add_chunk(&f, ID_B, 1, 10, 'b');
        flush_signalled(&f, 0);
        struct fl_event e = ev_key(FL_COMPLETED, 0, ID_A, "s3://b/p/2026120419_0.gz");
        flush_on_log(&f, &e, 1);
        e = ev_key(FL_COMPLETED, 1, ID_B, "s3://b/p/2026120419_0.gz");
        flush_on_log(&f, &e, 1);
        files_present(&f, NULL, 2);
        assert_int_equal(flush_evaluate(&f, 3, false), FF_EXIT_OVERWRITTEN);
        assert_string_equal(f.overwrite_key, "s3://b/p/2026120419_0.gz");
        flush_done(&f);
}

static void test_same_chunk_same_key_is_no_overwrite(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 10, 'b');
        flush_signalled(&f, 0);
        for (int i = 0; i < 2; i++) {
                struct fl_event e = ev_key(FL_COMPLETED, 0, ID_A, "s3://b/k");
                flush_on_log(&f, &e, 1);
        }
        files_present(&f, NULL, 2);
        assert_int_equal(flush_evaluate(&f, 3, false), FF_EXIT_CONFIRMED);
        flush_done(&f);
}

static void test_retry_then_deadline(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 10, 'b');
        flush_signalled(&f, 0);
        struct fl_event e = ev(FL_ACK, 0, NULL);
        flush_on_log(&f, &e, 1);
        e = ev(FL_FLUSH_FAILED, 0, ID_A);
        e.retry_times = 0;
        strcpy(e.next_retry_time, "2026-12-04 19:13:59 +0000");
        strcpy(e.error, "error_class=Seahorse::Client::NetworkingError error=\"refused\"");
        flush_on_log(&f, &e, 2);
        files_present(&f, (const char *const[]){ ID_A, NULL }, 3);
        assert_int_equal(flush_evaluate(&f, 4, false), -1);
        assert_int_equal(flush_evaluate(&f, 300000, true), FF_EXIT_UPLOAD_FAILING);
        assert_string_equal(f.next_retry_time, "2026-12-04 19:13:59 +0000");
        /* then S3 comes back */
        e = ev(FL_RETRY_SUCCEEDED, 0, ID_A);
        flush_on_log(&f, &e, 5);
        files_present(&f, NULL, 6);
        assert_int_equal(flush_evaluate(&f, 7, false), FF_EXIT_CONFIRMED);
        flush_done(&f);
}

static void test_no_ack_is_hung(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 2);
        add_chunk(&f, ID_A, 0, 10, 'b');
        add_chunk(&f, ID_B, 1, 10, 'b');
        flush_signalled(&f, 1000);
        struct fl_event e = ev(FL_ACK, 0, NULL);
        flush_on_log(&f, &e, 1001);
        assert_int_equal(flush_evaluate(&f, 15999, false), -1);
        assert_int_equal(flush_evaluate(&f, 16000, false), FF_EXIT_NO_ACK);
        struct flush_counts c;
        flush_counts(&f, &c);
        assert_int_equal(c.workers_acked, 1);
        assert_int_equal(c.workers_expected, 2);
        flush_done(&f);
}

static void test_ack_check_off(void **state) {
        (void)state;
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_files = true, .have_log = true, .ack_timeout_ms = 0 });
        add_chunk(&f, ID_A, 0, 10, 'b');
        flush_signalled(&f, 0);
        assert_int_equal(flush_evaluate(&f, 60000, false), -1);
        assert_int_equal(flush_evaluate(&f, 60001, true), FF_EXIT_DEADLINE);
        flush_done(&f);
}

static void test_buffer_progress_counts_as_ack(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_B, 0, 10, 'q');   /* already queued before the signal: not an ack */
        flush_signalled(&f, 0);
        files_present(&f, (const char *const[]){ ID_B, NULL }, 1);
        assert_int_equal(flush_evaluate(&f, 20000, false), FF_EXIT_NO_ACK);
        flush_done(&f);
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 10, 'b');
        add_chunk(&f, ID_B, 0, 10, 'b');
        flush_signalled(&f, 0);
        files_present(&f, (const char *const[]){ ID_A, ID_B, NULL }, 1);   /* b → q: enqueued by us */
        assert_int_equal(flush_evaluate(&f, 20000, false), -1);
        flush_done(&f);
}

static void test_agent_exit(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, ID_A, 0, 10, 'b');
        flush_signalled(&f, 0);
        flush_on_agent_exit(&f, 5);
        assert_int_equal(flush_evaluate(&f, 6, false), FF_EXIT_NOT_RUNNING);
        flush_done(&f);
}

static void test_log_only_is_unconfirmed(void **state) {
        (void)state;
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_log = true, .ack_timeout_ms = 15000 });
        flush_signalled(&f, 0);
        assert_int_equal(flush_evaluate(&f, 1, false), -1);
        struct fl_event e = ev(FL_ACK, 0, NULL);
        flush_on_log(&f, &e, 1);
        e = ev_key(FL_WRITE, 0, ID_A, "s3://b/k");
        flush_on_log(&f, &e, 2);
        assert_int_equal(flush_evaluate(&f, 3, false), -1);    /* a write is under way */
        e = ev_key(FL_COMPLETED, 0, ID_A, "s3://b/k");
        flush_on_log(&f, &e, 4);
        assert_int_equal(flush_evaluate(&f, 5, false), FF_EXIT_UNCONFIRMED);
        flush_done(&f);
}

static struct mon_output mon(const char *id, int64_t stage_len, int64_t stage_bytes, int64_t q_len, int64_t q_bytes,
                             int64_t writes, int64_t rollbacks, bool retry) {
        struct mon_output o;
        memset(&o, 0, sizeof o);
        strcpy(o.plugin_id, id);
        strcpy(o.type, "s3");
        o.buffer_stage_length = stage_len;
        o.buffer_stage_byte_size = stage_bytes;
        o.buffer_queue_length = q_len;
        o.buffer_queue_byte_size = q_bytes;
        o.write_count = writes;
        o.rollback_count = rollbacks;
        o.has_retry = true;
        o.retry_pending = retry;
        if (retry)
                strcpy(o.retry_next_time, "2026-12-04 19:14:06 +0000");
        return o;
}

static void sample(struct flush *f, int worker, struct mon_output o, uint64_t now) {
        struct mon_snapshot s;
        memset(&s, 0, sizeof s);
        s.n_outputs = 1;
        s.outputs[0] = o;
        flush_on_monitor(f, worker, &s, now);
}

static void test_memory_buffer_monitor(void **state) {
        (void)state;
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_monitor = true, .have_log = true,
                                               .ack_timeout_ms = 15000 });
        struct mon_output base = mon("out_s3", 1, 46690, 0, 0, 0, 0, false);
        assert_int_equal(flush_add_output(&f, 0, &base), 0);
        assert_false(flush_nothing_buffered(&f));
        flush_signalled(&f, 0);
        /* right after the signal, before Fluentd acts: the queue is still empty — must not confirm */
        sample(&f, 0, mon("out_s3", 1, 46690, 0, 0, 0, 0, false), 1);
        assert_int_equal(flush_evaluate(&f, 2, false), -1);
        /* in flight: queue length 0 but bytes still counted */
        sample(&f, 0, mon("out_s3", 0, 0, 0, 46690, 1, 0, false), 3);
        assert_int_equal(flush_evaluate(&f, 4, false), -1);
        sample(&f, 0, mon("out_s3", 0, 0, 0, 0, 1, 0, false), 5);
        assert_int_equal(flush_evaluate(&f, 6, false), FF_EXIT_CONFIRMED);
        struct flush_counts c;
        flush_counts(&f, &c);
        assert_int_equal(c.committed, 1);
        assert_int_equal(c.bytes_committed, 46690);
        flush_done(&f);
}

static void test_memory_buffer_monitor_retry(void **state) {
        (void)state;
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_monitor = true, .have_log = true,
                                               .ack_timeout_ms = 15000 });
        struct mon_output base = mon("out_s3", 1, 46690, 0, 0, 0, 0, false);
        flush_add_output(&f, 0, &base);
        flush_signalled(&f, 0);
        sample(&f, 0, mon("out_s3", 0, 0, 1, 46690, 3, 3, true), 10);
        assert_int_equal(flush_evaluate(&f, 11, true), FF_EXIT_UPLOAD_FAILING);
        assert_string_equal(f.next_retry_time, "2026-12-04 19:14:06 +0000");
        /* recovered: 4 writes, 3 rolled back = 1 success for 1 chunk */
        sample(&f, 0, mon("out_s3", 0, 0, 0, 0, 4, 3, false), 20);
        assert_int_equal(flush_evaluate(&f, 21, false), FF_EXIT_CONFIRMED);
        flush_done(&f);
}

static void test_memory_buffer_dropped(void **state) {
        (void)state;
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_monitor = true, .have_log = true });
        struct mon_output base = mon("out_s3", 1, 100, 0, 0, 0, 0, false);
        flush_add_output(&f, 0, &base);
        flush_signalled(&f, 0);
        struct fl_event e = ev(FL_RETRY_LIMIT, 0, NULL);
        flush_on_log(&f, &e, 1);
        /* queue cleared by the drop: empty, but nothing was written successfully */
        sample(&f, 0, mon("out_s3", 0, 0, 0, 0, 3, 3, false), 2);
        assert_int_equal(flush_evaluate(&f, 3, false), FF_EXIT_DATA_LOST);
        flush_done(&f);
}

static void test_plugin_filter(void **state) {
        (void)state;
        char *ids[] = { "out_s3", NULL };
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_files = true, .have_log = true, .plugin_ids = ids });
        add_chunk(&f, ID_A, 0, 10, 'b');
        flush_signalled(&f, 0);
        struct fl_event e = ev(FL_RETRY_LIMIT, 0, NULL);
        strcpy(e.plugin_id, "out_other");
        flush_on_log(&f, &e, 1);
        files_present(&f, NULL, 2);
        assert_int_equal(flush_evaluate(&f, 3, false), FF_EXIT_CONFIRMED);
        flush_done(&f);
}

static void test_many_chunks(void **state) {
        (void)state;
        struct flush f;
        files_init(&f, 1);
        char id[33];
        for (int i = 0; i < 2000; i++) {
                snprintf(id, sizeof id, "%032x", i);
                add_chunk(&f, id, 0, 1, 'b');
        }
        flush_signalled(&f, 0);
        files_present(&f, NULL, 1);
        assert_int_equal(flush_evaluate(&f, 2, false), FF_EXIT_CONFIRMED);
        struct flush_counts c;
        flush_counts(&f, &c);
        assert_int_equal(c.committed, 2000);
        flush_done(&f);
}

/* ---- replays of the real Fluentd runs (../shared/fixtures/fluentd) ---- */

struct lines {
        char *buf;
        char **v;
        size_t n;
};

static void lines_load(struct lines *l, const char *dir, const char *name) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fluentd/%s/%s", FIXTURES, dir, name);
        FILE *fp = fopen(path, "re");
        if (!fp)
                fail_msg("cannot open fixture %s", path);
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        rewind(fp);
        l->buf = malloc((size_t)size + 1);
        assert_int_equal(fread(l->buf, 1, (size_t)size, fp), (size_t)size);
        l->buf[size] = '\0';
        fclose(fp);
        l->v = calloc((size_t)size + 1, sizeof *l->v);
        l->n = 0;
        for (char *p = l->buf, *nl; *p; p = nl + 1) {
                nl = strchr(p, '\n');
                l->v[l->n++] = p;
                if (!nl)
                        break;
                *nl = '\0';
        }
}

static void lines_done(struct lines *l) {
        free(l->buf);
        free(l->v);
}

static char *slurp(const char *dir, const char *name, size_t *len) {
        struct lines l;
        lines_load(&l, dir, name);
        /* lines_load split the buffer: re-join */
        for (size_t i = 0; i + 1 < l.n; i++)
                l.v[i][strlen(l.v[i])] = '\n';
        *len = strlen(l.buf);
        free(l.v);
        return l.buf;
}

static void load_monitor(const char *dir, const char *name, struct mon_snapshot *s) {
        size_t len;
        char *body = slurp(dir, name, &len);
        int r = mon_parse(body, len, s);
        free(body);
        if (r < 0)
                fail_msg("monitor fixture %s/%s does not parse: %d", dir, name, r);
}

/* Feed every line from the signal on; chunk ids named in the log make up the file snapshot. */
static size_t signal_line(const struct lines *l) {
        for (size_t i = 0; i < l->n; i++)
                if (strstr(l->v[i], "force flushing buffered events"))
                        return i;
        fail_msg("no flush in fixture");
        return 0;
}

static void feed(struct flush *f, const struct lines *l, size_t from, size_t to) {
        for (size_t i = from; i < to && i < l->n; i++) {
                struct fl_event e;
                if (fl_parse_line(l->v[i], strlen(l->v[i]), FL_FORMAT_AUTO, &e) == 0)
                        flush_on_log(f, &e, 1000 + i);
                else
                        flush_on_rejected_line(f);
        }
}

static void replay_files(const char *dir, const char *id, int workers, int expect) {
        struct lines l;
        lines_load(&l, dir, "fluentd.log");
        struct flush f;
        files_init(&f, workers);
        add_chunk(&f, id, 0, 46690, 'b');
        size_t s = signal_line(&l);
        flush_signalled(&f, 1000 + s);
        feed(&f, &l, s, l.n);
        assert_int_equal(f.lines_rejected, 0);
        files_present(&f, NULL, 100000);
        assert_int_equal(flush_evaluate(&f, 100001, false), expect);
        flush_done(&f);
        lines_done(&l);
}

static void test_replay_files(void **state) {
        (void)state;
        replay_files("1-normal-debug", "661d3a8cf64e953754b07c6f27cc5214", 1, FF_EXIT_CONFIRMED);
        replay_files("3-s3-down-debug", "661d3ad402083c8d303f86129d17137a", 1, FF_EXIT_CONFIRMED);
        replay_files("3-s3-down-info", "661d3afcac3db86b57f4321223b9d2b0", 1, FF_EXIT_CONFIRMED);
        replay_files("5-large-buffer-msfmt", "661d3b6cc1284528577a178bf483fc7c", 1, FF_EXIT_CONFIRMED);
        replay_files("v1.16.11-1-normal-sysdebug", "661d3bc7f6bb4dca3b6e693581d475aa", 1, FF_EXIT_CONFIRMED);
        replay_files("v1.16.11-3-s3-down-debug", "661d3bf0d8da2a1570dae1f0e926e7e8", 1, FF_EXIT_CONFIRMED);
}

/* S3 down: at the deadline before recovery the verdict is upload_failing with the next retry time. */
static void test_replay_s3_down_deadline(void **state) {
        (void)state;
        struct lines l;
        lines_load(&l, "3-s3-down-debug", "fluentd.log");
        struct flush f;
        files_init(&f, 1);
        add_chunk(&f, "661d3ad402083c8d303f86129d17137a", 0, 46690, 'b');
        size_t s = signal_line(&l);
        size_t until = s;
        while (until < l.n && !strstr(l.v[until], "retry_times=3"))
                until++;
        flush_signalled(&f, 1000 + s);
        feed(&f, &l, s, until + 1);
        files_present(&f, (const char *const[]){ "661d3ad402083c8d303f86129d17137a", NULL }, 50000);
        assert_int_equal(flush_evaluate(&f, 50001, false), -1);
        assert_int_equal(flush_evaluate(&f, 50002, true), FF_EXIT_UPLOAD_FAILING);
        assert_string_equal(f.next_retry_time, "2026-12-04 19:14:12 +0000");
        assert_non_null(strstr(f.first_error, "Connection refused"));
        flush_done(&f);
        lines_done(&l);
}

static void replay_monitor(const char *dir, const char *before, const char *const *during, const char *after,
                           int expect_during_deadline) {
        struct lines l;
        lines_load(&l, dir, "fluentd.log");
        struct mon_snapshot *m = calloc(1, sizeof *m);
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 1, .have_monitor = true, .have_log = true,
                                               .ack_timeout_ms = 15000 });
        load_monitor(dir, before, m);
        for (size_t i = 0; i < m->n_outputs; i++)
                if (mon_output_targeted(&m->outputs[i], NULL))
                        assert_int_equal(flush_add_output(&f, 0, &m->outputs[i]), 0);
        assert_int_equal(f.n_outputs, 1);
        size_t s = signal_line(&l);
        flush_signalled(&f, 1000 + s);
        /* the first sample right after the signal is the snapshot itself: never enough */
        flush_on_monitor(&f, 0, m, 1000 + s);
        assert_int_equal(flush_evaluate(&f, 1000 + s, false), -1);
        feed(&f, &l, s, s + 2);
        for (size_t i = 0; during && during[i]; i++) {
                load_monitor(dir, during[i], m);
                flush_on_monitor(&f, 0, m, 2000);
                assert_int_equal(flush_evaluate(&f, 2001, false), -1);
                assert_int_equal(flush_evaluate(&f, 2001, true), expect_during_deadline);
        }
        feed(&f, &l, s + 2, l.n);
        load_monitor(dir, after, m);
        flush_on_monitor(&f, 0, m, 3000);
        assert_int_equal(flush_evaluate(&f, 3001, false), FF_EXIT_CONFIRMED);
        flush_done(&f);
        free(m);
        lines_done(&l);
}

static void test_replay_monitor(void **state) {
        (void)state;
        replay_monitor("1-normal-info", "monitor_before_flush.json", NULL, "monitor_after_flush.json", 0);
        replay_monitor("2-rpc-flush", "monitor_before_flush.json", NULL, "monitor_after_flush.json", 0);
        replay_monitor("3-s3-down-info", "monitor_before_flush.json",
                       (const char *const[]){ "monitor_down_plus3s.json", "monitor_down_plus10s.json", NULL },
                       "monitor_after_recovery.json", FF_EXIT_UPLOAD_FAILING);
        replay_monitor("5-large-buffer-msfmt", "monitor_before_flush.json",
                       (const char *const[]){ "monitor_during_001.json", "monitor_during_004.json", NULL },
                       "monitor_after_flush.json", FF_EXIT_DEADLINE);
        replay_monitor("v1.16.11-3-s3-down-debug", "monitor_before_flush.json",
                       (const char *const[]){ "monitor_down_plus3s.json", "monitor_down_plus12s.json", NULL },
                       "monitor_after_recovery.json", FF_EXIT_UPLOAD_FAILING);
}

/* Two workers, ${chunk_id} keys: both acknowledge; the monitor of each worker proves its drain. */
static void test_replay_multi_worker(void **state) {
        (void)state;
        static const char *const ports[] = { "24220", "24221" };
        struct lines l;
        lines_load(&l, "4-multi-worker-chunkid", "fluentd.log");
        struct mon_snapshot *m = calloc(1, sizeof *m);
        struct flush f;
        flush_init(&f, &(struct flush_config){ .workers = 2, .have_monitor = true, .have_log = true,
                                               .ack_timeout_ms = 15000 });
        char name[64];
        for (int w = 0; w < 2; w++) {
                snprintf(name, sizeof name, "monitor_before_flush_port%s.json", ports[w]);
                load_monitor("4-multi-worker-chunkid", name, m);
                for (size_t i = 0; i < m->n_outputs; i++)
                        if (mon_output_targeted(&m->outputs[i], NULL))
                                flush_add_output(&f, w, &m->outputs[i]);
        }
        size_t s = signal_line(&l);
        flush_signalled(&f, 1000);
        feed(&f, &l, s, l.n);
        struct flush_counts c;
        flush_counts(&f, &c);
        assert_int_equal(c.workers_acked, 2);
        snprintf(name, sizeof name, "monitor_after_flush_port%s.json", ports[0]);
        load_monitor("4-multi-worker-chunkid", name, m);
        flush_on_monitor(&f, 0, m, 2000);
        assert_int_equal(flush_evaluate(&f, 2001, false), -1);    /* worker 1 not seen yet */
        snprintf(name, sizeof name, "monitor_after_flush_port%s.json", ports[1]);
        load_monitor("4-multi-worker-chunkid", name, m);
        flush_on_monitor(&f, 1, m, 2002);
        assert_int_equal(flush_evaluate(&f, 2003, false), FF_EXIT_CONFIRMED);
        flush_done(&f);
        free(m);
        lines_done(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_file_buffer_confirmed),
                cmocka_unit_test(test_nothing_buffered),
                cmocka_unit_test(test_forged_completed_never_confirms),
                cmocka_unit_test(test_unknown_ids_ignored),
                cmocka_unit_test(test_lines_before_signal_ignored),
                cmocka_unit_test(test_loss_kinds),
                cmocka_unit_test(test_retry_limit_drops_worker_queue),
                cmocka_unit_test(test_overwrite),
                cmocka_unit_test(test_same_chunk_same_key_is_no_overwrite),
                cmocka_unit_test(test_retry_then_deadline),
                cmocka_unit_test(test_no_ack_is_hung),
                cmocka_unit_test(test_ack_check_off),
                cmocka_unit_test(test_buffer_progress_counts_as_ack),
                cmocka_unit_test(test_agent_exit),
                cmocka_unit_test(test_log_only_is_unconfirmed),
                cmocka_unit_test(test_memory_buffer_monitor),
                cmocka_unit_test(test_memory_buffer_monitor_retry),
                cmocka_unit_test(test_memory_buffer_dropped),
                cmocka_unit_test(test_plugin_filter),
                cmocka_unit_test(test_many_chunks),
                cmocka_unit_test(test_replay_files),
                cmocka_unit_test(test_replay_s3_down_deadline),
                cmocka_unit_test(test_replay_monitor),
                cmocka_unit_test(test_replay_multi_worker),
        };
        return cmocka_run_group_tests_name("flush", tests, NULL, NULL);
}
