/* SPDX-License-Identifier: MIT */
/* The core's private state, shared by its translation units. */
#ifndef DMAB_CORE_INTERNAL_H
#define DMAB_CORE_INTERNAL_H

#include <stdarg.h>

#include "alloc/alloc.h"
#include "core/core.h"
#include "core/list.h"

enum { DMAB_NAME_MAX = 63 };

struct dmab_core {
	struct dmab_allocator_set allocators;
	struct dmab_limits limits;
	struct dmab_list buffers; /* dmab_buffer.link, in creation order */
	struct dmab_list accounts; /* dmab_account.link */
	uint32_t next_buffer_id;
};

struct dmab_account {
	struct dmab_core *core;
	struct dmab_list link;
	pid_t pid;
	uid_t uid;
	int refs; /* the connection's, plus one per charged object */
	uint64_t bytes;
	uint32_t buffers, attachments, tokens;
};

enum map_state {
	MAP_NONE,
	MAP_PENDING, /* deferred until storage exists and meets every constraint */
	MAP_DONE,
};

struct dmab_buffer {
	struct dmab_core *core;
	struct dmab_list link; /* dmab_core.buffers */
	uint32_t id;
	int refs;
	char name[DMAB_NAME_MAX + 1];
	uint32_t usage;
	uint32_t import_flags;
	bool imported; /* the storage and its layout are the client's: never re-planned */

	struct dmab_account *owner; /* holds a reference for the byte charge */
	uint64_t charged; /* bytes charged to the owner */

	struct dmab_layout layout;
	struct dmab_bo *bo; /* NULL until the first map */
	void *bo_data; /* the broker's read-only mapping of bo, made on demand */

	struct dmab_list handles; /* dmab_handle.link */
	struct dmab_list attachments; /* dmab_attachment.link, in creation order */
	struct dmab_list waiters; /* dmab_attachment.wait_link, FIFO */
	struct dmab_list tokens; /* dmab_token.link, live and revoked */

	uint32_t mappings; /* attachments in MAP_DONE */
	struct dmab_fence *write_fence; /* of the held WRITE bracket, or NULL */
	/*
	 * Set while a WRITE bracket has ended but its acquire fence has not
	 * signaled: write_fence stays held, and the drain holds a buffer reference.
	 */
	struct dmab_fence *acquire;
	struct dmab_fence_cb acquire_cb;
	uint32_t readers; /* held READ brackets */
	bool processing; /* buffer_process is on the stack */
};

struct dmab_handle {
	struct dmab_buffer *buffer;
	struct dmab_account *account;
	enum dmab_access access;
	struct dmab_list link; /* dmab_buffer.handles */
	dmab_handle_layout_func layout_func;
	void *layout_data;
	bool layout_changed; /* the listener is owed a call */
};

struct dmab_attachment {
	struct dmab_buffer *buffer; /* holds a reference */
	struct dmab_account *account; /* NULL for the broker's own; holds a reference if set */
	enum dmab_access access;
	struct dmab_constraints constraints;
	struct dmab_attachment_listener listener;
	void *data;
	struct dmab_list link; /* dmab_buffer.attachments */
	struct dmab_list wait_link; /* dmab_buffer.waiters while waiting */

	bool charged; /* counted against the account's attachment quota */
	bool defunct;
	enum map_state map_state;
	uint32_t map_dir;
	bool moved_sent; /* this mapping was told to move */
	uint32_t access_dir; /* of the bracket held or waited for, or 0 */
	bool access_held;
	struct dmab_fence *fence; /* of the held bracket */
	struct dmab_fence *acquire; /* of the held WRITE bracket, or NULL */
	bool cpu_started; /* dmab_attachment_start_cpu_access ran in the held bracket */
};

struct dmab_token {
	struct dmab_buffer *buffer; /* a reference while live */
	struct dmab_account *account; /* charged while live */
	enum dmab_access access;
	bool revoked;
	char string[DMAB_TOKEN_LEN + 1];
	struct dmab_list link; /* dmab_buffer.tokens */
};

enum dmab_quota_kind {
	DMAB_QUOTA_BUFFERS,
	DMAB_QUOTA_ATTACHMENTS,
	DMAB_QUOTA_TOKENS,
};

void dmab_failure_set(struct dmab_failure *fail, enum dmab_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool dmab_misuse_set(struct dmab_misuse_report *report, enum dmab_misuse misuse,
	const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Plans the storage of layout's width, height and format with rows aligned to
 * align; false (INVALID_SIZE) if the stride or the plane overflows 32 bits.
 */
bool dmab_layout_plan(struct dmab_layout *layout, uint32_t align,
	struct dmab_misuse_report *report);

struct dmab_account *dmab_account_ref(struct dmab_account *account);
void dmab_account_unref(struct dmab_account *account);
/* Counts one object against a quota; the object holds its own account reference. */
bool dmab_account_charge(struct dmab_account *account, enum dmab_quota_kind kind,
	struct dmab_failure *fail);
void dmab_account_uncharge(struct dmab_account *account, enum dmab_quota_kind kind);
/* Replaces a charge of old bytes with one of new bytes, if the quota allows. */
bool dmab_account_recharge_bytes(struct dmab_account *account, uint64_t old, uint64_t new,
	struct dmab_failure *fail);
void dmab_account_free(struct dmab_account *account);

/*
 * Runs the buffer's pending work, one callback at a time, until there is none:
 * moved events, layout listeners, deferred maps, then access waiters. Every
 * step re-reads the state, so callbacks may change anything; a call made while
 * the buffer is already being processed leaves the work to the running loop.
 */
void dmab_buffer_process(struct dmab_buffer *buffer);
void dmab_buffer_layout_changed(struct dmab_buffer *buffer);
/* Calls one owed layout listener; false if none is owed. */
bool dmab_buffer_notify_layout(struct dmab_buffer *buffer);
/* A handle taking a new buffer reference, charged to account's buffer quota. */
struct dmab_handle *dmab_handle_new(struct dmab_buffer *buffer, struct dmab_account *account,
	enum dmab_access access, struct dmab_failure *fail);
void dmab_buffer_release_storage(struct dmab_buffer *buffer);
/* The broker's read-only mapping of the storage, made once per bo. */
const void *dmab_buffer_get_data(struct dmab_buffer *buffer);
/* Frees everything of a buffer, whatever its references: for dmab_core_destroy. */
void dmab_buffer_teardown(struct dmab_buffer *buffer);

/* Re-plans an unbacked buffer from its attachments' constraints. */
void dmab_buffer_replan(struct dmab_buffer *buffer);
void dmab_attachment_teardown(struct dmab_attachment *att);
/* Stops waiting for the acquire fence of an ended WRITE bracket and signals its write fence. */
void dmab_buffer_cancel_drain(struct dmab_buffer *buffer);

void dmab_token_free(struct dmab_token *token);

#endif
