/* SPDX-License-Identifier: MIT */
#pragma once

/* Small language helpers shared by every module: cleanup attributes, ownership
 * transfer, compile-time checks. Modelled on systemd's macro.h. */

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _packed_ __attribute__((packed))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership of *p to the caller and leave NULL behind, so the cleanup
 * attribute on the source variable does nothing. */
#define TAKE_PTR(p)                               \
        ({                                        \
                __typeof__(p) _tp_ = (p);         \
                (p) = NULL;                       \
                _tp_;                             \
        })

#define TAKE_FD(fd)                               \
        ({                                        \
                int _tf_ = (fd);                  \
                (fd) = -EBADF;                    \
                _tf_;                             \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Define a cleanup helper for a type whose destructor returns NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)   \
        static inline void func##p(type *p) {     \
                if (*p)                           \
                        *p = func(*p);            \
        }

/* errno may be 0 after some libc failures; never return 0 for a failure. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}
