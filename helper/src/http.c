/* http.c — libcurl wrapper (stub: being written). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int http_do(const struct http_request *req, struct http_response *resp) { (void)req; memset(resp, 0, sizeof *resp); return -ENOSYS; }
void http_response_done(struct http_response *resp) { free(resp->body); resp->body = NULL; }
int http_global_init(void) { return 0; }
void http_global_cleanup(void) {}
