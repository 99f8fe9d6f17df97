/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/fence.h"

/*
 * The broker's end of an exported fence fd, written once on signal.
 *
 * An export is one end of a socketpair, shut for sending: its holder cannot
 * signal it, nor reopen it through /proc (sockets have no open), and the
 * broker's end is a file of its own. An eventfd cannot be made so. The client
 * shares the eventfd's one open file with the broker, so it could write to
 * it, and it could clear O_NONBLOCK and fill the counter so that the broker's
 * own write on signal blocked forever.
 */
struct fence_export {
	struct dmab_list link;
	int fd;
};

struct fence_input {
	struct dmab_fence_cb cb;
	struct dmab_fence *fence; /* a reference until it signals */
	struct fence *owner;
};

struct fence {
	struct dmab_fence base;
	struct fence_input *inputs; /* of a fence made by dmab_fence_create_all */
	int inputs_len;
	int pending;
};

static struct fence *fence_from_base(struct dmab_fence *fence)
{
	return dmab_container_of(fence, struct fence, base);
}

static struct fence *fence_alloc(void)
{
	struct fence *fence = calloc(1, sizeof(*fence));
	if (fence == NULL)
		return NULL;
	fence->base.refcount = 1;
	dmab_list_init(&fence->base.callbacks);
	dmab_list_init(&fence->base.exports);
	return fence;
}

struct dmab_fence *dmab_fence_create(void)
{
	struct fence *fence = fence_alloc();
	return fence != NULL ? &fence->base : NULL;
}

struct dmab_fence *dmab_fence_create_signaled(void)
{
	struct dmab_fence *fence = dmab_fence_create();
	if (fence != NULL)
		fence->signaled = true;
	return fence;
}

static void input_signaled(struct dmab_fence *input_fence, struct dmab_fence_cb *cb)
{
	struct fence_input *input = dmab_container_of(cb, struct fence_input, cb);
	struct fence *owner = input->owner;
	input->fence = NULL;
	dmab_fence_unref(input_fence);
	if (--owner->pending == 0) {
		dmab_fence_signal(&owner->base);
		dmab_fence_unref(&owner->base);
	}
}

struct dmab_fence *dmab_fence_create_all(struct dmab_fence **fences, int len)
{
	struct fence *fence = fence_alloc();
	if (fence == NULL)
		return NULL;
	if (len > 0) {
		fence->inputs = calloc((size_t)len, sizeof(*fence->inputs));
		if (fence->inputs == NULL) {
			free(fence);
			return NULL;
		}
	}
	fence->inputs_len = len;
	for (int i = 0; i < len; i++) {
		struct fence_input *input = &fence->inputs[i];
		input->owner = fence;
		dmab_list_init(&input->cb.link);
		if (dmab_fence_is_signaled(fences[i]))
			continue;
		input->fence = dmab_fence_ref(fences[i]);
		dmab_fence_add_callback(fences[i], &input->cb, input_signaled);
		fence->pending++;
	}
	fence->base.signaled = fence->pending == 0;
	/*
	 * Like dma_fence_array, the pending inputs keep the combined fence alive: a
	 * waiter that only holds its exported eventfd must still see it signal.
	 */
	if (fence->pending > 0)
		dmab_fence_ref(&fence->base);
	return &fence->base;
}

struct dmab_fence *dmab_fence_ref(struct dmab_fence *fence)
{
	fence->refcount++;
	return fence;
}

static void fence_export_free(struct fence_export *export)
{
	dmab_list_remove(&export->link);
	close(export->fd);
	free(export);
}

static void fence_free(struct fence *fence)
{
	for (int i = 0; i < fence->inputs_len; i++) {
		struct fence_input *input = &fence->inputs[i];
		if (input->fence == NULL)
			continue;
		dmab_fence_remove_callback(input->fence, &input->cb);
		dmab_fence_unref(input->fence);
	}
	free(fence->inputs);
	/* Unlinks the callbacks of waiters that never removed theirs, so that they still can. */
	while (!dmab_list_empty(&fence->base.callbacks))
		dmab_list_remove(fence->base.callbacks.next);
	struct fence_export *export, *tmp;
	dmab_list_for_each_safe(export, tmp, &fence->base.exports, link)
		fence_export_free(export);
	free(fence);
}

void dmab_fence_unref(struct dmab_fence *fence)
{
	if (fence == NULL || --fence->refcount > 0)
		return;
	fence_free(fence_from_base(fence));
}

/*
 * Per call, whatever the file's flags: never blocks, and a holder that closed
 * its end gives EPIPE, not SIGPIPE. Failing is harmless: the holder is gone,
 * or its end already has a byte to read.
 */
static void export_signal(int fd)
{
	while (send(fd, "", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EINTR) {
		continue;
	}
}

void dmab_fence_signal(struct dmab_fence *fence)
{
	if (fence->signaled)
		return;
	fence->signaled = true;
	/* A callback may drop the last reference of someone else's. */
	dmab_fence_ref(fence);
	struct fence_export *export, *tmp;
	dmab_list_for_each_safe(export, tmp, &fence->exports, link) {
		export_signal(export->fd);
		fence_export_free(export);
	}
	while (!dmab_list_empty(&fence->callbacks)) {
		struct dmab_fence_cb *cb =
			dmab_container_of(fence->callbacks.next, struct dmab_fence_cb, link);
		dmab_list_remove(&cb->link);
		cb->func(fence, cb);
	}
	dmab_fence_unref(fence);
}

bool dmab_fence_is_signaled(const struct dmab_fence *fence)
{
	return fence->signaled;
}

bool dmab_fence_add_callback(struct dmab_fence *fence, struct dmab_fence_cb *cb,
	dmab_fence_func func)
{
	dmab_list_init(&cb->link);
	cb->func = func;
	if (fence->signaled)
		return false;
	dmab_list_insert(fence->callbacks.prev, &cb->link);
	return true;
}

bool dmab_fence_remove_callback(struct dmab_fence *fence, struct dmab_fence_cb *cb)
{
	bool pending = !dmab_list_empty(&cb->link);
	dmab_list_remove(&cb->link);
	return pending;
}

int dmab_fence_export_fd(struct dmab_fence *fence)
{
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0) {
		return -errno;
	}
	int ret = 0;
	if (shutdown(fds[0], SHUT_WR) < 0) {
		ret = -errno;
		goto err;
	}
	if (fence->signaled) {
		export_signal(fds[1]);
		close(fds[1]);
		return fds[0];
	}
	struct fence_export *export = calloc(1, sizeof(*export));
	if (export == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	export->fd = fds[1];
	dmab_list_insert(fence->exports.prev, &export->link);
	return fds[0];

err:
	close(fds[0]);
	close(fds[1]);
	return ret;
}
