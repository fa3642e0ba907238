/* lifecycle.c — Auto Scaling lifecycle action (stub: being written). */
#include <errno.h>

#include "args.h"
#include "lifecycle.h"

int lifecycle_new(const struct options *o, struct lifecycle **ret) {
        *ret = NULL;
        return o->lifecycle_hook ? -ENOSYS : 0;
}
long lifecycle_heartbeat_due_ms(const struct lifecycle *lc, uint64_t now_ms) { (void)lc; (void)now_ms; return -1; }
int lifecycle_heartbeat(struct lifecycle *lc, uint64_t now_ms) { (void)lc; (void)now_ms; return -ENOSYS; }
int lifecycle_complete(struct lifecycle *lc, bool success, json_t *result) { (void)lc; (void)success; (void)result; return -ENOSYS; }
void lifecycle_free(struct lifecycle *lc) { (void)lc; }
