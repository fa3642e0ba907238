/* report.c — exit-code table and the JSON result (stub). */
#include "report.h"
const char *ff_exit_verdict(enum ff_exit e) { (void)e; return "internal"; }
