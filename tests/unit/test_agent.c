/* test_agent.c — pid files, kill()/pidfd signalling of a forked stand-in, agent_alive, the RPC trigger. */
#define _GNU_SOURCE
#include "unit.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "agent.h"
#include "http.h"
#include "loopback_httpd.h"

static char tmpdir[256];
static bool have_pidfd;     /* pidfd_open(2) works here (not under valgrind 3.19, not before Linux 5.3) */

static int setup(void **state) {
        (void)state;
        snprintf(tmpdir, sizeof tmpdir, "%s/ff-test-agent.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        assert_non_null(mkdtemp(tmpdir));
        int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        have_pidfd = fd >= 0;
        if (fd >= 0)
                close(fd);
        else
                assert_int_equal(errno, ENOSYS);   /* the only reason agent.c falls back to kill() */
        assert_int_equal(http_global_init(), 0);
        httpd_start();
        return 0;
}

static int teardown(void **state) {
        (void)state;
        httpd_stop();
        http_global_cleanup();
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf -- '%s'", tmpdir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static const char *write_file(const char *name, const char *content, size_t len) {
        static char path[512];
        snprintf(path, sizeof path, "%s/%s", tmpdir, name);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(content, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
        return path;
}

/* A stand-in supervisor: counts SIGUSR1 (through a signalfd, so none is lost to a handler race) and
 * reports the count and the senders when told to quit. */
struct child {
        pid_t pid;
        int ctl;        /* parent → child: 'q' */
        int res;        /* child → parent: 'r' (ready), 's' per signal, then the final report */
};

struct report {
        int count;
        int other_senders;
};

static void child_main(int ctl, int res, pid_t parent) {
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
        if (sfd < 0)
                _exit(2);
        struct report rep = { 0 };
        if (write(res, "r", 1) != 1)
                _exit(2);
        for (;;) {
                struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ctl, .events = POLLIN } };
                if (poll(p, 2, 30000) <= 0)
                        _exit(3);     /* the parent vanished: never linger */
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof si) != sizeof si)
                                _exit(2);
                        rep.count++;
                        if ((pid_t)si.ssi_pid != parent)
                                rep.other_senders++;
                        if (write(res, "s", 1) != 1)
                                _exit(2);
                        continue;
                }
                if (p[1].revents) {
                        /* one more look: a second signal sent by the same call would be pending now */
                        struct signalfd_siginfo si;
                        int fl = fcntl(sfd, F_GETFL);
                        fcntl(sfd, F_SETFL, fl | O_NONBLOCK);
                        while (read(sfd, &si, sizeof si) == sizeof si)
                                rep.count++;
                        if (write(res, &rep, sizeof rep) != sizeof rep)
                                _exit(2);
                        _exit(0);
                }
        }
}

static void child_start(struct child *c) {
        int ctl[2], res[2];
        sigset_t mask, old;
        assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
        assert_int_equal(pipe2(res, O_CLOEXEC), 0);
        /* Block SIGUSR1 before the fork so that no signal can arrive before the signalfd exists. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        assert_int_equal(sigprocmask(SIG_BLOCK, &mask, &old), 0);
        pid_t parent = getpid();
        c->pid = fork();
        assert_true(c->pid >= 0);
        if (c->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(ctl[1]);
                close(res[0]);
                child_main(ctl[0], res[1], parent);
        }
        assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
        close(ctl[0]);
        close(res[1]);
        c->ctl = ctl[1];
        c->res = res[0];
        char b;
        assert_int_equal(read(c->res, &b, 1), 1);
        assert_int_equal(b, 'r');
}

static void child_wait_signal(struct child *c) {
        struct pollfd p = { .fd = c->res, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 10000), 1);
        char b;
        assert_int_equal(read(c->res, &b, 1), 1);
        assert_int_equal(b, 's');
}

static struct report child_finish(struct child *c) {
        struct report rep = { -1, -1 };
        int status;
        assert_int_equal(write(c->ctl, "q", 1), 1);
        assert_int_equal(read(c->res, &rep, sizeof rep), sizeof rep);
        assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(c->ctl);
        close(c->res);
        return rep;
}

static pid_t dead_pid(void) {
        pid_t p = fork();
        assert_true(p >= 0);
        if (p == 0)
                _exit(0);
        assert_int_equal(waitpid(p, NULL, 0), p);
        return p;
}

/* ---- pid files ---- */

static void test_pid_file_valid(void **state) {
        (void)state;
        char buf[32];
        pid_t pid;
        struct agent a;

        snprintf(buf, sizeof buf, "%d\n", (int)getpid());
        const char *path = write_file("valid.pid", buf, strlen(buf));
        assert_int_equal(agent_read_pid_file(path, &pid), 0);
        assert_int_equal(pid, getpid());
        assert_int_equal(agent_find(NULL, 0, path, &a), 0);
        assert_int_equal(a.pid, getpid());
        assert_int_equal(a.pidfd >= 0, have_pidfd);
        assert_string_equal(a.unit, "");
        assert_string_equal(a.flavor, "");
        assert_null(agent_default_log(&a));
        assert_int_equal(agent_alive(&a), 1);
        agent_done(&a);
        assert_int_equal(a.pidfd, -1);

        /* no newline, trailing white space, leading zeros: still a pid */
        snprintf(buf, sizeof buf, "%d", (int)getpid());
        assert_int_equal(agent_read_pid_file(write_file("nonl.pid", buf, strlen(buf)), &pid), 0);
        assert_int_equal(pid, getpid());
        snprintf(buf, sizeof buf, "00%d \r\n", (int)getpid());
        assert_int_equal(agent_read_pid_file(write_file("ws.pid", buf, strlen(buf)), &pid), 0);
        assert_int_equal(pid, getpid());
}

/* A pid file written before its process started names a recycled pid: never signal that process. */
static void test_pid_file_stale(void **state) {
        (void)state;
        char buf[32];
        struct agent a;
        snprintf(buf, sizeof buf, "%d\n", (int)getpid());
        const char *path = write_file("stale.pid", buf, strlen(buf));
        struct timespec old[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };   /* 2001 */
        assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
        assert_int_equal(agent_find(NULL, 0, path, &a), -ESRCH);
        /* the same file, freshly written: accepted */
        path = write_file("stale.pid", buf, strlen(buf));
        assert_int_equal(agent_find(NULL, 0, path, &a), 0);
        agent_done(&a);
}

static void test_pid_file_names_the_package(void **state) {
        (void)state;
        char buf[32], path[512];
        struct agent a;
        snprintf(buf, sizeof buf, "%d\n", (int)getpid());
        snprintf(path, sizeof path, "%s/fluentd.pid", tmpdir);
        write_file("fluentd.pid", buf, strlen(buf));
        assert_int_equal(agent_find(NULL, 0, path, &a), 0);
        assert_string_equal(a.flavor, "fluent-package");
        assert_string_equal(agent_default_log(&a), "/var/log/fluent/fluentd.log");
        agent_done(&a);
        snprintf(path, sizeof path, "%s/td-agent.pid", tmpdir);
        write_file("td-agent.pid", buf, strlen(buf));
        assert_int_equal(agent_find(NULL, 0, path, &a), 0);
        assert_string_equal(a.flavor, "td-agent");
        assert_string_equal(agent_default_log(&a), "/var/log/td-agent/td-agent.log");
        agent_done(&a);
}

static void test_pid_file_bad(void **state) {
        (void)state;
        static const char *const bad[] = {
                "", "\n", "abc\n", "12a\n", " 123\n", "-5\n", "+5\n", "0\n", "0x1f\n", "1 2\n",
                "99999999\n", "4194305\n", "1.5\n", "18446744073709551617\n", "123\n456\n",
        };
        pid_t pid;
        struct agent a;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *path = write_file("bad.pid", bad[i], strlen(bad[i]));
                assert_int_equal(agent_read_pid_file(path, &pid), -EBADMSG);
                assert_int_equal(agent_find(NULL, 0, path, &a), -EBADMSG);
                assert_int_equal(a.pid, 0);
                assert_int_equal(a.pidfd, -1);
        }
        /* a NUL inside */
        assert_int_equal(agent_read_pid_file(write_file("nul.pid", "12\0" "3\n", 5), &pid), -EBADMSG);
        /* huge: a megabyte of digits is not a pid file (and is not read whole) */
        size_t n = 1 << 20;
        char *huge = malloc(n);
        assert_non_null(huge);
        memset(huge, '1', n);
        assert_int_equal(agent_read_pid_file(write_file("huge.pid", huge, n), &pid), -EBADMSG);
        free(huge);
        /* 33 bytes: one over the limit, even though it is digits and blanks */
        assert_int_equal(agent_read_pid_file(write_file("long.pid", "1                               \n", 33), &pid),
                         -EBADMSG);
        /* not a regular file */
        assert_int_equal(agent_read_pid_file(tmpdir, &pid), -EBADMSG);
}

static void test_pid_file_missing_and_dead(void **state) {
        (void)state;
        char path[512], buf[32];
        struct agent a;
        snprintf(path, sizeof path, "%s/missing.pid", tmpdir);
        assert_int_equal(agent_find(NULL, 0, path, &a), -ENOENT);
        assert_int_equal(a.pidfd, -1);

        snprintf(buf, sizeof buf, "%d\n", (int)dead_pid());
        assert_int_equal(agent_find(NULL, 0, write_file("dead.pid", buf, strlen(buf)), &a), -ESRCH);
        assert_int_equal(a.pidfd, -1);
}

static void test_pid_option(void **state) {
        (void)state;
        struct agent a;
        assert_int_equal(agent_find(NULL, getpid(), NULL, &a), 0);
        assert_int_equal(a.pid, getpid());
        agent_done(&a);
        assert_int_equal(agent_find(NULL, dead_pid(), NULL, &a), -ESRCH);
        assert_int_equal(agent_find(NULL, -1, NULL, &a), -EINVAL);
        assert_int_equal(a.pidfd, -1);
}

/* ---- signalling ---- */

static void signal_once(bool through_pidfd) {
        struct child c;
        struct agent a;
        child_start(&c);
        assert_int_equal(agent_find(NULL, c.pid, NULL, &a), 0);
        assert_int_equal(a.pidfd >= 0, have_pidfd);
        if (!through_pidfd && a.pidfd >= 0) {
                close(a.pidfd);   /* the kill() path, as without pidfd_open */
                a.pidfd = -1;
        }
        assert_int_equal(agent_signal(&a, SIGUSR1), 0);
        child_wait_signal(&c);
        struct report rep = child_finish(&c);
        assert_int_equal(rep.count, 1);
        assert_int_equal(rep.other_senders, 0);
        agent_done(&a);
}

static void test_signal_pidfd(void **state) {
        (void)state;
        signal_once(true);
}

static void test_signal_kill(void **state) {
        (void)state;
        signal_once(false);
}

static void test_alive_until_exit(void **state) {
        (void)state;
        for (int through_pidfd = 1; through_pidfd >= 0; through_pidfd--) {
                struct child c;
                struct agent a;
                child_start(&c);
                assert_int_equal(agent_find(NULL, c.pid, NULL, &a), 0);
                if (!through_pidfd && a.pidfd >= 0) {
                        close(a.pidfd);
                        a.pidfd = -1;
                }
                assert_int_equal(agent_alive(&a), 1);
                struct report rep = child_finish(&c);     /* exits and is reaped */
                assert_int_equal(rep.count, 0);
                assert_int_equal(agent_alive(&a), 0);
                assert_int_equal(agent_signal(&a, SIGUSR1), -ESRCH);
                agent_done(&a);
        }
}

static void test_alive_zombie_through_pidfd(void **state) {
        (void)state;
        /* the pidfd notices the exit before anyone reaps the process */
        struct agent a;
        pid_t p = fork();
        assert_true(p >= 0);
        if (p == 0)
                _exit(0);
        assert_int_equal(agent_find(NULL, p, NULL, &a), 0);
        if (have_pidfd) {
                struct pollfd pfd = { .fd = a.pidfd, .events = POLLIN };
                assert_int_equal(poll(&pfd, 1, 10000), 1);
                assert_int_equal(agent_alive(&a), 0);
                assert_int_equal(waitpid(p, NULL, 0), p);
        } else {
                /* kill(pid, 0) cannot tell a zombie from the living: only after the reap */
                assert_int_equal(waitpid(p, NULL, 0), p);
                assert_int_equal(agent_alive(&a), 0);
        }
        agent_done(&a);
}

static void test_default_log(void **state) {
        (void)state;
        struct agent a = { .pidfd = -1 };
        assert_null(agent_default_log(&a));
        strcpy(a.flavor, "fluent-package");
        assert_string_equal(agent_default_log(&a), "/var/log/fluent/fluentd.log");
        strcpy(a.flavor, "td-agent");
        assert_string_equal(agent_default_log(&a), "/var/log/td-agent/td-agent.log");
        strcpy(a.flavor, "other");
        assert_null(agent_default_log(&a));
}

/* ---- RPC ---- */

static int rpc(const char *prefix, char *err, size_t size) {
        char url[128];
        snprintf(url, sizeof url, "%s%s", httpd_base, prefix);
        return agent_rpc_flush(url, 3000, err, size);
}

static void test_rpc(void **state) {
        (void)state;
        char err[256];
        /* the reply recorded from Fluentd 1.16 */
        assert_int_equal(rpc("", err, sizeof err), 0);
        assert_string_equal(err, "");
        assert_int_equal(rpc("/", err, sizeof err), 0);
        assert_int_equal(rpc("/good///", err, sizeof err), 0);
        /* as `<system> rpc_endpoint` writes it: host:port, no scheme */
        char url[64];
        snprintf(url, sizeof url, "127.0.0.1:%d", httpd_port);
        assert_int_equal(agent_rpc_flush(url, 3000, err, sizeof err), 0);
        /* 500 with {"ok":true} is a failure */
        assert_int_equal(rpc("/e500", err, sizeof err), -EPROTO);
        assert_non_null(strstr(err, "500"));
        assert_int_equal(rpc("/false", err, sizeof err), -EPROTO);
        assert_int_equal(rpc("/garbage", err, sizeof err), -EPROTO);
        assert_int_equal(rpc("/nothing", err, sizeof err), -EPROTO);      /* 404 */
        assert_int_equal(rpc("/big", err, sizeof err), -EMSGSIZE);
        assert_true(err[0] != '\0');
        /* nothing listens */
        snprintf(url, sizeof url, "http://127.0.0.1:%d", httpd_closed_port);
        assert_int_equal(agent_rpc_flush(url, 3000, err, sizeof err), -ECONNREFUSED);
        assert_true(err[0] != '\0');
        assert_int_equal(agent_rpc_flush("not a url", 3000, err, sizeof err), -EINVAL);
        assert_int_equal(agent_rpc_flush("", 3000, NULL, 0), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pid_file_valid),
                cmocka_unit_test(test_pid_file_stale),
                cmocka_unit_test(test_pid_file_names_the_package),
                cmocka_unit_test(test_pid_file_bad),
                cmocka_unit_test(test_pid_file_missing_and_dead),
                cmocka_unit_test(test_pid_option),
                cmocka_unit_test(test_signal_pidfd),
                cmocka_unit_test(test_signal_kill),
                cmocka_unit_test(test_alive_until_exit),
                cmocka_unit_test(test_alive_zombie_through_pidfd),
                cmocka_unit_test(test_default_log),
                cmocka_unit_test(test_rpc),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
