/* log.h — progress and diagnostics on stderr (stdout carries only the JSON result). */
#pragma once

#include "macro.h"

enum log_verbosity { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

void log_set_verbosity(enum log_verbosity v);
enum log_verbosity log_get_verbosity(void);

/* "fluent-flush: <msg>" lines. progress and warning are shown unless --quiet; debug with --verbose. */
void log_progress(const char *fmt, ...) _printf_(1, 2);
void log_warning(const char *fmt, ...) _printf_(1, 2);
void log_debug(const char *fmt, ...) _printf_(1, 2);
/* Always shown. Returns -abs(err) so callers can `return log_error_errno(r, "…: %m")`;
 * %m expands to strerror(abs(err)). */
int log_error_errno(int err, const char *fmt, ...) _printf_(2, 3);
void log_error(const char *fmt, ...) _printf_(1, 2);
