/* test_logtail.c — logtail on real files in a private temp dir: partial lines, rotation (rename, delayed
 * re-create), copytruncate, deletion, long lines, a growing file, the callback's stop, and poll() wakeups. */
#define _GNU_SOURCE 1 /* nftw */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fluentlog.h"
#include "logtail.h"
#include "macro.h"

struct fx {
        char dir[256];
        char path[PATH_MAX];   /* <dir>/fluentd.log */
        char path1[PATH_MAX];  /* <dir>/fluentd.log.1 */
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void)st; (void)flag; (void)f;
        return remove(p);
}

static int setup(void **state) {
        struct fx *x = calloc(1, sizeof *x);
        const char *tmp = getenv("TMPDIR");

        assert_non_null(x);
        snprintf(x->dir, sizeof x->dir, "%s/ff-logtail-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(x->dir));
        snprintf(x->path, sizeof x->path, "%s/fluentd.log", x->dir);
        snprintf(x->path1, sizeof x->path1, "%s/fluentd.log.1", x->dir);
        *state = x;
        return 0;
}

static int teardown(void **state) {
        struct fx *x = *state;

        nftw(x->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(x);
        return 0;
}

/* ---- helpers ---- */

struct lines {
        char **v;
        bool *cut;
        size_t *len;
        size_t n, cap;
        size_t stop_at;          /* return 7 once n reaches this (0: never) */
        /* sequence mode: lines "L<8 digits> …", only checked and counted */
        bool seq;
        unsigned next_seq, seq_errors;
};

static int collect(const char *line, size_t len, bool truncated, void *userdata) {
        struct lines *l = userdata;

        if (l->seq) {
                unsigned v;
                char num[9];

                if (len < 9 || line[0] != 'L' || truncated)
                        l->seq_errors++;
                else {
                        memcpy(num, line + 1, 8);
                        num[8] = '\0';
                        v = (unsigned)strtoul(num, NULL, 10);
                        if (v != l->next_seq)
                                l->seq_errors++;
                }
                l->next_seq++;
                l->n++;
                return 0;
        }
        if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 16;
                l->v = realloc(l->v, l->cap * sizeof *l->v);
                l->cut = realloc(l->cut, l->cap * sizeof *l->cut);
                l->len = realloc(l->len, l->cap * sizeof *l->len);
                assert_non_null(l->v);
                assert_non_null(l->cut);
                assert_non_null(l->len);
        }
        l->v[l->n] = strndup(line, len);
        assert_non_null(l->v[l->n]);
        l->cut[l->n] = truncated;
        l->len[l->n] = len;
        l->n++;
        if (l->stop_at && l->n == l->stop_at)
                return 7;
        return 0;
}

static void lines_clear(struct lines *l) {
        for (size_t i = 0; i < l->n && !l->seq; i++)
                free(l->v[i]);
        l->n = 0;
}

static void lines_free(struct lines *l) {
        lines_clear(l);
        free(l->v);
        free(l->cut);
        free(l->len);
        memset(l, 0, sizeof *l);
}

/* Expect exactly these lines since the last clear (NULL-terminated), then clear. */
static void expect_lines(struct lines *l, const char *const *want) {
        size_t n = 0;

        while (want[n])
                n++;
        if (l->n != n) {
                for (size_t i = 0; i < l->n; i++)
                        print_error("got line %zu: '%.60s'\n", i, l->v[i]);
        }
        assert_int_equal(l->n, n);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(l->v[i], want[i]);
                assert_false(l->cut[i]);
        }
        lines_clear(l);
}
#define EXPECT(l, ...) expect_lines((l), (const char *const[]){ __VA_ARGS__, NULL })
#define EXPECT_NONE(l) expect_lines((l), (const char *const[]){ NULL })

static void write_all(int fd, const void *buf, size_t n) {
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);

                assert_true(k > 0);
                p += k;
                n -= (size_t)k;
        }
}

static void append(const char *path, const char *s) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        write_all(fd, s, strlen(s));
        close(fd);
}

static int writer(const char *path) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        return fd;
}

static void wputs(int fd, const char *s) {
        write_all(fd, s, strlen(s));
}

/* 1 when fd becomes readable within ms. */
static int readable(int fd, int ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, ms);

        assert_true(r >= 0);
        return r > 0 && (p.revents & POLLIN);
}

static void read_ok(struct logtail *t, struct lines *l) {
        assert_int_equal(logtail_read(t, collect, l), 0);
}

/* poll() must wake for the change just made; then read. */
static void wake_and_read(struct logtail *t, struct lines *l) {
        assert_true(readable(logtail_fd(t), 2000));
        read_ok(t, l);
        /* Everything was consumed: nothing wakes us until the next change (but the kernel may still
         * queue an IN_IGNORED for a watch dropped during the read: one more read, nothing more). */
        if (readable(logtail_fd(t), 0))
                read_ok(t, l);
        assert_false(readable(logtail_fd(t), 0));
}

static uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- tests ---- */

static void test_enoent(void **state) {
        struct fx *x = *state;
        struct logtail *t = (struct logtail *)0x1;

        assert_int_equal(logtail_open(x->path, true, &t), -ENOENT);
        assert_int_equal(logtail_open(x->path, false, &t), -ENOENT);
        /* a directory is not a log file */
        assert_int_equal(logtail_open(x->dir, true, &t), -EISDIR);
}

/* A file we may not read: -EACCES (as root, checked in a child that dropped to nobody). */
static void test_eacces(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        pid_t pid;
        int status;

        append(x->path, "secret\n");
        assert_int_equal(chmod(x->path, 0600), 0);
        if (geteuid() != 0) {
                assert_int_equal(chmod(x->path, 0000), 0);
                assert_int_equal(logtail_open(x->path, true, &t), -EACCES);
                return;
        }
        assert_int_equal(chmod(x->dir, 0755), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                _exit(logtail_open(x->path, true, &t) == -EACCES ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_fd_flags(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        bool before[1024];
        int fd, fresh = 0;

        append(x->path, "");
        for (int i = 0; i < 1024; i++)
                before[i] = fcntl(i, F_GETFD) >= 0;
        assert_int_equal(logtail_open(x->path, true, &t), 0);
        fd = logtail_fd(t);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        /* every fd it opened (inotify, the file) is close-on-exec */
        for (int i = 0; i < 1024; i++) {
                int fl = fcntl(i, F_GETFD);

                if (fl >= 0 && !before[i]) {
                        fresh++;
                        assert_true(fl & FD_CLOEXEC);
                }
        }
        assert_int_equal(fresh, 2);
        logtail_free(t);
        /* and all of them are closed again */
        for (int i = 0; i < 1024; i++)
                assert_int_equal(fcntl(i, F_GETFD) >= 0, before[i]);
        logtail_free(NULL);
}

static void test_partial_lines(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};

        append(x->path, "first\nsec");
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        read_ok(t, &l);
        EXPECT(&l, "first");
        assert_false(readable(logtail_fd(t), 0));

        append(x->path, "ond\nthi");
        wake_and_read(t, &l);
        EXPECT(&l, "second");

        append(x->path, "r");
        wake_and_read(t, &l);
        EXPECT_NONE(&l);
        append(x->path, "d\n\nfourth\n");
        wake_and_read(t, &l);
        EXPECT(&l, "third", "", "fourth");

        /* nothing new: reading again gives nothing */
        read_ok(t, &l);
        EXPECT_NONE(&l);
        assert_int_equal(logtail_rotations(t), 0);
        assert_int_equal(logtail_truncations(t), 0);
        logtail_free(t);
        lines_free(&l);
}

static void test_open_at_end(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};

        append(x->path, "old 1\nold 2\n");
        assert_int_equal(logtail_open(x->path, true, &t), 0);
        read_ok(t, &l);
        EXPECT_NONE(&l);
        append(x->path, "new 1\n");
        wake_and_read(t, &l);
        EXPECT(&l, "new 1");
        logtail_free(t);

        /* Opened in the middle of a line: its tail is not a line. */
        append(x->path, "half a li");
        assert_int_equal(logtail_open(x->path, true, &t), 0);
        append(x->path, "ne\nnew 2\n");
        wake_and_read(t, &l);
        EXPECT(&l, "new 2");
        logtail_free(t);

        /* From 0 the same file gives everything. */
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        read_ok(t, &l);
        EXPECT(&l, "old 1", "old 2", "new 1", "half a line", "new 2");
        logtail_free(t);

        /* An empty file opened at its end. */
        assert_int_equal(truncate(x->path, 0), 0);
        assert_int_equal(logtail_open(x->path, true, &t), 0);
        append(x->path, "a\n");
        wake_and_read(t, &l);
        EXPECT(&l, "a");
        logtail_free(t);
        lines_free(&l);
}

/* logrotate create mode: rename, the writer keeps writing to the old file, the new file appears later
 * (created by another process while we wait in poll), then the writer re-opens. */
static void test_rename_delayed_recreate(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};
        uint64_t deadline;
        int w, status;
        pid_t pid;
        bool got = false;

        w = writer(x->path);
        wputs(w, "1\n");
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        read_ok(t, &l);
        EXPECT(&l, "1");

        assert_int_equal(rename(x->path, x->path1), 0);
        wake_and_read(t, &l);               /* IN_MOVE_SELF */
        EXPECT_NONE(&l);
        wputs(w, "2\npar");                 /* the writer has not re-opened yet */
        wake_and_read(t, &l);
        EXPECT(&l, "2");
        assert_int_equal(logtail_rotations(t), 0);

        /* The new file appears only after a delay. */
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct timespec d = { .tv_nsec = 200 * 1000 * 1000 };
                int fd;

                nanosleep(&d, NULL);
                fd = open(x->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0 || write(fd, "new 1\n", 6) != 6)
                        _exit(1);
                _exit(0);
        }
        deadline = now_ms() + 5000;
        while (!got && now_ms() < deadline) {
                if (!readable(logtail_fd(t), 500))
                        continue;
                read_ok(t, &l);
                for (size_t i = 0; i < l.n; i++)
                        if (strcmp(l.v[i], "new 1") == 0)
                                got = true;
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_true(got);
        EXPECT(&l, "new 1");
        assert_int_equal(logtail_rotations(t), 1);

        /* Late lines to the old file (before the writer re-opens) are still read, the cut line whole. */
        wputs(w, "tial\n3\n");
        wake_and_read(t, &l);
        EXPECT(&l, "partial", "3");

        /* The writer re-opens (SIGUSR1): lines go to the new file only. */
        close(w);
        w = writer(x->path);
        wputs(w, "new 2\n");
        wake_and_read(t, &l);
        EXPECT(&l, "new 2");
        /* Re-opening the same file again changes nothing. */
        close(w);
        w = writer(x->path);
        wputs(w, "new 3\n");
        wake_and_read(t, &l);
        EXPECT(&l, "new 3");
        assert_int_equal(logtail_rotations(t), 1);
        assert_int_equal(logtail_truncations(t), 0);
        close(w);
        logtail_free(t);
        lines_free(&l);
}

/* Rename and immediate re-create between two reads: the old file is read to its end first. */
static void test_rename_recreate_order(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};

        append(x->path, "a\n");
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        read_ok(t, &l);
        EXPECT(&l, "a");
        append(x->path, "b\n");
        assert_int_equal(rename(x->path, x->path1), 0);
        append(x->path, "c\n");
        append(x->path1, "d\n");
        wake_and_read(t, &l);
        EXPECT(&l, "b", "d", "c");
        assert_int_equal(logtail_rotations(t), 1);

        /* A second rotation: the oldest file is let go, the previous one still followed. */
        {
                char p2[PATH_MAX + 2];

                snprintf(p2, sizeof p2, "%s.2", x->path);
                assert_int_equal(rename(x->path1, p2), 0);
                assert_int_equal(rename(x->path, x->path1), 0);
                append(x->path, "e\n");
                wake_and_read(t, &l);
                EXPECT(&l, "e");
                assert_int_equal(logtail_rotations(t), 2);
                append(x->path1, "f\n");
                append(p2, "lost\n");
                wake_and_read(t, &l);
                EXPECT(&l, "f");
        }
        logtail_free(t);
        lines_free(&l);
}

/* logrotate copytruncate: copy, then truncate in place; the writer (O_APPEND) goes on at 0. */
static void test_copytruncate(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};
        int w = writer(x->path);

        wputs(w, "1\n2\n3\n");
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        read_ok(t, &l);
        EXPECT(&l, "1", "2", "3");
        append(x->path1, "1\n2\n3\n");    /* the copy */
        assert_int_equal(truncate(x->path, 0), 0);
        wputs(w, "4\n");
        wake_and_read(t, &l);
        EXPECT(&l, "4");
        assert_int_equal(logtail_truncations(t), 1);
        assert_int_equal(logtail_rotations(t), 0);
        wputs(w, "5\n");
        wake_and_read(t, &l);
        EXPECT(&l, "5");
        close(w);
        logtail_free(t);
        lines_free(&l);
}

/* Truncated to 0, then less is written than was there before; a partial line from before is dropped. */
static void test_truncate_write_less(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};
        int w = writer(x->path);

        wputs(w, "a long line that was here before\nan unfinished li");
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        read_ok(t, &l);
        EXPECT(&l, "a long line that was here before");
        assert_int_equal(ftruncate(w, 0), 0);
        wputs(w, "b\n");
        wake_and_read(t, &l);
        EXPECT(&l, "b");
        assert_int_equal(logtail_truncations(t), 1);

        /* and again, to empty, then a line */
        assert_int_equal(ftruncate(w, 0), 0);
        wake_and_read(t, &l);
        EXPECT_NONE(&l);
        assert_int_equal(logtail_truncations(t), 2);
        wputs(w, "c\n");
        wake_and_read(t, &l);
        EXPECT(&l, "c");
        assert_int_equal(logtail_truncations(t), 2);
        close(w);
        logtail_free(t);
        lines_free(&l);
}

/* Deleted and not re-created: the writer keeps its fd, we keep ours. Re-created later: followed. */
static void test_delete_no_recreate(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};
        int w = writer(x->path);

        wputs(w, "before\n");
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        read_ok(t, &l);
        EXPECT(&l, "before");
        assert_int_equal(unlink(x->path), 0);
        wake_and_read(t, &l);               /* IN_ATTRIB: link count */
        EXPECT_NONE(&l);
        wputs(w, "after 1\n");
        wake_and_read(t, &l);
        EXPECT(&l, "after 1");
        wputs(w, "after 2\n");
        wake_and_read(t, &l);
        EXPECT(&l, "after 2");
        assert_int_equal(logtail_rotations(t), 0);

        append(x->path, "new\n");
        wake_and_read(t, &l);
        EXPECT(&l, "new");
        assert_int_equal(logtail_rotations(t), 1);
        close(w);
        logtail_free(t);
        lines_free(&l);
}

/* A 1 MB line, written in pieces with reads in between: delivered once, cut at FL_MAX_LINE; the rest of
 * it is skipped and the next line is whole. A line of exactly FL_MAX_LINE is not cut. */
static void test_long_line(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = {};
        size_t piece = 48 * 1024, total = 1024 * 1024;
        char *buf = malloc(total + 1);
        int w = writer(x->path);

        assert_non_null(buf);
        memset(buf, 'x', total);
        assert_int_equal(logtail_open(x->path, true, &t), 0);
        for (size_t off = 0; off < total; off += piece) {
                write_all(w, buf, MIN(piece, total - off));
                wake_and_read(t, &l);
        }
        assert_int_equal(l.n, 1);
        assert_true(l.cut[0]);
        assert_int_equal(l.len[0], FL_MAX_LINE);
        for (size_t i = 0; i < FL_MAX_LINE; i++)
                assert_int_equal(l.v[0][i], 'x');
        lines_clear(&l);
        wputs(w, "yy\nafter\n");
        wake_and_read(t, &l);
        EXPECT(&l, "after");

        /* The same 1 MB line in one write (no partial buffer involved). */
        write_all(w, buf, total);
        wputs(w, "\nnext\n");
        wake_and_read(t, &l);
        assert_int_equal(l.n, 2);
        assert_true(l.cut[0]);
        assert_int_equal(l.len[0], FL_MAX_LINE);
        assert_string_equal(l.v[1], "next");
        assert_false(l.cut[1]);
        lines_clear(&l);

        /* Exactly FL_MAX_LINE: whole, in one write and in two pieces. */
        memset(buf, 'y', FL_MAX_LINE);
        buf[FL_MAX_LINE] = '\n';
        write_all(w, buf, FL_MAX_LINE + 1);
        write_all(w, buf, 1000);
        wake_and_read(t, &l);
        write_all(w, buf + 1000, FL_MAX_LINE - 1000 + 1);
        wake_and_read(t, &l);
        assert_int_equal(l.n, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_false(l.cut[i]);
                assert_int_equal(l.len[i], FL_MAX_LINE);
        }
        lines_clear(&l);
        /* One byte more: cut. */
        buf[FL_MAX_LINE] = 'y';
        buf[FL_MAX_LINE + 1] = '\n';
        write_all(w, buf, 100);
        wake_and_read(t, &l);
        write_all(w, buf + 100, FL_MAX_LINE + 2 - 100);
        wputs(w, "z\n");
        wake_and_read(t, &l);
        assert_int_equal(l.n, 2);
        assert_true(l.cut[0]);
        assert_int_equal(l.len[0], FL_MAX_LINE);
        assert_string_equal(l.v[1], "z");
        lines_clear(&l);

        close(w);
        free(buf);
        logtail_free(t);
        lines_free(&l);
}

/* A file that grows by 10 MB, in 1 MB appends, read as it goes and at once: every line, in order. */
static void test_grow_10mb(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL, *t0 = NULL;
        struct lines l = { .seq = true }, l0 = { .seq = true };
        size_t line_len = 100, per_mb = (1024 * 1024) / line_len;
        char *buf = malloc(per_mb * line_len);
        unsigned seq = 0;
        int w = writer(x->path);

        assert_non_null(buf);
        assert_int_equal(logtail_open(x->path, true, &t), 0);
        for (int mb = 0; mb < 10; mb++) {
                for (size_t i = 0; i < per_mb; i++) {
                        char *p = buf + i * line_len;

                        memset(p, 'a' + (int)(i % 26), line_len);
                        snprintf(p, 10, "L%08u", seq++);
                        p[9] = ' ';
                        p[line_len - 1] = '\n';
                }
                /* in two writes, cutting a line in the middle */
                write_all(w, buf, per_mb * line_len / 2 + 17);
                write_all(w, buf + per_mb * line_len / 2 + 17, per_mb * line_len - (per_mb * line_len / 2 + 17));
                wake_and_read(t, &l);
        }
        assert_int_equal(l.n, seq);
        assert_int_equal(l.seq_errors, 0);

        /* The whole 10 MB at once, from 0. */
        assert_int_equal(logtail_open(x->path, false, &t0), 0);
        assert_int_equal(logtail_read(t0, collect, &l0), 0);
        assert_int_equal(l0.n, seq);
        assert_int_equal(l0.seq_errors, 0);

        close(w);
        free(buf);
        logtail_free(t);
        logtail_free(t0);
}

static int stop_on_cut(const char *line, size_t len, bool truncated, void *userdata) {
        (void)line; (void)len;
        (*(unsigned *)userdata)++;
        return truncated ? -E2BIG : 0;
}

/* The callback's non-zero return stops reading, is returned, and nothing is lost or repeated. */
static void test_callback_stop(void **state) {
        struct fx *x = *state;
        struct logtail *t = NULL;
        struct lines l = { .stop_at = 2 };
        char *big = malloc(FL_MAX_LINE + 10);
        unsigned calls = 0;

        assert_non_null(big);
        append(x->path, "1\n2\n3\n4\n5");
        assert_int_equal(logtail_open(x->path, false, &t), 0);
        assert_int_equal(logtail_read(t, collect, &l), 7);
        EXPECT(&l, "1", "2");
        l.stop_at = 1;
        assert_int_equal(logtail_read(t, collect, &l), 7);
        EXPECT(&l, "3");
        l.stop_at = 0;
        read_ok(t, &l);
        EXPECT(&l, "4");
        append(x->path, "\n");
        read_ok(t, &l);
        EXPECT(&l, "5");

        /* stop on a cut line: the rest of that line is still skipped afterwards */
        memset(big, 'q', FL_MAX_LINE + 10);
        big[FL_MAX_LINE + 9] = '\0';
        append(x->path, big);
        append(x->path, "tail of the long line\nok\n");
        assert_int_equal(logtail_read(t, stop_on_cut, &calls), -E2BIG);
        assert_int_equal(calls, 1);
        read_ok(t, &l);
        EXPECT(&l, "ok");

        free(big);
        logtail_free(t);
        lines_free(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_enoent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eacces, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fd_flags, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial_lines, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_at_end, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename_delayed_recreate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rename_recreate_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_copytruncate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncate_write_less, setup, teardown),
                cmocka_unit_test_setup_teardown(test_delete_no_recreate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_grow_10mb, setup, teardown),
                cmocka_unit_test_setup_teardown(test_callback_stop, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
