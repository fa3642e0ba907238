/* fluentlog.h — one line of Fluentd's own log → one typed event (anchored grammar, no substring search).
 *
 * Text grammar (FLUENTD-FACTS.md):
 *   <time> [<level>]: [#<worker> ][<file>.rb:<line>:<meth>: ][[<plugin @id>] ]<message>[ key=value…]
 * JSON grammar (<system><log> format json): {"time":…,"level":…,"message":…,"worker_id":…}.
 * Lines starting with two spaces are continuation lines. A line with control characters (other than
 * tab), invalid UTF-8, or that does not match the grammar is rejected: it can never produce an event.
 * Record content can appear in Fluentd's log, so nothing here may be trusted on its own: the state
 * machine (flush.c) only accepts chunk ids it knows and never confirms an upload from a log line alone.
 *
 * Details of the grammar as implemented (fluentlog.c):
 *   - time: anything up to the first " [<level>]: " within FL_MAX_TIME bytes (any strftime time_format);
 *   - caller (debug mode): "<dir>/<file>.rb:<line>:<method>: ", method possibly empty or with spaces;
 *   - a message is matched by its exact leading text AND the level Fluentd logs it at; the same text at
 *     another level is FL_NONE. Version variants: "retry_time=/next_retry_seconds=" (≤ 1.14.0) and
 *     "retry_times=/next_retry_time="; "failed to flush the buffer, and hit limit for retries. …" (≤ 1.14.0)
 *     and "Hit limit for retries. …";
 *   - WRITE/COMPLETED: the key is what follows the last " to s3://", right after the metadata's closing ">";
 *   - "</ROOT>" at column 0 (the end of the multi-line config dump) is FL_CONTINUATION;
 *   - JSON: a message with an escaped newline (backtrace, config dump) is FL_NONE, unless its first line
 *     reads as evidence (then -EBADMSG: Fluentd never prints a raw newline there); other escaped control
 *     characters → -EBADMSG. Text lines allocate nothing; JSON lines go through jansson. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define FL_CHUNK_ID_LEN 32
#define FL_MAX_LINE (64 * 1024)   /* longer lines are cut by logtail and rejected here */
#define FL_MAX_TIME 96            /* longest time stamp accepted before " [<level>]: " */

enum fl_format { FL_FORMAT_AUTO = 0, FL_FORMAT_TEXT, FL_FORMAT_JSON };

enum fl_level { FL_LEVEL_TRACE = 0, FL_LEVEL_DEBUG, FL_LEVEL_INFO, FL_LEVEL_WARN, FL_LEVEL_ERROR, FL_LEVEL_FATAL };

enum fl_kind {
        FL_NONE = 0,              /* a valid line that carries no flush evidence */
        FL_CONTINUATION,          /* "  …" config dump, backtrace, suppressed stacktrace */
        FL_SIGUSR1,               /* debug: fluentd main process get SIGUSR1 (worker) /
                                     fluentd supervisor process get SIGUSR1 (supervisor) */
        FL_ACK,                   /* info: force flushing buffered events */
        FL_FLUSHING_ALL,          /* info: flushing all buffer forcedly */
        FL_THREAD_FLUSHED,        /* debug: flushing thread: flushed (NOT an upload) */
        FL_CHUNK_CREATED,         /* debug: Created new chunk chunk_id="…" */
        FL_WRITE,                 /* debug: out_s3: write chunk <id> with metadata … to s3://b/k (before PUT) */
        FL_COMPLETED,             /* debug: out_s3: completed to write chunk <id> … to s3://b/k (out_s3 ≥ 1.8.2) */
        FL_FLUSH_FAILED,          /* warn: failed to flush the buffer. retry_times=… next_retry_time=… chunk="…" */
        FL_SECONDARY_FAILED,      /* warn: failed to flush the buffer with secondary output. … */
        FL_TAKE_BACK,             /* debug: taking back chunk for errors. chunk="…" */
        FL_RETRY_SUCCEEDED,       /* warn: retry succeeded. chunk_id="…" */
        FL_RETRY_SUCCEEDED_SECONDARY, /* warn: retry succeeded by secondary. chunk_id="…" (went to secondary, not S3) */
        FL_RETRY_LIMIT,           /* error: Hit limit for retries. dropping all chunks in the buffer queue. (and ≤1.14.0 text) */
        FL_BACKUP,                /* warn: bad chunk is moved to <path> (chunk id = hex in the file name) */
        FL_EVACUATED,             /* warn: chunk files are evacuated to <dir>. chunk_id="…" (≥ 1.19) */
        FL_THROWN_AWAY,           /* warn: disable_chunk_backup is true. <hex> chunk is thrown away */
        FL_OVERFLOW_DROP,         /* warn: dropping oldest chunk to make space after buffer overflow chunk_id=… */
        FL_UNRECOVERABLE,         /* warn: got unrecoverable error in primary and no secondary / in secondary. */
        FL_SLOW_FLUSH,            /* warn: buffer flush took longer time than slow_flush_log_threshold: … */
        _FL_KIND_MAX,
};

struct fl_event {
        enum fl_kind kind;
        enum fl_level level;
        int worker;                           /* #N / worker_id; -1 on supervisor lines */
        char plugin_id[128];                  /* the [id] segment, "" when absent */
        char chunk_id[FL_CHUNK_ID_LEN + 1];   /* lower-case hex, "" when the line names none */
        char key[1100];                       /* "s3://bucket/key" of WRITE/COMPLETED, "" otherwise */
        int retry_times;                      /* FLUSH_FAILED: retry_times=N, -1 when absent */
        char next_retry_time[64];             /* FLUSH_FAILED: next_retry_time= (or next_retry_seconds=) as printed */
        char error[512];                      /* failures: `error_class=C error="msg"` (cut); other evidence: the
                                                 message, cut; "" for FL_NONE / FL_CONTINUATION */
};

/* Parse one line (no trailing newline; len bytes, need not be NUL-terminated).
 * Returns 0 and fills *ev (kind FL_NONE for lines without evidence, FL_CONTINUATION for continuation
 * lines); -EBADMSG when the line does not match the grammar or holds control characters / invalid
 * UTF-8; -E2BIG when len > FL_MAX_LINE. *ev is reset on every call (kind FL_NONE, level 0, every string
 * "", worker -1, retry_times -1; bytes after a string's terminator are not cleared, for speed). */
int fl_parse_line(const char *line, size_t len, enum fl_format fmt, struct fl_event *ev);

/* Stable lower-case names ("write", "completed", "retry_limit", …), used in the JSON result. */
const char *fl_kind_name(enum fl_kind k);
const char *fl_level_name(enum fl_level l);
/* True for events that mean data left (or will leave) the buffer without reaching S3. */
bool fl_kind_is_loss(enum fl_kind k);
