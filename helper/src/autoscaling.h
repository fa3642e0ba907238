/* autoscaling.h — CompleteLifecycleAction and RecordLifecycleActionHeartbeat over the Auto Scaling
 * Query API: form body, libcurl's SigV4 with the instance credentials, ErrorResponse parsing, retries. */
#pragma once

#include <stddef.h>

#include "awscreds.h"

#define ASG_API_VERSION "2011-01-01"
#define ASG_MAX_REPLY ((size_t)64 * 1024)

struct asg_error {
        long status;                 /* HTTP status, 0 when no reply arrived */
        char type[16];               /* "Sender" / "Receiver" */
        char code[64];               /* "ValidationError", "Throttling", … */
        char message[512];           /* the service's message (or the transport error), printable ASCII */
        char request_id[64];
};

/* Extract ErrorResponse/Error/{Type,Code,Message} and RequestId from an XML reply of len bytes (need not
 * be NUL-terminated; only the first ASG_MAX_REPLY bytes are looked at). Entities are decoded, anything
 * but printable ASCII becomes '?', over-long values are cut. 0 when an <Error> element with a <Code> was
 * found; -EBADMSG otherwise (ret is then all empty). */
int asg_parse_error(const char *xml, size_t len, struct asg_error *ret);

struct asg_param {
        const char *name, *value;
};
/* "Action=<action>&Version=2011-01-01&name=value…" with every name and value URL-encoded (RFC 3986,
 * as SigV4 wants). Parameters with a NULL value are left out. 0 or -ENOMEM / -EINVAL. */
int asg_form_encode(const char *action, const struct asg_param *params, size_t n, char **ret);

struct asg_endpoint {
        const char *url;             /* NULL → https://autoscaling.<region>.amazonaws.com/ (.com.cn in China) */
        const char *region;
        const char *ca_file;         /* NULL → http.c's search */
        long timeout_ms;             /* per attempt, 0 → 10 s */
        unsigned attempts;           /* 0 → 5 */
        long backoff_ms;             /* first pause, doubled each retry (capped at 8 s); 0 → 500 ms */
};

struct asg_action {
        const char *group;
        const char *hook;
        const char *instance_id;     /* one of instance_id and token */
        const char *token;           /* LifecycleActionToken */
};

/* The endpoint URL for ep (the default one when ep->url is NULL) into buf. 0 or -EINVAL. */
int asg_endpoint_url(const struct asg_endpoint *ep, char *buf, size_t size);

/* One signed Query API call (with retries): 0 on success; 1 when the service answered "No active
 * Lifecycle Action found" (already completed, or timed out); -EPROTO for any other error answer (err
 * says which); -ETIMEDOUT, -ECONNREFUSED, -ECONNRESET, -EHOSTUNREACH when the endpoint could not be
 * reached within the attempts; the credentials' -errno when they could not be read. Throttling, 5xx,
 * expired credentials and transport errors are retried with back-off. err is always filled. */
int asg_call(const struct asg_endpoint *ep, struct awscreds *creds, const char *body, struct asg_error *err);

/* result: "CONTINUE" or "ABANDON". Same returns as asg_call(). */
int asg_complete_lifecycle_action(const struct asg_endpoint *ep, struct awscreds *creds,
                                  const struct asg_action *a, const char *result, struct asg_error *err);
int asg_record_heartbeat(const struct asg_endpoint *ep, struct awscreds *creds, const struct asg_action *a,
                         struct asg_error *err);
/* How many HTTP requests asg_call() made in this process (for the result). */
unsigned asg_requests(void);
