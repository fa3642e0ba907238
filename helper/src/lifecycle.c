/* lifecycle.c — complete / extend this instance's Auto Scaling lifecycle action (IMDS + signed Query API). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "autoscaling.h"
#include "awscreds.h"
#include "imds.h"
#include "lifecycle.h"
#include "log.h"
#include "macro.h"
#include "watch.h"


struct lifecycle {
        struct imds *imds;
        struct awscreds *creds;
        struct asg_endpoint ep;
        struct asg_action action;

        char region[33];
        char *url, *ca_file, *group, *hook, *instance_id, *token;
        bool group_from_tag;
        char on_failure[16];

        long heartbeat_ms;
        uint64_t last_hb_ms;          /* CLOCK_MONOTONIC ms of the start or of the last heartbeat */
        unsigned heartbeats, heartbeat_failures;
        bool gone;                    /* the service said the action is no longer active */

        bool completed;
        int complete_r;
        struct asg_error last_error;
        bool have_error;
};

void lifecycle_free(struct lifecycle *lc) {
        if (!lc)
                return;
        awscreds_free(lc->creds);
        imds_free(lc->imds);
        free(lc->url);
        free(lc->ca_file);
        free(lc->group);
        free(lc->hook);
        free(lc->instance_id);
        if (lc->token)
                explicit_bzero(lc->token, strlen(lc->token));
        free(lc->token);
        free(lc);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct lifecycle *, lifecycle_free)

static int dup_opt(const char *s, char **ret) {
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int lifecycle_new(const struct options *o, struct lifecycle **ret) {
        _cleanup_(lifecycle_freep) struct lifecycle *lc = NULL;
        const struct aws_creds *c;
        char url[1024];
        int r;

        *ret = NULL;
        if (!o->lifecycle_hook) {
                if (o->asg || o->instance_id || o->token || o->heartbeat_ms > 0) {
                        log_error("--asg, --instance-id, --token and --heartbeat need --lifecycle-hook");
                        return -EINVAL;
                }
                return 0;
        }

        lc = calloc(1, sizeof *lc);
        if (!lc)
                return -ENOMEM;
        snprintf(lc->on_failure, sizeof lc->on_failure, "%s", o->on_failure ? o->on_failure : "ABANDON");
        if (strcmp(lc->on_failure, "CONTINUE") != 0 && strcmp(lc->on_failure, "ABANDON") != 0) {
                log_error("--on-failure must be CONTINUE or ABANDON");
                return -EINVAL;
        }
        lc->heartbeat_ms = o->heartbeat_ms;
        if ((r = dup_opt(o->lifecycle_hook, &lc->hook)) < 0 || (r = dup_opt(o->autoscaling_url, &lc->url)) < 0 ||
            (r = dup_opt(o->ca_file, &lc->ca_file)) < 0 || (r = dup_opt(o->token, &lc->token)) < 0 ||
            (r = dup_opt(o->instance_id, &lc->instance_id)) < 0)
                return r;

        r = imds_new(&(struct imds_config){ .base_url = o->imds_url }, &lc->imds);
        if (r < 0) {
                log_error("invalid --imds-url");
                return -EINVAL;
        }

        if (o->region)
                snprintf(lc->region, sizeof lc->region, "%s", o->region);
        else {
                _cleanup_(freep) char *region = NULL;
                r = imds_region(lc->imds, &region);
                if (r < 0) {
                        log_error_errno(r, "Cannot read the region from instance metadata (give --region): %m");
                        return -EHOSTUNREACH;
                }
                snprintf(lc->region, sizeof lc->region, "%s", region);
        }

        /* Shared with watch: this reference also links watch.c in, whose run_watch() overrides run.c's
         * weak fallback (a weak definition found first in libff.a would otherwise win). */
        free(lc->group);
        lc->group = NULL;
        r = watch_group_name(lc->imds, o->asg, &lc->group, &lc->group_from_tag);
        if (r == -ENOENT) {
                log_error("--asg is required: the instance metadata has no tag " WATCH_GROUP_TAG
                          " (instance tags in metadata are not enabled)");
                return -EINVAL;
        }
        if (r == -EBADMSG) {
                log_error("the instance tag " WATCH_GROUP_TAG " is not a group name (give --asg)");
                return -EINVAL;
        }
        if (r < 0) {
                log_error_errno(r, "Cannot read the group name from instance metadata (give --asg): %m");
                return r == -ENOMEM ? r : -EHOSTUNREACH;
        }

        if (!lc->token && !lc->instance_id) {
                r = imds_instance_id(lc->imds, &lc->instance_id);
                if (r < 0) {
                        log_error_errno(r, "Cannot read the instance id from instance metadata (give --instance-id): %m");
                        return -EHOSTUNREACH;
                }
        }

        lc->ep = (struct asg_endpoint){ .url = lc->url, .region = lc->region, .ca_file = lc->ca_file };
        if (asg_endpoint_url(&lc->ep, url, sizeof url) < 0) {
                log_error("invalid --autoscaling-url or region");
                return -EINVAL;
        }
        lc->action = (struct asg_action){
                .group = lc->group, .hook = lc->hook, .instance_id = lc->instance_id, .token = lc->token,
        };

        /* Read the credentials now: a missing role is found before the flush, not at its end. */
        r = awscreds_new(lc->imds, &lc->creds);
        if (r < 0)
                return r;
        r = awscreds_get(lc->creds, (int64_t)time(NULL), &c);
        if (r < 0) {
                if (r == -ENOENT)
                        log_error("The instance has no IAM role (instance profile): no credentials for Auto Scaling");
                else
                        log_error_errno(r, "Cannot read the instance credentials from instance metadata: %m");
                return -EIO;
        }

        lc->last_hb_ms = imds_clock_ms();
        log_debug("lifecycle: hook %s of group %s (%s), %s %s, region %s, endpoint %s", lc->hook, lc->group,
                  lc->group_from_tag ? "from the instance tag" : "--asg", lc->token ? "token" : "instance",
                  lc->token ? "given" : lc->instance_id, lc->region, url);
        *ret = TAKE_PTR(lc);
        return 0;
}

long lifecycle_heartbeat_due_ms(const struct lifecycle *lc, uint64_t now_ms) {
        if (!lc || lc->heartbeat_ms <= 0 || lc->completed || lc->gone)
                return -1;
        uint64_t due = lc->last_hb_ms + (uint64_t)lc->heartbeat_ms;
        if (now_ms >= due)
                return 0;
        return (long)MIN(due - now_ms, (uint64_t)lc->heartbeat_ms);
}

int lifecycle_heartbeat(struct lifecycle *lc, uint64_t now_ms) {
        struct asg_error err;
        int r;

        if (!lc || lc->completed || lc->gone)
                return 0;
        /* Called from the flush's wait loop: fewer, shorter attempts than the completion, so a slow
         * endpoint delays the evidence by seconds, not a minute; the next period tries again anyway. */
        struct asg_endpoint ep = lc->ep;
        ep.timeout_ms = 5000;
        ep.attempts = 3;
        r = asg_record_heartbeat(&ep, lc->creds, &lc->action, &err);
        /* Whatever happened, the next one is a full period away: asg_call() already retried. */
        lc->last_hb_ms = MAX(now_ms, imds_clock_ms());
        if (r == 1) {
                lc->gone = true;
                log_warning("Lifecycle action of hook %s is no longer active (completed elsewhere or timed out): "
                            "no more heartbeats", lc->hook);
                return 0;
        }
        if (r < 0) {
                lc->heartbeat_failures++;
                lc->last_error = err;
                lc->have_error = true;
                return log_error_errno(r, "RecordLifecycleActionHeartbeat failed: %s%s%s",
                                       err.code, err.code[0] ? ": " : "", err.message);
        }
        lc->heartbeats++;
        log_debug("lifecycle: heartbeat %u sent", lc->heartbeats);
        return 0;
}

static json_t *error_json(const struct asg_error *e) {
        return json_pack("{s:s?, s:s?, s:s, s:i}",
                         "type", e->type[0] ? e->type : NULL,
                         "code", e->code[0] ? e->code : NULL,
                         "message", e->message,
                         "http_status", (json_int_t)e->status);
}

int lifecycle_complete(struct lifecycle *lc, bool success, json_t *result) {
        const char *res = success ? "CONTINUE" : lc->on_failure;
        struct asg_error err = { 0 };
        int r;

        if (!lc->completed) {
                r = asg_complete_lifecycle_action(&lc->ep, lc->creds, &lc->action, res, &err);
                lc->completed = true;  /* once: asg_call() already retried what can be retried */
                lc->complete_r = r;
                if (r < 0) {
                        lc->last_error = err;
                        lc->have_error = true;
                        log_debug("lifecycle: CompleteLifecycleAction %s failed: %s %s", res, err.code, err.message);
                } else
                        log_debug("lifecycle: CompleteLifecycleAction %s: %s", res,
                                  r == 1 ? "no active action (already done)" : "done");
        }
        r = lc->complete_r;

        if (result) {
                json_t *l = json_pack("{s:s, s:s, s:s, s:s*, s:s, s:b, s:b, s:i, s:i, s:o}",
                                      "hook", lc->hook,
                                      "group", lc->group,
                                      "group_from", lc->group_from_tag ? "instance_tag" : "option",
                                      "instance_id", lc->token ? NULL : lc->instance_id,
                                      "result", res,
                                      "completed", r >= 0,
                                      "already_done", r == 1,
                                      "heartbeats", (json_int_t)lc->heartbeats,
                                      "heartbeat_failures", (json_int_t)lc->heartbeat_failures,
                                      "error", lc->have_error ? error_json(&lc->last_error) : json_null());
                if (!l || json_object_set_new(result, "lifecycle", l) < 0)
                        return -ENOMEM;
        }
        return r < 0 ? r : 0;
}
