/* lifecycle.h — complete / extend this instance's Auto Scaling lifecycle action (IMDS + signed Query API). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct options;
struct lifecycle;

/* *ret = NULL when no lifecycle option was given. -EINVAL: incomplete options (message logged);
 * -EHOSTUNREACH/-EIO: instance metadata or credentials could not be read. */
int lifecycle_new(const struct options *o, struct lifecycle **ret);
/* Milliseconds until the next heartbeat is due (0 = now), -1 when heartbeats are off. */
long lifecycle_heartbeat_due_ms(const struct lifecycle *lc, uint64_t now_ms);
/* RecordLifecycleActionHeartbeat. 0 or -errno (logged). */
int lifecycle_heartbeat(struct lifecycle *lc, uint64_t now_ms);
/* CompleteLifecycleAction with CONTINUE when success, else the --on-failure result. Adds a "lifecycle"
 * object to result. "No active Lifecycle Action found" counts as already done (0). */
int lifecycle_complete(struct lifecycle *lc, bool success, json_t *result);
void lifecycle_free(struct lifecycle *lc);
