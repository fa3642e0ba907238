/* bufferdir.c — snapshot and watch file-buffer chunks: <path>[/worker<N>]/buffer.[bq]<32hex>.log.
 *
 * A scan is readdir + fstatat: cheap enough to repeat on every batch of inotify events, so the watcher
 * never interprets events (a lost or overflowed queue only costs a rescan). readdir() is not atomic
 * against a concurrent rename, so a chunk that the watcher saw before and that a rescan misses is looked
 * up by name (both states) before it is reported gone: a b→q rename is never mistaken for a deletion. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bufferdir.h"
#include "log.h"
#include "macro.h"

#define BUF_MAX_CHUNKS 1000000     /* per scan; more is not a Fluentd buffer */
#define BUF_MAX_WORKER 65535
#define BUF_MAX_PATHS 256
#define BUF_MAX_ROUNDS 3           /* scans per bufwatch_process() while the directories keep changing */
#define BUF_DIR_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

/* "buffer." + state + 32 hex + ".log" */
#define NAME_LEN (7 + 1 + 32 + 4)

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

void chunk_list_done(struct chunk_list *l) {
        if (!l)
                return;
        free(l->v);
        l->v = NULL;
        l->n = l->cap = 0;
}

const struct chunk_file *chunk_list_find(const struct chunk_list *l, const char *id) {
        if (!l || !id)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].id, id) == 0)
                        return &l->v[i];
        return NULL;
}

static int chunk_list_push(struct chunk_list *l, const struct chunk_file *c) {
        if (l->n >= BUF_MAX_CHUNKS)
                return -E2BIG;
        if (l->n == l->cap) {
                size_t cap = l->cap ? l->cap * 2 : 64;
                struct chunk_file *v = reallocarray(l->v, cap, sizeof *v);

                if (!v)
                        return -ENOMEM;
                l->v = v;
                l->cap = cap;
        }
        l->v[l->n++] = *c;
        return 0;
}

static bool is_lower_hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* buffer.b<32hex>.log / buffer.q<32hex>.log exactly; fills id and state. */
static bool parse_chunk_name(const char *name, struct chunk_file *c) {
        if (strlen(name) != NAME_LEN || strncmp(name, "buffer.", 7) != 0 || strcmp(name + 40, ".log") != 0)
                return false;
        if (name[7] != 'b' && name[7] != 'q')
                return false;
        for (size_t i = 0; i < 32; i++)
                if (!is_lower_hex(name[8 + i]))
                        return false;
        memcpy(c->id, name + 8, 32);
        c->id[32] = '\0';
        c->state = name[7];
        return true;
}

/* worker<N>: decimal, no sign, no leading zero (Fluentd writes "worker#{id}"). */
static bool parse_worker_name(const char *name, int *ret) {
        unsigned long v = 0;
        const char *p;

        if (strncmp(name, "worker", 6) != 0)
                return false;
        p = name + 6;
        if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 5)
                return false;
        for (; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return false;
                v = v * 10 + (unsigned long)(*p - '0');
        }
        if (v > BUF_MAX_WORKER)
                return false;
        *ret = (int)v;
        return true;
}

/* Per chunk, where it was found: lets the watcher look it up by name again. */
#define WHERE_UNKNOWN UINT32_MAX
struct chunk_where {
        uint32_t path_idx;
        bool in_worker_dir;
};

struct scan_ctx {
        struct chunk_list *out;
        bool track;                  /* the watcher: fill where[] */
        struct chunk_where *where;   /* parallel to out->v */
        size_t where_cap;
        int ifd;                     /* the watcher's inotify fd, or -1 */
        uint32_t path_idx;
};

static int scan_push(struct scan_ctx *s, const struct chunk_file *c, bool in_worker_dir) {
        int r = chunk_list_push(s->out, c);

        if (r < 0 || !s->track)
                return r;
        if (s->out->n > s->where_cap) {
                size_t cap = s->out->cap;
                struct chunk_where *w = reallocarray(s->where, cap, sizeof *w);

                if (!w) {
                        s->out->n--;
                        return -ENOMEM;
                }
                s->where = w;
                s->where_cap = cap;
        }
        /* where[] was grown above whenever out->n passed where_cap (the analyzer loses out->n across the push) */
        /* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
        s->where[s->out->n - 1] = (struct chunk_where){ .path_idx = s->path_idx, .in_worker_dir = in_worker_dir };
        return 0;
}

static int add_dir_watch(struct scan_ctx *s, const char *path, const char *name) {
        char p[PATH_MAX];
        int len;

        if (s->ifd < 0)
                return 0;
        len = name ? snprintf(p, sizeof p, "%s/%s", path, name) : snprintf(p, sizeof p, "%s", path);
        if (len < 0 || (size_t)len >= sizeof p)
                return -ENAMETOOLONG;
        if (inotify_add_watch(s->ifd, p, BUF_DIR_MASK) < 0 && errno != ENOENT && errno != ENOTDIR)
                return -errno;
        return 0;
}

/* The chunk files directly in dfd; when path is given (the buffer path itself), also every worker<N>
 * sub-directory, counted in *workers. Takes dfd over. */
static int scan_dir(struct scan_ctx *s, int dfd, int worker, const char *path, int *workers) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_(closep) int fd = dfd;

        d = fdopendir(fd);
        if (!d)
                return -errno;
        TAKE_FD(fd);

        for (;;) {
                struct chunk_file c = { .worker = worker };
                struct dirent *de;
                struct stat st;
                int r, w;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        return 0;
                }

                if (path && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) &&
                    parse_worker_name(de->d_name, &w)) {
                        int wfd;

                        /* Watch before reading: a chunk created after this is never missed. */
                        r = add_dir_watch(s, path, de->d_name);
                        if (r < 0)
                                return r;
                        wfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                        if (wfd < 0) {
                                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                                        continue; /* gone, or not a directory after all */
                                return -errno;
                        }
                        (*workers)++;
                        r = scan_dir(s, wfd, w, NULL, NULL);
                        if (r < 0)
                                return r;
                        continue;
                }

                if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                        continue;
                if (!parse_chunk_name(de->d_name, &c))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        char q[NAME_LEN + 1];

                        if (errno != ENOENT)
                                return -errno;
                        if (c.state != 'b')
                                continue; /* committed (or dropped) meanwhile */
                        /* Enqueued between readdir and here: the same chunk, now 'q'. */
                        memcpy(q, de->d_name, sizeof q);
                        q[7] = 'q';
                        if (fstatat(dirfd(d), q, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno == ENOENT)
                                        continue;
                                return -errno;
                        }
                        c.state = 'q';
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                c.bytes = (uint64_t)st.st_size;
                r = scan_push(s, &c, path == NULL);
                if (r < 0)
                        return r;
        }
}

/* One buffer path: its own chunk files and those of every worker<N> sub-directory. */
static int scan_path(struct scan_ctx *s, const char *path, int *workers_seen) {
        int dfd, workers = 0, r;

        r = add_dir_watch(s, path, NULL);
        if (r < 0)
                return r;
        dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = scan_dir(s, dfd, 0, path, &workers);
        if (r < 0)
                return r;
        if (workers_seen)
                *workers_seen = workers;
        return 0;
}

int bufdir_scan(const char *path, struct chunk_list *out, int *workers_seen) {
        struct scan_ctx s = { .out = out, .ifd = -1 };
        size_t n0;
        int workers = 0, r;

        if (workers_seen)
                *workers_seen = 0;
        if (!path || !out)
                return -EINVAL;

        n0 = out->n;
        r = scan_path(&s, path, &workers);
        if (r < 0) {
                out->n = n0;
                return r;
        }
        if (workers_seen)
                *workers_seen = workers;
        return 0;
}

struct bufwatch {
        char **paths;
        size_t n_paths;
        int ifd;
        unsigned overflows;
        unsigned scans;
        /* The last list handed out, sorted by id, with where each chunk was. */
        struct chunk_list last;
        struct chunk_where *last_where;
};

void bufwatch_free(struct bufwatch *w) {
        if (!w)
                return;
        for (size_t i = 0; i < w->n_paths; i++)
                free(w->paths[i]);
        free(w->paths);
        if (w->ifd >= 0)
                close(w->ifd);
        chunk_list_done(&w->last);
        free(w->last_where);
        free(w);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct bufwatch *, bufwatch_free);

int bufwatch_new(char *const *paths, size_t n_paths, struct bufwatch **ret) {
        _cleanup_(bufwatch_freep) struct bufwatch *w = NULL;

        if (!ret || (n_paths > 0 && !paths))
                return -EINVAL;
        if (n_paths > BUF_MAX_PATHS)
                return -E2BIG;

        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->ifd = -1;
        w->paths = calloc(n_paths ? n_paths : 1, sizeof *w->paths);
        if (!w->paths)
                return -ENOMEM;
        for (size_t i = 0; i < n_paths; i++) {
                w->paths[i] = strdup(paths[i]);
                if (!w->paths[i])
                        return -ENOMEM;
                w->n_paths = i + 1;
        }

        w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->ifd < 0)
                return -errno;
        for (size_t i = 0; i < w->n_paths; i++)
                if (inotify_add_watch(w->ifd, w->paths[i], BUF_DIR_MASK) < 0)
                        return -errno; /* ENOENT, ENOTDIR, EACCES: the path itself is unusable */
        /* Worker directories get their watches from the first scan (bufwatch_process). */

        *ret = TAKE_PTR(w);
        return 0;
}

int bufwatch_fd(const struct bufwatch *w) {
        return w ? w->ifd : -EINVAL;
}

unsigned bufwatch_overflows(const struct bufwatch *w) {
        return w ? w->overflows : 0;
}

unsigned bufwatch_scans(const struct bufwatch *w) {
        return w ? w->scans : 0;
}

/* Empty the queue; the events only say "look again" (IN_Q_OVERFLOW is counted, nothing else to do). */
static int drain_events(struct bufwatch *w) {
        _Alignas(struct inotify_event) char buf[16 * 1024];

        for (;;) {
                ssize_t n = read(w->ifd, buf, sizeof buf);

                if (n > 0) {
                        for (char *p = buf; p < buf + n;) {
                                const struct inotify_event *ev = (const struct inotify_event *)p;

                                if (ev->mask & IN_Q_OVERFLOW) {
                                        w->overflows++;
                                        log_debug("buffer directory events overflowed: rescanning");
                                }
                                p += sizeof *ev + ev->len;
                        }
                        continue;
                }
                if (n == 0 || errno == EAGAIN)
                        return 0;
                if (errno == EINTR)
                        continue;
                return -errno;
        }
}

static bool events_pending(const struct bufwatch *w) {
        struct pollfd p = { .fd = w->ifd, .events = POLLIN };

        return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

struct sort_item {
        struct chunk_file c;
        struct chunk_where where;
};

static int cmp_item(const void *a, const void *b) {
        return strcmp(((const struct sort_item *)a)->c.id, ((const struct sort_item *)b)->c.id);
}

static int cmp_id_item(const void *key, const void *b) {
        return strcmp(key, ((const struct sort_item *)b)->c.id);
}

/* Is the chunk still in this directory, under either name? 1 and *ret when it is. Resolved as the scan
 * does (a worker dir that is a symlink is not one). */
static int lookup_in(const struct bufwatch *w, uint32_t path_idx, bool in_worker_dir, const struct chunk_file *c,
                     struct chunk_file *ret) {
        const char *states = c->state == 'q' ? "qb" : "bq";
        _cleanup_(closep) int dfd = -1;
        char name[NAME_LEN + 1];
        struct stat st;

        dfd = open(w->paths[path_idx], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0 && in_worker_dir) {
                char sub[32];
                int fd;

                snprintf(sub, sizeof sub, "worker%d", c->worker);
                fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                closep(&dfd);
                dfd = fd;
        }
        if (dfd < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ? 0 : -errno;

        for (const char *s = states; *s; s++) {
                snprintf(name, sizeof name, "buffer.%c%s.log", *s, c->id);
                if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return -errno;
                }
                if (!S_ISREG(st.st_mode))
                        continue;
                *ret = *c;
                ret->state = *s;
                ret->bytes = (uint64_t)st.st_size;
                return 1;
        }
        return 0;
}

/* A chunk the last list had and this scan missed: is it still there? Where it was is known for chunks
 * this watcher found; for chunks given by bufwatch_expect() every path is tried. */
static int lookup_again(const struct bufwatch *w, const struct chunk_file *c, struct chunk_where *where,
                        struct chunk_file *ret) {
        int r;

        if (where->path_idx != WHERE_UNKNOWN)
                return where->path_idx < w->n_paths ? lookup_in(w, where->path_idx, where->in_worker_dir, c, ret) : 0;

        for (uint32_t i = 0; i < w->n_paths; i++)
                for (int in_worker_dir = 0; in_worker_dir < 2; in_worker_dir++) {
                        if (!in_worker_dir && c->worker != 0)
                                continue;
                        r = lookup_in(w, i, in_worker_dir, c, ret);
                        if (r != 0) {
                                if (r > 0)
                                        *where = (struct chunk_where){ .path_idx = i, .in_worker_dir = in_worker_dir };
                                return r;
                        }
                }
        return 0;
}

int bufwatch_expect(struct bufwatch *w, const struct chunk_list *snapshot) {
        _cleanup_(chunk_list_done) struct chunk_list l = {};
        _cleanup_(freep) struct chunk_where *where = NULL;
        int r;

        if (!w || !snapshot)
                return -EINVAL;
        for (size_t i = 0; i < snapshot->n; i++) {
                r = chunk_list_push(&l, &snapshot->v[i]);
                if (r < 0)
                        return r;
        }
        where = calloc(l.n ? l.n : 1, sizeof *where);
        if (!where)
                return -ENOMEM;
        for (size_t i = 0; i < l.n; i++)
                where[i] = (struct chunk_where){ .path_idx = WHERE_UNKNOWN };
        chunk_list_done(&w->last);
        free(w->last_where);
        w->last = l;
        l = (struct chunk_list){};
        w->last_where = TAKE_PTR(where);
        return 0;
}

/* Scan every path once into items (sorted by id, duplicates removed). */
static int scan_all(struct bufwatch *w, struct sort_item **ret_items, size_t *ret_n) {
        _cleanup_(chunk_list_done) struct chunk_list l = {};
        struct scan_ctx s = { .out = &l, .ifd = w->ifd, .track = true };
        struct sort_item *items;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < w->n_paths; i++) {
                s.path_idx = (uint32_t)i;
                r = scan_path(&s, w->paths[i], NULL);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                free(s.where);
                return r;
        }
        w->scans++;

        items = calloc(l.n ? l.n : 1, sizeof *items);
        if (!items) {
                free(s.where);
                return -ENOMEM;
        }
        for (size_t i = 0; i < l.n; i++)
                items[i] = (struct sort_item){ .c = l.v[i], .where = s.where[i] };
        free(s.where);
        qsort(items, l.n, sizeof *items, cmp_item);
        /* One chunk under both names (readdir met it before and after its rename): keep the later 'q'. */
        for (size_t i = 0; i < l.n; i++) {
                if (n > 0 && strcmp(items[n - 1].c.id, items[i].c.id) == 0) {
                        if (items[i].c.state == 'q')
                                items[n - 1] = items[i];
                        continue;
                }
                items[n++] = items[i];
        }
        *ret_items = items;
        *ret_n = n;
        return 0;
}

int bufwatch_process(struct bufwatch *w, struct chunk_list *present) {
        _cleanup_(freep) struct sort_item *items = NULL;
        _cleanup_(freep) struct chunk_where *where = NULL;
        _cleanup_(chunk_list_done) struct chunk_list out = {};
        size_t n = 0, n_found, cap;
        int r;

        if (!w || !present)
                return -EINVAL;

        for (unsigned round = 0;; round++) {
                r = drain_events(w);
                if (r < 0)
                        return r;
                free(items);
                items = NULL;
                r = scan_all(w, &items, &n);
                if (r < 0)
                        return r;
                /* Changed while we read it? Read again (bounded: a busy buffer never settles). */
                if (round + 1 >= BUF_MAX_ROUNDS || !events_pending(w))
                        break;
        }

        /* Chunks of the last list this scan did not meet: look them up by name before calling them gone. */
        n_found = cap = n;
        for (size_t i = 0; i < w->last.n; i++) {
                struct chunk_file c;

                if (bsearch(w->last.v[i].id, items, n_found, sizeof *items, cmp_id_item))
                        continue;
                r = lookup_again(w, &w->last.v[i], &w->last_where[i], &c);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (n == cap) {
                        struct sort_item *v;

                        cap = MAX(2 * cap, (size_t)16);
                        v = reallocarray(items, cap, sizeof *items);
                        if (!v)
                                return -ENOMEM;
                        items = v;
                }
                items[n++] = (struct sort_item){ .c = c, .where = w->last_where[i] };
        }
        if (n > n_found) {
                log_debug("%zu chunk file(s) missed by readdir found by name", n - n_found);
                qsort(items, n, sizeof *items, cmp_item);
        }

        where = calloc(n ? n : 1, sizeof *where);
        if (!where)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = chunk_list_push(&out, &items[i].c);
                if (r < 0)
                        return r;
                where[i] = items[i].where;
        }

        /* Hand out a copy; keep this list to check the next scan against. */
        present->n = 0;
        for (size_t i = 0; i < out.n; i++) {
                r = chunk_list_push(present, &out.v[i]);
                if (r < 0)
                        return r;
        }
        chunk_list_done(&w->last);
        free(w->last_where);
        w->last = out;
        out = (struct chunk_list){};
        w->last_where = TAKE_PTR(where);
        return 0;
}
