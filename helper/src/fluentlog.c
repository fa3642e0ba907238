/* fluentlog.c — Fluentd log line grammar (stub: being written). */
#include <errno.h>
#include <string.h>

#include "fluentlog.h"

int fl_parse_line(const char *line, size_t len, enum fl_format fmt, struct fl_event *ev) {
        (void)line; (void)fmt;
        memset(ev, 0, sizeof *ev);
        ev->worker = -1;
        ev->retry_times = -1;
        return len > FL_MAX_LINE ? -E2BIG : -EBADMSG;
}

const char *fl_kind_name(enum fl_kind k) { (void)k; return "none"; }
bool fl_kind_is_loss(enum fl_kind k) { (void)k; return false; }
