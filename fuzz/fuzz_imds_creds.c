/* fuzz_imds_creds.c — libFuzzer target: aws_creds_parse() and the IMDS spot-notice parser on arbitrary
 * bytes. Invariants: 0 or -EBADMSG; on success the keys are non-empty, terminated, free of white space and
 * control characters (they become CURLOPT_USERPWD and an HTTP header) and the key pair has no ':';
 * on failure the structure is wiped. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "awscreds.h"
#include "imds.h"

static void check_key(const char *k, size_t size, int allow_empty, int allow_colon) {
        size_t n = strnlen(k, size);
        if (n >= size || (n == 0 && !allow_empty))
                abort();
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)k[i];
                if (c <= 0x20 || c >= 0x7f || (c == ':' && !allow_colon))
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *copy = malloc(size ? size : 1);
        struct aws_creds c;
        struct imds_spot s;

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        memset(&c, 0x5a, sizeof c);
        int r = aws_creds_parse(copy, size, &c);
        if (r == 0) {
                check_key(c.access_key_id, sizeof c.access_key_id, 0, 0);
                check_key(c.secret_access_key, sizeof c.secret_access_key, 0, 0);
                check_key(c.token, sizeof c.token, 1, 1);
                if (c.token[0] && c.expiration == 0)
                        abort();
        } else if (r == -EBADMSG) {
                for (size_t i = 0; i < sizeof c; i++)
                        if (((unsigned char *)&c)[i] != 0)
                                abort();
        } else
                abort();
        aws_creds_wipe(&c);

        r = imds_spot_parse(copy, size, &s);
        if (r != 0 && r != -EBADMSG)
                abort();
        if (r == 0 && (s.action[0] == '\0' || strnlen(s.action, sizeof s.action) >= sizeof s.action))
                abort();
        free(copy);
        return 0;
}
