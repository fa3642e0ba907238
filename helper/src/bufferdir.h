/* bufferdir.h — snapshot and watch file-buffer chunks: <path>[/worker<N>]/buffer.[bq]<32hex>.log[.meta]. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct chunk_file {
        char id[33];          /* 32 lower-case hex */
        int worker;           /* from the worker<N> directory; 0 when the path has no worker dirs */
        char state;           /* 'b' staged or 'q' queued */
        uint64_t bytes;       /* size of the .log file */
};

struct chunk_list {
        struct chunk_file *v;
        size_t n, cap;
};

void chunk_list_done(struct chunk_list *l);
const struct chunk_file *chunk_list_find(const struct chunk_list *l, const char *id);

/* Scan one buffer path (the <buffer> `path` directory): its own chunk files and those of every
 * worker<N> sub-directory. Returns 0, -ENOENT / -ENOTDIR / -EACCES for the path itself. Files whose
 * names do not match exactly are ignored. *workers_seen is set to the number of worker<N> directories
 * (0 when none). The chunks are APPENDED to *out (so several paths can share one list; on error *out is
 * left as it was). Files in the path itself get worker 0 even when worker dirs exist (Fluentd's worker 0
 * resumes them: additional_resume_path in buf_file.rb). A file that
 * vanishes during the scan is skipped (a b→q rename in the meantime is reported as 'q'). */
int bufdir_scan(const char *path, struct chunk_list *out, int *workers_seen);

/* inotify watch over several buffer paths (and their worker dirs). bufwatch_fd() is to be poll()ed;
 * bufwatch_process() drains the events (IN_Q_OVERFLOW included) and rescans the directories, giving the
 * chunk files present now. A rescan is cheap enough to be done on every batch of events. */
struct bufwatch;
int bufwatch_new(char *const *paths, size_t n_paths, struct bufwatch **ret);
int bufwatch_fd(const struct bufwatch *w);
/* *present (initialised, e.g. zeroed) is REPLACED by the list, sorted by id. A chunk this watcher
 * reported before and that readdir misses now is looked up by name (b and q) before it is left out: a
 * rename racing with readdir never looks like a deletion. Prefer taking the pre-signal snapshot with a
 * first bufwatch_process() (it rescans while events arrive during the scan) over bufdir_scan().
 * -ENOENT/-ENOTDIR/-EACCES when a watched path itself became unusable. */
int bufwatch_process(struct bufwatch *w, struct chunk_list *present);
void bufwatch_free(struct bufwatch *w);
/* Seed the watcher with the snapshot taken by bufdir_scan() (call once, before the first
 * bufwatch_process()): its chunks then get the same look-up by name, so a rename racing with the first
 * rescan cannot make a snapshot chunk look deleted. */
int bufwatch_expect(struct bufwatch *w, const struct chunk_list *snapshot);
/* Diagnostics: IN_Q_OVERFLOW events seen, directory scans done. */
unsigned bufwatch_overflows(const struct bufwatch *w);
unsigned bufwatch_scans(const struct bufwatch *w);
