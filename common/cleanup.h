/*
 * Scope-bound cleanup, as in systemd: a variable declared _cleanup_free_ is
 * freed when it leaves scope; TAKE_PTR hands ownership out of such a scope.
 */
#ifndef TB_CLEANUP_H
#define TB_CLEANUP_H

#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void
cleanup_freep(void *p)
{
	free(*(void **)p);
}

static inline void
cleanup_fclosep(FILE **f)
{
	if (*f != NULL)
		fclose(*f);
}

static inline void
cleanup_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_free_ _cleanup_(cleanup_freep)
#define _cleanup_fclose_ _cleanup_(cleanup_fclosep)
#define _cleanup_close_ _cleanup_(cleanup_closep)

#define TAKE_PTR(p)                            \
	({                                     \
		__typeof__(p) take_ptr_ = (p); \
		(p) = NULL;                    \
		take_ptr_;                     \
	})

#define TAKE_FD(fd)                   \
	({                            \
		int take_fd_ = (fd);  \
		(fd) = -1;            \
		take_fd_;             \
	})

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#endif
