/* awscreds.c — instance-role credentials: IMDS security-credentials → role → keys, refreshed before
 * Expiration, never logged, wiped when dropped. */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "awscreds.h"
#include "log.h"
#include "macro.h"

struct awscreds {
        struct imds *imds;
        char role[129];
        struct aws_creds cur;
        bool have;
        unsigned fetches;
};

void aws_creds_wipe(struct aws_creds *c) {
        if (c)
                explicit_bzero(c, sizeof *c);
}

/* jansson copies every string it parses: while a credentials document is alive, its allocations are
 * wiped before they go back to the heap. */
static void wiping_free(void *p) {
        if (!p)
                return;
        explicit_bzero(p, malloc_usable_size(p));
        free(p);
}

static bool key_chars_ok(const char *s, size_t max, bool colon_ok) {
        size_t n = strlen(s);
        if (n == 0 || n >= max)
                return false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c <= 0x20 || c >= 0x7f || (c == ':' && !colon_ok))
                        return false;
        }
        return true;
}

static int parse_locked(const char *json, size_t len, struct aws_creds *ret) {
        json_error_t e;
        json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
        const char *code, *akid, *secret, *token, *exp;
        int r = -EBADMSG;

        if (!j || !json_is_object(j))
                goto out;
        code = json_string_value(json_object_get(j, "Code"));
        if (code && strcmp(code, "Success") != 0) {
                log_debug("awscreds: credentials document says Code=%.64s", key_chars_ok(code, 65, true) ? code : "?");
                goto out;
        }
        akid = json_string_value(json_object_get(j, "AccessKeyId"));
        secret = json_string_value(json_object_get(j, "SecretAccessKey"));
        token = json_string_value(json_object_get(j, "Token"));
        exp = json_string_value(json_object_get(j, "Expiration"));
        /* No colon in the key pair: it becomes CURLOPT_USERPWD "AKID:SECRET". */
        if (!akid || !key_chars_ok(akid, sizeof ret->access_key_id, false) ||
            !secret || !key_chars_ok(secret, sizeof ret->secret_access_key, false))
                goto out;
        if (token && *token && !key_chars_ok(token, sizeof ret->token, true))
                goto out;
        if (exp && imds_parse_time(exp, &ret->expiration) < 0)
                goto out;
        if (!exp && token && *token)
                goto out;  /* temporary credentials without an expiry cannot be refreshed in time */
        snprintf(ret->access_key_id, sizeof ret->access_key_id, "%s", akid);
        snprintf(ret->secret_access_key, sizeof ret->secret_access_key, "%s", secret);
        snprintf(ret->token, sizeof ret->token, "%s", token ? token : "");
        r = 0;
out:
        json_decref(j);
        return r;
}

int aws_creds_parse(const char *json, size_t len, struct aws_creds *ret) {
        json_malloc_t old_malloc;
        json_free_t old_free;
        int r;

        aws_creds_wipe(ret);
        json_get_alloc_funcs(&old_malloc, &old_free);
        json_set_alloc_funcs(malloc, wiping_free);
        r = parse_locked(json, len, ret);
        json_set_alloc_funcs(old_malloc, old_free);
        if (r < 0)
                aws_creds_wipe(ret);
        return r;
}

int awscreds_new(struct imds *m, struct awscreds **ret) {
        struct awscreds *p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        p->imds = m;
        *ret = p;
        return 0;
}

void awscreds_invalidate(struct awscreds *p) {
        aws_creds_wipe(&p->cur);
        p->have = false;
}

void awscreds_free(struct awscreds *p) {
        if (!p)
                return;
        aws_creds_wipe(&p->cur);
        free(p);
}

unsigned awscreds_fetches(const struct awscreds *p) { return p->fetches; }

static int find_role(struct awscreds *p) {
        _cleanup_(freep) char *list = NULL;
        int r = imds_get(p->imds, "/latest/meta-data/iam/security-credentials/", 4096, &list);
        if (r == -ENOENT)
                return -ENOENT;  /* no instance profile */
        if (r < 0)
                return r == -EMSGSIZE ? -EBADMSG : r;
        size_t n = strcspn(list, "\r\n");
        list[n] = '\0';
        if (n == 0 || n >= sizeof p->role ||
            list[strspn(list, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+=,.@_-")] != '\0')
                return -EBADMSG;
        memcpy(p->role, list, n + 1);
        return 0;
}

static int fetch(struct awscreds *p) {
        char path[256];
        char *doc = NULL;
        struct aws_creds c;
        int r;

        if (!p->role[0]) {
                r = find_role(p);
                if (r < 0)
                        return r;
        }
        snprintf(path, sizeof path, "/latest/meta-data/iam/security-credentials/%s", p->role);
        r = imds_get(p->imds, path, AWSCREDS_MAX_JSON, &doc);
        if (r == -ENOENT)
                p->role[0] = '\0';  /* the role changed: look it up again next time */
        if (r < 0)
                return r == -EMSGSIZE ? -EBADMSG : r;
        r = aws_creds_parse(doc, strlen(doc), &c);
        explicit_bzero(doc, strlen(doc));
        free(doc);
        if (r < 0)
                return r;
        aws_creds_wipe(&p->cur);
        p->cur = c;
        aws_creds_wipe(&c);
        p->have = true;
        p->fetches++;
        log_debug("awscreds: credentials of role %s, valid until %lld", p->role, (long long)p->cur.expiration);
        return 0;
}

int awscreds_get(struct awscreds *p, int64_t now, const struct aws_creds **ret) {
        bool stale = !p->have || (p->cur.expiration > 0 && p->cur.expiration - AWSCREDS_REFRESH_S <= now);

        if (stale) {
                int r = fetch(p);
                if (r < 0) {
                        /* Keys that are merely close to expiry still work: use them rather than fail. */
                        if (p->have && p->cur.expiration > now + 10) {
                                log_debug("awscreds: refresh failed (%s), using the current keys", strerror(-r));
                                *ret = &p->cur;
                                return 0;
                        }
                        return r;
                }
                if (p->cur.expiration > 0 && p->cur.expiration <= now)
                        return -EBADMSG;  /* IMDS served expired keys: a clock or service problem */
        }
        *ret = &p->cur;
        return 0;
}
