/* SPDX-License-Identifier: MIT */
/*
 * Broker fences: one-shot signals with callbacks, exportable as pollable fds.
 * Modelled on dma_fence: a fence signals once and stays signaled.
 */
#ifndef DMAB_CORE_FENCE_H
#define DMAB_CORE_FENCE_H

#include <stdbool.h>

#include "core/list.h"

struct dmab_fence;
struct dmab_fence_cb;

typedef void (*dmab_fence_func)(struct dmab_fence *fence, struct dmab_fence_cb *cb);

/* Embedded in the waiter, like struct dma_fence_cb. */
struct dmab_fence_cb {
	struct dmab_list link;
	dmab_fence_func func;
};

struct dmab_fence {
	int refcount;
	bool signaled;
	struct dmab_list callbacks;
	struct dmab_list exports; /* struct fence_export, private to fence.c */
};

struct dmab_fence *dmab_fence_create(void);
/* A fence that is already signaled. */
struct dmab_fence *dmab_fence_create_signaled(void);
/* Signals when every fence in the array has signaled; the array may be empty. */
struct dmab_fence *dmab_fence_create_all(struct dmab_fence **fences, int len);
struct dmab_fence *dmab_fence_ref(struct dmab_fence *fence);
void dmab_fence_unref(struct dmab_fence *fence); /* NULL is a no-op */
/* Runs and removes every callback. Signaling twice is a no-op. */
void dmab_fence_signal(struct dmab_fence *fence);
bool dmab_fence_is_signaled(const struct dmab_fence *fence);
/* Returns false (and does not add) if already signaled, like dma_fence_add_callback. */
bool dmab_fence_add_callback(struct dmab_fence *fence, struct dmab_fence_cb *cb,
	dmab_fence_func func);
bool dmab_fence_remove_callback(struct dmab_fence *fence, struct dmab_fence_cb *cb);
/*
 * A new fd that becomes readable when the fence signals: a stream socket
 * (SOCK_CLOEXEC | SOCK_NONBLOCK) that its holder cannot send on, so that a
 * holder can fool only itself. It also becomes readable, at end-of-file, if
 * the fence is freed unsignaled. The caller owns the fd. Returns a negative
 * errno on failure.
 */
int dmab_fence_export_fd(struct dmab_fence *fence);

#endif
