/* fuzz_args.c — libFuzzer target for parse_argv(): the input is a NUL-separated argv (argv[0] is added).
 * Invariants: 0, 1 (--help/--version) or -EINVAL; on 0 every value is within its documented range, every
 * string option is the default or one of the arguments, and has no control character.
 * Run with -close_fd_mask=3: usage errors go to stderr, --help to stdout (fuzz/fuzz.mk does). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

#define FZA_MAX_ARGS 128

#define FZA_CHECK(x)                                                                    \
        do {                                                                            \
                if (!(x)) {                                                             \
                        fprintf(stderr, "fuzz_args: invariant violated: %s (line %d)\n", \
                                #x, __LINE__);                                          \
                        abort();                                                        \
                }                                                                       \
        } while (0)

/* s is (the tail of) one of the arguments: "--opt value" or "--opt=value". */
static bool fza_from_argv(const char *s, char **argv, int argc) {
        for (int i = 1; i < argc; i++)
                if (s >= argv[i] && s <= argv[i] + strlen(argv[i]))
                        return true;
        return false;
}

static void fza_string(const char *s, char **argv, int argc, const char *dflt) {
        if (!s)
                return;
        FZA_CHECK((dflt && strcmp(s, dflt) == 0) || fza_from_argv(s, argv, argc));
        for (const char *p = s; *p; p++)
                FZA_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

static void fza_url(const char *s, char **argv, int argc, const char *dflt) {
        fza_string(s, argv, argc, dflt);
        if (s)
                FZA_CHECK(strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0);
}

static void fza_list(char **l, char **argv, int argc, size_t max_len) {
        size_t n = 0;
        for (; l && l[n]; n++) {
                fza_string(l[n], argv, argc, NULL);
                FZA_CHECK(l[n][0] != '\0' && strlen(l[n]) <= max_len);
        }
        FZA_CHECK(n <= 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* One heap block holding every argument, NUL-terminated (the last one may lack its NUL). */
        char *buf = malloc(size + 1);
        char *argv[FZA_MAX_ARGS + 2];
        int argc = 0;
        struct options o;

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        buf[size] = '\0';
        argv[argc++] = (char *)"fluent-flush";
        for (size_t i = 0; i < size && argc <= FZA_MAX_ARGS; i += strlen(buf + i) + 1)
                argv[argc++] = buf + i;
        argv[argc] = NULL;

        int r = parse_argv(argc, argv, &o);
        FZA_CHECK(r == 0 || r == 1 || r == -EINVAL);
        if (r == 0) {
                FZA_CHECK(o.command == CMD_FLUSH || o.command == CMD_STATUS || o.command == CMD_WATCH);
                FZA_CHECK(o.via == VIA_SIGNAL || o.via == VIA_RPC);
                FZA_CHECK(o.log_format == FL_FORMAT_AUTO || o.log_format == FL_FORMAT_TEXT ||
                          o.log_format == FL_FORMAT_JSON);
                FZA_CHECK(o.verbosity == LOG_QUIET || o.verbosity == LOG_NORMAL || o.verbosity == LOG_VERBOSE);
                FZA_CHECK((o.unit != NULL) + (o.pid != 0) + (o.pid_file != NULL) <= 1);
                FZA_CHECK(!(o.instance_id && o.token));
                FZA_CHECK(!(o.no_monitor && o.monitor_url_given));
                FZA_CHECK(o.pid >= 0 && o.pid <= 4194304);
                FZA_CHECK(o.workers >= 0 && o.workers <= 64);
                FZA_CHECK(o.timeout_ms >= 100 && o.timeout_ms <= 172800000L);
                FZA_CHECK(o.ack_timeout_ms >= 0 && o.ack_timeout_ms <= o.timeout_ms);
                FZA_CHECK(o.monitor_interval_ms >= 50 && o.monitor_interval_ms <= 60000);
                FZA_CHECK(o.heartbeat_ms == 0 || (o.heartbeat_ms >= 1000 && o.heartbeat_ms <= 7200000));
                FZA_CHECK(o.poll_interval_ms >= 100 && o.poll_interval_ms <= 3600000);
                fza_string(o.unit, argv, argc, NULL);
                if (o.unit)
                        FZA_CHECK(o.unit[0] && strlen(o.unit) <= 255);
                fza_string(o.pid_file, argv, argc, NULL);
                fza_string(o.log_file, argv, argc, NULL);
                fza_string(o.ca_file, argv, argc, NULL);
                fza_url(o.rpc_url, argv, argc, "http://127.0.0.1:24444");
                fza_url(o.monitor_url, argv, argc, "http://127.0.0.1:24220");
                fza_url(o.imds_url, argv, argc, "http://169.254.169.254");
                fza_url(o.autoscaling_url, argv, argc, NULL);
                fza_list(o.buffer_paths, argv, argc, (size_t)-1);
                fza_list(o.plugin_ids, argv, argc, 127);
                fza_string(o.lifecycle_hook, argv, argc, NULL);
                fza_string(o.asg, argv, argc, NULL);
                fza_string(o.region, argv, argc, NULL);
                if (o.instance_id)
                        FZA_CHECK(strncmp(o.instance_id, "i-", 2) == 0 && strlen(o.instance_id) <= 19);
                if (o.token)
                        FZA_CHECK(strlen(o.token) == 36);
                FZA_CHECK(strcmp(o.on_failure, "ABANDON") == 0 || strcmp(o.on_failure, "CONTINUE") == 0);
        }
        options_done(&o);
        free(buf);
        return 0;
}
