/* main.c — entry point: parse the command line, run the command, print the result, map it to the exit code. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "args.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "report.h"
#include "run.h"

static int run(int argc, char **argv) {
        struct options o;
        json_t *result = NULL;
        int v;

        int r = parse_argv(argc, argv, &o);
        if (r > 0)
                return FF_EXIT_CONFIRMED;       /* --help / --version */
        if (r < 0) {
                options_done(&o);
                return FF_EXIT_USAGE;
        }
        log_set_verbosity(o.verbosity);
        /* A closed pipe on stdout must not kill us before the lifecycle action is completed. */
        signal(SIGPIPE, SIG_IGN);
        if (http_global_init() < 0) {
                log_error("cannot initialise libcurl");
                options_done(&o);
                return FF_EXIT_INTERNAL;
        }

        switch (o.command) {
        case CMD_STATUS:
                v = run_status(&o, &result);
                break;
        case CMD_WATCH:
                v = run_watch(&o, &result);
                break;
        default: {
                struct lifecycle *lc = NULL;
                r = lifecycle_new(&o, &lc);
                if (r == -EINVAL) {
                        v = FF_EXIT_USAGE;
                        result = report_error_new(v, "incomplete lifecycle options (see --help)");
                        break;
                }
                /* Metadata or credentials missing: flush anyway (the logs matter most), then say that the
                 * lifecycle action could not be completed. */
                v = run_flush(&o, lc, &result);
                if (r < 0 && result) {
                        enum ff_exit e = r == -ENOMEM ? FF_EXIT_INTERNAL : FF_EXIT_METADATA_FAILED;
                        log_error("the lifecycle action cannot be completed: instance metadata or credentials unavailable");
                        json_object_set_new(result, "flush_verdict", json_string(ff_exit_verdict(v)));
                        json_object_set_new(result, "verdict", json_string(ff_exit_verdict(e)));
                        json_object_set_new(result, "exit_code", json_integer(e));
                        v = e;
                }
                lifecycle_free(lc);
        }
        }
        if (result && report_print(stdout, result) < 0)
                log_error("cannot write the result to stdout");
        json_decref(result);
        http_global_cleanup();
        options_done(&o);
        /* Never an exit code the shell or SSM Agent reads as something else. */
        if (v < 0 || v > 125 || v == 137 || v == 168 || v == 169 || v == 194)
                v = FF_EXIT_INTERNAL;
        return v;
}

int main(int argc, char **argv) {
        return run(argc, argv);
}
