/* args.c — parse_argv(): command + getopt_long → struct options, every value checked. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "macro.h"

enum {
        OPT_UNIT = 0x100, OPT_PID, OPT_PID_FILE, OPT_VIA, OPT_RPC_URL, OPT_LOG_FILE, OPT_LOG_FORMAT,
        OPT_MONITOR_URL, OPT_NO_MONITOR, OPT_BUFFER_PATH, OPT_PLUGIN_ID, OPT_WORKERS, OPT_TIMEOUT,
        OPT_ACK_TIMEOUT, OPT_MONITOR_INTERVAL, OPT_LIFECYCLE_HOOK, OPT_ASG, OPT_INSTANCE_ID, OPT_TOKEN,
        OPT_HEARTBEAT, OPT_ON_FAILURE, OPT_REGION, OPT_IMDS_URL, OPT_AUTOSCALING_URL, OPT_CA_FILE,
        OPT_POLL_INTERVAL,
};

static const struct option longopts[] = {
        { "unit", required_argument, NULL, OPT_UNIT },
        { "pid", required_argument, NULL, OPT_PID },
        { "pid-file", required_argument, NULL, OPT_PID_FILE },
        { "via", required_argument, NULL, OPT_VIA },
        { "rpc-url", required_argument, NULL, OPT_RPC_URL },
        { "log-file", required_argument, NULL, OPT_LOG_FILE },
        { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
        { "monitor-url", required_argument, NULL, OPT_MONITOR_URL },
        { "no-monitor", no_argument, NULL, OPT_NO_MONITOR },
        { "buffer-path", required_argument, NULL, OPT_BUFFER_PATH },
        { "plugin-id", required_argument, NULL, OPT_PLUGIN_ID },
        { "workers", required_argument, NULL, OPT_WORKERS },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT },
        { "monitor-interval", required_argument, NULL, OPT_MONITOR_INTERVAL },
        { "lifecycle-hook", required_argument, NULL, OPT_LIFECYCLE_HOOK },
        { "asg", required_argument, NULL, OPT_ASG },
        { "instance-id", required_argument, NULL, OPT_INSTANCE_ID },
        { "token", required_argument, NULL, OPT_TOKEN },
        { "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
        { "on-failure", required_argument, NULL, OPT_ON_FAILURE },
        { "region", required_argument, NULL, OPT_REGION },
        { "imds-url", required_argument, NULL, OPT_IMDS_URL },
        { "autoscaling-url", required_argument, NULL, OPT_AUTOSCALING_URL },
        { "ca-file", required_argument, NULL, OPT_CA_FILE },
        { "poll-interval", required_argument, NULL, OPT_POLL_INTERVAL },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        {}
};

static void help(void) {
        printf("Usage: fluent-flush [flush|status|watch] [OPTIONS]\n"
               "Make Fluentd flush its buffer and prove that every buffered chunk reached S3.\n"
               "\n"
               "Commands:\n"
               "  flush (default)         signal the supervisor, follow the evidence, print the verdict\n"
               "  status                  print the current buffer state; no signal is sent\n"
               "  watch                   wait for this instance's termination (IMDS), then flush\n"
               "\n"
               "Agent:\n"
               "  --unit NAME             systemd unit (default: first active of fluentd.service, td-agent.service)\n"
               "  --pid PID               supervisor pid (no systemd)\n"
               "  --pid-file PATH         supervisor pid file (no systemd)\n"
               "  --via signal|rpc        SIGUSR1 to the supervisor (default) or the RPC endpoint\n"
               "  --rpc-url URL           <system> rpc_endpoint (default http://127.0.0.1:24444)\n"
               "Evidence:\n"
               "  --log-file PATH         Fluentd's log (default: the package's, from the unit)\n"
               "  --log-format F          text, json or auto (default)\n"
               "  --monitor-url URL       monitor_agent of worker 0 (default http://127.0.0.1:24220)\n"
               "  --no-monitor            do not use monitor_agent\n"
               "  --buffer-path DIR       file-buffer path of a targeted output (repeatable)\n"
               "  --plugin-id ID          targeted output @id (repeatable; default: every @type s3)\n"
               "  --workers N             number of Fluentd workers (default: detected)\n"
               "Timing:\n"
               "  --timeout SECONDS       deadline for the verdict (default 300)\n"
               "  --ack-timeout SECONDS   time for each worker to acknowledge (default 15, 0: no check)\n"
               "  --monitor-interval SECONDS  monitor_agent sampling (default 0.5)\n"
               "Lifecycle (complete the Auto Scaling lifecycle action):\n"
               "  --lifecycle-hook NAME   --asg NAME   --instance-id ID | --token TOKEN\n"
               "  --heartbeat SECONDS     RecordLifecycleActionHeartbeat period while waiting\n"
               "  --on-failure CONTINUE|ABANDON   result when the flush is not confirmed (default ABANDON)\n"
               "  --region R   --imds-url URL   --autoscaling-url URL   --ca-file PATH\n"
               "  --poll-interval SECONDS IMDS polling of `watch` (default 5)\n"
               "Output:\n"
               "  -q, --quiet             no progress on stderr\n"
               "  -v, --verbose           debug progress on stderr\n"
               "  -h, --help              this text\n"
               "  -V, --version           version\n"
               "\n"
               "The JSON result is on stdout; the exit code says the verdict (see fluent-flush(1)).\n");
}

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

/* getopt_long() sets optarg for every required_argument option; the analyzer only sees the `optarg &&`
 * test that the no_argument options need, and then assumes a NULL optarg everywhere below. */
/* NOLINTBEGIN(clang-analyzer-core.NullDereference,clang-analyzer-core.NonNullParamChecker) */

/* Seconds with up to three decimals ("300", "2.5") → milliseconds within [min_ms, max_ms]. */
static int parse_seconds(const char *s, long min_ms, long max_ms, long *ret) {
        char *end;
        errno = 0;
        if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
                return -EINVAL;
        unsigned long long whole = strtoull(s, &end, 10);
        /* leave room for the decimals: whole * 1000 + 999 must fit in a long */
        if (errno || end == s || whole > (unsigned long long)(LONG_MAX - 999) / 1000)
                return -ERANGE;
        long ms = (long)whole * 1000;
        if (*end == '.') {
                const char *frac = end + 1;
                long scale = 100;
                if (!*frac)
                        return -EINVAL;
                for (; *frac && scale > 0; frac++, scale /= 10) {
                        if (*frac < '0' || *frac > '9')
                                return -EINVAL;
                        ms += (*frac - '0') * scale;
                }
                end = (char *)frac;
        }
        if (*end)
                return -EINVAL;
        if (ms < min_ms || ms > max_ms)
                return -ERANGE;
        *ret = ms;
        return 0;
}

static int parse_int(const char *s, long min, long max, long *ret) {
        char *end;
        errno = 0;
        if (!s[0] || s[0] == '-' || s[0] == '+' || s[0] == ' ')
                return -EINVAL;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end)
                return -EINVAL;
        if (v < (unsigned long long)min || v > (unsigned long long)max)
                return -ERANGE;
        *ret = (long)v;
        return 0;
}

static int append(char ***list, const char *v) {
        size_t n = 0;
        while (*list && (*list)[n])
                n++;
        if (n >= 64)
                return -E2BIG;
        char **l = realloc(*list, (n + 2) * sizeof *l);
        if (!l)
                return -ENOMEM;
        l[n] = (char *)v;
        l[n + 1] = NULL;
        *list = l;
        return 0;
}

static bool is_url(const char *s) {
        return (strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8]);
}

static bool valid_unit(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 255)
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.@\\", *p))
                        return false;
        return true;
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "fluent-flush: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'fluent-flush --help'.\n");
        return -EINVAL;
}

#define SECONDS(field, min, max, name)                                                          \
        do {                                                                                    \
                if (parse_seconds(optarg, (min), (max), &o->field) < 0)                          \
                        return usage_error("invalid " name " '%s' (seconds, %g to %g)", optarg, \
                                           (min) / 1000.0, (max) / 1000.0);                     \
        } while (0)

int parse_argv(int argc, char **argv, struct options *o) {
        long v;
        int c;

        memset(o, 0, sizeof *o);
        o->rpc_url = "http://127.0.0.1:24444";
        o->monitor_url = "http://127.0.0.1:24220";
        o->timeout_ms = 300 * 1000;
        o->ack_timeout_ms = 15 * 1000;
        o->monitor_interval_ms = 500;
        o->verbosity = LOG_NORMAL;
        o->on_failure = "ABANDON";
        o->imds_url = "http://169.254.169.254";
        o->poll_interval_ms = 5000;

        int first = 1;
        if (argc > 1 && argv[1][0] != '-') {
                if (strcmp(argv[1], "flush") == 0)
                        o->command = CMD_FLUSH;
                else if (strcmp(argv[1], "status") == 0)
                        o->command = CMD_STATUS;
                else if (strcmp(argv[1], "watch") == 0)
                        o->command = CMD_WATCH;
                else
                        return usage_error("unknown command '%s' (flush, status or watch)", argv[1]);
                first = 2;
        }

        optind = 0;   /* full re-initialisation (tests call us more than once) */
        opterr = 0;
        int sub_argc = argc - first + 1;
        char **sub_argv = argv + first - 1;
        while ((c = getopt_long(sub_argc, sub_argv, "+:qvhV", longopts, NULL)) >= 0) {
                if (optarg && has_control(optarg))
                        return usage_error("%s: control characters are not allowed in arguments",
                                           sub_argv[optind - 1]);
                switch (c) {
                case OPT_UNIT:
                        if (!valid_unit(optarg))
                                return usage_error("invalid unit name '%s'", optarg);
                        o->unit = optarg;
                        break;
                case OPT_PID:
                        if (parse_int(optarg, 1, 4194304, &v) < 0)
                                return usage_error("invalid pid '%s'", optarg);
                        o->pid = (pid_t)v;
                        break;
                case OPT_PID_FILE:
                        o->pid_file = optarg;
                        break;
                case OPT_VIA:
                        if (strcmp(optarg, "signal") == 0)
                                o->via = VIA_SIGNAL;
                        else if (strcmp(optarg, "rpc") == 0)
                                o->via = VIA_RPC;
                        else
                                return usage_error("invalid --via '%s' (signal or rpc)", optarg);
                        break;
                case OPT_RPC_URL:
                        if (!is_url(optarg))
                                return usage_error("invalid --rpc-url '%s' (http://host:port)", optarg);
                        o->rpc_url = optarg;
                        break;
                case OPT_LOG_FILE:
                        o->log_file = optarg;
                        break;
                case OPT_LOG_FORMAT:
                        if (strcmp(optarg, "text") == 0)
                                o->log_format = FL_FORMAT_TEXT;
                        else if (strcmp(optarg, "json") == 0)
                                o->log_format = FL_FORMAT_JSON;
                        else if (strcmp(optarg, "auto") == 0)
                                o->log_format = FL_FORMAT_AUTO;
                        else
                                return usage_error("invalid --log-format '%s' (text, json or auto)", optarg);
                        break;
                case OPT_MONITOR_URL:
                        if (!is_url(optarg))
                                return usage_error("invalid --monitor-url '%s' (http://host:port)", optarg);
                        o->monitor_url = optarg;
                        o->monitor_url_given = true;
                        break;
                case OPT_NO_MONITOR:
                        o->no_monitor = true;
                        break;
                case OPT_BUFFER_PATH:
                        if (!optarg[0] || append(&o->buffer_paths, optarg) < 0)
                                return usage_error("invalid or too many --buffer-path '%s'", optarg);
                        break;
                case OPT_PLUGIN_ID:
                        if (!optarg[0] || strlen(optarg) > 127 || append(&o->plugin_ids, optarg) < 0)
                                return usage_error("invalid or too many --plugin-id '%s'", optarg);
                        break;
                case OPT_WORKERS:
                        if (parse_int(optarg, 1, 64, &v) < 0)
                                return usage_error("invalid --workers '%s' (1-64)", optarg);
                        o->workers = (int)v;
                        break;
                case OPT_TIMEOUT:
                        SECONDS(timeout_ms, 100, 172800000, "--timeout");
                        break;
                case OPT_ACK_TIMEOUT:
                        SECONDS(ack_timeout_ms, 0, 3600000, "--ack-timeout");
                        break;
                case OPT_MONITOR_INTERVAL:
                        SECONDS(monitor_interval_ms, 50, 60000, "--monitor-interval");
                        break;
                case OPT_LIFECYCLE_HOOK:
                        if (!optarg[0] || strlen(optarg) > 255)
                                return usage_error("invalid --lifecycle-hook '%s' (1-255 characters)", optarg);
                        o->lifecycle_hook = optarg;
                        break;
                case OPT_ASG:
                        if (!optarg[0] || strlen(optarg) > 1600)
                                return usage_error("invalid --asg '%s' (1-1600 characters)", optarg);
                        o->asg = optarg;
                        break;
                case OPT_INSTANCE_ID:
                        if (strncmp(optarg, "i-", 2) != 0 || strlen(optarg) > 19 || strlen(optarg) < 3 ||
                            strspn(optarg + 2, "0123456789abcdef") != strlen(optarg) - 2)
                                return usage_error("invalid --instance-id '%s' (i-<hex>)", optarg);
                        o->instance_id = optarg;
                        break;
                case OPT_TOKEN:
                        if (strlen(optarg) != 36 || strspn(optarg, "0123456789abcdefABCDEF-") != 36)
                                return usage_error("invalid --token '%s' (a 36-character lifecycle action token)",
                                                   optarg);
                        o->token = optarg;
                        break;
                case OPT_HEARTBEAT:
                        SECONDS(heartbeat_ms, 1000, 7200000, "--heartbeat");
                        break;
                case OPT_ON_FAILURE:
                        if (strcmp(optarg, "CONTINUE") != 0 && strcmp(optarg, "ABANDON") != 0)
                                return usage_error("invalid --on-failure '%s' (CONTINUE or ABANDON)", optarg);
                        o->on_failure = optarg;
                        break;
                case OPT_REGION:
                        if (!optarg[0] || strlen(optarg) > 32 ||
                            strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(optarg))
                                return usage_error("invalid --region '%s'", optarg);
                        o->region = optarg;
                        break;
                case OPT_IMDS_URL:
                        if (!is_url(optarg))
                                return usage_error("invalid --imds-url '%s'", optarg);
                        o->imds_url = optarg;
                        break;
                case OPT_AUTOSCALING_URL:
                        if (!is_url(optarg))
                                return usage_error("invalid --autoscaling-url '%s'", optarg);
                        o->autoscaling_url = optarg;
                        break;
                case OPT_CA_FILE:
                        o->ca_file = optarg;
                        break;
                case OPT_POLL_INTERVAL:
                        SECONDS(poll_interval_ms, 100, 3600000, "--poll-interval");
                        break;
                case 'q':
                        o->verbosity = LOG_QUIET;
                        break;
                case 'v':
                        o->verbosity = LOG_VERBOSE;
                        break;
                case 'h':
                        help();
                        return 1;
                case 'V':
                        printf("fluent-flush %s\n", FF_VERSION);
                        return 1;
                case ':':
                        return usage_error("option '%s' needs a value", sub_argv[optind - 1]);
                default:
                        return usage_error("unknown option '%s'", sub_argv[optind - 1]);
                }
        }
        if (optind < sub_argc)
                return usage_error("unexpected argument '%s'", sub_argv[optind]);
        if ((o->unit != NULL) + (o->pid != 0) + (o->pid_file != NULL) > 1)
                return usage_error("%s", "--unit, --pid and --pid-file are alternatives: give one");
        if (o->no_monitor && o->monitor_url_given)
                return usage_error("%s", "--no-monitor and --monitor-url contradict each other");
        if (o->instance_id && o->token)
                return usage_error("%s", "--instance-id and --token are alternatives: give one");
        if (o->ack_timeout_ms >= o->timeout_ms && o->ack_timeout_ms > 0)
                o->ack_timeout_ms = o->timeout_ms;
        return 0;
}
/* NOLINTEND(clang-analyzer-core.NullDereference,clang-analyzer-core.NonNullParamChecker) */

void options_done(struct options *o) {
        free(o->buffer_paths);
        free(o->plugin_ids);
        o->buffer_paths = o->plugin_ids = NULL;
}
