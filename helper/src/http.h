/* http.h — the single libcurl wrapper: timeouts, error buffer, a capped in-memory body, optional SigV4. */
#pragma once

#include <stddef.h>

struct http_request {
        const char *method;              /* "GET" (default when NULL), "POST", "PUT" */
        const char *url;
        const char *const *headers;      /* NULL-terminated "Name: value" list, may be NULL */
        const char *body;                /* request body (sent with CURLOPT_POSTFIELDS) or NULL */
        size_t body_len;
        long timeout_ms;                 /* whole transfer; 0 → 10 s */
        long connect_timeout_ms;         /* 0 → min(timeout, 3 s) */
        size_t max_body;                 /* reply cap; 0 → 1 MiB. Over it → -EMSGSIZE */
        const char *aws_sigv4;           /* e.g. "aws:amz:us-east-1:autoscaling" or NULL */
        const char *userpwd;             /* "AKID:SECRET" for SigV4 */
        const char *ca_file;             /* CURLOPT_CAINFO for https, NULL → the system default search */
};

struct http_response {
        long status;
        char *body;                      /* NUL-terminated (body[len] == 0), malloc'd */
        size_t len;
        char error[256];                 /* curl's error text when the call failed */
};

/* 0 when an HTTP reply arrived (any status); -ECONNREFUSED, -ETIMEDOUT, -EMSGSIZE, -EHOSTUNREACH,
 * -ECONNRESET (connection dropped), -EPROTO (other transfer errors, TLS), -EINVAL (bad URL, scheme other
 * than http/https), -ENOMEM; for https also -ENOENT/-EACCES when ca_file (else $SSL_CERT_FILE, else the
 * first of the distributions' bundles) is missing or unreadable. resp->error says what happened. */
int http_do(const struct http_request *req, struct http_response *resp);
void http_response_done(struct http_response *resp);
/* One-time global init/cleanup (main calls them). */
int http_global_init(void);
void http_global_cleanup(void);
