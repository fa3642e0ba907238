/* test_awscreds.c — the security-credentials document parser (and the IMDS item parsers it relies on). */
#include "unit.h"

#include <errno.h>

#include "awscreds.h"
#include "imds.h"

static const char doc[] =
        "{\n"
        "  \"Code\" : \"Success\",\n"
        "  \"LastUpdated\" : \"2026-12-04T20:00:00Z\",\n"
        "  \"Type\" : \"AWS-HMAC\",\n"
        "  \"AccessKeyId\" : \"ASIAFLUENTFLUSHTEST1\",\n"
        "  \"SecretAccessKey\" : \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\",\n"
        "  \"Token\" : \"IQoJb3JpZ2luX2VjEHMaCXVzLWVhc3QtMSJHMEUCIQ==\",\n"
        "  \"Expiration\" : \"2026-12-05T02:14:13Z\"\n"
        "}\n";

static void test_parse(void **state) {
        (void)state;
        struct aws_creds c;
        assert_int_equal(aws_creds_parse(doc, strlen(doc), &c), 0);
        assert_string_equal(c.access_key_id, "ASIAFLUENTFLUSHTEST1");
        assert_string_equal(c.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_string_equal(c.token, "IQoJb3JpZ2luX2VjEHMaCXVzLWVhc3QtMSJHMEUCIQ==");
        assert_int_equal(c.expiration, 1796436853);   /* date -d 2026-12-05T02:14:13Z +%s */
        aws_creds_wipe(&c);
        for (size_t i = 0; i < sizeof c; i++)
                assert_int_equal(((unsigned char *)&c)[i], 0);
}

static void test_rejects(void **state) {
        (void)state;
        static const char *const bad[] = {
                "",
                "null",
                "[]",
                "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-12-05T02:14:13Z\"}",
                "{\"Code\":\"Success\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-12-05T02:14:13Z\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A:B\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-12-05T02:14:13Z\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S S\",\"Token\":\"T\",\"Expiration\":\"2026-12-05T02:14:13Z\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\\r\\nX-Evil: 1\",\"Expiration\":\"2026-12-05T02:14:13Z\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"tomorrow\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\"}",
                "{\"Code\":\"Success\",\"AccessKeyId\":1,\"SecretAccessKey\":\"S\",\"Token\":\"T\",\"Expiration\":\"2026-12-05T02:14:13Z\"}",
                "{\"AccessKeyId\":\"A\",\"AccessKeyId\":\"B\",\"SecretAccessKey\":\"S\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct aws_creds c;
                memset(&c, 'x', sizeof c);
                assert_int_equal(aws_creds_parse(bad[i], strlen(bad[i]), &c), -EBADMSG);
                assert_string_equal(c.access_key_id, "");   /* wiped on failure */
                assert_string_equal(c.secret_access_key, "");
        }
        /* Every truncation of a good document is refused, never half-read. */
        for (size_t len = 0; len + 2 < strlen(doc); len++) {
                struct aws_creds c;
                assert_int_equal(aws_creds_parse(doc, len, &c), -EBADMSG);
        }
        /* Long-term keys (no token, no expiry) are accepted. */
        const char *lt = "{\"AccessKeyId\":\"AKIAX\",\"SecretAccessKey\":\"S\"}";
        struct aws_creds c;
        assert_int_equal(aws_creds_parse(lt, strlen(lt), &c), 0);
        assert_string_equal(c.token, "");
        assert_int_equal(c.expiration, 0);
}

static void test_oversized_token(void **state) {
        (void)state;
        size_t n = sizeof(((struct aws_creds *)0)->token) + 10;
        char *j = malloc(n + 200);
        assert_non_null(j);
        int o = sprintf(j, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"2026-12-05T02:14:13Z\",\"Token\":\"");
        memset(j + o, 'T', n);
        strcpy(j + o + n, "\"}");
        struct aws_creds c;
        assert_int_equal(aws_creds_parse(j, strlen(j), &c), -EBADMSG);
        free(j);
}

static void test_time(void **state) {
        (void)state;
        int64_t t;
        assert_int_equal(imds_parse_time("1970-01-01T00:00:00Z", &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(imds_parse_time("2017-09-18T08:22:00Z", &t), 0);
        assert_int_equal(t, 1505722920);
        assert_int_equal(imds_parse_time("2017-09-18T08:22:00.123Z", &t), 0);
        assert_int_equal(t, 1505722920);
        assert_int_equal(imds_parse_time("2017-09-18T08:22:00+00:00", &t), 0);
        static const char *const bad[] = { "", "2017-09-18", "2017-09-18T08:22:00", "2017-13-18T08:22:00Z",
                                           "2017-09-18T24:22:00Z", "2017-09-18T08:22:00Zjunk", "2017-09-18 08:22:00Z",
                                           "2017-09-18T08:22:00.Z", "+017-09-18T08:22:00Z" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(imds_parse_time(bad[i], &t), -EINVAL);
        assert_int_equal(imds_parse_time(NULL, &t), -EINVAL);
}

static void test_spot(void **state) {
        (void)state;
        struct imds_spot s;
        const char *j = "{\"action\": \"terminate\", \"time\": \"2017-09-18T08:22:00Z\"}";
        assert_int_equal(imds_spot_parse(j, strlen(j), &s), 0);
        assert_string_equal(s.action, "terminate");
        assert_int_equal(s.time, 1505722920);
        j = "{\"action\": \"stop\"}";
        assert_int_equal(imds_spot_parse(j, strlen(j), &s), 0);
        assert_string_equal(s.action, "stop");
        assert_int_equal(s.time, 0);
        static const char *const bad[] = { "", "terminate", "{}", "{\"action\": 1}", "{\"action\": \"\"}",
                                           "{\"action\": \"terminate now\"}", "{\"action\": \"aaaaaaaaaaaaaaaaaaaaaaa\"}" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(imds_spot_parse(bad[i], strlen(bad[i]), &s), -EBADMSG);
}

static void test_imds_config(void **state) {
        (void)state;
        struct imds *m = NULL;
        assert_int_equal(imds_new(&(struct imds_config){ .base_url = "ftp://x" }, &m), -EINVAL);
        assert_int_equal(imds_new(&(struct imds_config){ .base_url = "" }, &m), -EINVAL);
        assert_int_equal(imds_new(&(struct imds_config){ .token_ttl_s = 21601 }, &m), -EINVAL);
        assert_int_equal(imds_new(NULL, &m), 0);
        assert_int_equal(imds_requests(m), 0);
        char *v = NULL;
        assert_int_equal(imds_get(m, "no-slash", 0, &v), -EINVAL);
        assert_int_equal(imds_tag(m, "bad key with spaces", &v), -EINVAL);
        assert_int_equal(imds_tag(m, "../../iam/security-credentials", &v), -EINVAL);
        assert_null(v);
        assert_int_equal(imds_requests(m), 0);   /* refused before any request */
        imds_free(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_rejects),
                cmocka_unit_test(test_oversized_token),
                cmocka_unit_test(test_time),
                cmocka_unit_test(test_spot),
                cmocka_unit_test(test_imds_config),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
