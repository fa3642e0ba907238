/* logtail.c — follow a log file across re-open, rename (logrotate create), deletion and truncation.
 *
 * inotify only tells us *when* to look; what happened is decided from fstat()/stat() on every read, so a
 * lost or overflowed event queue costs nothing but a wakeup. Two files are followed at most: the one
 * the path names now (cur) and the one it named before the last rotation (prev). prev stays open
 * because a writer keeps appending to the renamed file until it re-opens its log (Fluentd does that on
 * SIGUSR1, i.e. after logrotate created the new file), and those lines must not be lost. Each file has
 * its own partial-line buffer: a line cut by the rotation is completed in the file it was started in. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fluentlog.h"
#include "log.h"
#include "logtail.h"
#include "macro.h"

/* Large reads keep the syscall count low on a big backlog; memory stays bounded by this block plus one
 * FL_MAX_LINE line buffer per followed file. */
#define LT_BLOCK (512 * 1024)
#define LT_EVBUF (16 * 1024)
/* Rotations followed within one logtail_read() (each one reads the file to its end first). */
#define LT_MAX_SWITCHES 4

#define LT_FILE_MASK (IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB)
#define LT_DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

struct tailfile {
        int fd;
        int wd;             /* inotify watch on this inode, -1 when none */
        dev_t dev;
        ino_t ino;
        uint64_t off;       /* next byte to read: everything before it is delivered or in line[] */
        char *line;         /* partial line (no newline yet), FL_MAX_LINE bytes */
        size_t len;
        bool skip;          /* inside the rest of a cut line (or a line begun before we opened): drop to '\n' */
};

struct logtail {
        char *path;
        int ifd;
        int dir_wd;
        struct tailfile cur, prev;
        char *block;
        unsigned rotations, truncations;
};

static void tailfile_init(struct tailfile *f) {
        *f = (struct tailfile){ .fd = -1, .wd = -1 };
}

/* other: the file still followed; when both are one inode they share the watch, which then stays. */
static void tailfile_close(struct logtail *t, struct tailfile *f, const struct tailfile *other) {
        if (f->wd >= 0 && t->ifd >= 0 && f->wd != other->wd)
                (void)inotify_rm_watch(t->ifd, f->wd); /* EINVAL when the kernel dropped it already */
        if (f->fd >= 0)
                close(f->fd);
        free(f->line);
        tailfile_init(f);
}

/* Watch the inode behind fd (not whatever the path names by now); fall back to the path without /proc. */
static int watch_fd(int ifd, int fd, const char *path) {
        char p[64];
        int wd;

        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        wd = inotify_add_watch(ifd, p, LT_FILE_MASK);
        if (wd < 0 && errno == ENOENT)
                wd = inotify_add_watch(ifd, path, LT_FILE_MASK);
        return wd < 0 ? -errno : wd;
}

/* Open path as a regular file: fd and its identity. */
static int open_regular(const char *path, int *ret_fd, struct stat *st) {
        _cleanup_(closep) int fd = -1;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, st) < 0)
                return -errno;
        if (S_ISDIR(st->st_mode))
                return -EISDIR;
        if (!S_ISREG(st->st_mode))
                return -EINVAL;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Make f follow fd (taken over only on success). */
static int tailfile_setup(struct logtail *t, struct tailfile *f, int fd, const struct stat *st) {
        _cleanup_(freep) char *line = NULL;
        int wd;

        line = malloc(FL_MAX_LINE);
        if (!line)
                return -ENOMEM;
        wd = watch_fd(t->ifd, fd, t->path);
        if (wd < 0)
                return wd;
        *f = (struct tailfile){ .fd = fd, .wd = wd, .dev = st->st_dev, .ino = st->st_ino,
                                .line = TAKE_PTR(line) };
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct logtail *, logtail_free);

static char *dir_of(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return strndup(path, (size_t)(slash - path));
}

int logtail_open(const char *path, bool from_end, struct logtail **ret) {
        _cleanup_(logtail_freep) struct logtail *t = NULL;
        _cleanup_(closep) int fd = -1;
        _cleanup_(freep) char *dir = NULL;
        struct stat st;
        int r;

        if (!path || !*path || !ret)
                return -EINVAL;

        r = open_regular(path, &fd, &st);
        if (r < 0)
                return r;

        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->ifd = t->dir_wd = -1;
        tailfile_init(&t->cur);
        tailfile_init(&t->prev);
        t->path = strdup(path);
        dir = dir_of(path);
        t->block = malloc(LT_BLOCK);
        if (!t->path || !dir || !t->block)
                return -ENOMEM;

        t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (t->ifd < 0)
                return -errno;
        /* The directory first: a rename or re-create after this point is always seen. */
        t->dir_wd = inotify_add_watch(t->ifd, dir, LT_DIR_MASK);
        if (t->dir_wd < 0)
                return -errno;
        r = tailfile_setup(t, &t->cur, fd, &st);
        if (r < 0)
                return r;
        TAKE_FD(fd);

        /* open_regular() filled st when it returned 0; the analyzer assumes its -errno may be 0 */
        if (from_end && st.st_size > 0) { /* NOLINT(clang-analyzer-core.UndefinedBinaryOperatorResult) */
                char last;
                ssize_t n;

                t->cur.off = (uint64_t)st.st_size;
                /* Started in the middle of a line: its tail is not a line, drop it. */
                n = pread(t->cur.fd, &last, 1, st.st_size - 1);
                if (n < 0)
                        return -errno;
                t->cur.skip = n == 1 && last != '\n';
        }

        log_debug("following %s from offset %llu", path, (unsigned long long)t->cur.off);
        *ret = TAKE_PTR(t);
        return 0;
}

int logtail_fd(const struct logtail *t) {
        return t ? t->ifd : -EINVAL;
}

unsigned logtail_rotations(const struct logtail *t) {
        return t ? t->rotations : 0;
}

unsigned logtail_truncations(const struct logtail *t) {
        return t ? t->truncations : 0;
}

void logtail_free(struct logtail *t) {
        if (!t)
                return;
        if (t->ifd >= 0)
                close(t->ifd); /* drops every watch at once */
        t->ifd = -1;
        tailfile_close(t, &t->prev, &t->cur);
        tailfile_close(t, &t->cur, &t->prev);
        free(t->block);
        free(t->path);
        free(t);
}

/* Empty the inotify queue. The events themselves are not needed: every read re-checks the files. */
static int drain_events(struct logtail *t) {
        _Alignas(struct inotify_event) char buf[LT_EVBUF];

        for (;;) {
                ssize_t n = read(t->ifd, buf, sizeof buf);

                if (n > 0)
                        continue;
                if (n == 0 || errno == EAGAIN)
                        return 0;
                if (errno == EINTR)
                        continue;
                return -errno;
        }
}

/* Hand the complete lines of buf[0..n) to cb. *consumed is how far buf was used when cb stopped us. */
static int feed(struct tailfile *f, const char *buf, size_t n, logtail_line_cb cb, void *userdata,
                size_t *consumed) {
        size_t p = 0;
        int r;

        while (p < n) {
                const char *nl = memchr(buf + p, '\n', n - p);
                size_t seg;

                if (f->skip) {
                        if (!nl)
                                break;
                        f->skip = false;
                        p = (size_t)(nl - buf) + 1;
                        continue;
                }

                if (!nl) {
                        size_t rest = n - p, take = MIN(rest, FL_MAX_LINE - f->len);

                        memcpy(f->line + f->len, buf + p, take);
                        f->len += take;
                        p = n;
                        if (take < rest) {
                                /* Over the limit and still no newline: deliver it cut, drop the rest. */
                                f->len = 0;
                                f->skip = true;
                                r = cb(f->line, FL_MAX_LINE, true, userdata);
                                if (r != 0) {
                                        *consumed = p;
                                        return r;
                                }
                        }
                        break;
                }

                seg = (size_t)(nl - (buf + p));
                if (f->len == 0)
                        /* The common case: the line is inside the block, no copy. */
                        r = cb(buf + p, MIN(seg, FL_MAX_LINE), seg > FL_MAX_LINE, userdata);
                else {
                        size_t take = MIN(seg, FL_MAX_LINE - f->len);
                        bool cut = f->len + seg > FL_MAX_LINE;
                        size_t len;

                        memcpy(f->line + f->len, buf + p, take);
                        len = f->len + take;
                        f->len = 0;
                        r = cb(f->line, len, cut, userdata);
                }
                p = (size_t)(nl - buf) + 1;
                if (r != 0) {
                        *consumed = p;
                        return r;
                }
        }
        *consumed = n;
        return 0;
}

/* Read f from its offset to the size it has now (what is appended meanwhile comes with a new event). */
static int tailfile_drain(struct logtail *t, struct tailfile *f, logtail_line_cb cb, void *userdata) {
        struct stat st;
        uint64_t size;

        if (fstat(f->fd, &st) < 0)
                return -errno;
        size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
        if (size < f->off) {
                /* copytruncate (or any truncation): the bytes after 0 are new. A partial line from before is
                 * gone with the old content. */
                log_debug("%s was truncated (%llu < %llu): reading from 0", t->path,
                          (unsigned long long)size, (unsigned long long)f->off);
                f->off = 0;
                f->len = 0;
                f->skip = false;
                t->truncations++;
        }

        while (f->off < size) {
                ssize_t n = pread(f->fd, t->block, LT_BLOCK, (off_t)f->off);
                size_t used;
                int r;

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break; /* shrank under us: the next read sees the truncation */
                r = feed(f, t->block, (size_t)n, cb, userdata, &used);
                f->off += used;
                if (r != 0)
                        return r;
        }
        return 0;
}

/* Has the path been pointed at another file? 1: switched to it (cur is now that file at 0), 0: no. */
static int check_rotation(struct logtail *t) {
        _cleanup_(closep) int fd = -1;
        struct tailfile nf;
        struct stat st;
        int r;

        if (stat(t->path, &st) < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0; /* renamed or deleted, nothing new yet: keep reading the old file */
                return -errno;
        }
        if (st.st_dev == t->cur.dev && st.st_ino == t->cur.ino)
                return 0; /* the same file (re-opened by the writer, or nothing happened) */
        if (!S_ISREG(st.st_mode))
                return 0;

        r = open_regular(t->path, &fd, &st);
        if (r == -ENOENT || r == -EISDIR || r == -EINVAL)
                return 0; /* raced with another rename; the next event brings us back */
        if (r < 0)
                return r;
        if (st.st_dev == t->cur.dev && st.st_ino == t->cur.ino)
                return 0;

        tailfile_init(&nf);
        r = tailfile_setup(t, &nf, fd, &st);
        if (r < 0)
                return r;
        TAKE_FD(fd);

        /* cur was read to its end just before: it becomes prev, still read for late writes. */
        tailfile_close(t, &t->prev, &nf);
        t->prev = t->cur;
        t->cur = nf;
        t->rotations++;
        log_debug("%s now names another file (rotation %u): reading it from 0", t->path, t->rotations);
        return 1;
}

int logtail_read(struct logtail *t, logtail_line_cb cb, void *userdata) {
        int r;

        if (!t || !cb)
                return -EINVAL;

        /* Events first, files second: whatever is written after the drain raises a new event. */
        r = drain_events(t);
        if (r < 0)
                return r;

        if (t->prev.fd >= 0) {
                r = tailfile_drain(t, &t->prev, cb, userdata);
                if (r != 0)
                        return r;
        }
        for (unsigned i = 0; i < LT_MAX_SWITCHES; i++) {
                r = tailfile_drain(t, &t->cur, cb, userdata);
                if (r != 0)
                        return r;
                r = check_rotation(t);
                if (r <= 0)
                        return r;
        }
        /* Rotated again and again within one call: read what the last file has; a further rotation is
         * found on the next call. */
        return tailfile_drain(t, &t->cur, cb, userdata);
}
