/* report.c — the exit-code table, errno → exit code at the setup boundary, and printing the JSON result. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

static const struct {
        enum ff_exit code;
        const char *verdict;
} table[] = {
        { FF_EXIT_CONFIRMED, "confirmed" },
        { FF_EXIT_INTERNAL, "internal" },
        { FF_EXIT_USAGE, "usage" },
        { FF_EXIT_CONFIG, "config" },
        { FF_EXIT_PERMISSION, "permission" },
        { FF_EXIT_EVIDENCE, "evidence_error" },
        { FF_EXIT_NOT_RUNNING, "not_running" },
        { FF_EXIT_NO_ACK, "no_ack" },
        { FF_EXIT_UPLOAD_FAILING, "upload_failing" },
        { FF_EXIT_DATA_LOST, "data_lost" },
        { FF_EXIT_OVERWRITTEN, "overwritten" },
        { FF_EXIT_DEADLINE, "deadline" },
        { FF_EXIT_UNCONFIRMED, "unconfirmed" },
        { FF_EXIT_TRIGGER_FAILED, "trigger_failed" },
        { FF_EXIT_LIFECYCLE_FAILED, "lifecycle_failed" },
        { FF_EXIT_METADATA_FAILED, "metadata_failed" },
};

const char *ff_exit_verdict(enum ff_exit e) {
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
                if (table[i].code == e)
                        return table[i].verdict;
        return "internal";
}

enum ff_exit ff_exit_from_errno(int r) {
        switch (r < 0 ? -r : r) {
        case 0:
                return FF_EXIT_CONFIRMED;
        case EACCES:
        case EPERM:
                return FF_EXIT_PERMISSION;
        case ESRCH:
                return FF_EXIT_NOT_RUNNING;
        case ENOENT:
        case ENOTDIR:
        case EISDIR:
        case EINVAL:
        case EBADMSG:
        case ENAMETOOLONG:
        case ELOOP:
                return FF_EXIT_CONFIG;
        case ECONNREFUSED:
        case ETIMEDOUT:
        case EMSGSIZE:
        case EPROTO:
        case ECONNRESET:
        case EHOSTUNREACH:
                return FF_EXIT_EVIDENCE;
        default:
                return FF_EXIT_INTERNAL;
        }
}

json_t *report_error_new(enum ff_exit e, const char *fmt, ...) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        json_t *o = json_object();
        if (!o)
                return NULL;
        json_object_set_new(o, "verdict", json_string(ff_exit_verdict(e)));
        json_object_set_new(o, "exit_code", json_integer(e));
        json_object_set_new(o, "message", json_string(msg));
        return o;
}

int report_print(FILE *f, json_t *result) {
        /* Insertion order keeps the summary first: the SSM console shows only 2,500 characters of stdout
         * and stderr together, so the result is compact unless a person is reading it on a terminal. */
        size_t layout = isatty(fileno(f)) ? JSON_INDENT(2) : JSON_COMPACT;
        if (json_dumpf(result, f, JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII | layout) < 0)
                return -EIO;
        if (fputc('\n', f) == EOF || fflush(f) == EOF)
                return -EIO;
        return 0;
}
