/* http.c — the single libcurl wrapper: timeouts, error buffer, a capped in-memory body, optional SigV4. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "macro.h"

#define HTTP_DEFAULT_TIMEOUT_MS 10000L
#define HTTP_MAX_CONNECT_TIMEOUT_MS 3000L
#define HTTP_DEFAULT_MAX_BODY ((size_t)1 << 20)

_Static_assert(sizeof(((struct http_response *)0)->error) >= CURL_ERROR_SIZE,
               "http_response.error must hold CURL_ERROR_SIZE bytes");

/* CA bundles in the order the distributions we target ship them (notes/STATIC-BUILD.md): the static
 * build's libcurl has no built-in location, so https always gets an explicit CAINFO. */
static const char *const ca_bundles[] = {
        "/etc/pki/tls/certs/ca-bundle.crt",       /* Amazon Linux 2023, RHEL, Fedora */
        "/etc/ssl/certs/ca-certificates.crt",     /* Debian, Ubuntu, Alpine */
        "/etc/ssl/ca-bundle.pem",                 /* SUSE */
};

struct body_buf {
        char *data;
        size_t len, cap, max;
        bool too_big, oom;
};

static void body_buf_free(struct body_buf *b) {
        free(b->data);
        b->data = NULL;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct body_buf *b = userdata;
        size_t n = size * nmemb;

        if (n > b->max - b->len) {
                b->too_big = true;
                return 0;  /* != n: curl aborts with CURLE_WRITE_ERROR */
        }
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;
                while (cap < b->len + n + 1)
                        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
                cap = MIN(cap, b->max + 1);
                char *p = realloc(b->data, cap);
                if (!p) {
                        b->oom = true;
                        return 0;
                }
                b->data = p;
                b->cap = cap;
        }
        memcpy(b->data + b->len, ptr, n);
        b->len += n;
        b->data[b->len] = '\0';
        return n;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct curl_slist *, curl_slist_free_all)
DEFINE_TRIVIAL_CLEANUP_FUNC(CURLU *, curl_url_cleanup)

static void curl_freep(char **p) {
        curl_free(*p);
}

static int errno_of_connect(long os_errno) {
        switch (os_errno) {
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EADDRNOTAVAIL:
        case ENETDOWN:
                return -EHOSTUNREACH;
        case ETIMEDOUT:
                return -ETIMEDOUT;
        default:
                return -ECONNREFUSED;
        }
}

/* CURLcode → -errno, as documented in http.h. */
static int errno_of_curlcode(CURLcode c, const struct body_buf *b, long os_errno) {
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_WRITE_ERROR:
                if (b->oom)
                        return -ENOMEM;
                return b->too_big ? -EMSGSIZE : -EPROTO;
        case CURLE_FILESIZE_EXCEEDED:
                return -EMSGSIZE;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return errno_of_connect(os_errno);
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EINVAL;
        default:
                return -EPROTO;
        }
}

static bool method_ok(const char *m) {
        static const char *const known[] = { "GET", "POST", "PUT", "DELETE" };
        for (size_t i = 0; i < ELEMENTSOF(known); i++)
                if (strcmp(m, known[i]) == 0)
                        return true;
        return false;
}

/* Loopback and the instance metadata service are never reached through a proxy from the environment. */
static bool host_is_local(const char *host) {
        static const char *const local[] = {
                "localhost", "[::1]", "169.254.169.254", "[fd00:ec2::254]",
        };
        if (strncmp(host, "127.", 4) == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(local); i++)
                if (strcasecmp(host, local[i]) == 0)
                        return true;
        return false;
}

static int find_ca_file(const char *asked, const char **ret) {
        if (asked) {
                if (access(asked, R_OK) < 0)
                        return -errno;
                *ret = asked;
                return 0;
        }
        /* The conventional OpenSSL override, honoured as curl's own tool does. */
        const char *env = getenv("SSL_CERT_FILE");
        if (env && *env) {
                if (access(env, R_OK) < 0)
                        return -errno;
                *ret = env;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(ca_bundles); i++)
                if (access(ca_bundles[i], R_OK) == 0) {
                        *ret = ca_bundles[i];
                        return 0;
                }
        return -ENOENT;
}

#define SETOPT(h, opt, val)                                          \
        do {                                                         \
                if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) \
                        return -EINVAL;                              \
        } while (0)

int http_do(const struct http_request *req, struct http_response *resp) {
        _cleanup_(curl_easy_cleanupp) CURL *h = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *hdrs = NULL;
        _cleanup_(curl_url_cleanupp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *scheme = NULL, *host = NULL;
        _cleanup_(body_buf_free) struct body_buf b = { 0 };
        const char *method;
        long timeout, connect_timeout, os_errno = 0;
        CURLcode c;
        int r;

        memset(resp, 0, sizeof *resp);
        if (!req || !req->url || !*req->url) {
                snprintf(resp->error, sizeof resp->error, "no URL");
                return -EINVAL;
        }
        method = req->method ? req->method : "GET";
        if (!method_ok(method)) {
                snprintf(resp->error, sizeof resp->error, "unsupported method");
                return -EINVAL;
        }

        /* Parse the URL ourselves: a clean -EINVAL for garbage, and the scheme decides about CAINFO. */
        u = curl_url();
        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
                snprintf(resp->error, sizeof resp->error, "malformed URL");
                return -EINVAL;
        }
        bool https = strcasecmp(scheme, "https") == 0;
        if (!https && strcasecmp(scheme, "http") != 0) {
                snprintf(resp->error, sizeof resp->error, "only http and https URLs are supported");
                return -EINVAL;
        }

        timeout = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
        connect_timeout = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                      : MIN(timeout, HTTP_MAX_CONNECT_TIMEOUT_MS);
        b.max = req->max_body > 0 ? req->max_body : HTTP_DEFAULT_MAX_BODY;
        if (b.max >= SIZE_MAX / 2)
                return -EINVAL;

        h = curl_easy_init();
        if (!h)
                return -ENOMEM;

        SETOPT(h, CURLOPT_ERRORBUFFER, resp->error);
        SETOPT(h, CURLOPT_URL, req->url);
        SETOPT(h, CURLOPT_NOSIGNAL, 1L);
        SETOPT(h, CURLOPT_TIMEOUT_MS, timeout);
        SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout);
        SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
        SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        SETOPT(h, CURLOPT_USERAGENT, "fluent-flush/" FF_VERSION);
        SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
        SETOPT(h, CURLOPT_WRITEDATA, &b);
        /* Reject early when Content-Length already says too much; the write callback catches the rest. */
        SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b.max);
        if (host_is_local(host))
                SETOPT(h, CURLOPT_PROXY, "");

        if (https) {
                const char *ca = NULL;
                r = find_ca_file(req->ca_file, &ca);
                if (r < 0) {
                        snprintf(resp->error, sizeof resp->error, "%s",
                                 req->ca_file ? "CA file not readable" : "no CA bundle found");
                        log_debug("http: %s", resp->error);
                        return r;
                }
                SETOPT(h, CURLOPT_CAINFO, ca);
        }

        for (const char *const *hd = req->headers; hd && *hd; hd++) {
                struct curl_slist *n = curl_slist_append(hdrs, *hd);
                if (!n)
                        return -ENOMEM;
                hdrs = n;
        }
        if (hdrs)
                SETOPT(h, CURLOPT_HTTPHEADER, hdrs);

        if (strcmp(method, "GET") != 0 || req->body) {
                /* POST and PUT always carry a body (maybe empty: Content-Length: 0). */
                SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
                SETOPT(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
                if (strcmp(method, "POST") != 0)
                        SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
        }

        if (req->aws_sigv4) {
#if LIBCURL_VERSION_NUM >= 0x074b00
                if (!req->userpwd)
                        return -EINVAL;
                SETOPT(h, CURLOPT_AWS_SIGV4, req->aws_sigv4);
                SETOPT(h, CURLOPT_USERPWD, req->userpwd);
#else
                snprintf(resp->error, sizeof resp->error, "libcurl too old for SigV4 (needs 7.75)");
                return -EOPNOTSUPP;
#endif
        } else if (req->userpwd)
                SETOPT(h, CURLOPT_USERPWD, req->userpwd);

        c = curl_easy_perform(h);
        (void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        if (c != CURLE_OK) {
                (void)curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
                if (resp->error[0] == '\0')
                        snprintf(resp->error, sizeof resp->error, "%s", curl_easy_strerror(c));
                if (b.too_big)
                        snprintf(resp->error, sizeof resp->error, "reply body over %zu bytes", b.max);
                r = errno_of_curlcode(c, &b, os_errno);
                /* The scheme, host and method only: URLs and headers may carry tokens. */
                log_debug("http: %s %s://%s failed: %s (curl %d)", method, scheme, host, resp->error, (int)c);
                return r;
        }

        if (!b.data) {
                b.data = strdup("");
                if (!b.data)
                        return -ENOMEM;
        }
        resp->len = b.len;
        resp->body = TAKE_PTR(b.data);
        log_debug("http: %s %s://%s → %ld (%zu bytes)", method, scheme, host, resp->status, resp->len);
        return 0;
}

void http_response_done(struct http_response *resp) {
        if (!resp)
                return;
        free(resp->body);
        resp->body = NULL;
        resp->len = 0;
}

int http_global_init(void) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        return 0;
}

void http_global_cleanup(void) {
        curl_global_cleanup();
}
