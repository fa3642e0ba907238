/* fuzz_monitor.c — libFuzzer target for mon_parse() and mon_worker_url(): any bytes; on success the
 * snapshot is bounded and terminated, on failure it is empty. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"

#define CHECK(x)                \
        do {                    \
                if (!(x))       \
                        abort(); \
        } while (0)

static struct mon_snapshot snap;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *body = malloc(size + 1);
        if (!body)
                return 0;
        memcpy(body, data, size);
        body[size] = '\0';

        memset(&snap, 0xa5, sizeof snap);
        int r = mon_parse(body, size, &snap);
        CHECK(r == 0 || r == -EBADMSG || r == -E2BIG || r == -EMSGSIZE);
        if (r < 0)
                CHECK(snap.n_outputs == 0);
        else {
                CHECK(snap.n_outputs <= MON_MAX_OUTPUTS);
                for (size_t i = 0; i < snap.n_outputs; i++) {
                        const struct mon_output *o = &snap.outputs[i];
                        CHECK(memchr(o->plugin_id, 0, sizeof o->plugin_id) && memchr(o->type, 0, sizeof o->type) &&
                              memchr(o->retry_next_time, 0, sizeof o->retry_next_time) &&
                              memchr(o->buffer_path, 0, sizeof o->buffer_path));
                        CHECK(o->plugin_id[0] != '\0');
                        CHECK(o->buffer_queue_length >= -1 && o->buffer_queue_byte_size >= -1 &&
                              o->retry_count >= -1 && o->write_count >= -1);
                        CHECK(!o->retry_pending || o->has_retry);
                        (void)mon_output_targeted(o, NULL);
                }
        }

        /* The same bytes as a base URL (up to the first NUL), worker from the first byte. */
        char out[128];
        int worker = size ? data[0] % 8 : 0;
        r = mon_worker_url(body, worker, out, sizeof out);
        CHECK(r == 0 || r == -EINVAL || r == -ENOBUFS);
        if (r == 0)
                CHECK(memchr(out, 0, sizeof out) && (strncmp(out, "http://", 7) == 0 || strncmp(out, "https://", 8) == 0));
        free(body);
        return 0;
}
