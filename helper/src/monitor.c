/* monitor.c — monitor_agent JSON (stub: being written). */
#include <errno.h>
#include <string.h>

#include "monitor.h"

int mon_parse(const char *body, size_t len, struct mon_snapshot *snap) {
        (void)body; (void)len;
        memset(snap, 0, sizeof *snap);
        return -EBADMSG;
}
bool mon_output_targeted(const struct mon_output *o, char *const *plugin_ids) { (void)o; (void)plugin_ids; return false; }
int mon_fetch(const char *base_url, int worker, long timeout_ms, struct mon_snapshot *snap) {
        (void)base_url; (void)worker; (void)timeout_ms; (void)snap;
        return -ECONNREFUSED;
}
int mon_worker_url(const char *base_url, int worker, char *out, size_t out_size) {
        (void)base_url; (void)worker; (void)out; (void)out_size;
        return -EINVAL;
}
