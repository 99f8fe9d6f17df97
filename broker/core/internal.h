/* SPDX-License-Identifier: MIT */
/* The core's private state, shared by its translation units. */
#ifndef DMAB_CORE_INTERNAL_H
#define DMAB_CORE_INTERNAL_H

#include <stdarg.h>

#include "alloc/alloc.h"
#include "core/core.h"
#include "core/list.h"

enum { DMAB_NAME_MAX = 63 };

/*
 * Every token record by its string, live and revoked: chained buckets, a power
 * of two of them, indexed by a keyed hash so that the bucket a guess lands in
 * says nothing about the tokens' digits. Revoked records are kept in a FIFO of
 * at most DMAB_CORE_MAX_REVOKED_TOKENS, the oldest forgotten first.
 */
struct dmab_token_table {
	struct dmab_list *buckets; /* dmab_token.hash_link */
	size_t mask; /* buckets - 1 */
	size_t records; /* live and revoked */
	uint64_t key[2];
	struct dmab_list revoked; /* dmab_token.revoked_link, oldest first */
	size_t revoked_len;
};

struct dmab_core {
	struct dmab_allocator_set allocators;
	struct dmab_limits limits;
	uint32_t max_hold_ms;
	struct dmab_core_hooks hooks;
	uint64_t timer_deadline; /* armed for, or 0 */
	struct dmab_list buffers; /* dmab_buffer.link, in creation order */
	struct dmab_list accounts; /* dmab_account.link */
	struct dmab_list users; /* dmab_user.link */
	struct dmab_token_table tokens;
	uint32_t next_buffer_id;
};

/* See grant.c. */
struct dmab_grant {
	int refs;
	struct dmab_grant *parent; /* a reference; NULL under the creator's */
	bool cut; /* its token was revoked */
};

/* The sum of every account of one peer uid, for the max_uid_* limits. */
struct dmab_user {
	struct dmab_core *core;
	struct dmab_list link; /* dmab_core.users */
	uid_t uid;
	int refs; /* one per account */
	uint64_t bytes;
	uint32_t buffers, fds;
	uint32_t connections; /* accounts whose connection lives */
};

struct dmab_account {
	struct dmab_core *core;
	struct dmab_user *user; /* holds a reference */
	struct dmab_list link;
	pid_t pid;
	uid_t uid;
	int refs; /* the connection's, plus one per charged object */
	uint64_t bytes;
	uint32_t buffers, attachments, tokens;
	uint32_t fds; /* charged to the user's fd limit; no limit of the account's own */
	uint64_t max_bytes; /* the connection's quota: the core's unless the glue set one */
	uint32_t max_buffers, max_attachments, max_tokens;
};

/*
 * The storage of a buffer. Every transition is in storage_step (attachment.c),
 * but the admission of an attachment, which may start a move.
 */
enum storage_state {
	STORAGE_PLANNED, /* no storage yet: the first map allocates it as planned */
	STORAGE_READY, /* the storage meets every admitted constraint */
	STORAGE_MOVING, /* it must move: mappers are told, maps wait for every mapping to go */
	STORAGE_DRAINING, /* no mapping left: waiting for the old storage to go idle */
};

/* Storage charged to an account: the bytes, and who pays them. */
struct charge {
	struct dmab_account *payer; /* a reference while bytes are charged */
	uint64_t bytes;
};

/* Where a move goes: decided, and paid for, when the attachment that needs it is admitted. */
struct move_target {
	struct dmab_layout layout;
	struct dmab_allocator *allocator;
	struct charge charge;
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

	/* The creator, whose writers may preempt other lineages' brackets. A reference. */
	struct dmab_account *owner;
	struct charge charge; /* of the storage, or of the plan until it is allocated */
	bool fd_charged; /* its storage fd, to the owner's uid, from creation on */

	enum storage_state storage;
	struct dmab_layout layout; /* of the storage, or of the plan */
	struct dmab_bo *bo; /* NULL while STORAGE_PLANNED */
	void *bo_data; /* the broker's read-only mapping of bo, made on demand */
	void *bo_wdata; /* its writable one, for the compositor's write brackets */
	struct move_target target; /* while STORAGE_MOVING or STORAGE_DRAINING */
	struct dmab_fence *idle; /* while STORAGE_DRAINING: the old storage's implicit fences */
	struct dmab_fence_cb idle_cb;

	struct dmab_list handles; /* dmab_handle.link */
	struct dmab_list attachments; /* dmab_attachment.link, in creation order */
	struct dmab_list waiters; /* dmab_attachment.wait_link, FIFO */
	struct dmab_list tokens; /* dmab_token.link, live and revoked */

	uint32_t mappings; /* attachments in ATT_MAPPED, ATT_WAITING or ATT_HELD */
	struct dmab_fence *write_fence; /* of the held WRITE bracket, or NULL */
	/*
	 * Set while a WRITE bracket has ended but its acquire fence has not
	 * signaled: write_fence stays held, and the drain holds a buffer reference.
	 */
	struct dmab_fence *acquire;
	struct dmab_fence_cb acquire_cb;
	bool acquire_foreign; /* the drained bracket was not of the creator's lineage */
	uint32_t readers; /* held READ brackets */
	/*
	 * Handed out while no WRITE bracket is held, and given to the next one
	 * as its fence: it signals when the next frame is written.
	 */
	struct dmab_fence *next_write;
	bool processing; /* buffer_process is on the stack */
};

struct dmab_handle {
	struct dmab_buffer *buffer;
	struct dmab_account *account;
	enum dmab_access access;
	struct dmab_grant *grant; /* a reference; NULL for the creator's */
	bool revoked; /* the grant was cut */
	bool charged; /* counted against the account's buffer quota */
	struct dmab_list link; /* dmab_buffer.handles */
	dmab_handle_layout_func layout_func;
	void *layout_data;
	bool layout_changed; /* the listener is owed a call */
};

/*
 * An attachment's map and bracket. Only att_enter (attachment.c) changes it,
 * and with it the buffer's counts of mappings, readers and its write fence.
 */
enum att_state {
	ATT_UNMAPPED,
	ATT_MAP_PENDING, /* held back until storage exists, meets every constraint and is idle */
	ATT_MAPPED,
	ATT_WAITING, /* mapped; a bracket waits in dmab_buffer.waiters */
	ATT_HELD, /* mapped; inside a bracket, which holds a fence */
	ATT_DEFUNCT, /* failed: ignores every request but destroy */
};

struct dmab_attachment {
	struct dmab_buffer *buffer; /* holds a reference */
	struct dmab_account *account; /* NULL for the broker's own; holds a reference if set */
	enum dmab_access access;
	struct dmab_grant *grant; /* of the handle it was made through, a reference */
	bool writer_handle; /* that handle may write the buffer: its constraints may reshape it */
	struct dmab_constraints constraints;
	struct dmab_attachment_listener listener;
	void *data;
	struct dmab_list link; /* dmab_buffer.attachments */
	struct dmab_list wait_link; /* dmab_buffer.waiters in ATT_WAITING */
	bool charged; /* counted against the account's attachment quota */

	enum att_state state;
	uint32_t map_serial, access_serial; /* of the last map and begin_access */
	uint32_t moved_serial; /* the map last told to move, or 0 */
	uint32_t map_dir; /* from ATT_MAP_PENDING on */
	uint32_t dir; /* of the bracket, in ATT_WAITING and ATT_HELD */
	uint64_t wait_start; /* ms, in ATT_WAITING */
	struct dmab_fence *fence; /* in ATT_HELD */
	struct dmab_fence *acquire; /* in ATT_HELD with write, or NULL */
	bool cpu_started; /* dmab_attachment_start_cpu_access ran in ATT_HELD */
};

struct dmab_token {
	struct dmab_buffer *buffer; /* a reference while live */
	struct dmab_account *account; /* charged while live */
	enum dmab_access access;
	struct dmab_grant *grant; /* of the handles imported with it, a reference */
	bool revoked; /* withdrawn or revoked: the charge and buffer reference are dropped */
	char string[DMAB_TOKEN_LEN + 1];
	struct dmab_list link; /* dmab_buffer.tokens */
	struct dmab_list hash_link; /* a bucket of dmab_core.tokens */
	struct dmab_list revoked_link; /* dmab_token_table.revoked once revoked */
};

enum dmab_quota_kind {
	DMAB_QUOTA_BUFFERS, /* the account's and its uid's */
	DMAB_QUOTA_ATTACHMENTS,
	DMAB_QUOTA_TOKENS,
	DMAB_QUOTA_FDS, /* its uid's only */
};

void dmab_failure_set(struct dmab_failure *fail, enum dmab_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool dmab_misuse_set(struct dmab_misuse_report *report, enum dmab_misuse misuse,
	const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Plans the storage of layout's width, height and format with the rows and the
 * start of every plane aligned to align; false (INVALID_SIZE) if a plane ends
 * beyond 32 bits, INVALID_FORMAT for a format the broker does not take.
 */
bool dmab_layout_plan(struct dmab_layout *layout, uint32_t align,
	struct dmab_misuse_report *report);
/* Do the two layouts place the same planes at the same offsets and strides? */
bool dmab_layout_same_planes(const struct dmab_layout *a, const struct dmab_layout *b);

struct dmab_account *dmab_account_ref(struct dmab_account *account);
void dmab_account_unref(struct dmab_account *account);
/* Counts one object against a quota; the object holds its own account reference. */
bool dmab_account_charge(struct dmab_account *account, enum dmab_quota_kind kind,
	struct dmab_failure *fail);
void dmab_account_uncharge(struct dmab_account *account, enum dmab_quota_kind kind);
bool dmab_account_charge_n(struct dmab_account *account, enum dmab_quota_kind kind, uint32_t n,
	struct dmab_failure *fail);
void dmab_account_uncharge_n(struct dmab_account *account, enum dmab_quota_kind kind,
	uint32_t n);
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
	enum dmab_access access, struct dmab_grant *grant, struct dmab_failure *fail);
void dmab_buffer_release_storage(struct dmab_buffer *buffer);
/* The broker's read-only mapping of the storage, made once per bo. */
const void *dmab_buffer_get_data(struct dmab_buffer *buffer);
/* Its writable one, made once per bo: for broker-internal WRITE maps. */
void *dmab_buffer_get_writable_data(struct dmab_buffer *buffer);
/* Frees everything of a buffer, whatever its references: for dmab_core_destroy. */
void dmab_buffer_teardown(struct dmab_buffer *buffer);

/* Re-plans an unbacked buffer from its attachments' constraints. */
void dmab_buffer_replan(struct dmab_buffer *buffer);
void dmab_attachment_teardown(struct dmab_attachment *att);
/* After a grant was cut: its handles are revoked, and their attachments fail. */
void dmab_buffer_apply_cut(struct dmab_buffer *buffer);
struct dmab_grant *dmab_grant_create(struct dmab_grant *parent);
struct dmab_grant *dmab_grant_ref(struct dmab_grant *grant); /* NULL is returned as is */
void dmab_grant_unref(struct dmab_grant *grant); /* NULL is a no-op */
bool dmab_grant_is_cut(const struct dmab_grant *grant);
/*
 * Preempts what kept the buffer's owner waiting too long, setting *preempted
 * if it did (callbacks ran); returns the next deadline, or 0.
 */
uint64_t dmab_buffer_expire_waits(struct dmab_buffer *buffer, uint64_t now, bool *preempted);
enum dmab_attachment_state dmab_attachment_stats_state(const struct dmab_attachment *att);
/* Arms the core's timer for deadline if it is earlier than the armed one. */
void dmab_core_arm(struct dmab_core *core, uint64_t deadline);
/* storage.c */
/* Decides whether the attachment's constraints can be met, and plans or starts a move. */
bool dmab_storage_admit(struct dmab_attachment *att, struct dmab_failure *fail);
/* Does what the buffer is committed to (plan, storage or target) meet att's constraints? */
bool dmab_storage_fits(const struct dmab_buffer *buffer, const struct dmab_attachment *att);
/* STORAGE_PLANNED to STORAGE_READY. */
bool dmab_storage_allocate(struct dmab_buffer *buffer, struct dmab_failure *fail);
/* STORAGE_DRAINING to STORAGE_READY, on the new storage or, on failure, the old. */
bool dmab_storage_move(struct dmab_buffer *buffer, struct dmab_failure *fail);
bool dmab_charge_take(struct charge *charge, struct dmab_account *payer, uint64_t bytes,
	struct dmab_failure *fail);
void dmab_charge_drop(struct charge *charge);
/* Stops waiting for the acquire fence of an ended WRITE bracket and signals its write fence. */
void dmab_buffer_cancel_drain(struct dmab_buffer *buffer);

int dmab_token_table_init(struct dmab_token_table *table);
/* Frees the buckets; the records are freed with their buffers. */
void dmab_token_table_finish(struct dmab_token_table *table);
/* Forgets the record: off its buffer, the table and the revoked FIFO. */
void dmab_token_free(struct dmab_token *token);

#endif
