/*
 * The fd headroom: see dmab_fd_limit_get. RLIMIT_NOFILE is the process's, so
 * this is too, and it is read at every check: an embedder may raise it later.
 */
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "alloc/alloc.h"

enum {
	HEADROOM_MIN = 32,
	HEADROOM_MAX = 4096,
	HEADROOM_SHARE = 8, /* an eighth of the limit */
};

void dmab_fd_limit_get(struct dmab_fd_limit *out)
{
	struct rlimit rl;
	*out = (struct dmab_fd_limit){ .limit = UINT64_MAX, .line = UINT64_MAX };
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) {
		return;
	}
	uint64_t headroom = rl.rlim_cur / HEADROOM_SHARE;
	if (headroom < HEADROOM_MIN) {
		headroom = HEADROOM_MIN;
	} else if (headroom > HEADROOM_MAX) {
		headroom = HEADROOM_MAX;
	}
	out->limit = rl.rlim_cur;
	out->headroom = headroom;
	out->line = rl.rlim_cur > headroom ? rl.rlim_cur - headroom : 0;
}

int dmab_fd_check_headroom(int fd)
{
	if (fd < 0) {
		return fd;
	}
	struct dmab_fd_limit limit;
	dmab_fd_limit_get(&limit);
	if ((uint64_t)fd < limit.line) {
		return fd;
	}
	close(fd);
	return -EMFILE;
}
