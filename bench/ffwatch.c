/* ffwatch.c — an independent witness for the benchmark: timestamps what happens to buffer chunk files.
 *
 *   ffwatch DIR…
 *
 * Watches each DIR with inotify and prints, for every event on a name `buffer.*`:
 *   <CLOCK_MONOTONIC ns> <C|D|F|T> <dir index> <name>     (created, deleted, moved from, moved to)
 * and `<ns> O - -` when the kernel's event queue overflowed. Prints `ready` once every watch is in place;
 * stops at EOF on stdin (the harness closes it). Output is flushed after every batch of events. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define MAX_DIRS 64

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
        int wds[MAX_DIRS];
        int ndirs = argc - 1;
        if (ndirs < 1 || ndirs > MAX_DIRS) {
                fprintf(stderr, "usage: ffwatch DIR... (at most %d)\n", MAX_DIRS);
                return 2;
        }
        int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ifd < 0) {
                perror("ffwatch: inotify_init1");
                return 1;
        }
        for (int i = 0; i < ndirs; i++) {
                wds[i] = inotify_add_watch(ifd, argv[i + 1],
                                           IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
                if (wds[i] < 0) {
                        fprintf(stderr, "ffwatch: %s: %s\n", argv[i + 1], strerror(errno));
                        return 1;
                }
        }
        printf("ready\n");
        fflush(stdout);

        _Alignas(struct inotify_event) char buf[64 * 1024];
        for (;;) {
                struct pollfd p[2] = { { .fd = ifd, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("ffwatch: poll");
                        return 1;
                }
                if (p[0].revents & POLLIN) {
                        uint64_t t = now_ns();  /* the moment we learnt of this batch */
                        for (;;) {
                                ssize_t n = read(ifd, buf, sizeof buf);
                                if (n <= 0)
                                        break;
                                for (char *q = buf; q < buf + n;) {
                                        const struct inotify_event *e = (const struct inotify_event *)q;
                                        q += sizeof *e + e->len;
                                        if (e->mask & IN_Q_OVERFLOW) {
                                                printf("%llu O - -\n", (unsigned long long)t);
                                                continue;
                                        }
                                        if (!e->len || strncmp(e->name, "buffer.", 7) != 0)
                                                continue;
                                        char k = e->mask & IN_DELETE ? 'D' : e->mask & IN_CREATE ? 'C' :
                                                 e->mask & IN_MOVED_FROM ? 'F' : e->mask & IN_MOVED_TO ? 'T' : '?';
                                        int idx = -1;
                                        for (int i = 0; i < ndirs; i++)
                                                if (wds[i] == e->wd)
                                                        idx = i;
                                        printf("%llu %c %d %s\n", (unsigned long long)t, k, idx, e->name);
                                }
                        }
                        fflush(stdout);
                }
                if (p[1].revents & (POLLIN | POLLHUP)) {
                        char c[256];
                        if (read(0, c, sizeof c) <= 0)
                                return 0;
                }
        }
}
