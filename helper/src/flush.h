/* flush.h — the pure core: evidence in (snapshot, log events, buffer files, monitor samples), verdict out.
 *
 * No I/O, no clock: every call takes `now_ms` from the caller, so the logic is replayed in unit tests
 * from recorded sequences. Invariants (fuzzed):
 *   - a log line alone never confirms anything: a snapshot chunk is committed only when its files are
 *     gone (file buffer) and no bad news names it; an output is drained only when monitor_agent shows
 *     it (memory buffer);
 *   - a chunk with bad news (dropped, backed up, evacuated, thrown away, secondary) is never committed;
 *   - chunk ids that were not in the snapshot are ignored when the snapshot knows the ids.
 * Call order on every wake-up: observe the buffer files and the monitor, then drain the log into
 * flush_on_log(), then hand the observations to flush_on_files() / flush_on_monitor(), then
 * flush_evaluate(). Fluentd logs every loss before it deletes the chunk's files, so a deletion observed
 * before the drain has its bad news applied first; flush_on_files() commits a gone chunk without it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "bufferdir.h"
#include "fluentlog.h"
#include "monitor.h"
#include "report.h"

#define FLUSH_MAX_WORKERS 64
#define FLUSH_MAX_LOG_CHUNKS 4096     /* chunk ids learnt from the log (memory buffer), bounded */

enum chunk_state { CHUNK_PENDING = 0, CHUNK_COMMITTED, CHUNK_LOST };

struct flush_chunk {
        char id[33];
        int worker;
        uint64_t bytes;
        enum chunk_state state;
        bool in_snapshot;          /* from the buffer files before the signal */
        bool file_gone;
        bool queued_at_snapshot;   /* already buffer.q… before the signal */
        bool queued;               /* seen turning into buffer.q… after the signal (enqueued by the flush) */
        bool retrying;             /* last news: failed, waiting for next_retry_time */
        bool completed_logged;     /* out_s3 logged "completed to write chunk" */
        bool suspect;              /* pending when its worker logged an unrecoverable error that named no
                                      chunk: if its files go without a "completed" line, it went to the
                                      secondary (or was thrown away), not to S3 */
        enum fl_kind loss;         /* the bad news that lost it, FL_NONE otherwise */
        char *key;                 /* last s3:// key written / completed, NULL when none (malloc'd) */
        char next_retry_time[64];
        char *error;               /* NULL when none (malloc'd) */
};

struct flush_output {            /* one targeted output in one worker, from monitor_agent */
        int worker;
        struct mon_output base;      /* at the snapshot */
        struct mon_output last;      /* latest sample */
        bool have_last;
        int64_t chunks_at_snapshot;  /* stage + queue (+1 in flight) */
        bool drained;
        bool reset;                  /* counters went back: the worker was restarted, its memory buffer lost */
};

struct flush_config {
        int workers;                 /* expected to acknowledge (>= 1) */
        bool have_files;             /* buffer paths known: chunk ids come from the files */
        bool have_monitor;
        bool have_log;
        long ack_timeout_ms;         /* 0: no hang check */
        char *const *plugin_ids;     /* NULL or NULL-terminated: targeted @ids (log lines with another [id] are ignored) */
        bool losses_hidden;          /* a targeted output logs at error level: its backups, throw-aways and
                                        drops (warn) are not in the log, so gone files prove nothing */
        bool keys_may_collide;       /* several workers and a key format without ${chunk_id}/%{uuid_flush}/
                                        %{hex_random}: only the keys seen in the log can rule out an overwrite */
};

struct flush {
        struct flush_config cfg;

        struct flush_chunk *chunks;  /* snapshot chunks first, then chunks learnt from the log */
        size_t n_chunks, cap_chunks, n_snapshot;

        struct flush_output *outputs;
        size_t n_outputs;

        bool acked[FLUSH_MAX_WORKERS];
        bool signalled;
        uint64_t signalled_ms;
        bool agent_gone;
        bool retry_limit_seen;
        bool dropped[FLUSH_MAX_WORKERS];  /* "dropping all chunks in the buffer queue" in that worker */
        bool need_monitor;           /* files and monitor: the monitor holds chunks the files don't show */
        unsigned outputs_reset;      /* outputs whose worker restarted during the flush */
        bool unrecoverable_seen;     /* an unrecoverable error (chunk to backup or secondary, id not said) */

        unsigned lines_rejected;     /* lines that failed the grammar (forged, cut, binary) */
        unsigned ids_ignored;        /* evidence naming a chunk id that was not in the snapshot */
        char first_error[512];
        char next_retry_time[64];
        char overwrite_key[1100];    /* the first S3 key two chunks were written to */
};

void flush_init(struct flush *f, const struct flush_config *cfg);
void flush_done(struct flush *f);

/* Snapshot, before the signal. Chunks sorted by id (a chunk given twice in a row, b then q, is one). */
int flush_add_chunk(struct flush *f, const struct chunk_file *c);
int flush_add_output(struct flush *f, int worker, const struct mon_output *o);
/* Nothing to do: no chunk in the snapshot and (when the monitor is used) no buffered bytes. */
bool flush_nothing_buffered(const struct flush *f);

/* Evidence, after the signal. */
void flush_signalled(struct flush *f, uint64_t now_ms);
void flush_on_log(struct flush *f, const struct fl_event *ev, uint64_t now_ms);
void flush_on_rejected_line(struct flush *f);
void flush_on_files(struct flush *f, const struct chunk_list *present, uint64_t now_ms);
void flush_on_monitor(struct flush *f, int worker, const struct mon_snapshot *s, uint64_t now_ms);
void flush_on_agent_exit(struct flush *f, uint64_t now_ms);

/* Why an "unconfirmed" verdict was given: the evidence can't prove completeness, or the keys can't rule
 * out an overwrite. */
bool flush_unconfirmed_for_keys(const struct flush *f);

/* -1 while the evidence says "keep waiting"; otherwise the verdict as an exit code.
 * deadline_reached turns "keep waiting" into upload_failing / deadline / unconfirmed. */
int flush_evaluate(const struct flush *f, uint64_t now_ms, bool deadline_reached);

/* Has every expected worker acknowledged the flush (log line, buffer or monitor progress)? */
bool flush_all_acked(const struct flush *f);

struct flush_counts {
        unsigned buffered, committed, pending, failed, lost;
        uint64_t bytes_buffered, bytes_committed;
        unsigned workers_expected, workers_acked;
};
void flush_counts(const struct flush *f, struct flush_counts *c);
