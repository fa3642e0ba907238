/* macro.h — cleanup attributes, printf checking and small helpers shared by every module. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _warn_unused_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand a pointer / fd over to someone else: the cleanup handler then sees NULL / -1. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

/* `type` is a type name: it cannot be parenthesised (NOLINT below) */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)        \
        static inline void func##p(type *p) { /* NOLINT(bugprone-macro-parentheses) */ \
                if (*p)                                \
                        func(*p);                      \
        }

/* Copy at most size-1 bytes of src (len bytes, not necessarily terminated) into dst, terminated. */
static inline void strncpy0(char *dst, size_t size, const char *src, size_t len) {
        if (size == 0)
                return;
        if (len >= size)
                len = size - 1;
        for (size_t i = 0; i < len; i++)
                dst[i] = src[i];
        dst[len] = '\0';
}
