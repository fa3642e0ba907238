/* logtail.c — follow a log file (stub: being written). */
#include <errno.h>

#include "logtail.h"

int logtail_open(const char *path, bool from_end, struct logtail **ret) { (void)path; (void)from_end; *ret = NULL; return -ENOSYS; }
int logtail_fd(const struct logtail *t) { (void)t; return -1; }
int logtail_read(struct logtail *t, logtail_line_cb cb, void *userdata) { (void)t; (void)cb; (void)userdata; return -ENOSYS; }
unsigned logtail_rotations(const struct logtail *t) { (void)t; return 0; }
unsigned logtail_truncations(const struct logtail *t) { (void)t; return 0; }
void logtail_free(struct logtail *t) { (void)t; }
