/* SPDX-License-Identifier: MIT */
/*
 * The broker core: buffers, handles, attachments, access brackets, fences,
 * tokens and quotas. Plain C: no Wayland, no wlroots. The server glue turns
 * requests into these calls and these callbacks into events.
 *
 * Object model (the kernel's, see doc/architecture.md):
 *   dmab_buffer      the exported buffer; refcounted, storage freed at the last ref
 *   dmab_handle      one client's reference to a buffer, with an access mode
 *   dmab_attachment  one user's attachment: map, unmap, begin/end access
 *   dmab_token       a share capability; holds a buffer ref until revoked
 *   dmab_account     per-client accounting for quotas; lives until its last object
 *
 * Callbacks (attachment listeners, layout listeners, fence callbacks) may run
 * synchronously inside the call that caused them: mapped inside map, ready inside
 * begin_access when nothing conflicts, ready for a waiter inside another
 * attachment's end_access or destroy, inside the dmab_fence_signal of an
 * acquire or storage fence, inside dmab_token_revoke (failed, for the
 * attachments it cuts off) or inside dmab_core_handle_timer (failed, for the
 * brackets it preempts). A callback may call back into the core,
 * including destroying the attachment it was called for or any other object,
 * with two exceptions: it must not destroy an object whose create function has
 * not returned yet (a failed callback run by dmab_attachment_create), and it
 * must not destroy the core.
 */
#ifndef DMAB_CORE_H
#define DMAB_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/fence.h"

struct dmab_allocator_set;

/* The defaults for zero fields of struct dmab_limits. */
#define DMAB_CORE_DEFAULT_MAX_BYTES (512ull << 20)
#define DMAB_CORE_DEFAULT_MAX_BUFFERS 128u
#define DMAB_CORE_DEFAULT_MAX_ATTACHMENTS 512u
#define DMAB_CORE_DEFAULT_MAX_TOKENS 128u
#define DMAB_CORE_DEFAULT_MAX_DIMENSION 16384u
/* How long another client's bracket may keep a buffer's owner waiting to write. */
#define DMAB_CORE_DEFAULT_MAX_HOLD_MS 500u
/*
 * Per peer uid, over all its connections. Unless given, the uid's byte and
 * buffer limits are these multiples of the connection's: 2 GiB and 1024 with
 * the default quotas.
 */
#define DMAB_CORE_UID_BYTES_FACTOR 4u
#define DMAB_CORE_UID_BUFFERS_FACTOR 8u
#define DMAB_CORE_DEFAULT_MAX_UID_BYTES (DMAB_CORE_DEFAULT_MAX_BYTES * DMAB_CORE_UID_BYTES_FACTOR)
#define DMAB_CORE_DEFAULT_MAX_UID_BUFFERS \
	(DMAB_CORE_DEFAULT_MAX_BUFFERS * DMAB_CORE_UID_BUFFERS_FACTOR)
#define DMAB_CORE_DEFAULT_MAX_UID_CONNECTIONS 256u
#define DMAB_CORE_DEFAULT_MAX_UID_FDS 2048u

enum dmab_access {
	DMAB_ACCESS_READ = 1,
	DMAB_ACCESS_READ_WRITE = 3,
};

enum dmab_dir {
	DMAB_DIR_READ = 1,
	DMAB_DIR_WRITE = 2,
	DMAB_DIR_ALL = 3,
};

enum dmab_usage {
	DMAB_USAGE_CPU_READ = 1,
	DMAB_USAGE_CPU_WRITE = 2,
	DMAB_USAGE_COMPOSITE = 4,
	DMAB_USAGE_SHARE = 8,
	DMAB_USAGE_ALL = 15,
};

enum dmab_constraint_flags {
	DMAB_CONSTRAINT_CONTIGUOUS = 1,
	DMAB_CONSTRAINT_ALL = 1,
};

enum dmab_import_flags {
	DMAB_IMPORT_Y_INVERT = 1,
	DMAB_IMPORT_ALL = 1,
};

enum dmab_map_flags {
	DMAB_MAP_READ_ONLY = 1,
	DMAB_MAP_DMABUF = 2,
};

/* Non-fatal failures; values equal dmabroker_manager_v1.reason. */
enum dmab_reason {
	DMAB_REASON_QUOTA_EXCEEDED = 0,
	DMAB_REASON_UNKNOWN_TOKEN = 1,
	DMAB_REASON_REVOKED_TOKEN = 2,
	DMAB_REASON_ALLOC_FAILED = 3,
	DMAB_REASON_UNSATISFIABLE = 4,
	DMAB_REASON_DEFUNCT = 5,
	DMAB_REASON_PERMISSION_DENIED = 6,
	DMAB_REASON_PREEMPTED = 7,
};

struct dmab_failure {
	enum dmab_reason reason;
	char message[160];
};

/*
 * Client bugs, which the glue turns into protocol errors. Values are the core's
 * own; the glue maps each to its interface's error code.
 */
enum dmab_misuse {
	DMAB_MISUSE_NONE = 0,
	/* create_buffer, import_dmabuf */
	DMAB_MISUSE_INVALID_FORMAT,
	DMAB_MISUSE_INVALID_SIZE,
	DMAB_MISUSE_INVALID_USAGE,
	DMAB_MISUSE_INVALID_NAME,
	DMAB_MISUSE_INVALID_FD,
	DMAB_MISUSE_INVALID_STRIDE,
	DMAB_MISUSE_OUT_OF_BOUNDS,
	DMAB_MISUSE_INVALID_FLAGS,
	DMAB_MISUSE_INVALID_PLANES,
	/* attach, share */
	DMAB_MISUSE_INVALID_ACCESS,
	DMAB_MISUSE_INVALID_CONSTRAINTS,
	DMAB_MISUSE_READ_ONLY,
	/* map, unmap, begin_access, end_access */
	DMAB_MISUSE_INVALID_DIRECTION,
	DMAB_MISUSE_ALREADY_MAPPED,
	DMAB_MISUSE_NOT_MAPPED,
	DMAB_MISUSE_NESTED_ACCESS,
	DMAB_MISUSE_NOT_IN_ACCESS,
	DMAB_MISUSE_DIRECTION_MISMATCH,
	DMAB_MISUSE_ACCESS_PENDING,
	DMAB_MISUSE_CONFLICTING_ACCESS,
	/* set_acquire_fence */
	DMAB_MISUSE_DUPLICATE_FENCE,
};

/* A message naming the problem, with the detail the check found. */
struct dmab_misuse_report {
	enum dmab_misuse misuse;
	char message[160];
};

struct dmab_limits {
	uint32_t max_width, max_height;
	/* Per account, that is per connection. */
	uint64_t max_bytes;
	uint32_t max_buffers, max_attachments, max_tokens;
	/*
	 * Per peer uid, summed over its accounts: bytes and buffers as above,
	 * connections (live accounts), and the fds the broker holds on the uid's
	 * behalf (one per buffer it owns, for the storage, and what the glue
	 * charges with dmab_account_charge_fds).
	 */
	uint64_t max_uid_bytes;
	uint32_t max_uid_buffers, max_uid_connections, max_uid_fds;
};

struct dmab_buffer;
struct dmab_fence;

/* What the core needs from the event loop that drives it; every member may be NULL. */
struct dmab_core_hooks {
	/*
	 * Calls dmab_core_handle_timer once the monotonic clock reaches
	 * deadline_ms (0: disarm). The core keeps one timer.
	 */
	void (*arm_timer)(void *data, uint64_t deadline_ms);
	/*
	 * A new fence that signals once every access the kernel knows of to the
	 * buffer's dma-buf storage has finished (its implicit fences), polled by
	 * the event loop; NULL on allocation failure. Without it the core takes
	 * such storage as idle.
	 */
	struct dmab_fence *(*storage_idle)(void *data, struct dmab_buffer *buffer);
	/* The monotonic clock in milliseconds; CLOCK_MONOTONIC without it. */
	uint64_t (*now_ms)(void *data);
	void *data;
};

struct dmab_core_options {
	const char *allocator; /* see dmab_alloc_set_init; NULL is "auto" */
	struct dmab_limits limits; /* zero fields take the defaults */
	uint32_t max_hold_ms; /* 0: DMAB_CORE_DEFAULT_MAX_HOLD_MS */
	struct dmab_core_hooks hooks;
};

struct dmab_core;
struct dmab_account;
struct dmab_handle;
struct dmab_attachment;
struct dmab_token;

/* I420 has the most planes of the formats the broker takes. */
enum { DMAB_MAX_PLANES = 3 };

/* One plane of a layout; every plane lies in the same storage. */
struct dmab_plane {
	uint32_t offset; /* of its first row, from the start of the storage */
	uint32_t stride;
	uint32_t size; /* stride times its rows: from offset to the end of its last row */
};

struct dmab_layout {
	uint32_t width, height, format;
	uint32_t n_planes;
	struct dmab_plane planes[DMAB_MAX_PLANES];
	uint64_t size; /* of the storage; at least the end of every plane */
};

struct dmab_constraints {
	uint32_t flags; /* enum dmab_constraint_flags */
	uint32_t row_alignment; /* 0 or a power of two up to 4096 */
	uint32_t max_planes; /* at least 1 */
};

struct dmab_mapping {
	int fd; /* a new fd the receiver owns; -1 for broker-internal attachments */
	const void *data; /* broker-internal only: the storage's start, writable if mapped for WRITE */
	uint32_t flags; /* enum dmab_map_flags */
	uint32_t n_planes;
	struct dmab_plane planes[DMAB_MAX_PLANES];
};

/* --- core --- */

/* Returns NULL with a reason in err if the allocator choice is unavailable. */
struct dmab_core *dmab_core_create(const struct dmab_core_options *options, char *err,
	size_t err_len);
void dmab_core_destroy(struct dmab_core *core);
void dmab_core_get_limits(const struct dmab_core *core, struct dmab_limits *limits);
struct dmab_allocator_set *dmab_core_get_allocators(struct dmab_core *core);
/* The formats create_buffer accepts, DRM fourcc codes. */
const uint32_t *dmab_core_get_formats(size_t *len);
/*
 * How a format lays out its samples: per plane, the pixels that share one
 * sample horizontally (hsub) and vertically (vsub), and the bytes of one
 * sample (cpp). YUYV's one "sample" is a pair of pixels: hsub 2, cpp 4.
 */
struct dmab_format_plane {
	uint8_t hsub, vsub, cpp;
};

struct dmab_format_desc {
	uint32_t fourcc;
	uint32_t n_planes;
	struct dmab_format_plane planes[DMAB_MAX_PLANES];
};

/* NULL for a format the broker does not take. */
const struct dmab_format_desc *dmab_format_get(uint32_t format);
/* Planes of a supported format, 0 for an unknown one. */
uint32_t dmab_format_planes(uint32_t format);
/* The bytes of one row of plane i for width pixels, and its rows for height. */
uint64_t dmab_format_row_bytes(const struct dmab_format_desc *desc, uint32_t i, uint32_t width);
uint32_t dmab_format_plane_rows(const struct dmab_format_desc *desc, uint32_t i,
	uint32_t height);
/*
 * Preempts the brackets that kept a buffer's owner waiting to write for
 * max_hold_ms, and arms the timer for the next deadline.
 */
void dmab_core_handle_timer(struct dmab_core *core);
/* The core's clock in milliseconds, the one its timer deadlines are in. */
uint64_t dmab_core_now_ms(struct dmab_core *core);

/* --- accounts: one per client connection --- */

/*
 * Whether a new connection of uid may have an account: false with fail set
 * (QUOTA_EXCEEDED, naming the limit) if uid has max_uid_connections already.
 */
bool dmab_core_admit(const struct dmab_core *core, uid_t uid, struct dmab_failure *fail);
/*
 * uid is the peer's (SO_PEERCRED), which the max_uid_* limits sum over; pid is
 * for introspection. Counts a connection of uid whatever the limit: ask
 * dmab_core_admit first.
 */
struct dmab_account *dmab_account_create(struct dmab_core *core, pid_t pid, uid_t uid);
/*
 * Drops the connection's reference and its count against max_uid_connections;
 * the accounting lives until its last object.
 */
void dmab_account_destroy(struct dmab_account *account);
/*
 * The connection's own quota: max_bytes, max_buffers, max_attachments and
 * max_tokens of limits; the core's until set. Zero fields take the core's.
 * Only new charges are checked against it.
 */
void dmab_account_set_quota(struct dmab_account *account, const struct dmab_limits *limits);
/* The connection's quota in the max_bytes, max_buffers, max_attachments and max_tokens of limits. */
void dmab_account_get_quota(const struct dmab_account *account, struct dmab_limits *limits);
pid_t dmab_account_get_pid(const struct dmab_account *account);
uid_t dmab_account_get_uid(const struct dmab_account *account);
/*
 * Charges n fds the glue holds for the account (a poll watch, an exported
 * eventfd's duplicate) to its uid's max_uid_fds; false with fail set if over.
 * The charge holds a reference to the account until it is uncharged.
 */
bool dmab_account_charge_fds(struct dmab_account *account, uint32_t n, struct dmab_failure *fail);
void dmab_account_uncharge_fds(struct dmab_account *account, uint32_t n);

struct dmab_uid_usage {
	uid_t uid;
	uint64_t bytes;
	uint32_t buffers, connections, fds;
};

/* A uid the core has not seen reads as all zeros. */
void dmab_core_get_uid_usage(const struct dmab_core *core, uid_t uid,
	struct dmab_uid_usage *usage);
typedef void (*dmab_uid_visit_func)(const struct dmab_uid_usage *usage, void *data);
/* Every uid with an account alive, connected or not. */
void dmab_core_for_each_uid(const struct dmab_core *core, dmab_uid_visit_func func, void *data);

/* --- handles: a client's references to buffers --- */

struct dmab_buffer_desc {
	uint32_t width, height, format, usage;
	const char *name;
};

struct dmab_import_desc {
	uint32_t width, height, format, flags;
	uint32_t n_planes; /* must be the format's */
	struct {
		uint32_t offset, stride;
	} planes[DMAB_MAX_PLANES];
};

/* Validates a create_buffer request in 64 bits. */
bool dmab_buffer_desc_check(const struct dmab_core *core, const struct dmab_buffer_desc *desc,
	struct dmab_misuse_report *report);
/* Returns NULL with fail filled (quota) on a failure a correct client can meet. */
struct dmab_handle *dmab_handle_create(struct dmab_account *account,
	const struct dmab_buffer_desc *desc, struct dmab_failure *fail);
struct dmab_handle *dmab_handle_import_token(struct dmab_account *account, const char *token,
	struct dmab_failure *fail);
/* Validates a client's fd without taking it: lseek size, bounds in 64 bits, seals. */
bool dmab_import_desc_check(const struct dmab_core *core, int fd,
	const struct dmab_import_desc *desc, struct dmab_misuse_report *report);
/*
 * Takes ownership of fd: it is closed on every path. The fd's size counts
 * against the byte quota; an O_RDONLY fd gives a read-only handle.
 */
struct dmab_handle *dmab_handle_import_fd(struct dmab_account *account, int fd,
	const struct dmab_import_desc *desc, struct dmab_failure *fail);
/*
 * A new reference of the same lineage, uncharged: revoking the token the
 * original came through cuts it off too. For the compositor's wl_buffers.
 */
struct dmab_handle *dmab_handle_clone(struct dmab_handle *handle);
/* Drops the reference. NULL is a no-op. */
void dmab_handle_destroy(struct dmab_handle *handle);
struct dmab_buffer *dmab_handle_get_buffer(struct dmab_handle *handle);
enum dmab_access dmab_handle_get_access(const struct dmab_handle *handle);
/* True once the token this reference came through (or one it descends from) was revoked. */
bool dmab_handle_is_revoked(const struct dmab_handle *handle);

/* Called when the buffer's layout changes (collation at first map, migration). */
typedef void (*dmab_handle_layout_func)(struct dmab_handle *handle, void *data);
void dmab_handle_set_layout_listener(struct dmab_handle *handle, dmab_handle_layout_func func,
	void *data);

/* --- buffers --- */

struct dmab_buffer *dmab_buffer_ref(struct dmab_buffer *buffer);
void dmab_buffer_unref(struct dmab_buffer *buffer); /* NULL is a no-op */
void dmab_buffer_get_layout(const struct dmab_buffer *buffer, struct dmab_layout *layout);
/* The import_flags of an imported buffer (y_invert), 0 for a created one. */
uint32_t dmab_buffer_get_import_flags(const struct dmab_buffer *buffer);
/* A new reference to the write fence, or to a fence over every unsignaled read fence. */
struct dmab_fence *dmab_buffer_get_fence(struct dmab_buffer *buffer, bool write);
/*
 * A new reference to a fence that signals when a WRITE bracket ends: the one
 * held now, or else the next one to be granted. It signals too, with nothing
 * written, if that bracket fails or the buffer goes away.
 */
struct dmab_fence *dmab_buffer_get_next_write_fence(struct dmab_buffer *buffer);

/*
 * The kernel's implicit fences of dma-buf storage. The dma-buf of the storage,
 * borrowed, or -1 while the buffer has no storage or it is not a dma-buf.
 */
int dmab_buffer_get_dmabuf_fd(const struct dmab_buffer *buffer);
/*
 * DMA_BUF_IOCTL_EXPORT_SYNC_FILE: a sync_file that signals once the implicit
 * fences a reader waits for (write true: the writes) or a writer waits for
 * (write false: every access) have signaled. The caller owns the fd. A
 * negative errno: -ENODEV without dma-buf storage, -ENOTTY before Linux 6.0.
 */
int dmab_buffer_export_sync_file(struct dmab_buffer *buffer, bool write);
/*
 * DMA_BUF_IOCTL_IMPORT_SYNC_FILE with DMA_BUF_SYNC_WRITE: every later implicitly
 * synchronized access waits for the sync_file. Does not take fd. 0 or a
 * negative errno, -ENODEV without dma-buf storage.
 */
int dmab_buffer_import_sync_file(struct dmab_buffer *buffer, int fd);

/* --- attachments --- */

/*
 * serial is the number of the map (mapped, moved) or begin_access (ready)
 * that the event answers: each attachment numbers its maps and its brackets
 * from 1, in the order of the calls.
 */
struct dmab_attachment_listener {
	void (*mapped)(struct dmab_attachment *att, uint32_t serial,
		const struct dmab_mapping *mapping, void *data);
	void (*ready)(struct dmab_attachment *att, uint32_t serial, void *data);
	void (*moved)(struct dmab_attachment *att, uint32_t serial, void *data);
	/* The attachment is defunct afterwards; only destroy is valid. */
	void (*failed)(struct dmab_attachment *att, const struct dmab_failure *fail, void *data);
};

bool dmab_constraints_check(uint32_t access, const struct dmab_constraints *constraints,
	struct dmab_misuse_report *report);
/*
 * An attachment through handle, the reference it is made from: its lineage
 * decides whether revoking a token cuts it off, and whether its constraints
 * may change the storage (only writers may). account is NULL for the broker's
 * own attachments (the compositor): they are not charged to any quota, their
 * mappings carry a data pointer (writable if mapped for WRITE, through a
 * READ_WRITE handle), valid until unmap, not an fd, and
 * their CPU access is started by dmab_attachment_start_cpu_access, not by the
 * grant. Admission happens here: on a failure a correct client can meet, the
 * attachment is still created and the failed callback runs before this
 * returns, and nothing else changes.
 */
struct dmab_attachment *dmab_attachment_create(struct dmab_handle *handle,
	struct dmab_account *account, enum dmab_access access,
	const struct dmab_constraints *constraints,
	const struct dmab_attachment_listener *listener, void *data);
/* Ends an open bracket, unmaps, detaches. NULL is a no-op. */
void dmab_attachment_destroy(struct dmab_attachment *att);
/*
 * These return false with a report on misuse. On a defunct attachment they do
 * nothing and return true. unmap also withdraws a map that is still pending,
 * and end_access a bracket whose ready has not come. mapping->flags has
 * DMAB_MAP_READ_ONLY only where the fd really refuses a writable mapping (not
 * for a dma-buf, which cannot be reopened read-only).
 */
bool dmab_attachment_map(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report);
bool dmab_attachment_unmap(struct dmab_attachment *att, struct dmab_misuse_report *report);
bool dmab_attachment_begin_access(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report);
bool dmab_attachment_end_access(struct dmab_attachment *att, uint32_t dir,
	struct dmab_misuse_report *report);
bool dmab_attachment_is_defunct(const struct dmab_attachment *att);
struct dmab_buffer *dmab_attachment_get_buffer(struct dmab_attachment *att);
/*
 * Gives the open WRITE bracket an acquire fence, a dmab_fence its caller
 * signals when the device work that finishes the bracket's writes is done
 * (a GPU rendering). The bracket's write fence then signals only once both the
 * bracket ended and the acquire fence signaled: until then readers wait, and
 * the buffer (and its storage) stays alive, whatever happens to the
 * attachment. Takes a reference. NOT_IN_ACCESS without a granted WRITE
 * bracket, DUPLICATE_FENCE for a second fence in one bracket.
 */
bool dmab_attachment_set_acquire_fence(struct dmab_attachment *att, struct dmab_fence *fence,
	struct dmab_misuse_report *report);
/*
 * For the broker's own attachments, whose CPU access the core does not start
 * when it grants their bracket: DMA_BUF_IOCTL_SYNC START on a dma-buf, which
 * sleeps in the kernel while the dma-buf's implicit fences of the direction are
 * pending, so the caller waits for those first (poll). end_access and destroy
 * end it. 0 or a negative errno, -EINVAL without a granted bracket.
 */
int dmab_attachment_start_cpu_access(struct dmab_attachment *att);

/* --- tokens --- */

enum { DMAB_TOKEN_LEN = 32 }; /* hex digits of 128 random bits */
/*
 * Revoked tokens whose record the core keeps, across every buffer, so that
 * importing one answers REVOKED_TOKEN; importing an older, forgotten one
 * answers UNKNOWN_TOKEN, as it does once its buffer is gone.
 */
enum { DMAB_CORE_MAX_REVOKED_TOKENS = 4096 };

/* access must not exceed the handle's; the glue checks that first. */
struct dmab_token *dmab_token_create(struct dmab_handle *handle, enum dmab_access access,
	struct dmab_failure *fail);
/* The token's 32 hex digits and a NUL. */
const char *dmab_token_get_string(const struct dmab_token *token);
/*
 * Withdraws the token and every access granted through it: attachments made
 * through references imported with it, or with tokens shared from those, fail
 * with DMAB_REASON_REVOKED_TOKEN, and those references can attach or share no
 * more. Releases the token. NULL is a no-op.
 */
void dmab_token_revoke(struct dmab_token *token);
/*
 * Stops later imports, like revoke, but leaves the access already granted:
 * for a token whose client disconnected. Releases the token. NULL is a no-op.
 */
void dmab_token_withdraw(struct dmab_token *token);
/* The token records the core holds, for tests and introspection. */
void dmab_core_get_token_records(const struct dmab_core *core, size_t *live, size_t *revoked);

/* --- introspection, like debugfs bufinfo --- */

struct dmab_buffer_stats {
	uint32_t id;
	const char *name;
	pid_t owner_pid;
	pid_t payer_pid; /* of the client charged for the storage */
	uint32_t usage; /* enum dmab_usage */
	struct dmab_layout layout;
	const char *allocator; /* "" while unbacked */
	uint32_t refs;
	bool write_fence_pending;
	uint32_t read_fences_pending;
};

/* Values equal dmabroker_info_v1.attachment_state. */
enum dmab_attachment_state {
	DMAB_ATTACHMENT_UNMAPPED = 0,
	DMAB_ATTACHMENT_MAP_PENDING = 1,
	DMAB_ATTACHMENT_MAPPED = 2,
	DMAB_ATTACHMENT_MOVING = 3,
	DMAB_ATTACHMENT_DEFUNCT = 4,
};

struct dmab_attachment_stats {
	uint32_t buffer_id;
	pid_t pid; /* 0 for the broker's own */
	enum dmab_access access;
	enum dmab_attachment_state state;
	uint32_t in_access; /* enum dmab_dir of the open bracket, or 0 */
	uint32_t waiting; /* enum dmab_dir of the bracket waiting for ready, or 0 */
};

typedef void (*dmab_buffer_visit_func)(const struct dmab_buffer_stats *stats, void *data);
typedef void (*dmab_attachment_visit_func)(const struct dmab_attachment_stats *stats, void *data);
/* Buffers in creation order, each followed by its attachments; visitors must not change them. */
void dmab_core_for_each_buffer(struct dmab_core *core, dmab_buffer_visit_func buffer_func,
	dmab_attachment_visit_func attachment_func, void *data);

#endif
