/* ffsizes.c — the sizes behind the helper's per-chunk memory, for the footprint part of the benchmark. */
#include <stdio.h>

#include "bufferdir.h"
#include "flush.h"

int main(void) {
        printf("{\"flush_chunk\": %zu, \"chunk_file\": %zu, \"flush_output\": %zu, \"fl_event\": %zu}\n",
               sizeof(struct flush_chunk), sizeof(struct chunk_file), sizeof(struct flush_output),
               sizeof(struct fl_event));
        return 0;
}
