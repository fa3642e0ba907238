/* args.h — command line → struct options (getopt_long). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "agent.h"
#include "fluentlog.h"
#include "log.h"

enum ff_command { CMD_FLUSH = 0, CMD_STATUS, CMD_WATCH };

struct options {
        enum ff_command command;

        /* the agent */
        const char *unit;                /* NULL → first active of fluentd.service, td-agent.service */
        pid_t pid;                       /* 0 → not given */
        const char *pid_file;
        enum agent_via via;
        const char *rpc_url;             /* default http://127.0.0.1:24444 */

        /* the evidence */
        const char *log_file;            /* NULL → the package default for the unit */
        enum fl_format log_format;
        const char *monitor_url;         /* default http://127.0.0.1:24220 */
        bool monitor_url_given;          /* explicit --monitor-url: failures are errors, not "absent" */
        bool no_monitor;
        char **buffer_paths;             /* NULL-terminated, may be empty */
        char **plugin_ids;               /* NULL-terminated, may be empty → every output of type s3 */
        int workers;                     /* 0 → auto */

        /* timing (milliseconds) */
        long timeout_ms;                 /* default 300 s */
        long ack_timeout_ms;             /* default 15 s; 0 disables the hang check */
        long monitor_interval_ms;        /* default 500 ms */

        enum log_verbosity verbosity;

        /* lifecycle (helper completes the Auto Scaling lifecycle action itself) */
        const char *lifecycle_hook;
        const char *asg;
        const char *instance_id;
        const char *token;
        long heartbeat_ms;               /* 0 → no heartbeats */
        const char *on_failure;          /* "ABANDON" (default) or "CONTINUE" */
        const char *region;
        const char *imds_url;            /* default http://169.254.169.254 */
        const char *autoscaling_url;     /* default https://autoscaling.<region>.amazonaws.com/ */
        const char *ca_file;

        /* watch */
        long poll_interval_ms;           /* default 5 s */
};

/* Returns 0 to run, 1 when --help/--version was printed (exit 0), -EINVAL after printing a usage error. */
int parse_argv(int argc, char **argv, struct options *o);
void options_done(struct options *o);
