/* test_args.c — argument parsing: defaults, every option, every bad value, and the contradictions. */
#include "unit.h"

#include <errno.h>

#include "args.h"

static int parse(struct options *o, ...) {
        char *argv[64];
        int argc = 0;
        va_list ap;
        argv[argc++] = "fluent-flush";
        va_start(ap, o);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);
        argv[argc] = NULL;
        /* stderr noise from usage errors is expected: silence it */
        FILE *saved = stderr;
        stderr = fopen("/dev/null", "we");
        int r = parse_argv(argc, argv, o);
        fclose(stderr);
        stderr = saved;
        return r;
}

static void test_defaults(void **state) {
        (void)state;
        struct options o;
        assert_int_equal(parse(&o, NULL), 0);
        assert_int_equal(o.command, CMD_FLUSH);
        assert_null(o.unit);
        assert_int_equal(o.timeout_ms, 300000);
        assert_int_equal(o.ack_timeout_ms, 15000);
        assert_string_equal(o.monitor_url, "http://127.0.0.1:24220");
        assert_string_equal(o.rpc_url, "http://127.0.0.1:24444");
        assert_string_equal(o.on_failure, "ABANDON");
        assert_int_equal(o.via, VIA_SIGNAL);
        options_done(&o);
}

static void test_all_options(void **state) {
        (void)state;
        struct options o;
        assert_int_equal(parse(&o, "flush", "--unit", "td-agent.service", "--via", "rpc", "--rpc-url", "http://127.0.0.1:1",
                               "--log-file", "/l", "--log-format", "json", "--monitor-url", "http://127.0.0.1:2",
                               "--buffer-path", "/a", "--buffer-path", "/b", "--plugin-id", "x", "--workers", "4",
                               "--timeout", "2.5", "--ack-timeout", "0", "--monitor-interval", "0.25",
                               "--lifecycle-hook", "h", "--asg", "g", "--instance-id", "i-0123456789abcdef0",
                               "--heartbeat", "60", "--on-failure", "CONTINUE", "--region", "eu-west-1",
                               "--imds-url", "http://127.0.0.1:3", "--autoscaling-url", "http://127.0.0.1:4", "-v",
                               NULL), 0);
        assert_string_equal(o.unit, "td-agent.service");
        assert_int_equal(o.via, VIA_RPC);
        assert_int_equal(o.log_format, FL_FORMAT_JSON);
        assert_true(o.monitor_url_given);
        assert_string_equal(o.buffer_paths[0], "/a");
        assert_string_equal(o.buffer_paths[1], "/b");
        assert_null(o.buffer_paths[2]);
        assert_string_equal(o.plugin_ids[0], "x");
        assert_int_equal(o.workers, 4);
        assert_int_equal(o.timeout_ms, 2500);
        assert_int_equal(o.ack_timeout_ms, 0);
        assert_int_equal(o.monitor_interval_ms, 250);
        assert_int_equal(o.heartbeat_ms, 60000);
        assert_string_equal(o.on_failure, "CONTINUE");
        assert_int_equal(o.verbosity, LOG_VERBOSE);
        options_done(&o);
        assert_int_equal(parse(&o, "status", "--pid", "42", NULL), 0);
        assert_int_equal(o.command, CMD_STATUS);
        assert_int_equal(o.pid, 42);
        options_done(&o);
        assert_int_equal(parse(&o, "watch", "--pid-file", "/run/x.pid", "-q", NULL), 0);
        assert_int_equal(o.command, CMD_WATCH);
        assert_int_equal(o.verbosity, LOG_QUIET);
        options_done(&o);
}

static void test_bad(void **state) {
        (void)state;
        static const char *const bad[][3] = {
                { "--bogus", NULL }, { "--timeout", "abc" }, { "--timeout", "-1" }, { "--timeout", "0" },
                { "--timeout", "1e3" }, { "--timeout", "99999999999999999999" }, { "--timeout", "1.2.3" },
                { "--timeout", "" }, { "--timeout", " 5" }, { "--ack-timeout", "4000" }, { "--pid", "0" },
                { "--pid", "-5" }, { "--pid", "12x" }, { "--pid", "99999999" }, { "--workers", "0" },
                { "--workers", "65" }, { "--via", "kill" }, { "--log-format", "xml" },
                { "--monitor-url", "127.0.0.1:24220" }, { "--monitor-url", "file:///etc/passwd" },
                { "--rpc-url", "ftp://x" }, { "--unit", "a b" }, { "--unit", "x;rm" }, { "--unit", "" },
                { "--instance-id", "i-XYZ" }, { "--instance-id", "x-0123" }, { "--token", "short" },
                { "--on-failure", "continue" }, { "--region", "EU" }, { "--heartbeat", "0.5" },
                { "--plugin-id", "" }, { "--log-file", "a\nb" }, { "--unit", "td-agent\r" }, { "frobnicate" },
                { "--timeout", NULL }, { "flush", "extra" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                struct options o;
                int r = bad[i][1] ? parse(&o, bad[i][0], bad[i][1], NULL) : parse(&o, bad[i][0], NULL);
                if (r != -EINVAL)
                        fail_msg("'%s %s' was accepted (%d)", bad[i][0], bad[i][1] ? bad[i][1] : "", r);
                options_done(&o);
        }
}

static void test_contradictions(void **state) {
        (void)state;
        struct options o;
        assert_int_equal(parse(&o, "--unit", "a.service", "--pid", "5", NULL), -EINVAL);
        options_done(&o);
        assert_int_equal(parse(&o, "--pid-file", "/p", "--pid", "5", NULL), -EINVAL);
        options_done(&o);
        assert_int_equal(parse(&o, "--no-monitor", "--monitor-url", "http://x", NULL), -EINVAL);
        options_done(&o);
        assert_int_equal(parse(&o, "--instance-id", "i-0123", "--token", "87654321-4321-4321-4321-210987654321", NULL),
                         -EINVAL);
        options_done(&o);
        /* an ack timeout longer than the deadline is cut to it */
        assert_int_equal(parse(&o, "--timeout", "5", "--ack-timeout", "10", NULL), 0);
        assert_int_equal(o.ack_timeout_ms, 5000);
        options_done(&o);
}

static void test_too_many_paths(void **state) {
        (void)state;
        char *argv[200];
        int argc = 0;
        argv[argc++] = "fluent-flush";
        for (int i = 0; i < 70; i++) {
                argv[argc++] = "--buffer-path";
                argv[argc++] = "/x";
        }
        argv[argc] = NULL;
        struct options o;
        FILE *saved = stderr;
        stderr = fopen("/dev/null", "we");
        int r = parse_argv(argc, argv, &o);
        fclose(stderr);
        stderr = saved;
        assert_int_equal(r, -EINVAL);
        options_done(&o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_all_options),
                cmocka_unit_test(test_bad),
                cmocka_unit_test(test_contradictions),
                cmocka_unit_test(test_too_many_paths),
        };
        return cmocka_run_group_tests_name("args", tests, NULL, NULL);
}
