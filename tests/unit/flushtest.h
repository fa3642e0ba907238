/* flushtest.h — snapshot and buffer-file helpers shared by the state machine's unit tests. */
#pragma once

#include "unit.h"

#include "flush.h"

static inline void files_init(struct flush *f, int workers) {
        flush_init(f, &(struct flush_config){ .workers = workers, .have_files = true, .have_log = true,
                                              .ack_timeout_ms = 15000 });
}

static inline void add_chunk(struct flush *f, const char *id, int worker, uint64_t bytes, char state) {
        struct chunk_file c = { .worker = worker, .state = state, .bytes = bytes };
        strcpy(c.id, id);
        assert_int_equal(flush_add_chunk(f, &c), 0);
}

/* The chunk files present now: ids[i] with worker 0 and state 'q' unless given as "q:<id>" / "b:<id>". */
static inline void files_present(struct flush *f, const char *const *ids, uint64_t now) {
        struct chunk_list l = {};
        size_t n = 0;
        while (ids && ids[n])
                n++;
        l.v = calloc(n ? n : 1, sizeof *l.v);
        assert_non_null(l.v);
        for (size_t i = 0; i < n; i++) {
                const char *id = ids[i];
                l.v[i].state = 'q';
                if (id[1] == ':') {
                        l.v[i].state = id[0];
                        id += 2;
                }
                strcpy(l.v[i].id, id);
        }
        l.n = l.cap = n;
        flush_on_files(f, &l, now);
        chunk_list_done(&l);
}
