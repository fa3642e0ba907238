/* fuzz_asg_xml.c — libFuzzer target: asg_parse_error() on arbitrary bytes (no terminator, any length).
 * Invariants: never reads outside the input, returns 0 or -EBADMSG, fields are terminated printable ASCII,
 * and a success has a non-empty code. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoscaling.h"

static void check_field(const char *f, size_t size) {
        size_t n = strnlen(f, size);
        if (n >= size)
                abort();
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)f[i] < 0x20 || (unsigned char)f[i] >= 0x7f)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* An exact-size heap copy: ASan flags any read past the end. */
        char *copy = malloc(size ? size : 1);
        struct asg_error e;

        if (!copy)
                return 0;
        memcpy(copy, data, size);
        memset(&e, 0xa5, sizeof e);
        e.status = 418;
        int r = asg_parse_error(copy, size, &e);
        if (r != 0 && r != -EBADMSG)
                abort();
        if (e.status != 418)
                abort();
        check_field(e.type, sizeof e.type);
        check_field(e.code, sizeof e.code);
        check_field(e.message, sizeof e.message);
        check_field(e.request_id, sizeof e.request_id);
        if (r == 0 && e.code[0] == '\0')
                abort();
        if (r < 0 && (e.code[0] || e.message[0] || e.type[0]))
                abort();
        free(copy);
        return 0;
}
