/* bufferdir.c — file-buffer chunks (stub: being written). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bufferdir.h"

void chunk_list_done(struct chunk_list *l) { free(l->v); l->v = NULL; l->n = l->cap = 0; }
const struct chunk_file *chunk_list_find(const struct chunk_list *l, const char *id) {
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i].id, id) == 0)
                        return &l->v[i];
        return NULL;
}
int bufdir_scan(const char *path, struct chunk_list *out, int *workers_seen) { (void)path; (void)out; *workers_seen = 0; return -ENOSYS; }
int bufwatch_new(char *const *paths, size_t n_paths, struct bufwatch **ret) { (void)paths; (void)n_paths; *ret = NULL; return -ENOSYS; }
int bufwatch_fd(const struct bufwatch *w) { (void)w; return -1; }
int bufwatch_process(struct bufwatch *w, struct chunk_list *present) { (void)w; (void)present; return -ENOSYS; }
void bufwatch_free(struct bufwatch *w) { (void)w; }
