/* watch.h — helpers of `fluent-flush watch` (run_watch() itself is declared in run.h) shared with lifecycle.c. */
#pragma once

#include <stdbool.h>

#include "imds.h"

#define WATCH_GROUP_TAG "aws:autoscaling:groupName"

/* The Auto Scaling group name: asg when given, else the instance tag aws:autoscaling:groupName read from
 * IMDS. 0 and *ret (malloc'd), *from_tag; -ENOENT when there is no such tag (instance tags in metadata
 * not enabled); -EBADMSG when the tag is not a group name; other -errno from imds_get(). */
int watch_group_name(struct imds *m, const char *asg, char **ret, bool *from_tag);
