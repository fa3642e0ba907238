/* imds.h — IMDSv2 client: session token (PUT with a TTL, renewed before expiry and on 401), bounded
 * retries with back-off, capped GETs, and the few metadata items the lifecycle needs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define IMDS_DEFAULT_URL "http://169.254.169.254"
#define IMDS_DEFAULT_TOKEN_TTL_S 21600u     /* the maximum IMDS accepts */
#define IMDS_MAX_BODY ((size_t)64 * 1024)   /* any item we read is far smaller */

struct imds_config {
        const char *base_url;        /* NULL → IMDS_DEFAULT_URL; a trailing '/' is ignored */
        unsigned token_ttl_s;        /* 1..21600, 0 → IMDS_DEFAULT_TOKEN_TTL_S */
        long timeout_ms;             /* per request, 0 → 2 s (IMDS is link-local: it answers fast or not at all) */
        unsigned attempts;           /* per call, 0 → 4 */
        long backoff_ms;             /* first pause between attempts, doubled each time; 0 → 250 ms */
};

struct imds;

/* Allocates the client; no request is made yet. -EINVAL on a bad configuration. */
int imds_new(const struct imds_config *cfg, struct imds **ret);
void imds_free(struct imds *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct imds *, imds_free)

/* GET <base>/<path> with the session token. 0 and *ret (malloc'd, NUL-terminated, surrounding white
 * space removed); -ENOENT on 404; -EMSGSIZE when the item is over max (0 → IMDS_MAX_BODY);
 * -EHOSTUNREACH when IMDS could not be reached (or kept failing) within the attempts; -EACCES on 403
 * (IMDS disabled or IMDSv1-only misconfiguration); -EPROTO on any other status. */
int imds_get(struct imds *m, const char *path, size_t max, char **ret);

/* placement/region, validated ([a-z0-9-], ≤ 32 characters). */
int imds_region(struct imds *m, char **ret);
/* instance-id, validated (i-<hex>). */
int imds_instance_id(struct imds *m, char **ret);
/* autoscaling/target-lifecycle-state: 0 and *ret = "InService", "Terminated", …; 0 and *ret = NULL when
 * the instance never transitioned (404). */
int imds_lifecycle_state(struct imds *m, char **ret);

struct imds_spot {
        char action[16];             /* "terminate", "stop", "hibernate" */
        int64_t time;                /* when the action happens (Unix seconds); 0 when unparsable */
};
/* spot/instance-action: 1 and *ret when a notice is there, 0 when none (404). */
int imds_spot_action(struct imds *m, struct imds_spot *ret);
/* {"action": "terminate", "time": "2017-09-18T08:22:00Z"} → *ret. 0 or -EBADMSG. */
int imds_spot_parse(const char *json, size_t len, struct imds_spot *ret);

/* tags/instance/<key>: 0 and *ret; -ENOENT when the tag is absent or instance tags are not in the
 * metadata; -EINVAL when key cannot be a tag key. */
int imds_tag(struct imds *m, const char *key, char **ret);

/* "2026-12-04T21:14:13Z" (also with fractional seconds) → Unix seconds. 0 or -EINVAL. */
int imds_parse_time(const char *s, int64_t *ret);

/* Requests made and tokens fetched so far (for the result and the tests' expectations). */
unsigned imds_requests(const struct imds *m);
unsigned imds_tokens(const struct imds *m);

/* CLOCK_MONOTONIC in milliseconds (the clock of every now_ms in lifecycle.h). */
uint64_t imds_clock_ms(void);
/* Pause before retry number attempt (1, 2, …): base·2^(attempt-1), capped at cap_ms, with ±25 % jitter.
 * A bounded back-off between attempts, never a polling loop. Returns the pause taken. */
long imds_backoff(unsigned attempt, long base_ms, long cap_ms);
