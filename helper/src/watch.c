/* watch.c — `fluent-flush watch`: poll IMDS for this instance's termination (target lifecycle state,
 * spot interruption notice), then run the flush with the lifecycle action; a clean exit on SIGTERM. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>

#include "imds.h"
#include "lifecycle.h"
#include "log.h"
#include "macro.h"
#include "report.h"
#include "run.h"
#include "watch.h"

#define SPOT_BUDGET_MS 120000L       /* a spot interruption notice comes two minutes ahead */
#define SPOT_MARGIN_MS 15000L        /* for the result, the shutdown and the clock skew */
#define SPOT_MIN_TIMEOUT_MS 5000L

struct watch_state {
        unsigned polls;
        unsigned imds_errors;        /* consecutive failed polls */
        char last_state[64];
};

static int signal_fd(void) {
        sigset_t mask;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        /* Blocked until the process exits (never unblocked: a pending SIGTERM would then kill us before
         * the result is printed). A stop request during the flush waits for the flush and the lifecycle
         * completion instead of killing them halfway. */
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

int watch_group_name(struct imds *m, const char *asg, char **ret, bool *from_tag) {
        _cleanup_(freep) char *g = NULL;
        int r;

        *from_tag = false;
        if (asg) {
                g = strdup(asg);
                if (!g)
                        return -ENOMEM;
        } else {
                r = imds_tag(m, WATCH_GROUP_TAG, &g);
                if (r < 0)
                        return r;
                /* 1-1600 printable ASCII characters (it goes into a JSON result and a request). */
                size_t n = strlen(g);
                if (n == 0 || n > 1600)
                        return -EBADMSG;
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)g[i] < 0x20 || (unsigned char)g[i] >= 0x7f)
                                return -EBADMSG;
                *from_tag = true;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

static const char *errstr(int r) {
        return strerror(r < 0 ? -r : r);
}

static json_t *watch_info(const struct watch_state *w, const char *trigger) {
        return json_pack("{s:s?, s:i, s:s?}", "trigger", trigger, "polls", (json_int_t)w->polls, "last_state",
                         w->last_state[0] ? w->last_state : NULL);
}

/* Replace verdict/exit_code of result, keeping the flush's own as flush_verdict. */
static int override_verdict(json_t *result, int v) {
        json_t *old = json_object_get(result, "verdict");
        if (old && !json_object_get(result, "flush_verdict"))
                json_object_set(result, "flush_verdict", old);
        json_object_set_new(result, "verdict", json_string(ff_exit_verdict(v)));
        json_object_set_new(result, "exit_code", json_integer(v));
        return v;
}

static int on_terminated(const struct options *o, struct watch_state *w, json_t **ret) {
        struct lifecycle *lc = NULL;
        json_t *result = NULL;
        int r = 0, v;

        log_progress("target lifecycle state is Terminated: flushing");
        if (o->lifecycle_hook) {
                r = lifecycle_new(o, &lc);
                if (r < 0)
                        log_warning("flushing without completing the lifecycle action: %s", errstr(r));
        }
        v = run_flush(o, lc, &result);
        lifecycle_free(lc);
        if (!result)
                result = report_error_new(v, "the flush returned no result");
        if (!result)
                return FF_EXIT_INTERNAL;
        if (r < 0) {
                json_object_set_new(result, "lifecycle",
                                    json_pack("{s:s, s:b, s:s}", "hook", o->lifecycle_hook, "completed", 0, "error",
                                              "instance metadata or credentials could not be read"));
                if (v == FF_EXIT_CONFIRMED)
                        v = override_verdict(result, r == -EINVAL ? FF_EXIT_USAGE : FF_EXIT_METADATA_FAILED);
        }
        json_object_set_new(result, "watch", watch_info(w, "target_lifecycle_state"));
        *ret = result;
        return v;
}

static int on_spot(const struct options *o, struct watch_state *w, const struct imds_spot *s, json_t **ret) {
        struct options spot = *o;
        json_t *result = NULL;
        int64_t now = (int64_t)time(NULL);
        long budget = SPOT_BUDGET_MS;

        /* The notice's time is when the instance goes; never trust it beyond two minutes from now. */
        if (s->time > 0 && (s->time - now) * 1000 < budget)
                budget = (long)MAX((s->time - now) * 1000, 0);
        long timeout = MAX(budget - SPOT_MARGIN_MS, SPOT_MIN_TIMEOUT_MS);
        spot.timeout_ms = MIN(o->timeout_ms > 0 ? o->timeout_ms : timeout, timeout);
        if (spot.ack_timeout_ms > spot.timeout_ms)
                spot.ack_timeout_ms = spot.timeout_ms;
        log_progress("spot interruption notice (%s): flushing within %ld s", s->action, spot.timeout_ms / 1000);

        /* Spot interruptions do not wait for lifecycle hooks: there is no action to extend or complete. */
        int v = run_flush(&spot, NULL, &result);
        if (!result)
                result = report_error_new(v, "the flush returned no result");
        if (!result)
                return FF_EXIT_INTERNAL;
        json_t *info = watch_info(w, "spot_interruption");
        json_object_set_new(info, "spot_action", json_string(s->action));
        json_object_set_new(info, "timeout_ms", json_integer(spot.timeout_ms));
        if (s->time > 0)
                json_object_set_new(info, "spot_time_unix", json_integer(s->time));
        json_object_set_new(result, "watch", info);
        *ret = result;
        return v;
}

/* Before waiting days for a notice, make sure the lifecycle options can work. */
static int check_config(const struct options *o, struct imds *m, json_t **ret) {
        _cleanup_(freep) char *group = NULL, *id = NULL;
        int r;

        if (!o->lifecycle_hook) {
                if (o->asg || o->instance_id || o->token || o->heartbeat_ms > 0) {
                        *ret = report_error_new(FF_EXIT_USAGE, "--asg, --instance-id, --token and --heartbeat need --lifecycle-hook");
                        return FF_EXIT_USAGE;
                }
                log_warning("no --lifecycle-hook: the lifecycle action will not be completed");
                return 0;
        }
        if (o->token) {
                *ret = report_error_new(FF_EXIT_USAGE, "watch completes the action by instance id: --token cannot be known in advance");
                return FF_EXIT_USAGE;
        }
        bool from_tag;
        r = watch_group_name(m, o->asg, &group, &from_tag);
        if (r == -ENOENT) {
                *ret = report_error_new(FF_EXIT_USAGE, "--asg is required: the instance metadata has no tag "
                                        WATCH_GROUP_TAG " (instance tags in metadata are not enabled)");
                return FF_EXIT_USAGE;
        }
        if (r < 0) {
                int v = r == -EBADMSG ? FF_EXIT_USAGE : FF_EXIT_METADATA_FAILED;
                *ret = report_error_new(v, "cannot read the group name from instance metadata: %s", errstr(r));
                return v;
        }
        if (!o->instance_id && (r = imds_instance_id(m, &id)) < 0) {
                *ret = report_error_new(FF_EXIT_METADATA_FAILED, "cannot read the instance id from instance metadata: %s",
                                        errstr(r));
                return FF_EXIT_METADATA_FAILED;
        }
        log_progress("watching for the termination of %s in group %s (hook %s)", o->instance_id ? o->instance_id : id,
                     group, o->lifecycle_hook);
        return 0;
}

int run_watch(const struct options *o, json_t **ret) {
        _cleanup_(imds_freep) struct imds *m = NULL;
        _cleanup_(closep) int sfd = -1;
        struct watch_state w = { 0 };
        int r, v = FF_EXIT_INTERNAL;

        *ret = NULL;
        r = imds_new(&(struct imds_config){ .base_url = o->imds_url }, &m);
        if (r < 0) {
                *ret = report_error_new(FF_EXIT_USAGE, "invalid --imds-url");
                return FF_EXIT_USAGE;
        }
        sfd = signal_fd();
        if (sfd < 0) {
                *ret = report_error_new(FF_EXIT_INTERNAL, "cannot set up signal handling: %s", errstr(sfd));
                return FF_EXIT_INTERNAL;
        }
        v = check_config(o, m, ret);
        if (v != 0)
                goto out;

        for (;;) {
                _cleanup_(freep) char *state = NULL;
                struct imds_spot spot;
                int rs, rp;

                w.polls++;
                rs = imds_lifecycle_state(m, &state);
                if (rs == 0 && state && strcmp(state, "Terminated") == 0) {
                        snprintf(w.last_state, sizeof w.last_state, "%s", state);
                        v = on_terminated(o, &w, ret);
                        goto out;
                }
                rp = imds_spot_action(m, &spot);
                if (rp > 0) {
                        v = on_spot(o, &w, &spot, ret);
                        goto out;
                }
                if (rs < 0 || rp < 0) {
                        if (w.imds_errors++ == 0)
                                log_warning("instance metadata poll failed (%s): retrying every poll interval",
                                            errstr(rs < 0 ? rs : rp));
                } else {
                        if (w.imds_errors > 0)
                                log_progress("instance metadata reachable again after %u failed polls", w.imds_errors);
                        w.imds_errors = 0;
                        const char *s = state ? state : "none yet";
                        if (strcmp(s, w.last_state) != 0) {
                                log_progress("target lifecycle state: %s", s);
                                snprintf(w.last_state, sizeof w.last_state, "%s", s);
                        }
                }

                struct pollfd p = { .fd = sfd, .events = POLLIN };
                long wait = o->poll_interval_ms > 0 ? o->poll_interval_ms : 5000;
                r = poll(&p, 1, (int)MIN(wait, (long)INT32_MAX));
                if (r < 0 && errno != EINTR) {
                        *ret = report_error_new(FF_EXIT_INTERNAL, "poll failed: %s", errstr(-errno));
                        v = FF_EXIT_INTERNAL;
                        goto out;
                }
                if (r > 0 && (p.revents & POLLIN)) {
                        struct signalfd_siginfo si;
                        ssize_t n = read(sfd, &si, sizeof si);
                        int sig = n == (ssize_t)sizeof si ? (int)si.ssi_signo : SIGTERM;
                        log_progress("stopped by %s before any termination notice", sig == SIGINT ? "SIGINT" : "SIGTERM");
                        *ret = json_pack("{s:s, s:i, s:s, s:o}", "verdict", "stopped", "exit_code", 0, "message",
                                         "watch stopped before any termination notice", "watch",
                                         watch_info(&w, NULL));
                        v = FF_EXIT_CONFIRMED;
                        goto out;
                }
        }
out:
        return v;
}
