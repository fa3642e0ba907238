/* imds.c — IMDSv2 client: token flow, bounded retries with back-off, capped GETs, typed metadata items. */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "imds.h"
#include "log.h"
#include "macro.h"

#define IMDS_DEFAULT_TIMEOUT_MS 2000L
#define IMDS_DEFAULT_ATTEMPTS 4u
#define IMDS_DEFAULT_BACKOFF_MS 250L
#define IMDS_BACKOFF_CAP_MS 4000L
#define IMDS_MAX_TOKEN 1024
#define IMDS_MAX_BASE 512

struct imds {
        char base[IMDS_MAX_BASE];
        unsigned ttl_s;
        long timeout_ms;
        unsigned attempts;
        long backoff_ms;

        char token[IMDS_MAX_TOKEN + 1];
        bool have_token;
        uint64_t token_renew_ms;     /* monotonic: fetch a new token from then on */

        unsigned requests, tokens;
};

uint64_t imds_clock_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

long imds_backoff(unsigned attempt, long base_ms, long cap_ms) {
        static uint32_t seed;
        long ms = base_ms > 0 ? base_ms : 1;

        for (unsigned i = 1; i < attempt && ms < cap_ms; i++)
                ms *= 2;
        ms = MIN(ms, cap_ms);
        /* ±25 % jitter, so several instances scaled in together do not retry in lockstep. */
        if (seed == 0)
                seed = (uint32_t)imds_clock_ms() | 1u;
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        long span = ms / 2;
        if (span > 0)
                ms = ms - ms / 4 + (long)(seed % (uint32_t)(span + 1));
        (void)poll(NULL, 0, (int)MIN(ms, (long)INT32_MAX));
        return ms;
}

int imds_new(const struct imds_config *cfg, struct imds **ret) {
        const char *base = cfg && cfg->base_url ? cfg->base_url : IMDS_DEFAULT_URL;
        size_t n = strlen(base);

        while (n > 0 && base[n - 1] == '/')
                n--;
        if (n == 0 || n >= IMDS_MAX_BASE)
                return -EINVAL;
        if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
                return -EINVAL;
        if (cfg && cfg->token_ttl_s > IMDS_DEFAULT_TOKEN_TTL_S)
                return -EINVAL;

        struct imds *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        memcpy(m->base, base, n);
        m->base[n] = '\0';
        m->ttl_s = cfg && cfg->token_ttl_s ? cfg->token_ttl_s : IMDS_DEFAULT_TOKEN_TTL_S;
        m->timeout_ms = cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms : IMDS_DEFAULT_TIMEOUT_MS;
        m->attempts = cfg && cfg->attempts ? cfg->attempts : IMDS_DEFAULT_ATTEMPTS;
        m->backoff_ms = cfg && cfg->backoff_ms > 0 ? cfg->backoff_ms : IMDS_DEFAULT_BACKOFF_MS;
        *ret = m;
        return 0;
}

static void drop_token(struct imds *m) {
        explicit_bzero(m->token, sizeof m->token);
        m->have_token = false;
}

void imds_free(struct imds *m) {
        if (!m)
                return;
        drop_token(m);
        free(m);
}

unsigned imds_requests(const struct imds *m) { return m->requests; }
unsigned imds_tokens(const struct imds *m) { return m->tokens; }

static bool token_ok(const char *s, size_t len) {
        if (len == 0 || len > IMDS_MAX_TOKEN)
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
                        return false;
        return true;
}

/* Transport failures worth another attempt. */
static bool transient(int r) {
        return r == -ECONNREFUSED || r == -ETIMEDOUT || r == -ECONNRESET || r == -EHOSTUNREACH ||
               r == -EPROTO || r == -EAGAIN;
}

/* One PUT /latest/api/token. */
static int fetch_token(struct imds *m) {
        _cleanup_(http_response_done) struct http_response resp = { 0 };
        char url[IMDS_MAX_BASE + 32], ttl[64];
        const char *headers[] = { ttl, NULL };
        uint64_t t0 = imds_clock_ms();
        int r;

        drop_token(m);
        snprintf(url, sizeof url, "%s/latest/api/token", m->base);
        snprintf(ttl, sizeof ttl, "X-aws-ec2-metadata-token-ttl-seconds: %u", m->ttl_s);
        struct http_request req = {
                .method = "PUT", .url = url, .headers = headers, .body = "", .body_len = 0,
                .timeout_ms = m->timeout_ms, .max_body = IMDS_MAX_TOKEN,
        };
        m->requests++;
        r = http_do(&req, &resp);
        if (r < 0) {
                log_debug("imds: token request failed: %s", resp.error);
                return r == -EMSGSIZE ? -EPROTO : r;
        }
        if (resp.status == 403)
                return -EACCES;
        if (resp.status == 429 || resp.status >= 500)
                return -EAGAIN;
        if (resp.status != 200) {
                log_debug("imds: token request answered HTTP %ld", resp.status);
                return -EPROTO;
        }
        size_t len = resp.len;
        while (len > 0 && (resp.body[len - 1] == '\n' || resp.body[len - 1] == '\r'))
                len--;
        if (!token_ok(resp.body, len)) {
                explicit_bzero(resp.body, resp.len);
                return -EPROTO;
        }
        memcpy(m->token, resp.body, len);
        m->token[len] = '\0';
        explicit_bzero(resp.body, resp.len);
        /* Renew well before IMDS would answer 401: a minute early, or a quarter of a short TTL. */
        uint64_t ttl_ms = (uint64_t)m->ttl_s * 1000u;
        m->token_renew_ms = t0 + ttl_ms - MIN(ttl_ms / 4, (uint64_t)60000);
        m->have_token = true;
        m->tokens++;
        log_debug("imds: new session token (TTL %u s)", m->ttl_s);
        return 0;
}

static void trim(char *s, size_t *len) {
        size_t a = 0, n = *len;
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
                n--;
        while (a < n && (s[a] == ' ' || s[a] == '\n' || s[a] == '\r' || s[a] == '\t'))
                a++;
        memmove(s, s + a, n - a);
        s[n - a] = '\0';
        *len = n - a;
}

int imds_get(struct imds *m, const char *path, size_t max, char **ret) {
        char url[IMDS_MAX_BASE + 512], hdr[IMDS_MAX_TOKEN + 64];
        const char *headers[] = { hdr, NULL };
        int last = -EHOSTUNREACH;
        bool pause = false;

        if (!path || path[0] != '/' || strlen(path) > 500)
                return -EINVAL;
        if (max == 0)
                max = IMDS_MAX_BODY;
        snprintf(url, sizeof url, "%s%s", m->base, path);

        for (unsigned attempt = 1; attempt <= m->attempts; attempt++) {
                _cleanup_(http_response_done) struct http_response resp = { 0 };
                int r;

                if (pause)
                        (void)imds_backoff(attempt - 1, m->backoff_ms, IMDS_BACKOFF_CAP_MS);
                pause = true;

                if (!m->have_token || imds_clock_ms() >= m->token_renew_ms) {
                        r = fetch_token(m);
                        if (r < 0) {
                                last = r;
                                if (r == -EACCES || r == -EINVAL || r == -ENOMEM)
                                        break;
                                continue;
                        }
                }

                snprintf(hdr, sizeof hdr, "X-aws-ec2-metadata-token: %s", m->token);
                struct http_request req = {
                        .url = url, .headers = headers, .timeout_ms = m->timeout_ms, .max_body = max,
                };
                m->requests++;
                r = http_do(&req, &resp);
                explicit_bzero(hdr, sizeof hdr);
                if (r < 0) {
                        last = r;
                        if (!transient(r))
                                return r;
                        continue;
                }
                switch (resp.status) {
                case 200: {
                        size_t len = resp.len;
                        trim(resp.body, &len);
                        *ret = TAKE_PTR(resp.body);
                        return 0;
                }
                case 401:
                        /* Token expired or revoked: a new one, at once (no back-off for this). */
                        log_debug("imds: %s answered 401, renewing the token", path);
                        drop_token(m);
                        last = -EACCES;
                        pause = false;
                        continue;
                case 404:
                        return -ENOENT;
                case 403:
                        return -EACCES;
                default:
                        if (resp.status == 429 || resp.status >= 500) {
                                last = -EAGAIN;
                                continue;
                        }
                        log_debug("imds: %s answered HTTP %ld", path, resp.status);
                        return -EPROTO;
                }
        }
        log_debug("imds: %s: giving up after %u attempts (%s)", path, m->attempts, strerror(-last));
        if (last == -EACCES || last == -EINVAL || last == -ENOMEM)
                return last;
        return -EHOSTUNREACH;
}

static bool all_in(const char *s, const char *set) {
        return *s && s[strspn(s, set)] == '\0';
}

int imds_region(struct imds *m, char **ret) {
        _cleanup_(freep) char *v = NULL;
        int r = imds_get(m, "/latest/meta-data/placement/region", 64, &v);
        if (r < 0)
                return r == -EMSGSIZE ? -EPROTO : r;
        if (strlen(v) > 32 || !all_in(v, "abcdefghijklmnopqrstuvwxyz0123456789-"))
                return -EPROTO;
        *ret = TAKE_PTR(v);
        return 0;
}

int imds_instance_id(struct imds *m, char **ret) {
        _cleanup_(freep) char *v = NULL;
        int r = imds_get(m, "/latest/meta-data/instance-id", 64, &v);
        if (r < 0)
                return r == -EMSGSIZE ? -EPROTO : r;
        if (strlen(v) > 19 || strncmp(v, "i-", 2) != 0 || !all_in(v + 2, "0123456789abcdef"))
                return -EPROTO;
        *ret = TAKE_PTR(v);
        return 0;
}

int imds_lifecycle_state(struct imds *m, char **ret) {
        _cleanup_(freep) char *v = NULL;
        int r = imds_get(m, "/latest/meta-data/autoscaling/target-lifecycle-state", 128, &v);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r == -EMSGSIZE ? -EPROTO : r;
        if (!all_in(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz:"))
                return -EPROTO;
        *ret = TAKE_PTR(v);
        return 0;
}

static int parse_uint(const char **p, int digits, int min, int max, int *ret) {
        int v = 0;
        for (int i = 0; i < digits; i++) {
                char c = (*p)[i];
                if (c < '0' || c > '9')
                        return -EINVAL;
                v = v * 10 + (c - '0');
        }
        if (v < min || v > max)
                return -EINVAL;
        *p += digits;
        *ret = v;
        return 0;
}

static int expect(const char **p, char c) {
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int imds_parse_time(const char *s, int64_t *ret) {
        struct tm tm = { 0 };
        int y, mo, d, h, mi, sec;

        if (!s)
                return -EINVAL;
        if (parse_uint(&s, 4, 1970, 9999, &y) < 0 || expect(&s, '-') < 0 ||
            parse_uint(&s, 2, 1, 12, &mo) < 0 || expect(&s, '-') < 0 ||
            parse_uint(&s, 2, 1, 31, &d) < 0 || expect(&s, 'T') < 0 ||
            parse_uint(&s, 2, 0, 23, &h) < 0 || expect(&s, ':') < 0 ||
            parse_uint(&s, 2, 0, 59, &mi) < 0 || expect(&s, ':') < 0 ||
            parse_uint(&s, 2, 0, 60, &sec) < 0)
                return -EINVAL;
        if (*s == '.') {
                s++;
                size_t n = strspn(s, "0123456789");
                if (n == 0 || n > 9)
                        return -EINVAL;
                s += n;
        }
        if (strcmp(s, "Z") != 0 && strcmp(s, "+00:00") != 0)
                return -EINVAL;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
                return -EINVAL;
        *ret = (int64_t)t;
        return 0;
}

int imds_spot_parse(const char *json, size_t len, struct imds_spot *ret) {
        json_error_t e;
        json_auto_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
        const char *action, *t;

        memset(ret, 0, sizeof *ret);
        if (!j || !json_is_object(j))
                return -EBADMSG;
        action = json_string_value(json_object_get(j, "action"));
        if (!action || !*action || strlen(action) >= sizeof ret->action ||
            !all_in(action, "abcdefghijklmnopqrstuvwxyz"))
                return -EBADMSG;
        snprintf(ret->action, sizeof ret->action, "%s", action);
        t = json_string_value(json_object_get(j, "time"));
        if (!t || imds_parse_time(t, &ret->time) < 0)
                ret->time = 0;
        return 0;
}

int imds_spot_action(struct imds *m, struct imds_spot *ret) {
        _cleanup_(freep) char *v = NULL;
        int r = imds_get(m, "/latest/meta-data/spot/instance-action", 4096, &v);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r == -EMSGSIZE ? -EPROTO : r;
        r = imds_spot_parse(v, strlen(v), ret);
        if (r < 0) {
                /* A notice we cannot read is still a notice: the instance is going away. */
                log_debug("imds: unreadable spot/instance-action, treating it as a termination notice");
                memset(ret, 0, sizeof *ret);
                snprintf(ret->action, sizeof ret->action, "unknown");
        }
        return 1;
}

int imds_tag(struct imds *m, const char *key, char **ret) {
        char path[256];

        if (!key || !*key || strlen(key) > 128 ||
            !all_in(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:=+@-"))
                return -EINVAL;
        snprintf(path, sizeof path, "/latest/meta-data/tags/instance/%s", key);
        int r = imds_get(m, path, 4096, ret);
        return r == -EMSGSIZE ? -EPROTO : r;
}
