/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/fence.h"

/* Keeps a duplicate of an exported eventfd, to write to it on signal. */
struct fence_eventfd {
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
	dmab_list_init(&fence->base.eventfds);
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

static void fence_eventfd_free(struct fence_eventfd *efd)
{
	dmab_list_remove(&efd->link);
	close(efd->fd);
	free(efd);
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
	struct fence_eventfd *efd, *tmp;
	dmab_list_for_each_safe(efd, tmp, &fence->base.eventfds, link)
		fence_eventfd_free(efd);
	free(fence);
}

void dmab_fence_unref(struct dmab_fence *fence)
{
	if (fence == NULL || --fence->refcount > 0)
		return;
	fence_free(fence_from_base(fence));
}

static void eventfd_signal(int fd)
{
	uint64_t one = 1;
	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		continue;
}

void dmab_fence_signal(struct dmab_fence *fence)
{
	if (fence->signaled)
		return;
	fence->signaled = true;
	/* A callback may drop the last reference of someone else's. */
	dmab_fence_ref(fence);
	struct fence_eventfd *efd, *tmp;
	dmab_list_for_each_safe(efd, tmp, &fence->eventfds, link) {
		eventfd_signal(efd->fd);
		fence_eventfd_free(efd);
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

int dmab_fence_export_eventfd(struct dmab_fence *fence)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fence->signaled) {
		eventfd_signal(fd);
		return fd;
	}
	struct fence_eventfd *efd = calloc(1, sizeof(*efd));
	if (efd == NULL) {
		close(fd);
		return -ENOMEM;
	}
	efd->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (efd->fd < 0) {
		int ret = -errno;
		free(efd);
		close(fd);
		return ret;
	}
	dmab_list_insert(fence->eventfds.prev, &efd->link);
	return fd;
}
