/* loopback_httpd.h — a tiny HTTP server for the unit tests: forked children on 127.0.0.1:<ephemeral>,
 * canned replies chosen by the request path (the RPC endpoint, monitor_agent, plain HTTP cases). Include once per test program; call httpd_start() in the
 * group setup and httpd_stop() in the group teardown. */
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"

static pid_t httpd_pid = -1;
static int httpd_port;
static int httpd_closed_fd = -1;      /* bound, never listening: connecting to it is refused */
static int httpd_closed_port;
static char httpd_base[64];

/* ---- the server (runs in forked children, never returns) ---- */

static void write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w <= 0)
                        _exit(0);
                p += w;
                n -= (size_t)w;
        }
}

static void reply(int fd, int status, const char *extra_headers, const char *body, size_t len) {
        char head[512];
        int n = snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                         status, len, extra_headers ? extra_headers : "");
        write_all(fd, head, (size_t)n);
        write_all(fd, body, len);
}

/* The reply Fluentd 1.16 (WEBrick) really gave, recorded in the fixtures: head + Content-Length bytes. */
static void replay_rpc_fixture(int fd) {
        static char raw[4096];
        int f = open(FIXTURES "/fluentd/2-rpc-flush/rpc_response.txt", O_RDONLY | O_CLOEXEC);
        ssize_t n = f >= 0 ? read(f, raw, sizeof raw - 1) : -1;
        if (n <= 0)
                _exit(1);   /* no reply at all: the test fails */
        raw[n] = '\0';
        char *end = strstr(raw, "\r\n\r\n");
        const char *cl = strcasestr(raw, "\r\nContent-Length:");
        if (!end || !cl)
                _exit(1);
        size_t len = (size_t)(end + 4 - raw) + strtoul(cl + 17, NULL, 10);
        write_all(fd, raw, MIN(len, (size_t)n));
}

/* monitor_agent's reply recorded in a real run: S3 down, a retry pending. */
static void reply_monitor_fixture(int fd) {
        static char body[65536];
        size_t n = 0;
        int f = open(FIXTURES "/fluentd/3-s3-down-debug/monitor_down_plus10s.json", O_RDONLY | O_CLOEXEC);
        if (f < 0)
                _exit(1);
        for (ssize_t r; n < sizeof body && (r = read(f, body + n, sizeof body - n)) > 0;)
                n += (size_t)r;
        close(f);
        reply(fd, 200, "Content-Type: application/json\r\n", body, n);
}

/* GET <prefix>/api/plugins.json: monitor_agent, its failures chosen by the prefix. */
static void serve_monitor(int fd, const char *path, size_t pre) {
        if (pre == 0 || (pre == 7 && strncmp(path, "/prefix", 7) == 0))
                reply_monitor_fixture(fd);
        else if (strncmp(path, "/e500/", 6) == 0)
                reply(fd, 500, NULL, "{\"plugins\":[]}", 14);
        else if (strncmp(path, "/garbage/", 9) == 0)
                reply(fd, 200, NULL, "<html>ok</html>", 15);
        else if (strncmp(path, "/big/", 5) == 0) {
                size_t n = 4 * 1024 * 1024 + 1;      /* one byte over mon_fetch()'s cap */
                char *big = malloc(n);
                if (!big)
                        _exit(1);
                memset(big, ' ', n);
                memcpy(big, "{\"plugins\":[]}", 14);
                reply(fd, 200, NULL, big, n);
                free(big);
        } else if (strncmp(path, "/hang/", 6) == 0) {
                for (;;)
                        pause();
        } else
                reply(fd, 404, NULL, "no", 2);
}

static void serve_one(int fd) {
        static char req[65536];
        size_t len = 0, need = 0;
        char *end = NULL;

        /* Read the head, then Content-Length bytes of body. */
        for (;;) {
                ssize_t r = read(fd, req + len, sizeof req - 1 - len);
                if (r <= 0)
                        _exit(0);
                len += (size_t)r;
                req[len] = 0;
                if (!end && (end = strstr(req, "\r\n\r\n"))) {
                        const char *cl = strcasestr(req, "\r\nContent-Length:");
                        need = (size_t)(end + 4 - req) + (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
                }
                if (end && len >= need)
                        break;
                if (len == sizeof req - 1)
                        _exit(0);
        }

        char path[256] = "";
        if (sscanf(req, "%*s %255s", path) != 1)
                _exit(0);

        const char *mon = strstr(path, "/api/plugins.json");
        const char *api = strstr(path, "/api/plugins.flushBuffers");
        if (mon && mon[17] == '\0') {
                serve_monitor(fd, path, (size_t)(mon - path));
        } else if (api && api[25] == '\0') {
                size_t pre = (size_t)(api - path);
                if (pre == 0 || (pre == 5 && strncmp(path, "/good", 5) == 0))
                        replay_rpc_fixture(fd);
                else if (strncmp(path, "/e500/", 6) == 0)
                        reply(fd, 500, "Content-Type: application/json\r\n", "{\"ok\":true}", 11);
                else if (strncmp(path, "/false/", 7) == 0)
                        reply(fd, 200, "Content-Type: application/json\r\n", "{\"ok\":false}", 12);
                else if (strncmp(path, "/garbage/", 9) == 0)
                        reply(fd, 200, NULL, "<html>ok</html>", 15);
                else if (strncmp(path, "/big/", 5) == 0) {
                        static char big[10000];
                        memset(big, ' ', sizeof big);
                        memcpy(big, "{\"ok\":true}", 11);
                        reply(fd, 200, NULL, big, sizeof big);
                } else
                        reply(fd, 404, NULL, "no", 2);
        } else if (strcmp(path, "/ok") == 0)
                reply(fd, 200, NULL, "hello", 5);
        else if (strcmp(path, "/rpc-ok") == 0)
                reply(fd, 200, "Content-Type: application/json\r\n", "{\"ok\":true}", 11);
        else if (strcmp(path, "/rpc-500") == 0)
                reply(fd, 500, "Content-Type: application/json\r\n", "{\"ok\":true}", 11);
        else if (strcmp(path, "/redirect") == 0)
                reply(fd, 302, "Location: /ok\r\n", "moved", 5);
        else if (strcmp(path, "/echo") == 0)
                reply(fd, 200, NULL, req, len);
        else if (strncmp(path, "/len/", 5) == 0) {
                /* /len/<n>/cl (Content-Length) or /len/<n>/close (body delimited by the close) */
                char *mode = NULL;
                size_t n = strtoul(path + 5, &mode, 10);
                char *body = malloc(n);
                if (!body)
                        _exit(1);
                memset(body, 'x', n);
                if (strcmp(mode, "/cl") == 0)
                        reply(fd, 200, NULL, body, n);
                else {
                        static const char head[] = "HTTP/1.1 200 X\r\nConnection: close\r\n\r\n";
                        write_all(fd, head, sizeof head - 1);
                        write_all(fd, body, n);
                }
        } else if (strcmp(path, "/hang") == 0) {
                for (;;)
                        pause();
        } else if (strcmp(path, "/drop") == 0) {
                /* close without a byte of reply */
        } else if (strcmp(path, "/reset") == 0) {
                struct linger l = { .l_onoff = 1, .l_linger = 0 };
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        } else if (strcmp(path, "/short") == 0) {
                static const char head[] = "HTTP/1.1 200 X\r\nContent-Length: 100\r\n\r\n0123456789";
                write_all(fd, head, sizeof head - 1);
        } else
                reply(fd, 404, NULL, "no", 2);
        _exit(0);
}

_noreturn_ static void serve(int lfd) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test, even when it crashes */
        if (getppid() == 1)
                _exit(0);
        signal(SIGCHLD, SIG_IGN);        /* connection children reap themselves */
        signal(SIGPIPE, SIG_IGN);
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                pid_t p = fork();
                if (p == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGKILL);
                        close(lfd);
                        serve_one(fd);
                }
                close(fd);
        }
}

static int bind_loopback(int *port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
        *port = ntohs(a.sin_port);
        return fd;
}

static void httpd_start(void) {
        int lfd = bind_loopback(&httpd_port);
        assert_int_equal(listen(lfd, 64), 0);
        httpd_pid = fork();
        assert_true(httpd_pid >= 0);
        if (httpd_pid == 0) {
                setpgid(0, 0);
                serve(lfd);
        }
        setpgid(httpd_pid, httpd_pid);
        close(lfd);
        httpd_closed_fd = bind_loopback(&httpd_closed_port);
        snprintf(httpd_base, sizeof httpd_base, "http://127.0.0.1:%d", httpd_port);
}

static void httpd_stop(void) {
        if (httpd_pid > 0) {
                kill(-httpd_pid, SIGKILL);
                kill(httpd_pid, SIGKILL);
                waitpid(httpd_pid, NULL, 0);
        }
        if (httpd_closed_fd >= 0)
                close(httpd_closed_fd);
        httpd_pid = -1;
        httpd_closed_fd = -1;
}

