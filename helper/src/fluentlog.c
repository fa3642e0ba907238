/* fluentlog.c — one line of Fluentd's own log → one typed event: anchored grammar, exact message texts.
 *
 * Every line is first checked byte by byte (length, control characters, UTF-8) and then read strictly
 * from column 0: time, ` [level]: `, `#N `, caller, `[id] `, then the message by its exact leading text
 * (the table in FLUENTD-FACTS.md, with the variants of Fluentd 1.11 … 1.19). No regex, no allocation for
 * text lines; the JSON format goes through jansson. Nothing in a line is searched for in the middle of
 * text that record content can reach, except where the grammar puts a value at the end (the S3 key). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "fluentlog.h"
#include "macro.h"


#define FL_MAX_WORKER_DIGITS 5
#define FL_MAX_CALLER_METHOD 160

#define STRLEN(s) (sizeof(s) - 1)

static const char *const level_names[] = {
        [FL_LEVEL_TRACE] = "trace", [FL_LEVEL_DEBUG] = "debug", [FL_LEVEL_INFO] = "info",
        [FL_LEVEL_WARN] = "warn",   [FL_LEVEL_ERROR] = "error", [FL_LEVEL_FATAL] = "fatal",
};

static const char *const kind_names[_FL_KIND_MAX] = {
        [FL_NONE] = "none",
        [FL_CONTINUATION] = "continuation",
        [FL_SIGUSR1] = "sigusr1",
        [FL_ACK] = "ack",
        [FL_FLUSHING_ALL] = "flushing_all",
        [FL_THREAD_FLUSHED] = "thread_flushed",
        [FL_CHUNK_CREATED] = "chunk_created",
        [FL_WRITE] = "write",
        [FL_COMPLETED] = "completed",
        [FL_FLUSH_FAILED] = "flush_failed",
        [FL_SECONDARY_FAILED] = "secondary_failed",
        [FL_TAKE_BACK] = "take_back",
        [FL_RETRY_SUCCEEDED] = "retry_succeeded",
        [FL_RETRY_SUCCEEDED_SECONDARY] = "retry_succeeded_by_secondary",
        [FL_RETRY_LIMIT] = "retry_limit",
        [FL_BACKUP] = "backup",
        [FL_EVACUATED] = "evacuated",
        [FL_THROWN_AWAY] = "thrown_away",
        [FL_OVERFLOW_DROP] = "overflow_drop",
        [FL_UNRECOVERABLE] = "unrecoverable",
        [FL_SLOW_FLUSH] = "slow_flush",
};

const char *fl_kind_name(enum fl_kind k) {
        if ((unsigned)k >= _FL_KIND_MAX || !kind_names[k])
                return "unknown";
        return kind_names[k];
}

bool fl_kind_is_loss(enum fl_kind k) {
        switch (k) {
        case FL_RETRY_SUCCEEDED_SECONDARY: /* the chunk went to the secondary output, not to S3 */
        case FL_RETRY_LIMIT:
        case FL_BACKUP:
        case FL_EVACUATED:
        case FL_THROWN_AWAY:
        case FL_OVERFLOW_DROP:
        case FL_UNRECOVERABLE:             /* followed by a backup, a throw-away or the secondary */
                return true;
        default:
                return false;
        }
}

const char *fl_level_name(enum fl_level l) {
        if ((unsigned)l > FL_LEVEL_FATAL)
                return "unknown";
        return level_names[l];
}

/* ---- byte checks ---- */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load64(const unsigned char *p) {
        uint64_t x;
        memcpy(&x, p, sizeof x);
        return x;
}

/* One UTF-8 sequence at s[*i] (s[*i] >= 0x80). Rejects overlongs, surrogates, > U+10FFFF and the C1
 * controls U+0080…U+009F. */
static bool utf8_seq(const unsigned char *s, size_t len, size_t *i) {
        size_t k = *i;
        unsigned char c = s[k];
        uint32_t cp;
        size_t n;

        if (c >= 0xc2 && c <= 0xdf) {
                n = 1;
                cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 2;
                cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 3;
                cp = c & 0x07;
        } else
                return false;
        if (len - k - 1 < n)
                return false;
        for (size_t j = 1; j <= n; j++) {
                unsigned char cc = s[k + j];
                if ((cc & 0xc0) != 0x80)
                        return false;
                cp = (cp << 6) | (cc & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
                return false;
        *i = k + n + 1;
        return true;
}

/* True when every byte is printable ASCII, tab, or part of a valid non-control UTF-8 sequence. */
static bool bytes_valid(const char *line, size_t len) {
        const unsigned char *s = (const unsigned char *)line;
        size_t i = 0;

        while (i < len) {
                /* Sixteen bytes per step while everything is printable ASCII (no byte < 0x20, 0x7f, ≥ 0x80). */
                while (len - i >= 16) {
                        uint64_t x = load64(s + i), y = load64(s + i + 8);
                        uint64_t dx = x ^ (ONES * 0x7f), dy = y ^ (ONES * 0x7f);
                        uint64_t bad = (x | y) | ((x - ONES * 0x20) & ~x) | ((y - ONES * 0x20) & ~y) |
                                       ((dx - ONES) & ~dx) | ((dy - ONES) & ~dy);
                        if (bad & HIGHS)
                                break;
                        i += 16;
                }
                if (i >= len)
                        break;
                unsigned char c = s[i];
                if (c >= 0x80) {
                        if (!utf8_seq(s, len, &i))
                                return false;
                        continue;
                }
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return false;
                i++;
        }
        return true;
}

/* ---- small field readers (all bounded by end) ---- */

static inline bool is_lhex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* 32 lower-case hex digits at p (the caller checks what follows: a quote, a space, ".log"). */
static bool hex32_at(const char *p, const char *end) {
        if (end - p < FL_CHUNK_ID_LEN)
                return false;
        for (int i = 0; i < FL_CHUNK_ID_LEN; i++)
                if (!is_lhex(p[i]))
                        return false;
        return true;
}

static inline bool starts(const char *p, const char *end, const char *lit, size_t n) {
        return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}
#define STARTS(p, end, lit) starts((p), (end), (lit), STRLEN(lit))

static inline bool equals(const char *p, const char *end, const char *lit, size_t n) {
        return (size_t)(end - p) == n && memcmp(p, lit, n) == 0;
}
#define EQUALS(p, end, lit) equals((p), (end), (lit), STRLEN(lit))

/* `"<32hex>"` at p, followed by the end or a space. Returns the position after the closing quote. */
static const char *quoted_id(const char *p, const char *end, char out[FL_CHUNK_ID_LEN + 1]) {
        if (p >= end || *p != '"' || !hex32_at(p + 1, end))
                return NULL;
        const char *q = p + 1 + FL_CHUNK_ID_LEN;
        if (q >= end || *q != '"')
                return NULL;
        q++;
        if (q != end && *q != ' ')
                return NULL;
        memcpy(out, p + 1, FL_CHUNK_ID_LEN);
        out[FL_CHUNK_ID_LEN] = '\0';
        return q;
}

static const char *find_lit(const char *p, const char *end, const char *lit, size_t n) {
        if ((size_t)(end - p) < n)
                return NULL;
        return memmem(p, (size_t)(end - p), lit, n);
}

/* Last occurrence of lit in [p, end). */
static const char *rfind_lit(const char *p, const char *end, const char *lit, size_t n) {
        if ((size_t)(end - p) < n)
                return NULL;
        for (const char *q = end - n;; q--) {
                if (*q == lit[0] && memcmp(q, lit, n) == 0)
                        return q;
                if (q == p)
                        return NULL;
        }
}

static bool parse_uint(const char *p, const char *end, int max_digits, int *out, const char **next) {
        int v = 0, n = 0;
        while (p < end && *p >= '0' && *p <= '9') {
                if (++n > max_digits)
                        return false;
                v = v * 10 + (*p - '0');
                p++;
        }
        if (n == 0)
                return false;
        *out = v;
        *next = p;
        return true;
}

static void set_text(char *dst, size_t size, const char *p, const char *end) {
        strncpy0(dst, size, p, (size_t)(end - p));
}

/* The `error_class=C error="…"` tail of a failure line, or the whole message when there is none. */
static void set_error(struct fl_event *ev, const char *msg, const char *from, const char *end) {
        const char *e = find_lit(from, end, " error_class=", STRLEN(" error_class="));
        if (e)
                set_text(ev->error, sizeof ev->error, e + 1, end);
        else
                set_text(ev->error, sizeof ev->error, msg, end);
}

/* ---- the message table ---- */

/* The level Fluentd logs each message at: the same text at another level is some other plugin's. */
static const enum fl_level kind_level[_FL_KIND_MAX] = {
        [FL_SIGUSR1] = FL_LEVEL_DEBUG,          [FL_ACK] = FL_LEVEL_INFO,
        [FL_FLUSHING_ALL] = FL_LEVEL_INFO,      [FL_THREAD_FLUSHED] = FL_LEVEL_DEBUG,
        [FL_CHUNK_CREATED] = FL_LEVEL_DEBUG,    [FL_WRITE] = FL_LEVEL_DEBUG,
        [FL_COMPLETED] = FL_LEVEL_DEBUG,        [FL_FLUSH_FAILED] = FL_LEVEL_WARN,
        [FL_SECONDARY_FAILED] = FL_LEVEL_WARN,  [FL_TAKE_BACK] = FL_LEVEL_DEBUG,
        [FL_RETRY_SUCCEEDED] = FL_LEVEL_WARN,   [FL_RETRY_SUCCEEDED_SECONDARY] = FL_LEVEL_WARN,
        [FL_RETRY_LIMIT] = FL_LEVEL_ERROR,      [FL_BACKUP] = FL_LEVEL_WARN,
        [FL_EVACUATED] = FL_LEVEL_WARN,         [FL_THROWN_AWAY] = FL_LEVEL_WARN,
        [FL_OVERFLOW_DROP] = FL_LEVEL_WARN,     [FL_UNRECOVERABLE] = FL_LEVEL_WARN,
        [FL_SLOW_FLUSH] = FL_LEVEL_WARN,
};

/* `out_s3: [completed to ]write chunk <id> with metadata #<…> to s3://<bucket>/<key>` */
static enum fl_kind parse_s3_write(const char *p, const char *end, enum fl_kind kind, struct fl_event *ev) {
        if (!hex32_at(p, end))
                return FL_NONE;
        const char *id = p;
        p += FL_CHUNK_ID_LEN;
        if (!STARTS(p, end, " with metadata #<"))
                return FL_NONE;
        p += STRLEN(" with metadata ");
        /* The metadata prints the tag and chunk-key values, which record content can reach: the key is
         * what follows the last " to s3://", and the metadata must close right before it. */
        const char *to = rfind_lit(p, end, " to s3://", STRLEN(" to s3://"));
        if (!to || to - p < 3 || to[-1] != '>')
                return FL_NONE;
        const char *key = to + STRLEN(" to ");
        const char *b = key + STRLEN("s3://");
        const char *bend = b;
        while (bend < end && *bend != '/') {
                char c = *bend;
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_'))
                        return FL_NONE;
                bend++;
        }
        if (bend == b || bend - b > 255 || bend >= end || end - (bend + 1) < 1)
                return FL_NONE;
        if ((size_t)(end - key) >= sizeof ev->key)
                return FL_NONE;
        memcpy(ev->chunk_id, id, FL_CHUNK_ID_LEN);
        ev->chunk_id[FL_CHUNK_ID_LEN] = '\0';
        set_text(ev->key, sizeof ev->key, key, end);
        return kind;
}

/* ` retry_times=N next_retry_time=T chunk="<id>" error_class=C error="…"` (≤ 1.14.0: retry_time=,
 * next_retry_seconds=). */
static enum fl_kind parse_failed(const char *msg, const char *p, const char *end, enum fl_kind kind,
                                 struct fl_event *ev) {
        if (STARTS(p, end, " retry_times="))
                p += STRLEN(" retry_times=");
        else if (STARTS(p, end, " retry_time="))
                p += STRLEN(" retry_time=");
        else
                return FL_NONE;
        int n;
        if (!parse_uint(p, end, 9, &n, &p))
                return FL_NONE;
        if (STARTS(p, end, " next_retry_time="))
                p += STRLEN(" next_retry_time=");
        else if (STARTS(p, end, " next_retry_seconds="))
                p += STRLEN(" next_retry_seconds=");
        else
                return FL_NONE;
        /* The time (Time#inspect, with spaces) is printed by Fluentd itself, before any record content. */
        const char *c = find_lit(p, end, " chunk=\"", STRLEN(" chunk=\""));
        if (!c || c == p || (size_t)(c - p) >= sizeof ev->next_retry_time)
                return FL_NONE;
        const char *t = p;
        const char *q = quoted_id(c + STRLEN(" chunk="), end, ev->chunk_id);
        if (!q)
                return FL_NONE;
        ev->retry_times = n;
        set_text(ev->next_retry_time, sizeof ev->next_retry_time, t, c);
        set_error(ev, msg, q, end);
        return kind;
}

/* `… chunk_id="<id>"` (or chunk=) to the end of the message. */
static enum fl_kind parse_id_field(const char *p, const char *end, const char *field, size_t n, enum fl_kind kind,
                                   struct fl_event *ev) {
        if (!starts(p, end, field, n))
                return FL_NONE;
        return quoted_id(p + n, end, ev->chunk_id) ? kind : FL_NONE;
}

/* Decide the kind from the message text (after `[id] `). msg is not terminated. */
static enum fl_kind classify(const char *msg, const char *end, enum fl_level level, struct fl_event *ev) {
        const char *p = msg;
        enum fl_kind k = FL_NONE;

        if (p >= end)
                return FL_NONE;
        switch (*p) {
        case 'f':
                if (EQUALS(p, end, "force flushing buffered events"))
                        k = FL_ACK;
                else if (EQUALS(p, end, "flushing all buffer forcedly"))
                        k = FL_FLUSHING_ALL;
                else if (EQUALS(p, end, "flushing thread: flushed"))
                        k = FL_THREAD_FLUSHED;
                else if (EQUALS(p, end, "fluentd main process get SIGUSR1") ||
                         EQUALS(p, end, "fluentd supervisor process get SIGUSR1"))
                        k = FL_SIGUSR1;
                else if (STARTS(p, end, "failed to flush the buffer")) {
                        const char *r = p + STRLEN("failed to flush the buffer");
                        if (STARTS(r, end, ". "))
                                k = parse_failed(msg, r + 1, end, FL_FLUSH_FAILED, ev);
                        else if (STARTS(r, end, " with secondary output. "))
                                k = parse_failed(msg, r + STRLEN(" with secondary output."), end,
                                                 FL_SECONDARY_FAILED, ev);
                        else if (STARTS(r, end, ", and hit limit for retries. dropping all chunks in the buffer queue.")) {
                                k = FL_RETRY_LIMIT;
                                p = r + STRLEN(", and hit limit for retries. dropping all chunks in the buffer queue.");
                                goto retry_limit;
                        }
                }
                break;
        case 'o':
                if (STARTS(p, end, "out_s3: write chunk "))
                        k = parse_s3_write(p + STRLEN("out_s3: write chunk "), end, FL_WRITE, ev);
                else if (STARTS(p, end, "out_s3: completed to write chunk "))
                        k = parse_s3_write(p + STRLEN("out_s3: completed to write chunk "), end, FL_COMPLETED, ev);
                break;
        case 'C':
                if (STARTS(p, end, "Created new chunk "))
                        k = parse_id_field(p + STRLEN("Created new chunk "), end, "chunk_id=", STRLEN("chunk_id="),
                                           FL_CHUNK_CREATED, ev);
                break;
        case 't':
                if (STARTS(p, end, "taking back chunk for errors. "))
                        k = parse_id_field(p + STRLEN("taking back chunk for errors. "), end, "chunk=",
                                           STRLEN("chunk="), FL_TAKE_BACK, ev);
                break;
        case 'r':
                if (STARTS(p, end, "retry succeeded. "))
                        k = parse_id_field(p + STRLEN("retry succeeded. "), end, "chunk_id=", STRLEN("chunk_id="),
                                           FL_RETRY_SUCCEEDED, ev);
                else if (STARTS(p, end, "retry succeeded by secondary. "))
                        k = parse_id_field(p + STRLEN("retry succeeded by secondary. "), end, "chunk_id=",
                                           STRLEN("chunk_id="), FL_RETRY_SUCCEEDED_SECONDARY, ev);
                break;
        case 'H':
                if (STARTS(p, end, "Hit limit for retries. dropping all chunks in the buffer queue.")) {
                        k = FL_RETRY_LIMIT;
                        p += STRLEN("Hit limit for retries. dropping all chunks in the buffer queue.");
                        goto retry_limit;
                }
                break;
        case 'b':
                if (STARTS(p, end, "bad chunk is moved to /")) {
                        /* …/backup/worker<N>/<plugin>/<32hex>.log: the chunk id is the file name. */
                        const size_t tail = 1 + FL_CHUNK_ID_LEN + STRLEN(".log");
                        const char *f = (size_t)(end - p) >= STRLEN("bad chunk is moved to ") + tail ? end - tail : NULL;
                        if (f && *f == '/' && hex32_at(f + 1, end) && EQUALS(f + 1 + FL_CHUNK_ID_LEN, end, ".log")) {
                                memcpy(ev->chunk_id, f + 1, FL_CHUNK_ID_LEN);
                                ev->chunk_id[FL_CHUNK_ID_LEN] = '\0';
                                k = FL_BACKUP;
                        }
                } else if (STARTS(p, end, "buffer flush took longer time than slow_flush_log_threshold:"))
                        k = FL_SLOW_FLUSH;
                break;
        case 'c':
                if (STARTS(p, end, "chunk files are evacuated to ")) {
                        /* <dir>. chunk_id="<32hex>" — the id closes the line. */
                        const size_t tail = STRLEN(". chunk_id=\"") + FL_CHUNK_ID_LEN + 1;
                        const char *s = (size_t)(end - p) > STRLEN("chunk files are evacuated to ") + tail ? end - tail
                                                                                                        : NULL;
                        if (s && STARTS(s, end, ". chunk_id=\"") &&
                            quoted_id(s + STRLEN(". chunk_id="), end, ev->chunk_id) == end)
                                k = FL_EVACUATED;
                }
                break;
        case 'd':
                if (STARTS(p, end, "disable_chunk_backup is true. ")) {
                        const char *h = p + STRLEN("disable_chunk_backup is true. ");
                        if (hex32_at(h, end) && EQUALS(h + FL_CHUNK_ID_LEN, end, " chunk is thrown away")) {
                                memcpy(ev->chunk_id, h, FL_CHUNK_ID_LEN);
                                ev->chunk_id[FL_CHUNK_ID_LEN] = '\0';
                                k = FL_THROWN_AWAY;
                        }
                } else if (STARTS(p, end, "dropping oldest chunk to make space after buffer overflow "))
                        k = parse_id_field(p + STRLEN("dropping oldest chunk to make space after buffer overflow "),
                                           end, "chunk_id=", STRLEN("chunk_id="), FL_OVERFLOW_DROP, ev);
                break;
        case 'g':
                /* "… in primary and no secondary", "… in secondary.", "… in primary. Skip retry and flush chunk
                 * to secondary", "… secondary type is same as primary. Skip secondary", "… secondary is async
                 * output. Skip secondary for backup", and the secondary's own failure on that path: the chunk
                 * leaves the primary (backup, throw-away or secondary) either way. */
                if (STARTS(p, end, "got unrecoverable error in ") ||
                    STARTS(p, end, "got an error in secondary for unrecoverable error")) {
                        k = FL_UNRECOVERABLE;
                        set_error(ev, msg, p, end);
                }
                break;
        default:
                break;
        }
        goto done;

retry_limit:
        /* ` retry_times=N records=N error_class=C error="…"` */
        if (p != end && *p != ' ') {
                k = FL_NONE;
                goto done;
        }
        if (STARTS(p, end, " retry_times=")) {
                int n;
                const char *q;
                if (parse_uint(p + STRLEN(" retry_times="), end, 9, &n, &q))
                        ev->retry_times = n;
        }
        set_error(ev, msg, p, end);

done:
        if (k == FL_NONE || level != kind_level[k]) {
                /* Not evidence: clear whatever a partial match filled in. */
                ev->chunk_id[0] = ev->key[0] = ev->next_retry_time[0] = ev->error[0] = '\0';
                ev->retry_times = -1;
                return FL_NONE;
        }
        if (ev->error[0] == '\0')
                set_text(ev->error, sizeof ev->error, msg, end);
        return k;
}

/* `[id] ` at p: copies the id and returns the position after it, or p when there is none. */
static const char *plugin_header(const char *p, const char *end, struct fl_event *ev) {
        if (p >= end || *p != '[')
                return p;
        const char *lim = p + 1 + sizeof ev->plugin_id;
        if (lim > end)
                lim = end;
        const char *q = memchr(p + 1, ']', (size_t)(lim - (p + 1)));
        if (!q || q == p + 1 || q + 1 >= end || q[1] != ' ')
                return p;
        set_text(ev->plugin_id, sizeof ev->plugin_id, p + 1, q);
        return q + 2;
}

static int parse_body(const char *p, const char *end, struct fl_event *ev) {
        p = plugin_header(p, end, ev);
        ev->kind = classify(p, end, ev->level, ev);
        return 0;
}

/* ---- text format ---- */

static bool level_at(const char *p, const char *end, enum fl_level *lvl, const char **next) {
        /* p points after " [" */
        for (int l = FL_LEVEL_TRACE; l <= FL_LEVEL_FATAL; l++) {
                size_t n = strlen(level_names[l]);
                if ((size_t)(end - p) >= n + 3 && memcmp(p, level_names[l], n) == 0 && p[n] == ']' &&
                    p[n + 1] == ':' && p[n + 2] == ' ') {
                        *lvl = (enum fl_level)l;
                        *next = p + n + 3;
                        return true;
                }
        }
        return false;
}

static inline bool is_path_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.' || c == '+';
}

/* Fluentd in debug mode: `<dir>/<file>.rb:<line>:<method>: ` (the last two path components of the
 * caller; the method may be empty, or hold spaces as in "block (2 levels) in start"). */
static const char *caller_segment(const char *p, const char *end) {
        const char *q = p;
        while (q < end && is_path_char(*q))
                q++;
        if (q == p || q >= end || *q != '/')
                return p;
        const char *f = ++q;
        while (q < end && is_path_char(*q))
                q++;
        if (q - f < 4 || memcmp(q - 3, ".rb", 3) != 0 || q >= end || *q != ':')
                return p;
        int line;
        if (!parse_uint(q + 1, end, 7, &line, &q) || q >= end || *q != ':')
                return p;
        q++;
        const char *lim = end - q > FL_MAX_CALLER_METHOD ? q + FL_MAX_CALLER_METHOD : end;
        for (const char *m = q; m < lim && m + 1 < end; m++) {
                if ((unsigned char)*m >= 0x80)
                        return p;
                if (m[0] == ':' && m[1] == ' ')
                        return m + 2;
        }
        return p;
}

static int parse_text(const char *line, size_t len, struct fl_event *ev) {
        const char *end = line + len;

        if (len >= 2 && line[0] == ' ' && line[1] == ' ') {
                ev->kind = FL_CONTINUATION;
                return 0;
        }
        /* The end of the multi-line "using configuration file: <ROOT>" dump is printed at column 0. */
        if (EQUALS(line, end, "</ROOT>")) {
                ev->kind = FL_CONTINUATION;
                return 0;
        }
        if (len == 0 || line[0] == ' ')
                return -EBADMSG;

        /* The first " [<level>]: " within FL_MAX_TIME bytes ends the time, whatever its format. */
        const char *lim = line + MIN(len, (size_t)FL_MAX_TIME + 2);
        const char *p = NULL;
        for (const char *b = line + 1; b < lim; b++) {
                b = memchr(b, '[', (size_t)(lim - b));
                if (!b)
                        break;
                if (b[-1] == ' ' && level_at(b + 1, end, &ev->level, &p))
                        break;
                p = NULL;
        }
        if (!p)
                return -EBADMSG;

        if (p < end && *p == '#') {
                int w;
                const char *q;
                if (!parse_uint(p + 1, end, FL_MAX_WORKER_DIGITS, &w, &q) || q >= end || *q != ' ')
                        return -EBADMSG;
                ev->worker = w;
                p = q + 1;
        }
        p = caller_segment(p, end);
        return parse_body(p, end, ev);
}

/* ---- JSON format: {"time":…,"level":…,"message":…,"worker_id":…} ---- */

static int parse_json(const char *line, size_t len, struct fl_event *ev) {
        json_error_t err;
        json_auto_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
        if (!o || !json_is_object(o))
                return -EBADMSG;

        json_t *t = json_object_get(o, "time");
        json_t *l = json_object_get(o, "level");
        json_t *m = json_object_get(o, "message");
        json_t *w = json_object_get(o, "worker_id");
        if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > FL_MAX_TIME ||
            !json_is_string(l) || !json_is_string(m))
                return -EBADMSG;

        const char *ls = json_string_value(l);
        size_t ll = json_string_length(l);
        int lv = -1;
        for (int i = FL_LEVEL_TRACE; i <= FL_LEVEL_FATAL; i++)
                if (ll == strlen(level_names[i]) && memcmp(ls, level_names[i], ll) == 0)
                        lv = i;
        if (lv < 0)
                return -EBADMSG;
        ev->level = (enum fl_level)lv;

        if (w) {
                if (!json_is_integer(w) || json_integer_value(w) < 0 || json_integer_value(w) > 99999)
                        return -EBADMSG;
                ev->worker = (int)json_integer_value(w);
        }

        /* jansson checked the UTF-8 and refused \u0000; control characters may still come from escapes. */
        const char *ms = json_string_value(m);
        size_t ml = json_string_length(m);
        if (!bytes_valid(ms, ml)) {
                /* A multi-line message (a backtrace, the config dump) is not evidence; one whose first line
                 * reads like evidence carries a raw newline where Fluentd prints none: forged or broken. */
                const char *nl = memchr(ms, '\n', ml);
                if (!nl)
                        return -EBADMSG;
                for (size_t i = 0; i < ml; i++) {
                        unsigned char c = (unsigned char)ms[i];
                        if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
                                return -EBADMSG;
                }
                struct fl_event first = *ev;
                parse_body(ms, nl, &first);
                if (first.kind != FL_NONE)
                        return -EBADMSG;
                ev->kind = FL_NONE;
                return 0;
        }
        return parse_body(ms, ms + ml, ev);
}

/* ---- entry point ---- */

static void ev_reset(struct fl_event *ev) {
        /* Field by field: clearing the whole 2 KiB struct per line would cost more than parsing it. */
        ev->kind = FL_NONE;
        ev->level = FL_LEVEL_TRACE;
        ev->plugin_id[0] = ev->chunk_id[0] = ev->key[0] = ev->next_retry_time[0] = ev->error[0] = '\0';
        ev->worker = -1;
        ev->retry_times = -1;
}

int fl_parse_line(const char *line, size_t len, enum fl_format fmt, struct fl_event *ev) {
        ev_reset(ev);
        if (len > FL_MAX_LINE)
                return -E2BIG;
        if (!line || len == 0)
                return -EBADMSG;
        if (!bytes_valid(line, len))
                return -EBADMSG;

        int r;
        if (fmt == FL_FORMAT_JSON || (fmt == FL_FORMAT_AUTO && line[0] == '{'))
                r = parse_json(line, len, ev);
        else
                r = parse_text(line, len, ev);
        if (r < 0)
                ev_reset(ev);
        return r;
}
