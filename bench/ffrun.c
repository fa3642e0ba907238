/* ffrun.c — run one command and time it on CLOCK_MONOTONIC for the benchmark harness (bench/bench.py).
 *
 *   ffrun [-o STDOUT_FILE] -- COMMAND [ARG…]
 *
 * The child's stdout goes to STDOUT_FILE (default /dev/null); its stderr is read here and every line is
 * reported with the time it arrived, so the harness can see when the helper says it signalled the agent.
 * The exit is seen through a pidfd (not by waiting for stderr to close). Report on stdout, one item a line:
 *   start <ns>               just before fork()
 *   err <ns> <line>          one stderr line of the child
 *   exit <ns> <wait status>  the pidfd became readable
 *   rusage <utime µs> <stime µs> <maxrss KiB>   of the child (wait4)
 * Times are CLOCK_MONOTONIC nanoseconds: comparable with time.monotonic() and ffwatch on the same host. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Report the complete lines in buf[0..*len), keep the partial rest at the front. */
static void emit_lines(char *buf, size_t *len, uint64_t t, int final) {
        size_t p = 0;
        for (;;) {
                char *nl = memchr(buf + p, '\n', *len - p);
                if (!nl) {
                        if (final && p < *len)
                                printf("err %llu %.*s\n", (unsigned long long)t, (int)(*len - p), buf + p), p = *len;
                        break;
                }
                printf("err %llu %.*s\n", (unsigned long long)t, (int)(nl - (buf + p)), buf + p);
                p = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + p, *len - p);
        *len -= p;
        if (*len == LINE_MAX_BYTES) {           /* an over-long line: report it cut */
                printf("err %llu %.*s\n", (unsigned long long)t, (int)*len, buf);
                *len = 0;
        }
}

int main(int argc, char **argv) {
        const char *out = "/dev/null";
        int i = 1;
        if (i + 1 < argc && strcmp(argv[i], "-o") == 0) {
                out = argv[i + 1];
                i += 2;
        }
        if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
                fprintf(stderr, "usage: ffrun [-o STDOUT_FILE] -- COMMAND [ARG...]\n");
                return 2;
        }
        char **cmd = argv + i + 1;

        int outfd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (outfd < 0) {
                fprintf(stderr, "ffrun: %s: %s\n", out, strerror(errno));
                return 1;
        }
        int errp[2];
        if (pipe2(errp, O_CLOEXEC) < 0) {
                perror("ffrun: pipe2");
                return 1;
        }
        fflush(stdout);
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid < 0) {
                perror("ffrun: fork");
                return 1;
        }
        if (pid == 0) {
                if (dup2(outfd, 1) < 0 || dup2(errp[1], 2) < 0)
                        _exit(126);
                execvp(cmd[0], cmd);
                _exit(127);
        }
        close(errp[1]);
        close(outfd);
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
                perror("ffrun: pidfd_open");
                return 1;
        }
        printf("start %llu\n", (unsigned long long)t0);

        char buf[LINE_MAX_BYTES];
        size_t len = 0;
        int errfd = errp[0];
        uint64_t t_exit = 0;
        while (errfd >= 0 || t_exit == 0) {
                struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = errfd, .events = POLLIN } };
                int n = poll(p, errfd >= 0 ? 2 : 1, t_exit ? 2000 : -1);
                uint64_t t = now_ns();
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("ffrun: poll");
                        return 1;
                }
                if (n == 0)
                        break;              /* exited, stderr held open by a grandchild: stop reading */
                if (t_exit == 0 && (p[0].revents & POLLIN))
                        t_exit = t;
                if (errfd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
                        ssize_t r = read(errfd, buf + len, sizeof buf - len);
                        if (r <= 0) {
                                emit_lines(buf, &len, t, 1);
                                close(errfd);
                                errfd = -1;
                        } else {
                                len += (size_t)r;
                                emit_lines(buf, &len, t, 0);
                        }
                }
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0) {
                perror("ffrun: wait4");
                return 1;
        }
        printf("exit %llu %d\n", (unsigned long long)t_exit, status);
        printf("rusage %lld %lld %ld\n",
               (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
               (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
        return 0;
}
