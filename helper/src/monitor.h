/* monitor.h — monitor_agent's /api/plugins.json → per-output buffer state (jansson), and fetching it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MON_MAX_OUTPUTS 64
#define MON_MAX_BODY (4 * 1024 * 1024)     /* larger replies are refused (-EMSGSIZE) */

struct mon_output {
        char plugin_id[128];
        char type[64];
        /* Every counter is -1 when the field is absent or null (old Fluentd, an output without buffer). */
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
        char buffer_path[1024];            /* config.buffer_path (absolute, v0.12-style flat buffer options with
                                              buffer_type file or none) if shown, else "". The <buffer> section
                                              is never shown, and config.path is out_s3's S3 prefix: unused. */
        bool has_config;                   /* the "config" object was shown */
        char key_format[512];              /* config.s3_object_key_format; "" when not set (out_s3's default) */
        char log_level[16];                /* config.@log_level; "" when not set */
};

struct mon_snapshot {
        size_t n_outputs;                  /* output plugins only (output_plugin == true) */
        struct mon_output outputs[MON_MAX_OUTPUTS];
};

/* Parse a /api/plugins.json body. Returns 0, or -EBADMSG for anything that is not the expected shape
 * (not JSON, no "plugins" array, wrong field types: a counter that is a string, a real or negative, an
 * integer beyond int64, an id longer than the field), -E2BIG for more than MON_MAX_OUTPUTS outputs,
 * -EMSGSIZE for a body over MON_MAX_BODY. Only plugins with "output_plugin": true are kept. On error
 * snap->n_outputs is 0. */
int mon_parse(const char *body, size_t len, struct mon_snapshot *snap);

/* Does this output match the targets? plugin_ids (NULL-terminated, may be NULL): when given, match by
 * @id; otherwise every output of type "s3". */
bool mon_output_targeted(const struct mon_output *o, char *const *plugin_ids);

/* Does an out_s3 s3_object_key_format give every chunk its own key (${chunk_id}, %{uuid_flush},
 * %{hex_random})? "" (the default, %{index}) does not. */
bool mon_key_format_unique(const char *key_format);

/* GET <base_url with port + worker>/api/plugins.json (base like http://127.0.0.1:24220).
 * Returns 0; -ECONNREFUSED when nothing listens; -ETIMEDOUT; -EMSGSIZE when the body exceeds 4 MiB;
 * -EPROTO for a non-200 status; -EBADMSG for a body mon_parse() rejects; -EINVAL for a bad URL. */
int mon_fetch(const char *base_url, int worker, long timeout_ms, struct mon_snapshot *snap);

/* Build base_url with its port increased by worker (worker N on port + N), keeping scheme (http/https),
 * host (name, IPv4 or [IPv6]) and path; a URL without a port uses the scheme's default + N. Returns 0;
 * -EINVAL for anything else (user info, query, fragment, spaces, control characters, bad port, port + N
 * beyond 65535); -ENOBUFS when out_size is too small. */
int mon_worker_url(const char *base_url, int worker, char *out, size_t out_size);
