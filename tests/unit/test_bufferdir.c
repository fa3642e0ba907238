/* test_bufferdir.c — bufdir_scan and the bufwatch inotify watcher on real directories in a private temp
 * dir: layouts with and without worker dirs, exact name matching, b→q rename, deletion, a worker dir
 * created later, 1,000 chunks, an overflowed event queue, and the errors for the path itself. */
#define _GNU_SOURCE 1 /* nftw */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bufferdir.h"

struct fx {
        char dir[256];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
        (void)st; (void)flag; (void)f;
        return remove(p);
}

static int setup(void **state) {
        struct fx *x = calloc(1, sizeof *x);
        const char *tmp = getenv("TMPDIR");

        assert_non_null(x);
        snprintf(x->dir, sizeof x->dir, "%s/ff-bufdir-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        assert_non_null(mkdtemp(x->dir));
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

#define ID(n) id_of(n, (char[33]){ 0 })
static const char *id_of(unsigned n, char *buf) {
        snprintf(buf, 33, "%08x0123456789abcdef%08x", n, n * 2654435761u);
        return buf;
}

static void pjoin(char *out, size_t size, const char *a, const char *b) {
        int n = snprintf(out, size, "%s/%s", a, b);

        assert_true(n > 0 && (size_t)n < size);
}

static void mkfile(const char *dir, const char *name, size_t size) {
        char p[PATH_MAX];
        int fd;

        pjoin(p, sizeof p, dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, (off_t)size), 0);
        close(fd);
}

/* A chunk as Fluentd writes it: the .log and its .meta. */
static void mkchunk(const char *dir, char state, const char *id, size_t size) {
        char name[128];

        snprintf(name, sizeof name, "buffer.%c%s.log", state, id);
        mkfile(dir, name, size);
        snprintf(name, sizeof name, "buffer.%c%s.log.meta", state, id);
        mkfile(dir, name, 40);
}

static void rmchunk(const char *dir, char state, const char *id) {
        char name[128], p[PATH_MAX];

        snprintf(name, sizeof name, "buffer.%c%s.log", state, id);
        pjoin(p, sizeof p, dir, name);
        assert_int_equal(unlink(p), 0);
        snprintf(name, sizeof name, "buffer.%c%s.log.meta", state, id);
        pjoin(p, sizeof p, dir, name);
        assert_int_equal(unlink(p), 0);
}

/* Fluentd's enqueue: buffer.b<id>.log → buffer.q<id>.log (and the .meta). */
static void enqueue(const char *dir, const char *id) {
        char a[PATH_MAX], b[PATH_MAX], n[128];

        for (int meta = 0; meta < 2; meta++) {
                snprintf(n, sizeof n, "buffer.b%s.log%s", id, meta ? ".meta" : "");
                pjoin(a, sizeof a, dir, n);
                n[7] = 'q';
                pjoin(b, sizeof b, dir, n);
                assert_int_equal(rename(a, b), 0);
        }
}

static void mksub(char *out, size_t size, const char *dir, const char *name) {
        pjoin(out, size, dir, name);
        assert_int_equal(mkdir(out, 0755), 0);
}

static int readable(int fd, int ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, ms);

        assert_true(r >= 0);
        return r > 0 && (p.revents & POLLIN);
}

static const struct chunk_file *find(const struct chunk_list *l, const char *id) {
        const struct chunk_file *c = chunk_list_find(l, id);

        if (!c)
                fail_msg("chunk %s not in the list", id);
        return c;
}

static void expect_chunk(const struct chunk_list *l, const char *id, int worker, char state, uint64_t bytes) {
        const struct chunk_file *c = find(l, id);

        assert_int_equal(c->worker, worker);
        assert_int_equal(c->state, state);
        assert_int_equal(c->bytes, bytes);
}

static void scan(const char *path, struct chunk_list *l, int *workers) {
        l->n = 0;
        assert_int_equal(bufdir_scan(path, l, workers), 0);
}

/* ---- tests ---- */

static void test_flat_layout(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        int workers = -1;

        scan(x->dir, &l, &workers);
        assert_int_equal(l.n, 0);
        assert_int_equal(workers, 0);

        mkchunk(x->dir, 'b', ID(1), 1234);
        mkchunk(x->dir, 'q', ID(2), 0);
        mkchunk(x->dir, 'q', ID(3), 5 * 1024 * 1024);
        scan(x->dir, &l, &workers);
        assert_int_equal(l.n, 3);
        assert_int_equal(workers, 0);
        expect_chunk(&l, ID(1), 0, 'b', 1234);
        expect_chunk(&l, ID(2), 0, 'q', 0);
        expect_chunk(&l, ID(3), 0, 'q', 5 * 1024 * 1024);
        assert_null(chunk_list_find(&l, ID(4)));

        /* appends: a second scan into the same list adds; an error leaves the list as it was */
        assert_int_equal(bufdir_scan(x->dir, &l, &workers), 0);
        assert_int_equal(l.n, 6);
        {
                char missing[PATH_MAX];

                pjoin(missing, sizeof missing, x->dir, "nope");
                assert_int_equal(bufdir_scan(missing, &l, &workers), -ENOENT);
                assert_int_equal(l.n, 6);
                assert_int_equal(workers, 0);
        }
        chunk_list_done(&l);
        assert_null(l.v);
        assert_int_equal(l.n, 0);
}

static void test_worker_layout(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        char w0[PATH_MAX], w1[PATH_MAX], w12[PATH_MAX];
        int workers = -1;

        mksub(w0, sizeof w0, x->dir, "worker0");
        mksub(w1, sizeof w1, x->dir, "worker1");
        mksub(w12, sizeof w12, x->dir, "worker12");
        mkchunk(w0, 'b', ID(10), 10);
        mkchunk(w0, 'q', ID(11), 11);
        mkchunk(w1, 'b', ID(20), 20);
        mkchunk(w12, 'q', ID(120), 120);
        mkchunk(x->dir, 'b', ID(99), 99); /* left in the path itself */
        scan(x->dir, &l, &workers);
        assert_int_equal(workers, 3);
        assert_int_equal(l.n, 5);
        expect_chunk(&l, ID(10), 0, 'b', 10);
        expect_chunk(&l, ID(11), 0, 'q', 11);
        expect_chunk(&l, ID(20), 1, 'b', 20);
        expect_chunk(&l, ID(120), 12, 'q', 120);
        expect_chunk(&l, ID(99), 0, 'b', 99);

        /* worker dirs in worker dirs are not buffer paths */
        {
                char nested[PATH_MAX];

                mksub(nested, sizeof nested, w1, "worker5");
                mkchunk(nested, 'b', ID(55), 55);
                scan(x->dir, &l, &workers);
                assert_int_equal(workers, 3);
                assert_int_equal(l.n, 5);
                assert_null(chunk_list_find(&l, ID(55)));
        }
        chunk_list_done(&l);
}

static void test_junk_names(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        const char *hex32 = "0123456789abcdef0123456789abcdef";
        char name[128], p[PATH_MAX];
        int workers = -1;

        snprintf(name, sizeof name, "buffer.b%.31s.log", hex32);          /* 31 hex */
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.b%s0.log", hex32);            /* 33 hex */
        mkfile(x->dir, name, 1);
        mkfile(x->dir, "buffer.b0123456789ABCDEF0123456789abcdef.log", 1); /* upper case */
        mkfile(x->dir, "buffer.b0123456789abcdeg0123456789abcdef.log", 1); /* not hex */
        snprintf(name, sizeof name, "buffer.x%s.log", hex32);
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.B%s.log", hex32);
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.b%s.log.meta", hex32);        /* .meta only */
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.q%s.log.meta", hex32);
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.b%s.logx", hex32);
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.b%s.lo", hex32);
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "xbuffer.b%s.log", hex32);
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.b%s", hex32);
        mkfile(x->dir, name, 1);
        snprintf(name, sizeof name, "buffer.%s.log", hex32);
        mkfile(x->dir, name, 1);
        mkfile(x->dir, ".buffer.b0123456789abcdef0123456789abcdef.log", 1);
        /* the right name, but a directory / a symlink */
        snprintf(name, sizeof name, "buffer.q%s.log", hex32);
        mksub(p, sizeof p, x->dir, name);
        snprintf(name, sizeof name, "buffer.b%s.log", "fedcba9876543210fedcba9876543210");
        pjoin(p, sizeof p, x->dir, name);
        assert_int_equal(symlink("/etc/hostname", p), 0);
        /* not worker dirs */
        mksub(p, sizeof p, x->dir, "worker");
        mksub(p, sizeof p, x->dir, "workerx");
        mksub(p, sizeof p, x->dir, "worker01");
        mksub(p, sizeof p, x->dir, "worker-1");
        mksub(p, sizeof p, x->dir, "Worker2");
        mksub(p, sizeof p, x->dir, "worker99999999999");
        mkfile(x->dir, "worker3", 1);                                     /* a file, not a dir */
        pjoin(p, sizeof p, x->dir, "worker4");
        assert_int_equal(symlink("/", p), 0);                             /* a symlink, not a dir */

        scan(x->dir, &l, &workers);
        for (size_t i = 0; i < l.n; i++)
                print_error("unexpected chunk %s\n", l.v[i].id);
        assert_int_equal(l.n, 0);
        assert_int_equal(workers, 0);

        /* one real chunk among all that */
        mkchunk(x->dir, 'b', hex32, 7);
        scan(x->dir, &l, &workers);
        assert_int_equal(l.n, 1);
        expect_chunk(&l, hex32, 0, 'b', 7);
        chunk_list_done(&l);
}

static void test_meta_only(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        char w0[PATH_MAX], name[128];
        int workers = -1;

        mksub(w0, sizeof w0, x->dir, "worker0");
        for (unsigned i = 0; i < 5; i++) {
                snprintf(name, sizeof name, "buffer.%c%s.log.meta", i % 2 ? 'q' : 'b', ID(i));
                mkfile(x->dir, name, 10);
                mkfile(w0, name, 10);
        }
        scan(x->dir, &l, &workers);
        assert_int_equal(l.n, 0);
        assert_int_equal(workers, 1);
        chunk_list_done(&l);
}

static void test_errors(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        struct bufwatch *w = NULL;
        char p[PATH_MAX], f[PATH_MAX];
        char *paths[1];
        int workers = -1;

        pjoin(p, sizeof p, x->dir, "missing");
        assert_int_equal(bufdir_scan(p, &l, &workers), -ENOENT);
        assert_int_equal(workers, 0);
        paths[0] = p;
        assert_int_equal(bufwatch_new(paths, 1, &w), -ENOENT);
        assert_null(w);

        mkfile(x->dir, "plain", 1);
        pjoin(f, sizeof f, x->dir, "plain");
        assert_int_equal(bufdir_scan(f, &l, &workers), -ENOTDIR);
        paths[0] = f;
        assert_int_equal(bufwatch_new(paths, 1, &w), -ENOTDIR);
        assert_null(w);

        /* a watched path that disappears: the error, not an empty list */
        mksub(p, sizeof p, x->dir, "gone");
        paths[0] = p;
        assert_int_equal(bufwatch_new(paths, 1, &w), 0);
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(rmdir(p), 0);
        assert_true(readable(bufwatch_fd(w), 2000));
        assert_int_equal(bufwatch_process(w, &l), -ENOENT);
        bufwatch_free(w);
        bufwatch_free(NULL);
        chunk_list_done(&l);
}

/* A directory we may not read: -EACCES (as root, checked in a child that dropped to nobody). */
static void test_eacces(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        char p[PATH_MAX];
        int workers, status;
        pid_t pid;

        mksub(p, sizeof p, x->dir, "buffer");
        mkchunk(p, 'b', ID(1), 1);
        assert_int_equal(chmod(p, 0700), 0);
        if (geteuid() != 0) {
                assert_int_equal(chmod(p, 0000), 0);
                assert_int_equal(bufdir_scan(p, &l, &workers), -EACCES);
                assert_int_equal(chmod(p, 0700), 0);
                return;
        }
        assert_int_equal(chmod(x->dir, 0755), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct bufwatch *w = NULL;
                char *paths[] = { p };

                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                if (bufdir_scan(p, &l, &workers) != -EACCES)
                        _exit(3);
                _exit(bufwatch_new(paths, 1, &w) == -EACCES ? 0 : 4);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* The watcher: b→q rename is the same chunk, still present; deletion is gone; both wake poll(). */
static void test_watch_rename_delete(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        struct bufwatch *w = NULL;
        char *paths[] = { x->dir };
        int fd;

        mkchunk(x->dir, 'b', ID(1), 100);
        mkchunk(x->dir, 'b', ID(2), 200);
        assert_int_equal(bufwatch_new(paths, 1, &w), 0);
        fd = bufwatch_fd(w);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);

        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 2);
        expect_chunk(&l, ID(1), 0, 'b', 100);
        expect_chunk(&l, ID(2), 0, 'b', 200);
        /* sorted by id */
        assert_true(strcmp(l.v[0].id, l.v[1].id) < 0);
        assert_false(readable(fd, 0));

        enqueue(x->dir, ID(1));
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 2);
        expect_chunk(&l, ID(1), 0, 'q', 100);
        expect_chunk(&l, ID(2), 0, 'b', 200);
        assert_false(readable(fd, 0));

        rmchunk(x->dir, 'q', ID(1));
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 1);
        assert_null(chunk_list_find(&l, ID(1)));
        expect_chunk(&l, ID(2), 0, 'b', 200);

        /* a new chunk appears */
        mkchunk(x->dir, 'b', ID(3), 300);
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 2);
        expect_chunk(&l, ID(3), 0, 'b', 300);

        /* .meta churn alone wakes us but changes nothing */
        mkfile(x->dir, "buffer.b0000000000000000000000000000000f.log.meta", 1);
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 2);
        assert_true(bufwatch_scans(w) >= 5);
        assert_int_equal(bufwatch_overflows(w), 0);

        bufwatch_free(w);
        chunk_list_done(&l);
}

/* Several buffer paths, worker dirs, and a worker dir created after the watch started: its chunks are
 * seen, and changes inside it wake poll() (it is watched too). */
static void test_watch_workers_later(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        struct bufwatch *w = NULL;
        char a[PATH_MAX], b[PATH_MAX], a0[PATH_MAX], b3[PATH_MAX];
        char *paths[] = { a, b };
        int fd;

        mksub(a, sizeof a, x->dir, "out_s3");
        mksub(b, sizeof b, x->dir, "out_other");
        mksub(a0, sizeof a0, a, "worker0");
        mkchunk(a0, 'q', ID(1), 1);
        assert_int_equal(bufwatch_new(paths, 2, &w), 0);
        fd = bufwatch_fd(w);
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 1);
        expect_chunk(&l, ID(1), 0, 'q', 1);

        /* in an existing worker dir (watched by the first process) */
        mkchunk(a0, 'b', ID(2), 2);
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 2);

        /* a worker dir created later, with a chunk already in it when we look */
        mksub(b3, sizeof b3, b, "worker3");
        mkchunk(b3, 'b', ID(3), 3);
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 3);
        expect_chunk(&l, ID(3), 3, 'b', 3);

        /* … and watched from then on */
        assert_false(readable(fd, 0));
        enqueue(b3, ID(3));
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        expect_chunk(&l, ID(3), 3, 'q', 3);
        rmchunk(b3, 'q', ID(3));
        assert_true(readable(fd, 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 2);
        assert_null(chunk_list_find(&l, ID(3)));

        bufwatch_free(w);
        chunk_list_done(&l);
}

/* 1,000 chunks over two workers: scanned, watched, half enqueued and half deleted in one batch. */
static void test_thousand_chunks(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        struct bufwatch *w = NULL;
        char wd[2][PATH_MAX];
        char *paths[] = { x->dir };
        int workers = -1;

        mksub(wd[0], sizeof wd[0], x->dir, "worker0");
        mksub(wd[1], sizeof wd[1], x->dir, "worker1");
        for (unsigned i = 0; i < 1000; i++)
                mkchunk(wd[i % 2], 'b', ID(i), i);
        scan(x->dir, &l, &workers);
        assert_int_equal(l.n, 1000);
        assert_int_equal(workers, 2);
        for (unsigned i = 0; i < 1000; i++)
                expect_chunk(&l, ID(i), (int)(i % 2), 'b', i);

        assert_int_equal(bufwatch_new(paths, 1, &w), 0);
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 1000);
        for (size_t i = 1; i < l.n; i++)
                assert_true(strcmp(l.v[i - 1].id, l.v[i].id) < 0);

        for (unsigned i = 0; i < 1000; i++) {
                if (i % 4 == 0)
                        rmchunk(wd[i % 2], 'b', ID(i));
                else if (i % 4 == 1)
                        enqueue(wd[i % 2], ID(i));
        }
        assert_true(readable(bufwatch_fd(w), 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 750);
        for (unsigned i = 0; i < 1000; i++) {
                if (i % 4 == 0)
                        assert_null(chunk_list_find(&l, ID(i)));
                else
                        expect_chunk(&l, ID(i), (int)(i % 2), i % 4 == 1 ? 'q' : 'b', i);
        }
        bufwatch_free(w);
        chunk_list_done(&l);
}

/* The snapshot handed to the watcher (bufwatch_expect): changes before the first rescan are followed. */
static void test_watch_expect(void **state) {
        struct fx *x = *state;
        struct chunk_list snap = {}, l = {};
        struct bufwatch *w = NULL;
        char *paths[] = { x->dir };
        char w1[PATH_MAX];
        int workers;

        mksub(w1, sizeof w1, x->dir, "worker1");
        mkchunk(w1, 'b', ID(1), 1);
        mkchunk(w1, 'b', ID(2), 2);
        mkchunk(w1, 'q', ID(3), 3);
        scan(x->dir, &snap, &workers);
        assert_int_equal(snap.n, 3);
        assert_int_equal(bufwatch_new(paths, 1, &w), 0);
        assert_int_equal(bufwatch_expect(w, &snap), 0);
        enqueue(w1, ID(1));
        rmchunk(w1, 'b', ID(2));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 2);
        expect_chunk(&l, ID(1), 1, 'q', 1);
        expect_chunk(&l, ID(3), 1, 'q', 3);
        assert_null(chunk_list_find(&l, ID(2)));
        /* the snapshot list is the caller's and unchanged */
        assert_int_equal(snap.n, 3);
        expect_chunk(&snap, ID(1), 1, 'b', 1);
        bufwatch_free(w);
        chunk_list_done(&snap);
        chunk_list_done(&l);
}

static long max_queued_events(void) {
        FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "re");
        long v = -1;

        if (!f)
                fail_msg("cannot read /proc/sys/fs/inotify/max_queued_events: %s", strerror(errno));
        if (fscanf(f, "%ld", &v) != 1)
                v = -1;
        fclose(f);
        return v;
}

/* More events than the kernel queues: IN_Q_OVERFLOW arrives, and the list after it is still exact
 * (the rescan does not depend on the events). The queue limit is the host's (not changed here): it is
 * overrun by renaming one spare file back and forth, two events per rename. */
static void test_overflow(void **state) {
        struct fx *x = *state;
        struct chunk_list l = {};
        struct bufwatch *w = NULL;
        char *paths[] = { x->dir };
        char a[PATH_MAX], b[PATH_MAX], w0[PATH_MAX], w1[PATH_MAX];
        long max = max_queued_events(), renames;

        if (max <= 0 || max > 1000000)
                fail_msg("max_queued_events %ld: cannot overflow the inotify queue in a unit test", max);
        renames = max / 2 + 64;

        mksub(w0, sizeof w0, x->dir, "worker0");
        for (unsigned i = 0; i < 10; i++)
                mkchunk(w0, 'b', ID(i), i);
        assert_int_equal(bufwatch_new(paths, 1, &w), 0);
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 10);

        pjoin(a, sizeof a, w0, "spare.a");
        pjoin(b, sizeof b, w0, "spare.b");
        mkfile(w0, "spare.a", 0);
        for (long i = 0; i < renames; i++)
                assert_int_equal(rename(i % 2 ? b : a, i % 2 ? a : b), 0);
        /* the real changes, after the queue is full: their events are lost */
        enqueue(w0, ID(1));
        rmchunk(w0, 'b', ID(2));
        mkchunk(w0, 'b', ID(100), 100);
        mksub(w1, sizeof w1, x->dir, "worker1");
        mkchunk(w1, 'q', ID(101), 101);

        assert_true(readable(bufwatch_fd(w), 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_true(bufwatch_overflows(w) >= 1);
        assert_int_equal(l.n, 11);
        expect_chunk(&l, ID(1), 0, 'q', 1);
        assert_null(chunk_list_find(&l, ID(2)));
        expect_chunk(&l, ID(100), 0, 'b', 100);
        expect_chunk(&l, ID(101), 1, 'q', 101);
        /* the queue is empty again, and the new worker dir is watched */
        assert_false(readable(bufwatch_fd(w), 0));
        rmchunk(w1, 'q', ID(101));
        assert_true(readable(bufwatch_fd(w), 2000));
        assert_int_equal(bufwatch_process(w, &l), 0);
        assert_int_equal(l.n, 10);
        assert_null(chunk_list_find(&l, ID(101)));
        bufwatch_free(w);
        chunk_list_done(&l);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_flat_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_worker_layout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_junk_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_meta_only, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_eacces, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch_rename_delete, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch_workers_later, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch_expect, setup, teardown),
                cmocka_unit_test_setup_teardown(test_thousand_chunks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
