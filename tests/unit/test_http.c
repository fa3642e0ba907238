/* test_http.c — http_do() against a tiny HTTP server forked by the test on 127.0.0.1:<ephemeral>. */
#define _GNU_SOURCE
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "macro.h"

static pid_t server_pid = -1;
static int server_port;
static int closed_fd = -1;      /* bound, never listening: connecting to it is refused */
static int closed_port;
static char base[64];

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

        if (strcmp(path, "/ok") == 0)
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

static int setup(void **state) {
        (void)state;
        assert_int_equal(http_global_init(), 0);
        int lfd = bind_loopback(&server_port);
        assert_int_equal(listen(lfd, 64), 0);
        server_pid = fork();
        assert_true(server_pid >= 0);
        if (server_pid == 0) {
                setpgid(0, 0);
                serve(lfd);
        }
        setpgid(server_pid, server_pid);
        close(lfd);
        closed_fd = bind_loopback(&closed_port);
        snprintf(base, sizeof base, "http://127.0.0.1:%d", server_port);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        if (server_pid > 0) {
                kill(-server_pid, SIGKILL);
                kill(server_pid, SIGKILL);
                waitpid(server_pid, NULL, 0);
        }
        if (closed_fd >= 0)
                close(closed_fd);
        http_global_cleanup();
        return 0;
}

/* ---- helpers ---- */

static int get(const char *path, size_t max_body, long timeout_ms, struct http_response *resp) {
        char url[128];
        snprintf(url, sizeof url, "%s%s", base, path);
        struct http_request req = { .url = url, .max_body = max_body, .timeout_ms = timeout_ms };
        return http_do(&req, resp);
}

static long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- tests ---- */

static void test_200(void **state) {
        (void)state;
        struct http_response resp;
        assert_int_equal(get("/ok", 0, 0, &resp), 0);
        assert_int_equal(resp.status, 200);
        assert_int_equal(resp.len, 5);
        assert_string_equal(resp.body, "hello");
        http_response_done(&resp);
        assert_null(resp.body);
}

static void test_500_is_a_reply(void **state) {
        (void)state;
        struct http_response resp;
        assert_int_equal(get("/rpc-500", 0, 0, &resp), 0);
        assert_int_equal(resp.status, 500);
        assert_string_equal(resp.body, "{\"ok\":true}");
        http_response_done(&resp);
}

static void test_404_and_no_redirect(void **state) {
        (void)state;
        struct http_response resp;
        assert_int_equal(get("/nothing-here", 0, 0, &resp), 0);
        assert_int_equal(resp.status, 404);
        http_response_done(&resp);
        assert_int_equal(get("/redirect", 0, 0, &resp), 0);
        assert_int_equal(resp.status, 302);   /* not followed */
        assert_string_equal(resp.body, "moved");
        http_response_done(&resp);
}

static void test_body_cap(void **state) {
        (void)state;
        struct http_response resp;
        static const char *const modes[] = { "cl", "close" };
        for (size_t i = 0; i < 2; i++) {
                char path[64];
                snprintf(path, sizeof path, "/len/1000/%s", modes[i]);
                assert_int_equal(get(path, 1000, 0, &resp), 0);     /* exactly the cap is fine */
                assert_int_equal(resp.len, 1000);
                assert_int_equal(resp.body[1000], '\0');
                http_response_done(&resp);
                snprintf(path, sizeof path, "/len/1001/%s", modes[i]);
                assert_int_equal(get(path, 1000, 0, &resp), -EMSGSIZE);
                assert_null(resp.body);
                assert_true(resp.error[0] != '\0');
                http_response_done(&resp);
        }
        /* the default cap is 1 MiB */
        assert_int_equal(get("/len/2000000/close", 0, 0, &resp), -EMSGSIZE);
        http_response_done(&resp);
}

static void test_empty_body(void **state) {
        (void)state;
        struct http_response resp;
        assert_int_equal(get("/len/0/cl", 0, 0, &resp), 0);
        assert_non_null(resp.body);
        assert_int_equal(resp.len, 0);
        assert_string_equal(resp.body, "");
        http_response_done(&resp);
}

static void test_no_listener(void **state) {
        (void)state;
        char url[64];
        struct http_response resp;
        snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", closed_port);
        struct http_request req = { .url = url };
        assert_int_equal(http_do(&req, &resp), -ECONNREFUSED);
        assert_null(resp.body);
        assert_true(resp.error[0] != '\0');
        http_response_done(&resp);
}

static void test_timeout(void **state) {
        (void)state;
        struct http_response resp;
        long t0 = now_ms();
        assert_int_equal(get("/hang", 0, 400, &resp), -ETIMEDOUT);
        long took = now_ms() - t0;
        assert_true(took >= 350);       /* it did wait for the timeout ... */
        assert_true(took < 5000);       /* ... and not forever */
        http_response_done(&resp);
}

static void test_dropped(void **state) {
        (void)state;
        struct http_response resp;
        assert_int_equal(get("/drop", 0, 2000, &resp), -ECONNRESET);
        http_response_done(&resp);
        assert_int_equal(get("/reset", 0, 2000, &resp), -ECONNRESET);
        http_response_done(&resp);
        assert_int_equal(get("/short", 0, 2000, &resp), -ECONNRESET);   /* cut in the body */
        assert_null(resp.body);
        http_response_done(&resp);
}

static void test_post_echo_and_headers(void **state) {
        (void)state;
        char url[128];
        struct http_response resp;
        static const char body[] = "Action=Test&a=1\0binary";
        const char *headers[] = { "X-Test: yes", "X-Other: 2", NULL };
        snprintf(url, sizeof url, "%s/echo", base);
        struct http_request req = {
                .method = "POST", .url = url, .headers = headers, .body = body, .body_len = sizeof body - 1,
        };
        assert_int_equal(http_do(&req, &resp), 0);
        assert_int_equal(resp.status, 200);
        assert_true(strncmp(resp.body, "POST /echo HTTP/1.1\r\n", 21) == 0);
        assert_non_null(strstr(resp.body, "\r\nX-Test: yes\r\n"));
        assert_non_null(strstr(resp.body, "\r\nX-Other: 2\r\n"));
        assert_non_null(strstr(resp.body, "\r\nContent-Length: 22\r\n"));
        /* the body, including the NUL and what follows it, arrives whole */
        assert_true(resp.len > sizeof body - 1);
        assert_memory_equal(resp.body + resp.len - (sizeof body - 1), body, sizeof body - 1);
        http_response_done(&resp);
}

static void test_put_without_body(void **state) {
        (void)state;
        char url[128];
        struct http_response resp;
        snprintf(url, sizeof url, "%s/echo", base);
        struct http_request req = { .method = "PUT", .url = url };
        assert_int_equal(http_do(&req, &resp), 0);
        assert_true(strncmp(resp.body, "PUT /echo HTTP/1.1\r\n", 20) == 0);
        assert_non_null(strstr(resp.body, "\r\nContent-Length: 0\r\n"));
        http_response_done(&resp);
}

static void test_sigv4(void **state) {
        (void)state;
        char url[128];
        struct http_response resp;
        static const char body[] = "Action=RecordLifecycleActionHeartbeat&Version=2011-01-01";
        snprintf(url, sizeof url, "%s/echo", base);
        struct http_request req = {
                .method = "POST", .url = url, .body = body, .body_len = sizeof body - 1,
                .aws_sigv4 = "aws:amz:us-east-1:autoscaling", .userpwd = "AKIDEXAMPLE:wJalrXUtnFEMIsecret",
        };
        assert_int_equal(http_do(&req, &resp), 0);
        const char *auth = strstr(resp.body, "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/");
        assert_non_null(auth);
        const char *eol = strstr(auth + 2, "\r\n");
        assert_non_null(eol);
        char line[512];
        strncpy0(line, sizeof line, auth + 2, (size_t)(eol - auth - 2));
        assert_non_null(strstr(line, "/us-east-1/autoscaling/aws4_request, SignedHeaders="));
        assert_non_null(strstr(line, "Signature="));
        assert_non_null(strstr(resp.body, "\r\nX-Amz-Date: "));
        assert_null(strstr(resp.body, "wJalrXUtnFEMIsecret"));   /* the secret never travels */
        http_response_done(&resp);
}

static void test_bad_urls(void **state) {
        (void)state;
        struct http_response resp;
        const char *bad[] = { "ftp://127.0.0.1/x", "file:///etc/passwd", "http://[::1", "", "gopher://x/" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct http_request req = { .url = bad[i] };
                assert_int_equal(http_do(&req, &resp), -EINVAL);
                assert_null(resp.body);
                http_response_done(&resp);
        }
        struct http_request nourl = { .url = NULL };
        assert_int_equal(http_do(&nourl, &resp), -EINVAL);
        char url[128];
        snprintf(url, sizeof url, "%s/ok", base);
        struct http_request badmethod = { .url = url, .method = "CONNECT" };
        assert_int_equal(http_do(&badmethod, &resp), -EINVAL);
}

static void test_https(void **state) {
        (void)state;
        char url[128];
        struct http_response resp;
        snprintf(url, sizeof url, "https://127.0.0.1:%d/ok", server_port);
        /* a CA file that does not exist: refused before any connection */
        struct http_request missing = { .url = url, .ca_file = REPO_DIR "/no/such/ca.pem" };
        assert_int_equal(http_do(&missing, &resp), -ENOENT);
        assert_true(resp.error[0] != '\0');
        /* TLS to a plain HTTP server: a transfer error (the CA file exists; any readable file will do) */
        struct http_request plain = { .url = url, .ca_file = REPO_DIR "/Makefile", .timeout_ms = 3000 };
        assert_int_equal(http_do(&plain, &resp), -EPROTO);
        http_response_done(&resp);
        /* without ca_file, $SSL_CERT_FILE is the CA bundle; a missing one is an error, not a fallback */
        struct http_request envca = { .url = url };
        assert_int_equal(setenv("SSL_CERT_FILE", REPO_DIR "/no/such/bundle.pem", 1), 0);
        assert_int_equal(http_do(&envca, &resp), -ENOENT);
        assert_int_equal(setenv("SSL_CERT_FILE", REPO_DIR "/Makefile", 1), 0);
        assert_int_equal(http_do(&envca, &resp), -EPROTO);
        http_response_done(&resp);
        assert_int_equal(unsetenv("SSL_CERT_FILE"), 0);
        /* plain http never needs a CA bundle */
        assert_int_equal(setenv("SSL_CERT_FILE", REPO_DIR "/no/such/bundle.pem", 1), 0);
        assert_int_equal(get("/ok", 0, 0, &resp), 0);
        http_response_done(&resp);
        assert_int_equal(unsetenv("SSL_CERT_FILE"), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_200),
                cmocka_unit_test(test_500_is_a_reply),
                cmocka_unit_test(test_404_and_no_redirect),
                cmocka_unit_test(test_body_cap),
                cmocka_unit_test(test_empty_body),
                cmocka_unit_test(test_no_listener),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_dropped),
                cmocka_unit_test(test_post_echo_and_headers),
                cmocka_unit_test(test_put_without_body),
                cmocka_unit_test(test_sigv4),
                cmocka_unit_test(test_bad_urls),
                cmocka_unit_test(test_https),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
