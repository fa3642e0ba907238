/* autoscaling.c — signed Auto Scaling Query API calls (lifecycle action complete / heartbeat). */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "autoscaling.h"
#include "http.h"
#include "imds.h"
#include "log.h"
#include "macro.h"

#define ASG_DEFAULT_TIMEOUT_MS 10000L
#define ASG_DEFAULT_ATTEMPTS 5u
#define ASG_DEFAULT_BACKOFF_MS 500L
#define ASG_BACKOFF_CAP_MS 8000L
#define ASG_MAX_BODY 8192

static unsigned n_requests;

unsigned asg_requests(void) { return n_requests; }

/* ---- the ErrorResponse extractor: bounded, no NUL needed, never reads past end ---- */

/* The first "<tag>" / "<tag attr…>" / "<tag/>" in [s, end): the content start (after '>'), and
 * *empty when it was self-closing. "<tagX" does not match "<tag". */
static const char *find_open(const char *s, const char *end, const char *tag, bool *empty) {
        size_t tl = strlen(tag);

        for (const char *p = s; p < end; p++) {
                p = memchr(p, '<', (size_t)(end - p));
                if (!p)
                        return NULL;
                if ((size_t)(end - p) < tl + 2)
                        return NULL;
                if (memcmp(p + 1, tag, tl) != 0)
                        continue;
                const char *q = p + 1 + tl;
                if (*q != '>' && *q != ' ' && *q != '\t' && *q != '\r' && *q != '\n' && *q != '/')
                        continue;
                const char *gt = memchr(q, '>', (size_t)(end - q));
                if (!gt)
                        return NULL;
                *empty = gt > q && gt[-1] == '/';
                return gt + 1;
        }
        return NULL;
}

/* The first "</tag>" in [s, end), or NULL. */
static const char *find_close(const char *s, const char *end, const char *tag) {
        size_t tl = strlen(tag);

        for (const char *p = s; p < end; p++) {
                p = memchr(p, '<', (size_t)(end - p));
                if (!p || (size_t)(end - p) < tl + 3)
                        return NULL;
                if (p[1] == '/' && memcmp(p + 2, tag, tl) == 0 && p[2 + tl] == '>')
                        return p;
        }
        return NULL;
}

static char printable(unsigned v) {
        if (v == '\t' || v == '\n' || v == '\r')
                return ' ';
        if (v < 0x20 || v >= 0x7f)
                return '?';
        return (char)v;
}

/* Decode one entity at s ('&'): *ret the character, returns its length; 0 when it is not one we know. */
static size_t entity(const char *s, const char *end, char *ret) {
        static const struct {
                const char *name;
                char c;
        } named[] = { { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' }, { "&apos;", '\'' } };
        size_t avail = (size_t)(end - s);

        for (size_t i = 0; i < ELEMENTSOF(named); i++) {
                size_t n = strlen(named[i].name);
                if (avail >= n && memcmp(s, named[i].name, n) == 0) {
                        *ret = named[i].c;
                        return n;
                }
        }
        if (avail >= 4 && s[1] == '#') {
                bool hex = s[2] == 'x' || s[2] == 'X';
                size_t i = hex ? 3 : 2, digits = 0;
                unsigned v = 0;
                for (; i < avail && digits < 8; i++, digits++) {
                        char c = s[i];
                        if (c >= '0' && c <= '9')
                                v = v * (hex ? 16 : 10) + (unsigned)(c - '0');
                        else if (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                                v = v * 16 + (unsigned)((c | 0x20) - 'a' + 10);
                        else
                                break;
                }
                if (digits > 0 && i < avail && s[i] == ';') {
                        *ret = printable(v);
                        return i + 1;
                }
        }
        return 0;
}

/* Text content from s up to the next '<' (or end), decoded, trimmed, cut to size. */
static void copy_text(const char *s, const char *end, char *out, size_t size) {
        size_t o = 0;

        while (s < end && *s != '<' && o + 1 < size) {
                char c;
                size_t n = *s == '&' ? entity(s, end, &c) : 0;
                if (n > 0)
                        s += n;
                else
                        c = printable((unsigned char)*s++);
                if (o == 0 && c == ' ')
                        continue;
                out[o++] = c;
        }
        while (o > 0 && out[o - 1] == ' ')
                o--;
        out[o] = '\0';
}

static void element_text(const char *s, const char *end, const char *tag, char *out, size_t size) {
        bool empty = false;
        const char *c = find_open(s, end, tag, &empty);

        out[0] = '\0';
        if (c && !empty)
                copy_text(c, end, out, size);
}

int asg_parse_error(const char *xml, size_t len, struct asg_error *ret) {
        long status = ret->status;
        bool empty = false;

        memset(ret, 0, sizeof *ret);
        ret->status = status;
        if (!xml)
                return -EBADMSG;
        const char *end = xml + MIN(len, ASG_MAX_REPLY);
        const char *e = find_open(xml, end, "Error", &empty);
        if (!e || empty)
                return -EBADMSG;
        const char *eend = find_close(e, end, "Error");
        if (!eend)
                eend = end;  /* truncated: take what is there */
        element_text(e, eend, "Type", ret->type, sizeof ret->type);
        element_text(e, eend, "Code", ret->code, sizeof ret->code);
        element_text(e, eend, "Message", ret->message, sizeof ret->message);
        element_text(xml, end, "RequestId", ret->request_id, sizeof ret->request_id);
        if (!ret->code[0]) {
                memset(ret, 0, sizeof *ret);
                ret->status = status;
                return -EBADMSG;
        }
        return 0;
}

/* ---- the form body ---- */

static int append(char **buf, size_t *len, size_t *cap, const char *s) {
        size_t n = strlen(s);
        if (*len + n + 1 > ASG_MAX_BODY)
                return -EINVAL;
        if (*len + n + 1 > *cap) {
                size_t c = MAX(*cap * 2, *len + n + 1);
                char *p = realloc(*buf, c);
                if (!p)
                        return -ENOMEM;
                *buf = p;
                *cap = c;
        }
        memcpy(*buf + *len, s, n + 1);
        *len += n;
        return 0;
}

static int append_escaped(char **buf, size_t *len, size_t *cap, const char *s) {
        /* curl_easy_escape keeps only A-Z a-z 0-9 - . _ ~ — exactly SigV4's unreserved set. */
        char *e = curl_easy_escape(NULL, s, 0);
        if (!e)
                return -ENOMEM;
        int r = append(buf, len, cap, e);
        curl_free(e);
        return r;
}

int asg_form_encode(const char *action, const struct asg_param *params, size_t n, char **ret) {
        _cleanup_(freep) char *buf = NULL;
        size_t len = 0, cap = 0;
        int r;

        if (!action || !*action)
                return -EINVAL;
        if ((r = append(&buf, &len, &cap, "Action=")) < 0 || (r = append_escaped(&buf, &len, &cap, action)) < 0 ||
            (r = append(&buf, &len, &cap, "&Version=" ASG_API_VERSION)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (!params[i].value)
                        continue;
                if (!params[i].name || !*params[i].name)
                        return -EINVAL;
                if ((r = append(&buf, &len, &cap, "&")) < 0 ||
                    (r = append_escaped(&buf, &len, &cap, params[i].name)) < 0 ||
                    (r = append(&buf, &len, &cap, "=")) < 0 ||
                    (r = append_escaped(&buf, &len, &cap, params[i].value)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(buf);
        return 0;
}

/* ---- the calls ---- */

static bool region_ok(const char *r) {
        return r && *r && strlen(r) <= 32 && r[strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-")] == '\0';
}

int asg_endpoint_url(const struct asg_endpoint *ep, char *buf, size_t size) {
        int n;

        if (ep->url)
                n = snprintf(buf, size, "%s", ep->url);
        else if (!region_ok(ep->region))
                return -EINVAL;
        else
                n = snprintf(buf, size, "https://autoscaling.%s.amazonaws.com%s/", ep->region,
                             strncmp(ep->region, "cn-", 3) == 0 ? ".cn" : "");
        return n < 0 || (size_t)n >= size ? -EINVAL : 0;
}

static bool throttled(const char *code) {
        static const char *const codes[] = {
                "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                "ServiceUnavailable", "InternalFailure", "InternalError", "RequestThrottled",
        };
        for (size_t i = 0; i < ELEMENTSOF(codes); i++)
                if (strcmp(code, codes[i]) == 0)
                        return true;
        return false;
}

static bool no_active_action(const struct asg_error *e) {
        return strcmp(e->code, "ValidationError") == 0 && strstr(e->message, "No active Lifecycle Action") != NULL;
}

/* A service message may quote the request (SignatureDoesNotMatch quotes the canonical request, with
 * the x-amz-security-token value in it): cut it before anything that looks like one of our secrets. */
static void redact(char *msg, size_t size, const struct aws_creds *c) {
        const char *secrets[] = { c->secret_access_key, c->token };
        static const char *const quotes[] = { "Canonical", "canonical", "String-to-Sign", "string to sign" };
        for (size_t i = 0; i < ELEMENTSOF(quotes); i++) {
                char *cut = strstr(msg, quotes[i]);
                if (cut)
                        *cut = '\0';
        }
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++) {
                size_t n = strlen(secrets[i]);
                for (size_t off = 0; n >= 8 && off + 8 <= n; off += 8) {
                        char probe[9];
                        memcpy(probe, secrets[i] + off, 8);
                        probe[8] = '\0';
                        char *hit = strstr(msg, probe);
                        if (hit)
                                snprintf(hit, (size_t)(msg + size - hit), "[redacted]");
                        explicit_bzero(probe, sizeof probe);
                }
        }
        size_t l = strlen(msg);
        while (l > 0 && msg[l - 1] == ' ')
                msg[--l] = '\0';
}

int asg_call(const struct asg_endpoint *ep, struct awscreds *creds, const char *body, struct asg_error *err) {
        char url[1024], sigv4[128];
        unsigned attempts = ep->attempts ? ep->attempts : ASG_DEFAULT_ATTEMPTS;
        long backoff = ep->backoff_ms > 0 ? ep->backoff_ms : ASG_DEFAULT_BACKOFF_MS;
        int last = -EHOSTUNREACH;

        memset(err, 0, sizeof *err);
        if (!region_ok(ep->region) || !body || asg_endpoint_url(ep, url, sizeof url) < 0) {
                snprintf(err->message, sizeof err->message, "invalid endpoint or region");
                return -EINVAL;
        }
        snprintf(sigv4, sizeof sigv4, "aws:amz:%s:autoscaling", ep->region);

        for (unsigned attempt = 1; attempt <= attempts; attempt++) {
                _cleanup_(http_response_done) struct http_response resp = { 0 };
                const struct aws_creds *c = NULL;
                char userpwd[sizeof c->access_key_id + sizeof c->secret_access_key + 2];
                char tokhdr[sizeof c->token + 32];
                const char *headers[3] = { "Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL, NULL };
                int r;

                if (attempt > 1)
                        (void)imds_backoff(attempt - 1, backoff, ASG_BACKOFF_CAP_MS);

                r = awscreds_get(creds, (int64_t)time(NULL), &c);
                if (r < 0) {
                        memset(err, 0, sizeof *err);
                        snprintf(err->message, sizeof err->message, "instance credentials could not be read: %s",
                                 strerror(-r));
                        last = r;
                        if (r == -ENOENT || r == -EACCES || r == -EBADMSG)
                                return r;
                        continue;
                }
                snprintf(userpwd, sizeof userpwd, "%s:%s", c->access_key_id, c->secret_access_key);
                if (c->token[0]) {
                        /* Signed by curl ≥ 7.86 like every header we add (AWS-FACTS.md). */
                        snprintf(tokhdr, sizeof tokhdr, "x-amz-security-token: %s", c->token);
                        headers[1] = tokhdr;
                }
                struct http_request req = {
                        .method = "POST", .url = url, .headers = headers, .body = body, .body_len = strlen(body),
                        .timeout_ms = ep->timeout_ms > 0 ? ep->timeout_ms : ASG_DEFAULT_TIMEOUT_MS,
                        .max_body = ASG_MAX_REPLY, .aws_sigv4 = sigv4, .userpwd = userpwd, .ca_file = ep->ca_file,
                };
                n_requests++;
                r = http_do(&req, &resp);
                explicit_bzero(userpwd, sizeof userpwd);
                explicit_bzero(tokhdr, sizeof tokhdr);

                memset(err, 0, sizeof *err);
                if (r < 0) {
                        snprintf(err->message, sizeof err->message, "%s", resp.error[0] ? resp.error : strerror(-r));
                        redact(err->message, sizeof err->message, c);
                        log_debug("autoscaling: attempt %u: %s", attempt, err->message);
                        last = r;
                        if (r == -EINVAL || r == -ENOMEM || r == -EOPNOTSUPP || r == -ENOENT || r == -EACCES)
                                return r;  /* bad URL, CA file: no retry helps */
                        continue;
                }
                err->status = resp.status;
                if (resp.status >= 200 && resp.status < 300)
                        return 0;

                if (asg_parse_error(resp.body, resp.len, err) < 0) {
                        snprintf(err->message, sizeof err->message, "HTTP %ld without an error document", resp.status);
                        last = -EPROTO;
                        if (resp.status == 429 || resp.status >= 500)
                                continue;
                        return -EPROTO;
                }
                redact(err->message, sizeof err->message, c);
                log_debug("autoscaling: attempt %u: HTTP %ld %s: %s", attempt, resp.status, err->code, err->message);
                if (no_active_action(err))
                        return 1;
                last = -EPROTO;
                if (throttled(err->code) || resp.status >= 500)
                        continue;
                if (strcmp(err->code, "ExpiredToken") == 0 || strcmp(err->code, "RequestExpired") == 0) {
                        awscreds_invalidate(creds);
                        continue;
                }
                return -EPROTO;
        }
        return last;
}

static int lifecycle_call(const char *action, const struct asg_endpoint *ep, struct awscreds *creds,
                          const struct asg_action *a, const char *result, struct asg_error *err) {
        _cleanup_(freep) char *body = NULL;
        const struct asg_param p[] = {
                { "AutoScalingGroupName", a->group },
                { "LifecycleHookName", a->hook },
                { "InstanceId", a->token ? NULL : a->instance_id },
                { "LifecycleActionToken", a->token },
                { "LifecycleActionResult", result },
        };
        int r;

        memset(err, 0, sizeof *err);
        if (!a->group || !a->hook || (!a->instance_id && !a->token)) {
                snprintf(err->message, sizeof err->message, "group, hook and instance id or token are required");
                return -EINVAL;
        }
        r = asg_form_encode(action, p, ELEMENTSOF(p), &body);
        if (r < 0) {
                snprintf(err->message, sizeof err->message, "request too large");
                return r;
        }
        return asg_call(ep, creds, body, err);
}

int asg_complete_lifecycle_action(const struct asg_endpoint *ep, struct awscreds *creds,
                                  const struct asg_action *a, const char *result, struct asg_error *err) {
        if (!result || (strcmp(result, "CONTINUE") != 0 && strcmp(result, "ABANDON") != 0)) {
                memset(err, 0, sizeof *err);
                snprintf(err->message, sizeof err->message, "result must be CONTINUE or ABANDON");
                return -EINVAL;
        }
        return lifecycle_call("CompleteLifecycleAction", ep, creds, a, result, err);
}

int asg_record_heartbeat(const struct asg_endpoint *ep, struct awscreds *creds, const struct asg_action *a,
                         struct asg_error *err) {
        return lifecycle_call("RecordLifecycleActionHeartbeat", ep, creds, a, NULL, err);
}
