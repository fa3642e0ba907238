/* awscreds.h — the instance role's temporary credentials from IMDS, refreshed before they expire and
 * wiped from memory when dropped. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "imds.h"
#include "macro.h"

#define AWSCREDS_REFRESH_S 300          /* fetch new credentials 5 minutes before Expiration */
#define AWSCREDS_MAX_JSON ((size_t)16 * 1024)

struct aws_creds {
        char access_key_id[128];
        char secret_access_key[128];
        char token[8192];               /* session token; "" for long-term keys */
        int64_t expiration;             /* Unix seconds; 0 when the document gave none */
};

/* The security-credentials/<role> document: {"Code": "Success", "AccessKeyId", "SecretAccessKey",
 * "Token", "Expiration"} → *ret. 0; -EBADMSG for anything else (a non-"Success" Code, missing or
 * oversized fields, characters that cannot be in a key). Never logs a value. */
int aws_creds_parse(const char *json, size_t len, struct aws_creds *ret);
/* explicit_bzero the whole structure. */
void aws_creds_wipe(struct aws_creds *c);

struct awscreds;

/* A provider reading from m (not owned; must outlive the provider). No request yet. */
int awscreds_new(struct imds *m, struct awscreds **ret);
/* The current credentials: fetched on first use, re-fetched when they expire within
 * AWSCREDS_REFRESH_S (now = wall-clock Unix seconds) or after awscreds_invalidate().
 * 0; -ENOENT when the instance has no role; -EHOSTUNREACH/-EACCES from IMDS; -EBADMSG. */
int awscreds_get(struct awscreds *p, int64_t now, const struct aws_creds **ret);
/* Forget the current credentials (the service said they expired). */
void awscreds_invalidate(struct awscreds *p);
/* How many times credentials were fetched. */
unsigned awscreds_fetches(const struct awscreds *p);
void awscreds_free(struct awscreds *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct awscreds *, awscreds_free)
