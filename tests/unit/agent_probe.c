/* agent_probe.c — a test entry into agent.c for the integration tests: find the agent (and optionally
 * signal it) exactly as the helper does, print the outcome as one JSON object on stdout.
 *
 *   agent_probe [--unit NAME | --pid PID | --pid-file PATH] [--signal] [--rpc URL]
 *
 * Built by tests/integration/test_agent_systemd.py against build/libff.a with the Makefile's flags. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "agent.h"
#include "http.h"
#include "log.h"

static json_t *errno_json(int r) {
        if (r >= 0)
                return json_null();
        const char *name = strerrorname_np(-r);
        return json_string(name ? name : "?");
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "unit", required_argument, NULL, 'u' },
                { "pid", required_argument, NULL, 'p' },
                { "pid-file", required_argument, NULL, 'f' },
                { "signal", no_argument, NULL, 's' },
                { "rpc", required_argument, NULL, 'r' },
                { "verbose", no_argument, NULL, 'v' },
                {}
        };
        const char *unit = NULL, *pid_file = NULL, *rpc = NULL;
        pid_t pid = 0;
        int c, do_signal = 0;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'u':
                        unit = optarg;
                        break;
                case 'p':
                        pid = (pid_t)strtol(optarg, NULL, 10);
                        break;
                case 'f':
                        pid_file = optarg;
                        break;
                case 's':
                        do_signal = 1;
                        break;
                case 'r':
                        rpc = optarg;
                        break;
                case 'v':
                        log_set_verbosity(LOG_VERBOSE);
                        break;
                default:
                        return 2;
                }

        json_t *out = json_object();
        struct agent a;
        int r = agent_find(unit, pid, pid_file, &a);
        json_object_set_new(out, "euid", json_integer(geteuid()));
        json_object_set_new(out, "find_rc", json_integer(r));
        json_object_set_new(out, "find_errno", errno_json(r));
        json_object_set_new(out, "unit", json_string(a.unit));
        json_object_set_new(out, "unit_asked", json_string(a.unit_asked));
        json_object_set_new(out, "pid", json_integer(a.pid));
        json_object_set_new(out, "pidfd", json_boolean(a.pidfd >= 0));
        json_object_set_new(out, "flavor", json_string(a.flavor));
        const char *log = agent_default_log(&a);
        json_object_set_new(out, "default_log", log ? json_string(log) : json_null());
        if (r >= 0) {
                json_object_set_new(out, "alive", json_integer(agent_alive(&a)));
                if (do_signal) {
                        int s = agent_signal(&a, SIGUSR1);
                        json_object_set_new(out, "signal_rc", json_integer(s));
                        json_object_set_new(out, "signal_errno", errno_json(s));
                }
        }
        if (rpc) {
                char err[256];
                if (http_global_init() < 0)
                        return 1;
                int s = agent_rpc_flush(rpc, 5000, err, sizeof err);
                json_object_set_new(out, "rpc_rc", json_integer(s));
                json_object_set_new(out, "rpc_errno", errno_json(s));
                json_object_set_new(out, "rpc_error", json_string(err));
                http_global_cleanup();
        }
        agent_done(&a);
        char *s = json_dumps(out, JSON_COMPACT);
        json_decref(out);
        if (!s)
                return 1;
        puts(s);
        free(s);
        return 0;
}
