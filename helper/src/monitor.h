/* monitor.h — monitor_agent's /api/plugins.json → per-output buffer state (jansson), and fetching it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MON_MAX_OUTPUTS 64

struct mon_output {
        char plugin_id[128];
        char type[64];
        int64_t buffer_queue_length;
        int64_t buffer_queue_byte_size;
        int64_t buffer_stage_length;       /* -1 when the field is absent (old Fluentd) */
        int64_t buffer_stage_byte_size;    /* -1 when absent */
        int64_t buffer_total_queued_size;
        int64_t retry_count;
        int64_t write_count;               /* attempts, counted before the write */
        int64_t rollback_count;
        int64_t emit_records;
        bool has_retry;                    /* the "retry" object is shown (hidden by default from 1.19.3) */
        bool retry_pending;                /* "retry" is non-empty */
        char retry_next_time[64];          /* retry.next_time as printed, "" when none */
        char buffer_path[1024];            /* config.buffer_path / config.path of a file buffer if shown, else "" */
};

struct mon_snapshot {
        size_t n_outputs;                  /* output plugins only (output_plugin == true) */
        struct mon_output outputs[MON_MAX_OUTPUTS];
};

/* Parse a /api/plugins.json body. Returns 0, or -EBADMSG for anything that is not the expected shape
 * (not JSON, no "plugins" array, wrong field types), -E2BIG for more than MON_MAX_OUTPUTS outputs. */
int mon_parse(const char *body, size_t len, struct mon_snapshot *snap);

/* Does this output match the targets? plugin_ids (NULL-terminated, may be NULL): when given, match by
 * @id; otherwise every output of type "s3". */
bool mon_output_targeted(const struct mon_output *o, char *const *plugin_ids);

/* GET <base_url with port + worker>/api/plugins.json (base like http://127.0.0.1:24220).
 * Returns 0; -ECONNREFUSED when nothing listens; -ETIMEDOUT; -EMSGSIZE when the body exceeds 4 MiB;
 * -EPROTO for a non-200 status; -EBADMSG for a body mon_parse() rejects; -EINVAL for a bad URL. */
int mon_fetch(const char *base_url, int worker, long timeout_ms, struct mon_snapshot *snap);

/* Build base_url with its port increased by worker (worker N on port + N). Returns 0 or -EINVAL. */
int mon_worker_url(const char *base_url, int worker, char *out, size_t out_size);
