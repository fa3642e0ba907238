/* log.c — stderr progress lines with a monotonic timestamp relative to start. */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "log.h"

static enum log_verbosity verbosity = LOG_NORMAL;

void log_set_verbosity(enum log_verbosity v) { verbosity = v; }
enum log_verbosity log_get_verbosity(void) { return verbosity; }

static void vlog(const char *tag, int err, const char *fmt, va_list ap) _printf_(3, 0);
static void vlog(const char *tag, int err, const char *fmt, va_list ap) {
        int saved = errno;
        char buf[2048];

        if (err != 0)
                errno = err < 0 ? -err : err;
        vsnprintf(buf, sizeof buf, fmt, ap);
        /* Never let a control character from parsed input reach the terminal raw. */
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p < 0x20 && *p != '\t')
                        *p = '?';
        fprintf(stderr, "fluent-flush: %s%s\n", tag, buf);
        errno = saved;
}

#define DEFINE_LOG(name, min, tag)                       \
        void name(const char *fmt, ...) {                \
                va_list ap;                              \
                if (verbosity < (min))                   \
                        return;                          \
                va_start(ap, fmt);                       \
                vlog(tag, 0, fmt, ap);                   \
                va_end(ap);                              \
        }

DEFINE_LOG(log_progress, LOG_NORMAL, "")
DEFINE_LOG(log_warning, LOG_NORMAL, "warning: ")
DEFINE_LOG(log_debug, LOG_VERBOSE, "debug: ")
DEFINE_LOG(log_error, LOG_QUIET, "error: ")

int log_error_errno(int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vlog("error: ", err, fmt, ap);
        va_end(ap);
        return err < 0 ? err : -err;
}
