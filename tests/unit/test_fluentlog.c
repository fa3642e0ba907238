/* test_fluentlog.c — the log-line grammar on every line of the real Fluentd logs, every message variant,
 * the JSON format, odd time formats, and forged or broken input. */
#define _GNU_SOURCE
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fluentlog.h"
#include "macro.h"

#define ID "661d3a8cf64e953754b07c6f27cc5214"
#define ID2 "0123456789abcdef0123456789abcdef"
#define T "2026-12-04 19:12:40 +0000"
#define META "#<struct Fluent::Plugin::Buffer::Metadata timekey=1796410800, tag=nil, variables=nil, seq=0>"

static int parse(const char *line, enum fl_format fmt, struct fl_event *ev) {
        return fl_parse_line(line, strlen(line), fmt, ev);
}

/* ---- the real logs ---- */

struct fixture {
        const char *dir;
        unsigned lines;
        unsigned count[_FL_KIND_MAX];
};

static const struct fixture fixtures[] = {
        { "1-normal-debug", 64,
          { [FL_NONE] = 25, [FL_CONTINUATION] = 34, [FL_CHUNK_CREATED] = 1, [FL_ACK] = 1, [FL_FLUSHING_ALL] = 1,
            [FL_WRITE] = 1, [FL_COMPLETED] = 1 } },
        { "1-normal-info", 56, { [FL_NONE] = 21, [FL_CONTINUATION] = 33, [FL_ACK] = 1, [FL_FLUSHING_ALL] = 1 } },
        { "2-rpc-flush", 64,
          { [FL_NONE] = 25, [FL_CONTINUATION] = 34, [FL_CHUNK_CREATED] = 1, [FL_ACK] = 1, [FL_FLUSHING_ALL] = 1,
            [FL_WRITE] = 1, [FL_COMPLETED] = 1 } },
        { "3-s3-down-debug", 156,
          { [FL_NONE] = 25, [FL_CONTINUATION] = 115, [FL_CHUNK_CREATED] = 1, [FL_ACK] = 1, [FL_FLUSHING_ALL] = 1,
            [FL_TAKE_BACK] = 5, [FL_FLUSH_FAILED] = 5, [FL_WRITE] = 1, [FL_COMPLETED] = 1,
            [FL_RETRY_SUCCEEDED] = 1 } },
        { "3-s3-down-info", 139,
          { [FL_NONE] = 21, [FL_CONTINUATION] = 112, [FL_ACK] = 1, [FL_FLUSHING_ALL] = 1, [FL_FLUSH_FAILED] = 3,
            [FL_RETRY_SUCCEEDED] = 1 } },
        { "4-multi-worker-chunkid", 68,
          { [FL_NONE] = 29, [FL_CONTINUATION] = 35, [FL_ACK] = 2, [FL_FLUSHING_ALL] = 2 } },
        { "5-large-buffer-msfmt", 67,
          { [FL_NONE] = 25, [FL_CONTINUATION] = 37, [FL_CHUNK_CREATED] = 1, [FL_ACK] = 1, [FL_FLUSHING_ALL] = 1,
            [FL_WRITE] = 1, [FL_COMPLETED] = 1 } },
        { "v1.16.11-1-normal-sysdebug", 99,
          { [FL_NONE] = 56, [FL_CONTINUATION] = 35, [FL_CHUNK_CREATED] = 1, [FL_SIGUSR1] = 2, [FL_ACK] = 1,
            [FL_FLUSHING_ALL] = 1, [FL_WRITE] = 1, [FL_COMPLETED] = 1, [FL_THREAD_FLUSHED] = 1 } },
        { "v1.16.11-3-s3-down-debug", 304,
          { [FL_NONE] = 27, [FL_CONTINUATION] = 265, [FL_CHUNK_CREATED] = 1, [FL_ACK] = 1, [FL_FLUSHING_ALL] = 1,
            [FL_TAKE_BACK] = 3, [FL_FLUSH_FAILED] = 3, [FL_WRITE] = 1, [FL_COMPLETED] = 1,
            [FL_RETRY_SUCCEEDED] = 1 } },
};

/* Every event of one fixture log, in order. */
struct parsed {
        size_t n;
        struct fl_event *ev;
};

static void parse_fixture(const char *dir, enum fl_format fmt, struct parsed *out) {
        char path[4096];
        snprintf(path, sizeof path, "%s/fluentd/%s/fluentd.log", FIXTURES, dir);
        _cleanup_(fclosep) FILE *f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s: %s", path, strerror(errno));
        _cleanup_(freep) char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        out->n = 0;
        out->ev = NULL;
        while ((n = getline(&line, &cap, f)) > 0) {
                if (line[n - 1] == '\n')
                        n--;
                out->ev = realloc(out->ev, (out->n + 1) * sizeof *out->ev);
                assert_non_null(out->ev);
                int r = fl_parse_line(line, (size_t)n, fmt, &out->ev[out->n]);
                if (r != 0)
                        fail_msg("%s line %zu: %d for \"%.*s\"", dir, out->n + 1, r, (int)n, line);
                out->n++;
        }
}

static void test_fixture_dirs_known(void **state) {
        (void)state;
        char path[4096];
        snprintf(path, sizeof path, "%s/fluentd", FIXTURES);
        DIR *d = opendir(path);
        assert_non_null(d);
        unsigned seen = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                char p[8192];
                snprintf(p, sizeof p, "%s/%s/fluentd.log", path, de->d_name);
                if (stat(p, &st) < 0)
                        continue;
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(fixtures); i++)
                        known |= strcmp(fixtures[i].dir, de->d_name) == 0;
                if (!known)
                        fail_msg("fixture %s has no expected counts here", de->d_name);
                seen++;
        }
        closedir(d);
        assert_int_equal(seen, ELEMENTSOF(fixtures));
}

static void test_fixture_counts(void **state) {
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                for (enum fl_format fmt = FL_FORMAT_AUTO; fmt <= FL_FORMAT_TEXT; fmt++) {
                        struct parsed p;
                        parse_fixture(fixtures[i].dir, fmt, &p);
                        unsigned count[_FL_KIND_MAX] = { 0 };
                        for (size_t j = 0; j < p.n; j++)
                                count[p.ev[j].kind]++;
                        assert_int_equal(p.n, fixtures[i].lines);
                        for (int k = 0; k < _FL_KIND_MAX; k++)
                                if (count[k] != fixtures[i].count[k])
                                        fail_msg("%s: %u %s lines, expected %u", fixtures[i].dir, count[k],
                                                 fl_kind_name((enum fl_kind)k), fixtures[i].count[k]);
                        /* Every evidence line is from worker 0/1 and (for chunk events) names a chunk. */
                        for (size_t j = 0; j < p.n; j++) {
                                const struct fl_event *e = &p.ev[j];
                                if (e->kind == FL_NONE || e->kind == FL_CONTINUATION)
                                        continue;
                                if (e->kind != FL_SIGUSR1)
                                        assert_true(e->worker == 0 || e->worker == 1);
                                if (e->kind >= FL_CHUNK_CREATED) {
                                        assert_int_equal(strlen(e->chunk_id), 32);
                                        assert_string_equal(e->plugin_id, "out_s3");
                                }
                        }
                        free(p.ev);
                }
        }
}

static const struct fl_event *nth(const struct parsed *p, enum fl_kind k, unsigned n) {
        for (size_t j = 0; j < p->n; j++)
                if (p->ev[j].kind == k && n-- == 0)
                        return &p->ev[j];
        fail_msg("no %s event", fl_kind_name(k));
        return NULL;
}

static void test_fixture_normal_debug(void **state) {
        (void)state;
        struct parsed p;
        parse_fixture("1-normal-debug", FL_FORMAT_AUTO, &p);
        const struct fl_event *e = nth(&p, FL_ACK, 0);
        assert_int_equal(e->worker, 0);
        assert_int_equal(e->level, FL_LEVEL_INFO);
        assert_string_equal(e->plugin_id, "");
        e = nth(&p, FL_FLUSHING_ALL, 0);
        assert_int_equal(e->worker, 0);
        for (int k = FL_WRITE; k <= FL_COMPLETED; k++) {
                e = nth(&p, (enum fl_kind)k, 0);
                assert_int_equal(e->worker, 0);
                assert_int_equal(e->level, FL_LEVEL_DEBUG);
                assert_string_equal(e->plugin_id, "out_s3");
                assert_string_equal(e->chunk_id, ID);
                assert_string_equal(e->key, "s3://fluentd-logs/1-normal-debug/2026120419_0.gz");
        }
        e = nth(&p, FL_CHUNK_CREATED, 0);
        assert_string_equal(e->chunk_id, ID);
        free(p.ev);
}

static void test_fixture_s3_down(void **state) {
        (void)state;
        static const char *next[] = { "2026-12-04 19:13:59 +0000", "2026-12-04 19:14:02 +0000",
                                      "2026-12-04 19:14:06 +0000", "2026-12-04 19:14:12 +0000",
                                      "2026-12-04 19:14:22 +0000" };
        struct parsed p;
        parse_fixture("3-s3-down-debug", FL_FORMAT_AUTO, &p);
        for (unsigned i = 0; i < 5; i++) {
                const struct fl_event *e = nth(&p, FL_FLUSH_FAILED, i);
                assert_int_equal(e->retry_times, (int)i);
                assert_string_equal(e->next_retry_time, next[i]);
                assert_string_equal(e->chunk_id, "661d3ad402083c8d303f86129d17137a");
                assert_int_equal(e->level, FL_LEVEL_WARN);
                assert_true(strncmp(e->error, "error_class=Seahorse::Client::NetworkingError error=\"Failed to open",
                                    66) == 0);
                e = nth(&p, FL_TAKE_BACK, i);
                assert_string_equal(e->chunk_id, "661d3ad402083c8d303f86129d17137a");
                assert_int_equal(e->retry_times, -1);
        }
        const struct fl_event *e = nth(&p, FL_RETRY_SUCCEEDED, 0);
        assert_string_equal(e->chunk_id, "661d3ad402083c8d303f86129d17137a");
        assert_string_equal(nth(&p, FL_COMPLETED, 0)->key, "s3://fluentd-logs/3-s3-down-debug/2026120419_0.gz");
        free(p.ev);

        parse_fixture("v1.16.11-3-s3-down-debug", FL_FORMAT_AUTO, &p);
        e = nth(&p, FL_FLUSH_FAILED, 2);
        assert_int_equal(e->retry_times, 2);
        assert_string_equal(e->next_retry_time, "2026-12-04 19:19:08 +0000");
        free(p.ev);
}

static void test_fixture_multi_worker(void **state) {
        (void)state;
        struct parsed p;
        parse_fixture("4-multi-worker-chunkid", FL_FORMAT_AUTO, &p);
        bool acked[2] = { false, false };
        for (unsigned i = 0; i < 2; i++) {
                const struct fl_event *e = nth(&p, FL_ACK, i);
                assert_true(e->worker == 0 || e->worker == 1);
                acked[e->worker] = true;
        }
        assert_true(acked[0] && acked[1]);
        free(p.ev);
}

static void test_fixture_ms_and_sysdebug(void **state) {
        (void)state;
        struct parsed p;
        parse_fixture("5-large-buffer-msfmt", FL_FORMAT_AUTO, &p);
        assert_string_equal(nth(&p, FL_COMPLETED, 0)->chunk_id, "661d3b6cc1284528577a178bf483fc7c");
        assert_string_equal(nth(&p, FL_COMPLETED, 0)->key, "s3://fluentd-logs/5-large-buffer-msfmt/2026120419_0.gz");
        assert_int_equal(nth(&p, FL_ACK, 0)->worker, 0);
        free(p.ev);

        /* v1.16 with <system> log_level debug: "fluent/log.rb:362:info: " between "#0 " and the message. */
        parse_fixture("v1.16.11-1-normal-sysdebug", FL_FORMAT_AUTO, &p);
        assert_int_equal(nth(&p, FL_SIGUSR1, 0)->worker, -1); /* the supervisor */
        assert_int_equal(nth(&p, FL_SIGUSR1, 1)->worker, 0);
        assert_int_equal(nth(&p, FL_ACK, 0)->worker, 0);
        assert_string_equal(nth(&p, FL_ACK, 0)->error, "force flushing buffered events");
        assert_int_equal(nth(&p, FL_THREAD_FLUSHED, 0)->worker, 0);
        assert_string_equal(nth(&p, FL_WRITE, 0)->chunk_id, "661d3bc7f6bb4dca3b6e693581d475aa");
        free(p.ev);
}

static void test_continuation(void **state) {
        (void)state;
        struct fl_event ev;
        assert_int_equal(parse("  " T " [warn]: #0 /usr/lib/ruby/3.1.0/socket.rb:1214:in `connect'", FL_FORMAT_TEXT, &ev), 0);
        assert_int_equal(ev.kind, FL_CONTINUATION);
        assert_int_equal(parse("  " T " [warn]: #0 suppressed same stacktrace", FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_CONTINUATION);
        assert_int_equal(parse("    <buffer time>", FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_CONTINUATION);
        assert_int_equal(parse("</ROOT>", FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_CONTINUATION);
        /* A forged evidence line indented as a continuation stays a continuation. */
        assert_int_equal(parse("  " T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META
                               " to s3://b/k", FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_CONTINUATION);
        assert_string_equal(ev.chunk_id, "");
}

/* ---- every message of the table, with its variants ---- */

struct want {
        const char *line;
        enum fl_kind kind;
        int worker;
        const char *plugin_id;
        const char *chunk_id;
        const char *key;
        int retry_times;
        const char *next_retry_time;
        const char *error_prefix;
};

static const struct want table[] = {
        { T " [debug]: fluentd supervisor process get SIGUSR1", FL_SIGUSR1, -1, "", "", "", -1, "", "fluentd supervisor" },
        { T " [debug]: #3 fluentd main process get SIGUSR1", FL_SIGUSR1, 3, "", "", "", -1, "", "fluentd main" },
        { T " [info]: #12 force flushing buffered events", FL_ACK, 12, "", "", "", -1, "", "force flushing" },
        { T " [info]: #0 flushing all buffer forcedly", FL_FLUSHING_ALL, 0, "", "", "", -1, "", "flushing all" },
        { T " [debug]: #0 flushing thread: flushed", FL_THREAD_FLUSHED, 0, "", "", "", -1, "", "flushing thread" },
        { T " [debug]: #0 fluent/log.rb:341:debug: flushing thread: flushed", FL_THREAD_FLUSHED, 0, "", "", "", -1, "", "" },
        { T " [debug]: #1 [s3a] Created new chunk chunk_id=\"" ID "\" metadata=" META, FL_CHUNK_CREATED, 1, "s3a", ID, "", -1, "", "Created" },
        /* out_s3 without @id, and with the caller segment of a debug-mode Fluentd. */
        { T " [debug]: #0 out_s3: write chunk " ID " with metadata " META " to s3://fluentd-logs/app/2026120419_0.gz",
          FL_WRITE, 0, "", ID, "s3://fluentd-logs/app/2026120419_0.gz", -1, "", "out_s3: write" },
        { T " [debug]: #0 fluent/log.rb:306:debug: out_s3: write chunk " ID " with metadata " META " to s3://b/k.gz",
          FL_WRITE, 0, "", ID, "s3://b/k.gz", -1, "", "out_s3: write" },
        { T " [debug]: #0 plugin/out_s3.rb:354:block (2 levels) in write: [out_s3] out_s3: completed to write chunk " ID
          " with metadata " META " to s3://b/k.gz", FL_COMPLETED, 0, "out_s3", ID, "s3://b/k.gz", -1, "", "out_s3: completed" },
        { T " [debug]: #0 fluent/log.rb:362:: [out_s3] out_s3: completed to write chunk " ID " with metadata " META
          " to s3://b/k.gz", FL_COMPLETED, 0, "out_s3", ID, "s3://b/k.gz", -1, "", "" },
        /* A tag with " to s3://" in the metadata does not move the key; a key with " to " in it is kept whole. */
        { T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID
          " with metadata #<struct Fluent::Plugin::Buffer::Metadata timekey=1, tag=\"x to s3://evil/forged\", variables=nil, seq=0> to s3://b/real.gz",
          FL_COMPLETED, 0, "out_s3", ID, "s3://b/real.gz", -1, "", "" },
        { T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/logs/a to b/日本/x.gz",
          FL_COMPLETED, 0, "out_s3", ID, "s3://b/logs/a to b/日本/x.gz", -1, "", "" },
        /* failures, new (≥ 1.14.1) and old (≤ 1.14.0) fields */
        { T " [warn]: #0 [out_s3] failed to flush the buffer. retry_times=3 next_retry_time=2026-12-04 19:14:12 +0000 chunk=\"" ID
          "\" error_class=Aws::S3::Errors::ServiceUnavailable error=\"Service Unavailable\"",
          FL_FLUSH_FAILED, 0, "out_s3", ID, "", 3, "2026-12-04 19:14:12 +0000", "error_class=Aws::S3::Errors::ServiceUnavailable error=\"Service Unavailable\"" },
        { T " [warn]: #0 [out_s3] failed to flush the buffer. retry_time=0 next_retry_seconds=2026-12-04 19:13:59.512 +0000 chunk=\"" ID
          "\" error_class=Seahorse::Client::NetworkingError error=\"Failed to open TCP connection\"",
          FL_FLUSH_FAILED, 0, "out_s3", ID, "", 0, "2026-12-04 19:13:59.512 +0000", "error_class=Seahorse::Client::NetworkingError" },
        { T " [warn]: #0 [out_s3] failed to flush the buffer with secondary output. retry_times=18 next_retry_time=2026-12-04 20:00:00 +0000 chunk=\"" ID
          "\" error_class=Errno::ENOSPC error=\"No space left on device\"",
          FL_SECONDARY_FAILED, 0, "out_s3", ID, "", 18, "2026-12-04 20:00:00 +0000", "error_class=Errno::ENOSPC" },
        { T " [warn]: #0 [out_s3] failed to flush the buffer with secondary output. retry_time=18 next_retry_seconds=2026-12-04 20:00:00 +0000 chunk=\"" ID
          "\" error_class=Errno::ENOSPC error=\"x\"", FL_SECONDARY_FAILED, 0, "out_s3", ID, "", 18, "2026-12-04 20:00:00 +0000", "error_class" },
        { T " [debug]: #0 [out_s3] taking back chunk for errors. chunk=\"" ID "\"", FL_TAKE_BACK, 0, "out_s3", ID, "", -1, "", "taking back" },
        { T " [warn]: #0 [out_s3] retry succeeded. chunk_id=\"" ID "\"", FL_RETRY_SUCCEEDED, 0, "out_s3", ID, "", -1, "", "retry succeeded." },
        { T " [warn]: #0 [out_s3] retry succeeded by secondary. chunk_id=\"" ID "\"", FL_RETRY_SUCCEEDED_SECONDARY, 0, "out_s3", ID, "", -1, "", "retry succeeded by" },
        { T " [error]: #0 [out_s3] Hit limit for retries. dropping all chunks in the buffer queue. retry_times=17 records=300 error_class=Aws::S3::Errors::InternalError error=\"boom\"",
          FL_RETRY_LIMIT, 0, "out_s3", "", "", 17, "", "error_class=Aws::S3::Errors::InternalError error=\"boom\"" },
        { T " [error]: #0 [out_s3] failed to flush the buffer, and hit limit for retries. dropping all chunks in the buffer queue. retry_times=5 records=10 error_class=RuntimeError error=\"x\"",
          FL_RETRY_LIMIT, 0, "out_s3", "", "", 5, "", "error_class=RuntimeError" },
        { T " [warn]: #0 [out_s3] bad chunk is moved to /tmp/fluent/backup/worker0/out_s3/" ID ".log", FL_BACKUP, 0, "out_s3", ID, "", -1, "", "bad chunk is moved" },
        { T " [warn]: #1 [out_s3] chunk files are evacuated to /var/lib/fluent/buffer/out_s3. chunk_id=\"" ID "\"", FL_EVACUATED, 1, "out_s3", ID, "", -1, "", "chunk files" },
        { T " [warn]: #0 [out_s3] disable_chunk_backup is true. " ID " chunk is thrown away", FL_THROWN_AWAY, 0, "out_s3", ID, "", -1, "", "disable_chunk_backup" },
        { T " [warn]: #0 [out_s3] dropping oldest chunk to make space after buffer overflow chunk_id=\"" ID "\"", FL_OVERFLOW_DROP, 0, "out_s3", ID, "", -1, "", "dropping oldest" },
        { T " [warn]: #0 [out_s3] got unrecoverable error in primary and no secondary error_class=ArgumentError error=\"bad\"",
          FL_UNRECOVERABLE, 0, "out_s3", "", "", -1, "", "error_class=ArgumentError error=\"bad\"" },
        { T " [warn]: #0 [out_s3] got unrecoverable error in secondary. error_class=TypeError error=\"t\"", FL_UNRECOVERABLE, 0, "out_s3", "", "", -1, "", "error_class=TypeError" },
        { T " [warn]: #0 [out_s3] got unrecoverable error in primary. Skip retry and flush chunk to secondary error_class=TypeError error=\"t\"",
          FL_UNRECOVERABLE, 0, "out_s3", "", "", -1, "", "error_class=TypeError" },
        { T " [warn]: #0 [out_s3] buffer flush took longer time than slow_flush_log_threshold: elapsed_time=25.3 slow_flush_log_threshold=20.0 plugin_id=\"out_s3\"",
          FL_SLOW_FLUSH, 0, "out_s3", "", "", -1, "", "buffer flush took" },
};

static void check_want(const struct want *w, const struct fl_event *ev) {
        assert_int_equal(ev->kind, w->kind);
        assert_int_equal(ev->worker, w->worker);
        assert_string_equal(ev->plugin_id, w->plugin_id);
        assert_string_equal(ev->chunk_id, w->chunk_id);
        assert_string_equal(ev->key, w->key);
        assert_int_equal(ev->retry_times, w->retry_times);
        assert_string_equal(ev->next_retry_time, w->next_retry_time);
        if (strncmp(ev->error, w->error_prefix, strlen(w->error_prefix)) != 0)
                fail_msg("error \"%s\" does not start with \"%s\"", ev->error, w->error_prefix);
}

static void test_message_table(void **state) {
        (void)state;
        bool kinds[_FL_KIND_MAX] = { false };
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                struct fl_event ev;
                int r = parse(table[i].line, FL_FORMAT_AUTO, &ev);
                if (r != 0 || ev.kind != table[i].kind)
                        fail_msg("line %zu: r=%d kind=%s, expected %s: %s", i, r, fl_kind_name(ev.kind),
                                 fl_kind_name(table[i].kind), table[i].line);
                check_want(&table[i], &ev);
                kinds[ev.kind] = true;
        }
        /* Every evidence kind is covered by the table. */
        for (int k = FL_SIGUSR1; k < _FL_KIND_MAX; k++)
                if (!kinds[k])
                        fail_msg("no synthetic line for %s", fl_kind_name((enum fl_kind)k));
}

/* The same text at a level Fluentd does not use for it is some other plugin's message: no evidence. */
static void test_wrong_level(void **state) {
        (void)state;
        static const char *lines[] = {
                T " [debug]: #0 force flushing buffered events",
                T " [info]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/k",
                T " [info]: #0 [in_es] retry succeeded. chunk_id=\"" ID "\"",
                T " [warn]: #0 [out_s3] Hit limit for retries. dropping all chunks in the buffer queue. retry_times=1",
                T " [error]: #0 [out_s3] bad chunk is moved to /tmp/fluent/backup/worker0/out_s3/" ID ".log",
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                struct fl_event ev;
                assert_int_equal(parse(lines[i], FL_FORMAT_TEXT, &ev), 0);
                assert_int_equal(ev.kind, FL_NONE);
                assert_string_equal(ev.chunk_id, "");
                assert_string_equal(ev.key, "");
                assert_string_equal(ev.error, "");
                assert_int_equal(ev.retry_times, -1);
        }
}

/* ---- time formats ---- */

static void test_time_formats(void **state) {
        (void)state;
        static const char *ok[] = {
                "2026-12-04T19:12:40.123+0000 [info]: #0 force flushing buffered events",
                "2026-12-04T19:12:40.123456789Z [info]: #0 force flushing buffered events",
                "1796411560 [info]: #0 force flushing buffered events",
                "[04/Dec/2026:19:12:40 +0000] [info]: #0 force flushing buffered events",
                "Dec  4 19:12:40 [info]: #0 force flushing buffered events",
                "2026-12-04 19:12:40.123 +0000 [info]: #0 force flushing buffered events",
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                struct fl_event ev;
                int r = parse(ok[i], FL_FORMAT_AUTO, &ev);
                if (r != 0 || ev.kind != FL_ACK || ev.worker != 0)
                        fail_msg("%s: r=%d kind=%s", ok[i], r, fl_kind_name(ev.kind));
        }

        char line[512];
        struct fl_event ev;
        /* A time stamp of FL_MAX_TIME bytes is fine; one byte more and the line does not match. */
        memset(line, '9', FL_MAX_TIME);
        strcpy(line + FL_MAX_TIME, " [info]: #0 force flushing buffered events");
        assert_int_equal(parse(line, FL_FORMAT_TEXT, &ev), 0);
        assert_int_equal(ev.kind, FL_ACK);
        memset(line, '9', FL_MAX_TIME + 1);
        strcpy(line + FL_MAX_TIME + 1, " [info]: #0 force flushing buffered events");
        assert_int_equal(parse(line, FL_FORMAT_TEXT, &ev), -EBADMSG);

        /* The separator is the first " [level]: ": a second one inside the message is message text. */
        assert_int_equal(parse(T " [info]: #0 [in_tail] " T " [info]: #0 force flushing buffered events", FL_FORMAT_TEXT, &ev), 0);
        assert_int_equal(ev.kind, FL_NONE);
        assert_string_equal(ev.plugin_id, "in_tail");
}

/* ---- JSON ---- */

static void test_json(void **state) {
        (void)state;
        struct fl_event ev;

        assert_int_equal(parse("{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\",\"worker_id\":0}",
                               FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_ACK);
        assert_int_equal(ev.worker, 0);
        assert_int_equal(ev.level, FL_LEVEL_INFO);

        assert_int_equal(parse("{\"time\":\"2026-12-04T19:12:40.123+00:00\",\"level\":\"debug\",\"message\":\"[out_s3] out_s3: completed to write chunk " ID
                               " with metadata " META " to s3://fluentd-logs/app/x.gz\",\"worker_id\":2}", FL_FORMAT_JSON, &ev), 0);
        assert_int_equal(ev.kind, FL_COMPLETED);
        assert_int_equal(ev.worker, 2);
        assert_string_equal(ev.plugin_id, "out_s3");
        assert_string_equal(ev.chunk_id, ID);
        assert_string_equal(ev.key, "s3://fluentd-logs/app/x.gz");

        /* Yajl may escape '/', and a key may hold escaped non-ASCII. */
        assert_int_equal(parse("{\"time\":\"" T "\",\"level\":\"debug\",\"message\":\"out_s3: write chunk " ID
                               " with metadata " META " to s3:\\/\\/b\\/\\u65e5.gz\",\"worker_id\":0}", FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_WRITE);
        assert_string_equal(ev.key, "s3://b/日.gz");

        /* Supervisor: no worker_id. */
        assert_int_equal(parse("{\"time\":\"" T "\",\"level\":\"debug\",\"message\":\"fluentd supervisor process get SIGUSR1\"}",
                               FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_SIGUSR1);
        assert_int_equal(ev.worker, -1);

        assert_int_equal(parse("{\"time\":\"" T "\",\"level\":\"warn\",\"message\":\"[out_s3] failed to flush the buffer. retry_times=1 next_retry_time=" T
                               " chunk=\\\"" ID "\\\" error_class=Seahorse::Client::NetworkingError error=\\\"refused\\\"\",\"worker_id\":0}",
                               FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_FLUSH_FAILED);
        assert_int_equal(ev.retry_times, 1);
        assert_string_equal(ev.next_retry_time, T);
        assert_string_equal(ev.error, "error_class=Seahorse::Client::NetworkingError error=\"refused\"");

        /* A backtrace is one message with newlines: valid, no evidence. */
        assert_int_equal(parse("{\"time\":\"" T "\",\"level\":\"warn\",\"message\":\"/usr/lib/ruby/3.1.0/socket.rb:1214:in `x'\\n/usr/lib/ruby/3.1.0/socket.rb:56:in `y'\",\"worker_id\":0}",
                               FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_NONE);

        static const char *bad[] = {
                /* evidence with a raw newline in it: a forged key */
                "{\"time\":\"" T "\",\"level\":\"debug\",\"message\":\"out_s3: completed to write chunk " ID " with metadata " META " to s3://b/k\\nx\",\"worker_id\":0}",
                "{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\\u001b[0m\",\"worker_id\":0}",
                "{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\\r\",\"worker_id\":0}",
                "{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\\u0000\",\"worker_id\":0}",
                "{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\",\"worker_id\":\"0\"}",
                "{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\",\"worker_id\":-1}",
                "{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\",\"worker_id\":1.0}",
                "{\"time\":\"" T "\",\"level\":\"notice\",\"message\":\"force flushing buffered events\"}",
                "{\"time\":\"" T "\",\"level\":\"info\"}",
                "{\"time\":12,\"level\":\"info\",\"message\":\"force flushing buffered events\"}",
                "{\"time\":\"\",\"level\":\"info\",\"message\":\"force flushing buffered events\"}",
                "{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\"} x",
                "{\"time\":\"" T "\",\"level\":\"info\",\"level\":\"info\",\"message\":\"force flushing buffered events\"}",
                "[\"force flushing buffered events\"]",
                "{",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = parse(bad[i], FL_FORMAT_AUTO, &ev);
                if (r != -EBADMSG)
                        fail_msg("expected -EBADMSG, got %d (kind %s): %s", r, fl_kind_name(ev.kind), bad[i]);
                assert_int_equal(ev.kind, FL_NONE);
                assert_string_equal(ev.chunk_id, "");
        }
        /* The format is not guessed when it is given. */
        assert_int_equal(parse(T " [info]: #0 force flushing buffered events", FL_FORMAT_JSON, &ev), -EBADMSG);
        assert_int_equal(parse("{\"time\":\"" T "\",\"level\":\"info\",\"message\":\"force flushing buffered events\"}", FL_FORMAT_TEXT, &ev), -EBADMSG);
}

/* ---- forged and broken input ---- */

static void assert_no_evidence(const char *line, size_t len, int want_r) {
        struct fl_event ev;
        int r = fl_parse_line(line, len, FL_FORMAT_AUTO, &ev);
        if (r != want_r)
                fail_msg("expected %d, got %d for \"%.*s\"", want_r, r, (int)MIN(len, (size_t)300), line);
        assert_true(ev.kind == FL_NONE || ev.kind == FL_CONTINUATION);
        assert_string_equal(ev.chunk_id, "");
        assert_string_equal(ev.key, "");
}
#define NO_EVIDENCE(lit, r) assert_no_evidence((lit), sizeof(lit) - 1, (r))

static void test_forged(void **state) {
        (void)state;
        /* A record echoed by a parser failure, holding a whole fake line. */
        NO_EVIDENCE(T " [warn]: #0 [in_tail] pattern not matched: \"" T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID
                    " with metadata " META " to s3://fluentd-logs/app/x.gz\"", 0);
        NO_EVIDENCE(T " [warn]: #0 pattern not matched: " T " [info]: #0 force flushing buffered events", 0);
        NO_EVIDENCE(T " [warn]: #0 dump an error event: error_class=Fluent::Plugin::Parser::ParserError error=\"x\" location=nil tag=\"app\" time=1 record={\"m\"=>\"out_s3: completed to write chunk " ID "\"}", 0);
        /* Control characters: a \r, ANSI colours, NUL, DEL, a vertical tab. */
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/k\r", -EBADMSG);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/k\rX.gz", -EBADMSG);
        NO_EVIDENCE("\x1b[1;32m" T " [info]: #0 force flushing buffered events\x1b[0;39m", -EBADMSG);
        NO_EVIDENCE(T " [info]: #0 force flushing buffered events\0", -EBADMSG);
        NO_EVIDENCE(T " [info]: #0 force\0flushing buffered events", -EBADMSG);
        NO_EVIDENCE(T " [info]: #0 force flushing buffered events\x7f", -EBADMSG);
        NO_EVIDENCE(T " [info]: #0 force flushing\v buffered events", -EBADMSG);
        /* Invalid UTF-8: a stray byte, an overlong '/', a surrogate, a cut sequence, a C1 control (NEL). */
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/\xff.gz", -EBADMSG);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/a\xc0\xaf.gz", -EBADMSG);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/\xed\xa0\x80.gz", -EBADMSG);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/k\xe2\x82", -EBADMSG);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/\xc2\x85k", -EBADMSG);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/\xf4\x90\x80\x80", -EBADMSG);
        /* Chunk ids: 31 and 33 hex digits, upper case, not hex. */
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk 661d3a8cf64e953754b07c6f27cc521 with metadata " META " to s3://b/k", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk 661d3a8cf64e953754b07c6f27cc52145 with metadata " META " to s3://b/k", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk 661D3A8CF64E953754B07C6F27CC5214 with metadata " META " to s3://b/k", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: write chunk 661d3a8cf64e953754b07c6f27cc521g with metadata " META " to s3://b/k", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] retry succeeded. chunk_id=\"661d3a8cf64e953754b07c6f27cc521\"", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] retry succeeded. chunk_id=\"661d3a8cf64e953754b07c6f27cc52145\"", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] bad chunk is moved to /tmp/fluent/backup/worker0/out_s3/661D3A8CF64E953754B07C6F27CC5214.log", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] bad chunk is moved to /tmp/fluent/backup/worker0/out_s3/x" ID ".log", 0);
        /* Keys and metadata that do not have the shape out_s3 prints. */
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3:///k", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b b/k", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata nil to s3://b/k", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to http://b/k", 0);
        NO_EVIDENCE(T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID, 0);
        /* Fixed messages must be whole. */
        NO_EVIDENCE(T " [info]: #0 force flushing buffered events now", 0);
        NO_EVIDENCE(T " [info]: #0 force flushing buffered event", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] disable_chunk_backup is true. " ID " chunk is thrown away!", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] retry succeeded. chunk_id=\"" ID "\"x", 0);
        NO_EVIDENCE(T " [error]: #0 [out_s3] Hit limit for retries. dropping all chunks in the buffer queue.x", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] failed to flush the buffer. chunk=\"" ID "\"", 0);
        NO_EVIDENCE(T " [warn]: #0 [out_s3] failed to flush the buffer. retry_times=x next_retry_time=" T " chunk=\"" ID "\"", 0);
        /* The prefix: level, separator, worker. */
        NO_EVIDENCE(T " [INFO]: #0 force flushing buffered events", -EBADMSG);
        NO_EVIDENCE(T " [info]:#0 force flushing buffered events", -EBADMSG);
        NO_EVIDENCE(T " [notice]: #0 force flushing buffered events", -EBADMSG);
        NO_EVIDENCE(T " [info]: #x force flushing buffered events", -EBADMSG);
        NO_EVIDENCE(T " [info]: #123456 force flushing buffered events", -EBADMSG);
        NO_EVIDENCE(T " [info]: #0force flushing buffered events", -EBADMSG);
        NO_EVIDENCE(" [info]: #0 force flushing buffered events", -EBADMSG);
        NO_EVIDENCE("force flushing buffered events", -EBADMSG);
        NO_EVIDENCE("", -EBADMSG);
        NO_EVIDENCE(" ", -EBADMSG);
        /* A plugin header longer than the field is not cut into another id. */
        {
                char line[1024];
                snprintf(line, sizeof line, T " [warn]: #0 [%0128d] retry succeeded. chunk_id=\"" ID "\"", 0);
                assert_no_evidence(line, strlen(line), 0);
                struct fl_event ev;
                snprintf(line, sizeof line, T " [warn]: #0 [%0127d] retry succeeded. chunk_id=\"" ID "\"", 0);
                assert_int_equal(parse(line, FL_FORMAT_TEXT, &ev), 0);
                assert_int_equal(ev.kind, FL_RETRY_SUCCEEDED);
                assert_int_equal(strlen(ev.plugin_id), 127);
        }
        /* A key longer than the field: rejected, not cut. */
        {
                _cleanup_(freep) char *line = malloc(4096);
                assert_non_null(line);
                int n = snprintf(line, 4096, T " [debug]: #0 [out_s3] out_s3: completed to write chunk " ID " with metadata " META " to s3://b/");
                memset(line + n, 'k', 1200);
                line[n + 1200] = '\0';
                assert_no_evidence(line, strlen(line), 0);
        }
}

static void test_long_lines(void **state) {
        (void)state;
        _cleanup_(freep) char *line = malloc(1024 * 1024 + 1);
        assert_non_null(line);
        int n = snprintf(line, 256, T " [info]: #0 [in_tail] pattern not matched: ");
        memset(line + n, 'a', 1024 * 1024 - (size_t)n);

        struct fl_event ev;
        assert_int_equal(fl_parse_line(line, 1024 * 1024, FL_FORMAT_AUTO, &ev), -E2BIG);
        assert_int_equal(ev.kind, FL_NONE);
        assert_int_equal(fl_parse_line(line, FL_MAX_LINE + 1, FL_FORMAT_AUTO, &ev), -E2BIG);
        assert_int_equal(fl_parse_line(line, FL_MAX_LINE, FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_NONE);
        /* Not NUL-terminated: len is the line. */
        static const char buf[] = T " [info]: #0 force flushing buffered eventsXXXX";
        assert_int_equal(fl_parse_line(buf, sizeof buf - 1 - 4, FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_ACK);
}

static const char *table_line(enum fl_kind k) {
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].kind == k)
                        return table[i].line;
        fail_msg("no table line for %s", fl_kind_name(k));
        return NULL;
}

/* An event left over from a previous line never leaks into the next. */
static void test_reset(void **state) {
        (void)state;
        struct fl_event ev;
        assert_int_equal(parse(table_line(FL_FLUSH_FAILED), FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_FLUSH_FAILED);
        assert_int_equal(parse(T " [info]: starting fluentd-1.14.4 pid=1 ruby=\"3.1.2\"", FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(ev.kind, FL_NONE);
        assert_int_equal(ev.worker, -1);
        assert_int_equal(ev.retry_times, -1);
        assert_string_equal(ev.chunk_id, "");
        assert_string_equal(ev.next_retry_time, "");
        assert_string_equal(ev.error, "");
        assert_string_equal(ev.plugin_id, "");
        assert_int_equal(parse(table_line(FL_FLUSH_FAILED), FL_FORMAT_AUTO, &ev), 0);
        assert_int_equal(parse("\x01", FL_FORMAT_AUTO, &ev), -EBADMSG);
        assert_int_equal(ev.kind, FL_NONE);
        assert_string_equal(ev.chunk_id, "");
        assert_string_equal(ev.plugin_id, "");
}

static void test_names(void **state) {
        (void)state;
        for (int a = 0; a < _FL_KIND_MAX; a++) {
                assert_string_not_equal(fl_kind_name((enum fl_kind)a), "unknown");
                for (int b = a + 1; b < _FL_KIND_MAX; b++)
                        assert_string_not_equal(fl_kind_name((enum fl_kind)a), fl_kind_name((enum fl_kind)b));
        }
        assert_string_equal(fl_kind_name(_FL_KIND_MAX), "unknown");
        assert_string_equal(fl_kind_name(FL_COMPLETED), "completed");
        assert_string_equal(fl_level_name(FL_LEVEL_WARN), "warn");

        static const enum fl_kind loss[] = { FL_RETRY_SUCCEEDED_SECONDARY, FL_RETRY_LIMIT, FL_BACKUP, FL_EVACUATED,
                                             FL_THROWN_AWAY, FL_OVERFLOW_DROP, FL_UNRECOVERABLE };
        for (int k = 0; k < _FL_KIND_MAX; k++) {
                bool want = false;
                for (size_t i = 0; i < ELEMENTSOF(loss); i++)
                        want |= loss[i] == (enum fl_kind)k;
                assert_int_equal(fl_kind_is_loss((enum fl_kind)k), want);
        }
}

/* Seeds and inputs the fuzzer found (tests/unit/corpus/fluentlog-*): each must parse without a crash
 * and never yield a chunk id that is not 32 hex digits. */
static void test_corpus(void **state) {
        (void)state;
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/unit/corpus", REPO_DIR);
        DIR *d = opendir(path);
        assert_non_null(d);
        unsigned files = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, "fluentlog-", 10) != 0)
                        continue;
                files++;
                char p[8192];
                snprintf(p, sizeof p, "%s/%s", path, de->d_name);
                _cleanup_(fclosep) FILE *f = fopen(p, "re");
                assert_non_null(f);
                char buf[FL_MAX_LINE + 2];
                size_t n = fread(buf, 1, sizeof buf, f);
                struct fl_event ev;
                for (int fmt = FL_FORMAT_AUTO; fmt <= FL_FORMAT_JSON; fmt++) {
                        int r = fl_parse_line(buf, n, (enum fl_format)fmt, &ev);
                        assert_true(r == 0 || r == -EBADMSG || r == -E2BIG);
                        if (ev.chunk_id[0])
                                assert_int_equal(strlen(ev.chunk_id), 32);
                }
        }
        closedir(d);
        assert_true(files > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixture_dirs_known),
                cmocka_unit_test(test_fixture_counts),
                cmocka_unit_test(test_fixture_normal_debug),
                cmocka_unit_test(test_fixture_s3_down),
                cmocka_unit_test(test_fixture_multi_worker),
                cmocka_unit_test(test_fixture_ms_and_sysdebug),
                cmocka_unit_test(test_continuation),
                cmocka_unit_test(test_message_table),
                cmocka_unit_test(test_wrong_level),
                cmocka_unit_test(test_time_formats),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_forged),
                cmocka_unit_test(test_long_lines),
                cmocka_unit_test(test_reset),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_corpus),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
