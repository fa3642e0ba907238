/* logtail.h — follow a log file across re-open, rename (logrotate) and truncation (copytruncate).
 *
 * Opened at the current end (inode + offset recorded). On every read: complete lines are handed to the
 * callback; when the path now names another inode the old file is read to its end first, then the new
 * one from offset 0; when the file shrank below our offset it was truncated: read from 0. A line longer
 * than FL_MAX_LINE is delivered cut, with `truncated` set (the parser rejects it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef int (*logtail_line_cb)(const char *line, size_t len, bool truncated, void *userdata);

struct logtail;

/* from_end: start at the current end (the flush), or at 0 (tests, replay). -ENOENT, -EACCES, … */
int logtail_open(const char *path, bool from_end, struct logtail **ret);
/* An inotify fd to poll() (on the file and its directory). */
int logtail_fd(const struct logtail *t);
/* Drain inotify events and read every complete new line, calling cb for each. A non-zero return of cb
 * stops reading and is returned; the rest is not announced by a new event, so call again. Returns 0 or
 * -errno (e.g. the new file at the path cannot be opened: the old one was still read first). The file
 * the path named before the last rotation stays open and is read too, since the writer appends to it
 * until it re-opens its log. Spurious wakeups happen (other names in the directory); a truncation
 * followed by writes beyond the old offset before we look cannot be told from an append. */
int logtail_read(struct logtail *t, logtail_line_cb cb, void *userdata);
/* Counters for the result: rotations (rename/re-create) and truncations followed. */
unsigned logtail_rotations(const struct logtail *t);
unsigned logtail_truncations(const struct logtail *t);
void logtail_free(struct logtail *t);
