/* report.h — the one table of exit codes, and the JSON result on stdout. */
#pragma once

#include <jansson.h>
#include <stdio.h>

/* Documented in README.md and fluent-flush.1. Never 126, 127, 137, 168, 169, 194 or >= 128. */
enum ff_exit {
        FF_EXIT_CONFIRMED = 0,
        FF_EXIT_INTERNAL = 1,
        FF_EXIT_USAGE = 2,
        FF_EXIT_CONFIG = 3,
        FF_EXIT_PERMISSION = 4,
        FF_EXIT_EVIDENCE = 5,
        FF_EXIT_NOT_RUNNING = 7,
        FF_EXIT_NO_ACK = 10,
        FF_EXIT_UPLOAD_FAILING = 11,
        FF_EXIT_DATA_LOST = 12,
        FF_EXIT_OVERWRITTEN = 13,
        FF_EXIT_DEADLINE = 14,
        FF_EXIT_UNCONFIRMED = 15,
        FF_EXIT_TRIGGER_FAILED = 16,
        FF_EXIT_LIFECYCLE_FAILED = 20,
        FF_EXIT_METADATA_FAILED = 21,
};

/* "confirmed", "upload_failing", … ; "internal" for unknown values. */
const char *ff_exit_verdict(enum ff_exit e);
/* Map a -errno from the setup phase (finding the agent, opening evidence) to an exit code. */
enum ff_exit ff_exit_from_errno(int r);

/* A result that failed before the flush state existed: {"verdict", "exit_code", "message", …}. */
json_t *report_error_new(enum ff_exit e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the result object as one JSON document on stdout (keys in insertion order), then "\n". */
int report_print(FILE *f, json_t *result);
