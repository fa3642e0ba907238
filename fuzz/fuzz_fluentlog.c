/* fuzz_fluentlog.c — libFuzzer target for fl_parse_line(): any bytes, every format; the invariants the
 * state machine relies on are checked on every accepted line. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fluentlog.h"

static bool lhex32(const char *s) {
        if (strlen(s) != FL_CHUNK_ID_LEN)
                return false;
        for (int i = 0; i < FL_CHUNK_ID_LEN; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static bool has_control(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
                        return true;
        return false;
}

#define CHECK(x)                \
        do {                    \
                if (!(x))       \
                        abort(); \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* An exact-size heap copy, so that any read past `size` is caught by ASan. */
        char *line = malloc(size ? size : 1);
        if (!line)
                return 0;
        memcpy(line, data, size);

        for (int fmt = FL_FORMAT_AUTO; fmt <= FL_FORMAT_JSON; fmt++) {
                struct fl_event ev;
                memset(&ev, 0xa5, sizeof ev); /* garbage in: the parser must reset what it reports */
                int r = fl_parse_line(line, size, (enum fl_format)fmt, &ev);
                CHECK(r == 0 || r == -EBADMSG || r == -E2BIG);
                CHECK((unsigned)ev.kind < _FL_KIND_MAX);
                CHECK(memchr(ev.plugin_id, 0, sizeof ev.plugin_id) && memchr(ev.chunk_id, 0, sizeof ev.chunk_id) &&
                      memchr(ev.key, 0, sizeof ev.key) && memchr(ev.next_retry_time, 0, sizeof ev.next_retry_time) &&
                      memchr(ev.error, 0, sizeof ev.error));
                if (r < 0) {
                        CHECK(ev.kind == FL_NONE && ev.chunk_id[0] == '\0' && ev.key[0] == '\0');
                        continue;
                }
                /* Accepted lines never hold raw control characters. */
                CHECK(!has_control(line, size));
                CHECK(!has_control(ev.key, strlen(ev.key)) && !has_control(ev.plugin_id, strlen(ev.plugin_id)));
                CHECK(ev.worker >= -1 && ev.worker <= 99999);
                if (ev.chunk_id[0])
                        CHECK(lhex32(ev.chunk_id));
                switch (ev.kind) {
                case FL_WRITE:
                case FL_COMPLETED:
                        CHECK(lhex32(ev.chunk_id) && strncmp(ev.key, "s3://", 5) == 0 && strchr(ev.key + 5, '/'));
                        break;
                case FL_CHUNK_CREATED:
                case FL_FLUSH_FAILED:
                case FL_SECONDARY_FAILED:
                case FL_TAKE_BACK:
                case FL_RETRY_SUCCEEDED:
                case FL_RETRY_SUCCEEDED_SECONDARY:
                case FL_BACKUP:
                case FL_EVACUATED:
                case FL_THROWN_AWAY:
                case FL_OVERFLOW_DROP:
                        CHECK(lhex32(ev.chunk_id) && ev.key[0] == '\0');
                        break;
                case FL_NONE:
                case FL_CONTINUATION:
                        CHECK(ev.chunk_id[0] == '\0' && ev.key[0] == '\0' && ev.error[0] == '\0');
                        break;
                default:
                        CHECK(ev.chunk_id[0] == '\0' && ev.key[0] == '\0');
                        break;
                }
        }
        free(line);
        return 0;
}
