/* fflogbench.c — log-follow throughput: the helper's own logtail + fl_parse_line over a whole file.
 *
 *   fflogbench FILE [text|json|auto]
 *
 * Opens FILE with logtail_open(from_end = false), reads it to its end with logtail_read() and parses every
 * line with fl_parse_line(), as the helper does while it follows Fluentd's log. Prints one JSON object:
 * bytes, lines, rejected lines, events per kind, wall and CPU seconds, MB/s (10^6 bytes per second). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "fluentlog.h"
#include "logtail.h"

struct counts {
        enum fl_format fmt;
        unsigned long long lines, rejected, cut, kinds[_FL_KIND_MAX];
};

static int on_line(const char *line, size_t len, bool truncated, void *userdata) {
        struct counts *c = userdata;
        struct fl_event ev;
        c->lines++;
        if (truncated) {
                c->cut++;
                return 0;
        }
        if (fl_parse_line(line, len, c->fmt, &ev) < 0)
                c->rejected++;
        else
                c->kinds[ev.kind]++;
        return 0;
}

static double now_s(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        static struct counts c;
        struct logtail *t = NULL;
        struct stat st;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "usage: fflogbench FILE [text|json|auto]\n");
                return 2;
        }
        c.fmt = FL_FORMAT_TEXT;
        if (argc == 3)
                c.fmt = strcmp(argv[2], "json") == 0 ? FL_FORMAT_JSON :
                        strcmp(argv[2], "auto") == 0 ? FL_FORMAT_AUTO : FL_FORMAT_TEXT;
        if (stat(argv[1], &st) < 0) {
                fprintf(stderr, "fflogbench: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
        int r = logtail_open(argv[1], false, &t);
        if (r < 0) {
                fprintf(stderr, "fflogbench: logtail_open %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        r = logtail_read(t, on_line, &c);
        double wall = now_s(CLOCK_MONOTONIC) - w0, cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        logtail_free(t);
        if (r < 0) {
                fprintf(stderr, "fflogbench: logtail_read: %s\n", strerror(-r));
                return 1;
        }
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("{\"bytes\": %lld, \"lines\": %llu, \"rejected\": %llu, \"cut\": %llu, \"wall_s\": %.6f, "
               "\"cpu_s\": %.6f, \"mb_per_s\": %.1f, \"maxrss_kb\": %ld, \"kinds\": {",
               (long long)st.st_size, c.lines, c.rejected, c.cut, wall, cpu,
               wall > 0 ? (double)st.st_size / 1e6 / wall : 0.0, ru.ru_maxrss);
        for (int k = 0; k < _FL_KIND_MAX; k++)
                printf("%s\"%s\": %llu", k ? ", " : "", fl_kind_name((enum fl_kind)k), c.kinds[k]);
        printf("}}\n");
        return 0;
}
