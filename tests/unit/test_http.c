/* test_http.c — http_do() against a tiny HTTP server forked by the test on 127.0.0.1:<ephemeral>. */
#define _GNU_SOURCE
#include "unit.h"

#include <errno.h>
#include <time.h>

#include "http.h"
#include "loopback_httpd.h"

/* ---- helpers ---- */

static int get(const char *path, size_t max_body, long timeout_ms, struct http_response *resp) {
        char url[128];
        snprintf(url, sizeof url, "%s%s", httpd_base, path);
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
        snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", httpd_closed_port);
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
        snprintf(url, sizeof url, "%s/echo", httpd_base);
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
        snprintf(url, sizeof url, "%s/echo", httpd_base);
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
        snprintf(url, sizeof url, "%s/echo", httpd_base);
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
        snprintf(url, sizeof url, "%s/ok", httpd_base);
        struct http_request badmethod = { .url = url, .method = "CONNECT" };
        assert_int_equal(http_do(&badmethod, &resp), -EINVAL);
}

static void test_https(void **state) {
        (void)state;
        char url[128];
        struct http_response resp;
        snprintf(url, sizeof url, "https://127.0.0.1:%d/ok", httpd_port);
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

static int setup(void **state) {
        (void)state;
        assert_int_equal(http_global_init(), 0);
        httpd_start();
        return 0;
}

static int teardown(void **state) {
        (void)state;
        httpd_stop();
        http_global_cleanup();
        return 0;
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
