/* run.h — the commands: flush (run.c), status (run.c), watch (watch.c). Each returns an exit code
 * (enum ff_exit) and hands back the JSON result to print. */
#pragma once

#include <jansson.h>

#include "args.h"
#include "lifecycle.h"

/* Flush and wait for proof. lc may be NULL; when given, heartbeats are sent while waiting and the
 * action is completed at the end (the result gets a "lifecycle" object). */
int run_flush(const struct options *o, struct lifecycle *lc, json_t **ret_result);
/* The current buffer state, no signal sent. */
int run_status(const struct options *o, json_t **ret_result);
/* Long-running: poll IMDS for termination / spot notices, then run_flush() with the lifecycle. */
int run_watch(const struct options *o, json_t **ret_result);
