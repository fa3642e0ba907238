/* test_autoscaling.c — the ErrorResponse extractor (real, garbage, huge, truncated) and the form body. */
#include "unit.h"

#include <errno.h>

#include "autoscaling.h"

static const char real_validation[] =
        "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">\n"
        "  <Error>\n"
        "    <Type>Sender</Type>\n"
        "    <Code>ValidationError</Code>\n"
        "    <Message>No active Lifecycle Action found with instance ID i-0123456789abcdef0</Message>\n"
        "  </Error>\n"
        "  <RequestId>5c3b1a3e-1a2b-4c5d-8e9f-0a1b2c3d4e5f</RequestId>\n"
        "</ErrorResponse>\n";

/* Parse exactly len bytes from a heap copy with no terminator, so ASan sees any over-read. */
static int parse_exact(const char *xml, size_t len, struct asg_error *e) {
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, xml, len);
        int r = asg_parse_error(copy, len, e);
        free(copy);
        return r;
}

static void test_real_error(void **state) {
        (void)state;
        struct asg_error e = { .status = 400 };
        assert_int_equal(parse_exact(real_validation, strlen(real_validation), &e), 0);
        assert_int_equal(e.status, 400);   /* kept */
        assert_string_equal(e.type, "Sender");
        assert_string_equal(e.code, "ValidationError");
        assert_string_equal(e.message, "No active Lifecycle Action found with instance ID i-0123456789abcdef0");
        assert_string_equal(e.request_id, "5c3b1a3e-1a2b-4c5d-8e9f-0a1b2c3d4e5f");
}

static void test_throttling_and_attributes(void **state) {
        (void)state;
        struct asg_error e;
        const char *x = "<?xml version=\"1.0\"?><ErrorResponse><Error xmlns=\"x\"><Type>Sender</Type>"
                        "<Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_int_equal(parse_exact(x, strlen(x), &e), 0);
        assert_string_equal(e.code, "Throttling");
        assert_string_equal(e.message, "Rate exceeded");
        assert_string_equal(e.request_id, "");
}

static void test_entities_and_sanitising(void **state) {
        (void)state;
        struct asg_error e;
        const char *x = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>  a &lt;b&gt; &amp; &quot;c&quot; "
                        "&apos;d&apos; &#65;&#x42; &#7; &bogus; \x01\xc3\xa9\ttab\nnl  </Message></Error></ErrorResponse>";
        assert_int_equal(parse_exact(x, strlen(x), &e), 0);
        assert_string_equal(e.message, "a <b> & \"c\" 'd' AB ? &bogus; ??? tab nl");
        /* Everything printable ASCII: safe for a terminal and for json_string(). */
        for (const char *p = e.message; *p; p++)
                assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_not_an_error(void **state) {
        (void)state;
        struct asg_error e;
        static const char *const bad[] = {
                "",
                "garbage \x00\xff binary",
                "<CompleteLifecycleActionResponse><CompleteLifecycleActionResult/></CompleteLifecycleActionResponse>",
                "<ErrorResponse><RequestId>x</RequestId></ErrorResponse>",
                "<ErrorResponse><Error><Type>Sender</Type><Message>no code</Message></Error></ErrorResponse>",
                "<ErrorResponse><Error/></ErrorResponse>",
                "<ErrorResponse><Errors><Code>X</Code></Errors></ErrorResponse>",   /* <Errors> is not <Error> */
                "<Error",
                "<Error>",
                "<Error><Code",
                "<Error><Code/></Error>",
                "<<<<>>>><Error <Code>>",
                "{\"__type\":\"Throttling\",\"message\":\"json, not xml\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                memset(&e, 'x', sizeof e);
                e.status = 503;
                assert_int_equal(parse_exact(bad[i], strlen(bad[i]), &e), -EBADMSG);
                assert_int_equal(e.status, 503);
                assert_string_equal(e.code, "");
                assert_string_equal(e.message, "");
        }
        assert_int_equal(asg_parse_error(NULL, 10, &e), -EBADMSG);
}

static void test_every_truncation(void **state) {
        (void)state;
        size_t n = strlen(real_validation);
        const char *code_at = strstr(real_validation, "<Code>") + strlen("<Code>");
        size_t first_ok = (size_t)(code_at - real_validation) + 1;   /* one character of the code */

        for (size_t len = 0; len <= n; len++) {
                struct asg_error e;
                int r = parse_exact(real_validation, len, &e);
                if (len < first_ok) {
                        assert_int_equal(r, -EBADMSG);
                        continue;
                }
                assert_int_equal(r, 0);
                /* What was extracted is a prefix of the real value. */
                assert_true(strncmp(e.code, "ValidationError", strlen(e.code)) == 0);
                assert_true(strncmp(e.message, "No active Lifecycle Action found", MIN(strlen(e.message), 32)) == 0);
        }
}

static void test_huge(void **state) {
        (void)state;
        struct asg_error e;
        size_t big = 4u << 20;
        char *x = malloc(big);
        assert_non_null(x);

        /* A 4 MiB message: cut to the field size. */
        size_t o = (size_t)sprintf(x, "<ErrorResponse><Error><Code>InternalFailure</Code><Message>");
        memset(x + o, 'm', big - o - 64);
        o = big - 64;
        o += (size_t)sprintf(x + o, "</Message></Error></ErrorResponse>");
        assert_int_equal(asg_parse_error(x, o, &e), 0);
        assert_string_equal(e.code, "InternalFailure");
        assert_int_equal(strlen(e.message), sizeof e.message - 1);

        /* An over-long code is cut too. */
        o = (size_t)sprintf(x, "<Error><Code>");
        memset(x + o, 'C', 1000);
        o += 1000;
        o += (size_t)sprintf(x + o, "</Code></Error>");
        assert_int_equal(asg_parse_error(x, o, &e), 0);
        assert_int_equal(strlen(e.code), sizeof e.code - 1);

        /* An <Error> only after the first ASG_MAX_REPLY bytes is not looked for. */
        memset(x, ' ', ASG_MAX_REPLY + 10);
        o = ASG_MAX_REPLY + 10;
        o += (size_t)sprintf(x + o, "<Error><Code>Late</Code></Error>");
        assert_int_equal(asg_parse_error(x, o, &e), -EBADMSG);

        /* Millions of '<' do not make it slow or crash. */
        memset(x, '<', big);
        assert_int_equal(asg_parse_error(x, big, &e), -EBADMSG);
        free(x);
}

static void test_form_encode(void **state) {
        (void)state;
        char *body = NULL;
        const struct asg_param p[] = {
                { "AutoScalingGroupName", "my asg/prod+1~é" },
                { "LifecycleHookName", "on-terminate" },
                { "InstanceId", "i-0123456789abcdef0" },
                { "LifecycleActionToken", NULL },          /* left out */
                { "LifecycleActionResult", "CONTINUE" },
        };
        assert_int_equal(asg_form_encode("CompleteLifecycleAction", p, ELEMENTSOF(p), &body), 0);
        assert_string_equal(body, "Action=CompleteLifecycleAction&Version=2011-01-01"
                                  "&AutoScalingGroupName=my%20asg%2Fprod%2B1~%C3%A9"
                                  "&LifecycleHookName=on-terminate&InstanceId=i-0123456789abcdef0"
                                  "&LifecycleActionResult=CONTINUE");
        free(body);

        const struct asg_param amp[] = { { "AutoScalingGroupName", "a&b=c" } };
        assert_int_equal(asg_form_encode("RecordLifecycleActionHeartbeat", amp, 1, &body), 0);
        assert_string_equal(body, "Action=RecordLifecycleActionHeartbeat&Version=2011-01-01&AutoScalingGroupName=a%26b%3Dc");
        free(body);

        body = NULL;
        assert_int_equal(asg_form_encode("", p, 0, &body), -EINVAL);
        assert_null(body);
        const struct asg_param noname[] = { { "", "x" } };
        assert_int_equal(asg_form_encode("A", noname, 1, &body), -EINVAL);
        assert_null(body);

        /* Bounded: a value that cannot be a group name makes no 8 KiB+ request. */
        char *huge = malloc(5000);
        assert_non_null(huge);
        memset(huge, '/', 4999);
        huge[4999] = '\0';
        const struct asg_param big[] = { { "AutoScalingGroupName", huge } };
        assert_int_equal(asg_form_encode("A", big, 1, &body), -EINVAL);
        assert_null(body);
        free(huge);
}

static void test_endpoint_url(void **state) {
        (void)state;
        char buf[256];
        struct asg_endpoint ep = { .region = "eu-west-1" };
        assert_int_equal(asg_endpoint_url(&ep, buf, sizeof buf), 0);
        assert_string_equal(buf, "https://autoscaling.eu-west-1.amazonaws.com/");
        ep.region = "cn-north-1";
        assert_int_equal(asg_endpoint_url(&ep, buf, sizeof buf), 0);
        assert_string_equal(buf, "https://autoscaling.cn-north-1.amazonaws.com.cn/");
        ep.region = "evil.example.com/x";
        assert_int_equal(asg_endpoint_url(&ep, buf, sizeof buf), -EINVAL);
        ep.url = "http://127.0.0.1:8080/";
        assert_int_equal(asg_endpoint_url(&ep, buf, sizeof buf), 0);
        assert_string_equal(buf, "http://127.0.0.1:8080/");
        assert_int_equal(asg_endpoint_url(&ep, buf, 8), -EINVAL);
}

static void test_call_refuses_bad_input(void **state) {
        (void)state;
        struct asg_error e;
        struct asg_endpoint ep = { .url = "http://127.0.0.1:9/", .region = "us-east-1" };
        struct asg_action a = { .group = "g", .hook = "h" };   /* neither instance id nor token */
        assert_int_equal(asg_record_heartbeat(&ep, NULL, &a, &e), -EINVAL);
        assert_true(strlen(e.message) > 0);
        a.instance_id = "i-0123456789abcdef0";
        assert_int_equal(asg_complete_lifecycle_action(&ep, NULL, &a, "MAYBE", &e), -EINVAL);
        ep.region = "not a region";
        assert_int_equal(asg_call(&ep, NULL, "Action=X", &e), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_error),
                cmocka_unit_test(test_throttling_and_attributes),
                cmocka_unit_test(test_entities_and_sanitising),
                cmocka_unit_test(test_not_an_error),
                cmocka_unit_test(test_every_truncation),
                cmocka_unit_test(test_huge),
                cmocka_unit_test(test_form_encode),
                cmocka_unit_test(test_endpoint_url),
                cmocka_unit_test(test_call_refuses_bad_input),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
