/* monitor.c — monitor_agent's /api/plugins.json → per-output buffer state (jansson), and fetching it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "http.h"
#include "log.h"
#include "macro.h"
#include "monitor.h"

/* A counter: absent or null → -1; otherwise a non-negative JSON integer (not a real, not a string). */
static int get_count(json_t *o, const char *name, int64_t *out) {
        json_t *v = json_object_get(o, name);
        if (!v || json_is_null(v)) {
                *out = -1;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return -EBADMSG;
        *out = (int64_t)json_integer_value(v);
        return 0;
}

/* A string copied into dst; longer than dst allows → -EBADMSG (a cut id would match the wrong output). */
static int get_string(json_t *v, char *dst, size_t size) {
        if (!json_is_string(v))
                return -EBADMSG;
        size_t n = json_string_length(v);
        const char *s = json_string_value(v);
        if (n >= size || memchr(s, '\0', n))
                return -EBADMSG;
        memcpy(dst, s, n);
        dst[n] = '\0';
        return 0;
}

/* The buffer path of a file buffer when monitor_agent shows it. The <buffer> section is not part of the
 * shown config, so only the flat v0.12-style `buffer_path` (with `buffer_type file` or no type) is
 * usable; `path` is not: for out_s3 it is the S3 key prefix. */
static int get_buffer_path(json_t *config, struct mon_output *o) {
        if (!config || json_is_null(config))
                return 0;
        if (!json_is_object(config))
                return -EBADMSG;
        json_t *bp = json_object_get(config, "buffer_path");
        if (!bp)
                return 0;
        json_t *bt = json_object_get(config, "buffer_type");
        if (bt && !(json_is_string(bt) && strcmp(json_string_value(bt), "file") == 0))
                return 0;
        if (!json_is_string(bp))
                return -EBADMSG;
        if (json_string_value(bp)[0] != '/')
                return 0;    /* relative to the daemon's cwd: useless here */
        return get_string(bp, o->buffer_path, sizeof o->buffer_path);
}

static int parse_output(json_t *p, struct mon_output *o) {
        int r;

        memset(o, 0, sizeof *o);
        if ((r = get_string(json_object_get(p, "plugin_id"), o->plugin_id, sizeof o->plugin_id)) < 0 ||
            (r = get_string(json_object_get(p, "type"), o->type, sizeof o->type)) < 0)
                return r;
        if (o->plugin_id[0] == '\0')
                return -EBADMSG;

        static const struct {
                const char *name;
                size_t off;
        } counts[] = {
                { "buffer_queue_length", offsetof(struct mon_output, buffer_queue_length) },
                { "buffer_queue_byte_size", offsetof(struct mon_output, buffer_queue_byte_size) },
                { "buffer_stage_length", offsetof(struct mon_output, buffer_stage_length) },
                { "buffer_stage_byte_size", offsetof(struct mon_output, buffer_stage_byte_size) },
                { "buffer_total_queued_size", offsetof(struct mon_output, buffer_total_queued_size) },
                { "retry_count", offsetof(struct mon_output, retry_count) },
                { "write_count", offsetof(struct mon_output, write_count) },
                { "rollback_count", offsetof(struct mon_output, rollback_count) },
                { "emit_records", offsetof(struct mon_output, emit_records) },
        };
        for (size_t i = 0; i < ELEMENTSOF(counts); i++)
                if ((r = get_count(p, counts[i].name, (int64_t *)((char *)o + counts[i].off))) < 0)
                        return r;

        json_t *retry = json_object_get(p, "retry");
        if (retry && !json_is_null(retry)) {
                if (!json_is_object(retry))
                        return -EBADMSG;
                o->has_retry = true;
                o->retry_pending = json_object_size(retry) > 0;
                json_t *nt = json_object_get(retry, "next_time");
                if (nt && !json_is_null(nt) &&
                    (r = get_string(nt, o->retry_next_time, sizeof o->retry_next_time)) < 0)
                        return r;
        }

        json_t *config = json_object_get(p, "config");
        o->has_config = json_is_object(config);
        if (o->has_config) {
                json_t *ll = json_object_get(config, "@log_level");
                if (json_is_string(ll) && strlen(json_string_value(ll)) < sizeof o->log_level)
                        strncpy0(o->log_level, sizeof o->log_level, json_string_value(ll),
                                 strlen(json_string_value(ll)));
                json_t *kf = json_object_get(config, "s3_object_key_format");
                /* a format longer than we keep is treated as not known (never as unique) */
                if (json_is_string(kf) && strlen(json_string_value(kf)) < sizeof o->key_format)
                        strncpy0(o->key_format, sizeof o->key_format, json_string_value(kf),
                                 strlen(json_string_value(kf)));
        }
        return get_buffer_path(config, o);
}

bool mon_key_format_unique(const char *key_format) {
        /* out_s3's default is %{path}%{time_slice}_%{index}.%{file_extension}: the index is found by
         * checking which keys exist, which races between workers and flush threads. */
        return strstr(key_format, "${chunk_id}") || strstr(key_format, "%{uuid_flush}") ||
               strstr(key_format, "%{hex_random}");
}

int mon_parse(const char *body, size_t len, struct mon_snapshot *snap) {
        json_error_t err;

        snap->n_outputs = 0;
        if (!body)
                return -EBADMSG;
        if (len > MON_MAX_BODY)
                return -EMSGSIZE;

        json_auto_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
        if (!root) {
                log_debug("monitor_agent: not JSON: %s (line %d)", err.text, err.line);
                return -EBADMSG;
        }
        json_t *plugins = json_is_object(root) ? json_object_get(root, "plugins") : NULL;
        if (!json_is_array(plugins)) {
                log_debug("monitor_agent: no \"plugins\" array");
                return -EBADMSG;
        }

        size_t i;
        json_t *p;
        int r = 0;
        json_array_foreach(plugins, i, p) {
                json_t *op = json_is_object(p) ? json_object_get(p, "output_plugin") : NULL;
                if (!json_is_object(p) || (op && !json_is_boolean(op))) {
                        r = -EBADMSG;
                        break;
                }
                if (!json_is_true(op))
                        continue;
                if (snap->n_outputs >= MON_MAX_OUTPUTS) {
                        r = -E2BIG;
                        break;
                }
                r = parse_output(p, &snap->outputs[snap->n_outputs]);
                if (r < 0)
                        break;
                snap->n_outputs++;
        }
        if (r < 0) {
                log_debug("monitor_agent: plugin #%zu: %s", i,
                          r == -E2BIG ? "more outputs than we follow" : "unexpected shape");
                snap->n_outputs = 0; /* nothing half-parsed reaches the caller */
        }
        return r;
}

bool mon_output_targeted(const struct mon_output *o, char *const *plugin_ids) {
        if (plugin_ids && plugin_ids[0]) {
                for (char *const *id = plugin_ids; *id; id++)
                        if (strcmp(*id, o->plugin_id) == 0)
                                return true;
                return false;
        }
        return strcmp(o->type, "s3") == 0;
}

static bool url_char_ok(char c) {
        /* printable ASCII without space; '?' and '#' are refused (a path is appended to the URL) */
        return c > 0x20 && c < 0x7f && c != '?' && c != '#';
}

int mon_worker_url(const char *base_url, int worker, char *out, size_t out_size) {
        const char *scheme_end;
        unsigned default_port;

        if (!base_url || !out || worker < 0 || worker > 65535)
                return -EINVAL;
        if (strncmp(base_url, "http://", 7) == 0)
                scheme_end = base_url + 7, default_port = 80;
        else if (strncmp(base_url, "https://", 8) == 0)
                scheme_end = base_url + 8, default_port = 443;
        else
                return -EINVAL;
        for (const char *c = base_url; *c; c++)
                if (!url_char_ok(*c))
                        return -EINVAL;

        /* host: a name/IPv4 without ':' '/' '@', or an IPv6 literal in brackets */
        const char *h = scheme_end, *he;
        if (*h == '[') {
                he = strchr(h, ']');
                if (!he || he == h + 1)
                        return -EINVAL;
                for (const char *c = h + 1; c < he; c++)
                        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F') ||
                              *c == ':' || *c == '.'))
                                return -EINVAL;
                he++;
        } else {
                he = h;
                while (*he && *he != ':' && *he != '/') {
                        char c = *he;
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                              c == '-' || c == '_'))
                                return -EINVAL;
                        he++;
                }
                if (he == h)
                        return -EINVAL;
        }

        unsigned port = default_port;
        const char *rest = he;
        if (*rest == ':') {
                const char *d = rest + 1;
                unsigned v = 0;
                int n = 0;
                while (*d >= '0' && *d <= '9') {
                        if (++n > 5)
                                return -EINVAL;
                        v = v * 10 + (unsigned)(*d - '0');
                        d++;
                }
                if (n == 0 || v == 0 || v > 65535)
                        return -EINVAL;
                port = v;
                rest = d;
        }
        if (*rest && *rest != '/')
                return -EINVAL;
        if (port + (unsigned)worker > 65535)
                return -EINVAL;

        int n = snprintf(out, out_size, "%.*s:%u%s", (int)(he - base_url), base_url, port + (unsigned)worker, rest);
        if (n < 0 || (size_t)n >= out_size)
                return -ENOBUFS;
        return 0;
}

int mon_fetch(const char *base_url, int worker, long timeout_ms, struct mon_snapshot *snap) {
        char base[1024], url[1100];
        int r;

        snap->n_outputs = 0;
        r = mon_worker_url(base_url, worker, base, sizeof base);
        if (r < 0)
                return -EINVAL;
        size_t bl = strlen(base);
        while (bl > 0 && base[bl - 1] == '/')
                base[--bl] = '\0';
        r = snprintf(url, sizeof url, "%s/api/plugins.json", base);
        if (r < 0 || (size_t)r >= sizeof url)
                return -EINVAL;

        struct http_request req = {
                .method = "GET",
                .url = url,
                .timeout_ms = timeout_ms > 0 ? timeout_ms : 2000,
                .max_body = MON_MAX_BODY,
        };
        struct http_response resp = { 0 };
        r = http_do(&req, &resp);
        if (r < 0) {
                log_debug("monitor_agent %s: %s", url, resp.error[0] ? resp.error : strerror(-r));
                http_response_done(&resp);
                return r;
        }
        if (resp.status != 200) {
                log_debug("monitor_agent %s: HTTP status %ld", url, resp.status);
                http_response_done(&resp);
                return -EPROTO;
        }
        r = mon_parse(resp.body, resp.len, snap);
        http_response_done(&resp);
        if (r == -EMSGSIZE)
                return -EMSGSIZE;
        return r;
}
