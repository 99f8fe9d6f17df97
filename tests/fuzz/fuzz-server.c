/* SPDX-License-Identifier: MIT */
/*
 * fuzz-server: libFuzzer over libdmabroker-server's request handling, at the
 * wire level.
 *
 * Each input gets a fresh wl_display and dmab_server (memfd, small quotas and
 * limits, linux-dmabuf on) and up to two clients, each a socketpair whose
 * server end is a wl_client. The client ends are written by hand: no
 * libwayland-client, so that nothing filters what reaches the server.
 *
 * The first byte picks the mode. In the structured mode the rest drives a
 * generator of well-formed requests: it tracks the objects each client made,
 * reads opcodes and argument types from the generated protocol tables, and
 * passes fds from a small pool (sealed, unsealed, read-only and write-only
 * memfds, a pipe, /dev/null, eventfds and fds the broker sent). Other ops
 * drive the compositor read API, disconnect clients and destroy the server.
 * In the raw mode the rest goes onto the socket as it is, for the wire
 * parser. README.md describes the format byte by byte.
 *
 * Besides the sanitizers, each input checks that the process has as many fds
 * open after it as before, and the events the clients receive are checked
 * against the protocol's promises (README.md lists them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <wayland-server-core.h>
#include <wayland-server-protocol.h>
#include <drm_fourcc.h>

#include "dmabroker-v1-server-protocol.h"
#include "dmabroker/server.h"
#include "linux-dmabuf-unstable-v1-protocol.h"
#include "fuzz-server.h"

/* The rows of fuzz-protocol-enums.h, generated from the protocol headers. */
struct protocol_enum_entry {
	const char *interface;
	const char *name;
	uint32_t value;
};

#include "fuzz-protocol-enums.h"

#define N_ERRORS (sizeof(protocol_errors_in_xml) / sizeof(protocol_errors_in_xml[0]))
#define N_REASONS (sizeof(protocol_reasons_in_xml) / sizeof(protocol_reasons_in_xml[0]))

#define MAX_SLOTS 2
#define MAX_CONNECTS 6
#define MAX_OBJECTS 128
#define MAX_TOKENS 8
#define MAX_READS 8
#define MAX_KEPT_FDS 4
#define MAX_IN_FDS 64
#define MAX_MSG_FDS 4
#define MAX_OUT_FDS 16
#define MAX_RECV_FDS 32
#define MAX_EVENT_ARGS 20
#define OUT_SIZE 4096
#define IN_SIZE 8192
#define MSG_SIZE 1024
#define MAX_STRING 80
#define MAX_ARRAY 32
#define MAX_PUMPS 1024
#define MAX_SEND_RETRIES 64
#define TOKEN_LEN 32
/* libwayland's first id of the objects the server creates (wayland-private.h) */
#define SERVER_ID_START 0xff000000u

/* The fuzz server's bound on a bracket that keeps an owner's writer waiting, and the sleeps of op 9 past it */
#define MAX_HOLD_MS 20
#define MAX_HOLDS 1
#define NOBODY 65534

#define MODE_MASK 0x03
#define MODE_RAW 0x03
#define TEARDOWN_SERVER_FIRST 0x04

/* The low nibble of an op byte; bit 4 picks the client. 0 to 7 are requests. */
enum op {
	OP_WELL_FORMED = 8,
	OP_CONTROL = 9,
	OP_FLUSH = 10,
	OP_READ_BEGIN = 11,
	OP_READ_END = 12,
	OP_READ_PIXELS = 13,
	OP_DISCONNECT = 14,
	/* 0xff destroys the server, 0xef signals the pool's eventfd; others flush. */
	OP_SERVER = 15,
};

enum pool_fd {
	POOL_SEALED, /* 1 MiB memfd, sealed against shrink, grow and seal */
	POOL_UNSEALED, /* 64 KiB memfd without seals */
	POOL_SEALED_SMALL, /* 4 KiB sealed memfd */
	POOL_PIPE, /* the read end of a pipe */
	POOL_DEVNULL,
	POOL_READ_ONLY, /* the sealed memfd reopened read-only */
	POOL_WRITE_ONLY, /* the small sealed memfd reopened write-only */
	POOL_EVENTFD, /* an acquire fence that signals at op 0xef */
	POOL_EVENTFD_SIGNALED,
	POOL_FIXED,
};

static const uint32_t uint_dict[] = {
	0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 63, 64, 65, 100, 128, 255, 256, 257, 511, 512, 513,
	1000, 1024, 2048, 4095, 4096, 4097, 8192, 65536, 1u << 20, 0x7fffffff, 0x80000000,
	0xfffffffe, 0xffffffff, DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888, DRM_FORMAT_ABGR8888,
	DRM_FORMAT_XBGR8888, DRM_FORMAT_RGB565, DRM_FORMAT_NV12, DRM_FORMAT_YUYV, DRM_FORMAT_C8,
	1023, 1025, DRM_FORMAT_MOD_INVALID >> 32,
};
#define UINT_DICT_LEN (sizeof(uint_dict) / sizeof(uint_dict[0]))

static const struct wl_interface *const bindable[] = {
	&dmabroker_manager_v1_interface,
	&wl_buffer_interface,
	&dmabroker_buffer_v1_interface,
	&wl_callback_interface,
	&zwp_linux_dmabuf_v1_interface,
};
#define BINDABLE_LEN (sizeof(bindable) / sizeof(bindable[0]))

struct input {
	const uint8_t *data;
	size_t size, pos;
};

/*
 * What a dmabroker_attachment_v1 was asked and answered, to check the serials
 * of its answers: the broker numbers its map and begin_access requests.
 */
struct serials {
	uint32_t maps, begins; /* requests sent */
	uint32_t mapped, ready, moved; /* the serial of the last answer */
	/* The maps and begins that the last unmap and end_access withdrew, when sent... */
	uint32_t unmap_sent, end_sent;
	/* ...and once the server has processed them: no answer may come for those. */
	uint32_t unmapped, ended;
	bool failed;
};

/* The plane events since the last info (a buffer) or mapped (an attachment). */
#define MAX_PLANES 3
struct planes {
	uint32_t n;
	struct {
		uint32_t serial, offset, stride, size; /* serial: an attachment's only */
	} plane[MAX_PLANES];
};

struct object {
	uint32_t id;
	const struct wl_interface *iface;
	bool zombie; /* destroyed by a request, awaiting wl_display.delete_id */
	struct serials serials;
	struct planes planes;
	uint32_t parent; /* an attachment's buffer */
	uint32_t format, width, height; /* a buffer's, from its last info; format 0 before */
};

struct message {
	uint32_t opcode;
	uint8_t data[MSG_SIZE];
	size_t len;
	int fds[MAX_MSG_FDS];
	size_t n_fds;
	bool overflow;
};

struct fuzz;

struct slot {
	struct fuzz *fuzz;
	int fd; /* the client end; -1 while disconnected */
	struct wl_client *wl_client; /* NULL once the server destroyed it */
	struct wl_listener client_destroy;
	struct object objects[MAX_OBJECTS];
	size_t n_objects;
	uint32_t next_id;
	/* The names the registry announced, 0 until then */
	uint32_t manager_name, linux_dmabuf_name;
	bool foreign; /* the next connection is made as another uid (op 9) */
	bool raw; /* the input writes requests the model knows nothing of: ignore events */
	uint8_t out[OUT_SIZE];
	size_t out_len;
	int out_fds[MAX_OUT_FDS];
	size_t n_out_fds;
	uint8_t in[IN_SIZE];
	size_t in_len;
	int in_fds[MAX_IN_FDS]; /* received, not yet claimed by an event */
	size_t n_in_fds;
};

struct read_record {
	struct dmab_server_read *read; /* NULL: the record is free */
	bool ready;
};

struct fuzz {
	struct dmab_server_options options;
	struct wl_display *display;
	struct wl_event_loop *loop;
	struct dmab_server *server;
	struct slot slots[MAX_SLOTS];
	unsigned connects;
	int fds[POOL_FIXED + MAX_KEPT_FDS];
	size_t n_fds;
	char tokens[MAX_TOKENS][TOKEN_LEN + 1];
	size_t n_tokens;
	struct read_record reads[MAX_READS];
	unsigned holds; /* sleeps past MAX_HOLD_MS so far */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list args;

	fputs("fuzz-server: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
	abort();
}

/* $FUZZ_SERVER_TRACE set: print every request and event, and libwayland's log. */
static bool trace;

static void silent_log(const char *fmt, va_list args)
{
}

static void trace_log(const char *fmt, va_list args) __attribute__((format(printf, 1, 0)));

static void trace_log(const char *fmt, va_list args)
{
	fputs("wayland: ", stderr);
	vfprintf(stderr, fmt, args);
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	int count = 0;

	if (!dir)
		die("opendir /proc/self/fd: %s", strerror(errno));
	while ((entry = readdir(dir)))
		count += entry->d_name[0] != '.';
	closedir(dir);
	return count;
}

static bool input_empty(const struct input *in)
{
	return in->pos >= in->size;
}

/* Past the end of the input every byte reads as zero. */
static uint8_t take_u8(struct input *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

static uint32_t take_u32(struct input *in)
{
	uint32_t value = 0;

	for (int i = 0; i < 4; i++)
		value |= (uint32_t)take_u8(in) << (8 * i);
	return value;
}

/* Objects */

static struct object *find_object(struct slot *slot, uint32_t id)
{
	for (size_t i = 0; i < slot->n_objects; i++) {
		if (slot->objects[i].id == id)
			return &slot->objects[i];
	}
	return NULL;
}

static void add_object(struct slot *slot, uint32_t id, const struct wl_interface *iface)
{
	if (slot->n_objects < MAX_OBJECTS)
		slot->objects[slot->n_objects++] = (struct object){ .id = id, .iface = iface };
}

static void remove_object(struct slot *slot, uint32_t id)
{
	struct object *object = find_object(slot, id);
	size_t index;

	if (!object)
		return;
	index = (size_t)(object - slot->objects);
	memmove(object, object + 1, (slot->n_objects - index - 1) * sizeof(*object));
	slot->n_objects--;
}

static bool object_matches(const struct object *object, const struct wl_interface *iface)
{
	if (object->zombie)
		return false;
	return iface ? object->iface == iface : object->iface->method_count > 0;
}

/*
 * The pick-th live object (modulo their number) whose interface is iface, or
 * of any interface with requests if iface is NULL. In creation order, which
 * the seed generator mirrors.
 */
static struct object *pick_object(struct slot *slot, const struct wl_interface *iface,
	uint32_t pick)
{
	size_t count = 0, seen = 0;

	for (size_t i = 0; i < slot->n_objects; i++)
		count += object_matches(&slot->objects[i], iface);
	for (size_t i = 0; count > 0 && i < slot->n_objects; i++) {
		if (object_matches(&slot->objects[i], iface) && seen++ == pick % count)
			return &slot->objects[i];
	}
	return NULL;
}

static const struct wl_interface *bindable_by_name(const char *name)
{
	for (size_t i = 0; i < BINDABLE_LEN; i++) {
		if (strcmp(bindable[i]->name, name) == 0)
			return bindable[i];
	}
	return NULL;
}

/* fds */

static void close_fds(int *fds, size_t *count)
{
	for (size_t i = 0; i < *count; i++)
		close(fds[i]);
	*count = 0;
}

static int make_memfd(off_t size, bool seal)
{
	int fd = memfd_create("fuzz-server", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, size) < 0)
		die("memfd of %lld bytes: %s", (long long)size, strerror(errno));
	if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("sealing a memfd: %s", strerror(errno));
	return fd;
}

static int open_checked(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	return fd;
}

static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open_checked(path, flags);
}

static int make_eventfd(unsigned count)
{
	int fd = eventfd(count, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		die("eventfd: %s", strerror(errno));
	return fd;
}

static void signal_eventfd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		die("signaling an eventfd: %s", strerror(errno));
}

static void pool_init(struct fuzz *fuzz)
{
	int pipe_fds[2];

	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		die("pipe2: %s", strerror(errno));
	close(pipe_fds[1]);
	fuzz->fds[POOL_SEALED] = make_memfd(1 << 20, true);
	fuzz->fds[POOL_UNSEALED] = make_memfd(64 << 10, false);
	fuzz->fds[POOL_SEALED_SMALL] = make_memfd(4096, true);
	fuzz->fds[POOL_PIPE] = pipe_fds[0];
	fuzz->fds[POOL_DEVNULL] = open_checked("/dev/null", O_RDWR);
	fuzz->fds[POOL_READ_ONLY] = reopen(fuzz->fds[POOL_SEALED], O_RDONLY);
	fuzz->fds[POOL_WRITE_ONLY] = reopen(fuzz->fds[POOL_SEALED_SMALL], O_WRONLY);
	fuzz->fds[POOL_EVENTFD] = make_eventfd(0);
	fuzz->fds[POOL_EVENTFD_SIGNALED] = make_eventfd(1);
	fuzz->n_fds = POOL_FIXED;
}

/* Keeps an fd the broker sent, to pass back in later requests, or closes it. */
static void keep_fd(struct fuzz *fuzz, int fd)
{
	if (fuzz->n_fds < sizeof(fuzz->fds) / sizeof(fuzz->fds[0]))
		fuzz->fds[fuzz->n_fds++] = fd;
	else
		close(fd);
}

/* Wire messages */

/* The header's second word, size and opcode, is written by message_end. */
static void message_begin(struct message *msg, uint32_t id, uint32_t opcode)
{
	msg->opcode = opcode;
	msg->n_fds = 0;
	msg->overflow = false;
	memcpy(msg->data, &id, sizeof(id));
	msg->len = 8;
}

static void message_u32(struct message *msg, uint32_t value)
{
	if (msg->len + sizeof(value) > sizeof(msg->data)) {
		msg->overflow = true;
		return;
	}
	memcpy(msg->data + msg->len, &value, sizeof(value));
	msg->len += sizeof(value);
}

/* A string or array: its length, then the bytes padded to 32 bits. */
static void message_bytes(struct message *msg, const void *bytes, uint32_t len)
{
	uint32_t padded = (len + 3) & ~3u;

	message_u32(msg, len);
	if (msg->overflow || msg->len + padded > sizeof(msg->data)) {
		msg->overflow = true;
		return;
	}
	memset(msg->data + msg->len, 0, padded);
	memcpy(msg->data + msg->len, bytes, len);
	msg->len += padded;
}

static void message_string(struct message *msg, const char *string)
{
	if (string)
		message_bytes(msg, string, (uint32_t)strlen(string) + 1);
	else
		message_u32(msg, 0);
}

static void message_fd(struct message *msg, int fd)
{
	if (msg->n_fds == MAX_MSG_FDS)
		msg->overflow = true;
	else
		msg->fds[msg->n_fds++] = fd;
}

static void message_end(struct message *msg)
{
	uint32_t size_opcode = (uint32_t)msg->len << 16 | (msg->opcode & 0xffff);

	memcpy(msg->data + 4, &size_opcode, sizeof(size_opcode));
}

/* The server and the client sockets */

static void slot_reset(struct slot *slot);
static void parse_events(struct slot *slot);
static void mark_processed(struct slot *slot);

static size_t readable_bytes(int fd)
{
	int count = 0;

	return ioctl(fd, FIONREAD, &count) == 0 && count > 0 ? (size_t)count : 0;
}

static void queue_received_fds(struct slot *slot, struct msghdr *hdr)
{
	for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(hdr); cmsg; cmsg = CMSG_NXTHDR(hdr, cmsg)) {
		size_t count;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(fd));
			if (slot->n_in_fds < MAX_IN_FDS)
				slot->in_fds[slot->n_in_fds++] = fd;
			else
				close(fd);
		}
	}
}

/* Reads whatever the server sent the client, and handles each complete event. */
static void drain(struct slot *slot)
{
	while (slot->fd >= 0 && slot->in_len < IN_SIZE) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * MAX_RECV_FDS)];
		} control;
		struct iovec iov = {
			.iov_base = slot->in + slot->in_len,
			.iov_len = IN_SIZE - slot->in_len,
		};
		struct msghdr hdr = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof(control.buf),
		};
		ssize_t len = recvmsg(slot->fd, &hdr, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0)
			break;
		queue_received_fds(slot, &hdr);
		slot->in_len += (size_t)len;
		if (slot->raw) {
			slot->in_len = 0;
			close_fds(slot->in_fds, &slot->n_in_fds);
		} else {
			parse_events(slot);
		}
	}
}

/*
 * Dispatches the server until it has read everything the clients sent, and
 * drains the clients. Clients that the server destroyed meanwhile (after a
 * protocol error, say) are disconnected.
 */
static void pump(struct fuzz *fuzz)
{
	bool processed = false;

	for (int round = 0; round < MAX_PUMPS; round++) {
		bool more = false;

		wl_event_loop_dispatch(fuzz->loop, 0);
		wl_display_flush_clients(fuzz->display);
		for (int i = 0; i < MAX_SLOTS; i++) {
			struct slot *slot = &fuzz->slots[i];

			drain(slot);
			if (slot->wl_client)
				more |= readable_bytes(wl_client_get_fd(slot->wl_client)) > 0;
		}
		if (!more) {
			processed = true;
			break;
		}
	}
	for (int i = 0; i < MAX_SLOTS; i++) {
		struct slot *slot = &fuzz->slots[i];

		if (slot->fd >= 0 && !slot->wl_client) {
			slot_reset(slot);
		} else if (processed && slot->out_len == 0) {
			mark_processed(slot);
		}
	}
}

/* Writes the client's pending requests; the server reads them at the next pump. */
static bool send_out(struct slot *slot)
{
	size_t sent = 0;
	int retries = 0;

	while (slot->fd >= 0 && sent < slot->out_len) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * MAX_OUT_FDS)];
		} control;
		struct iovec iov = {
			.iov_base = slot->out + sent,
			.iov_len = slot->out_len - sent,
		};
		struct msghdr hdr = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t len;

		/* The fds ride with the first byte of the batch. */
		if (sent == 0 && slot->n_out_fds > 0) {
			struct cmsghdr *cmsg;

			memset(&control, 0, sizeof(control));
			hdr.msg_control = control.buf;
			hdr.msg_controllen = CMSG_SPACE(sizeof(int) * slot->n_out_fds);
			cmsg = CMSG_FIRSTHDR(&hdr);
			cmsg->cmsg_level = SOL_SOCKET;
			cmsg->cmsg_type = SCM_RIGHTS;
			cmsg->cmsg_len = CMSG_LEN(sizeof(int) * slot->n_out_fds);
			memcpy(CMSG_DATA(cmsg), slot->out_fds, sizeof(int) * slot->n_out_fds);
		}
		len = sendmsg(slot->fd, &hdr, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (len > 0) {
			sent += (size_t)len;
		} else if (len < 0 && errno == EAGAIN && retries++ < MAX_SEND_RETRIES) {
			pump(slot->fuzz);
		} else if (!(len < 0 && errno == EINTR)) {
			break; /* the server end is gone */
		}
	}
	slot->out_len = 0;
	slot->n_out_fds = 0;
	return slot->fd >= 0;
}

static bool commit(struct slot *slot, const struct message *msg)
{
	if (msg->overflow || slot->fd < 0)
		return false;
	if (slot->out_len + msg->len > OUT_SIZE || slot->n_out_fds + msg->n_fds > MAX_OUT_FDS) {
		if (!send_out(slot))
			return false;
	}
	memcpy(slot->out + slot->out_len, msg->data, msg->len);
	slot->out_len += msg->len;
	memcpy(slot->out_fds + slot->n_out_fds, msg->fds, msg->n_fds * sizeof(int));
	slot->n_out_fds += msg->n_fds;
	return true;
}

static void flush(struct fuzz *fuzz)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		send_out(&fuzz->slots[i]);
	pump(fuzz);
}

/* Events, and the promises the protocol makes about them */

struct event_arg {
	uint32_t u;
	const char *s; /* NULL for a null string */
	uint32_t len; /* of s or of an array, with the terminating NUL */
	int fd;
};

static void check_token(const char *token, uint32_t len)
{
	bool ok = token && len == TOKEN_LEN + 1;

	for (uint32_t i = 0; ok && i < TOKEN_LEN; i++)
		ok = (token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f');
	if (!ok)
		die("dmabroker_token_v1.token is not 32 lowercase hex digits: \"%.*s\"",
			token ? (int)len : 6, token ? token : "(null)");
}

static void add_token(struct fuzz *fuzz, const char *token)
{
	if (fuzz->n_tokens < MAX_TOKENS)
		memcpy(fuzz->tokens[fuzz->n_tokens++], token, TOKEN_LEN + 1);
}

static uint32_t format_planes(uint32_t format)
{
	switch (format) {
	case DRM_FORMAT_NV12:
	case DRM_FORMAT_NV21:
	case DRM_FORMAT_P010:
		return 2;
	case DRM_FORMAT_YUV420:
		return 3;
	default:
		return 1;
	}
}

/* The bytes of a row of plane 0, which has every row of the buffer. */
static uint64_t plane0_row(uint32_t format, uint32_t width)
{
	switch (format) {
	case DRM_FORMAT_NV12:
	case DRM_FORMAT_NV21:
	case DRM_FORMAT_YUV420:
		return width;
	case DRM_FORMAT_RGB565:
	case DRM_FORMAT_P010:
		return (uint64_t)width * 2;
	case DRM_FORMAT_YUYV:
		return ((uint64_t)width + 1) / 2 * 4;
	default:
		return (uint64_t)width * 4;
	}
}

/* The bytes of a row of a chroma plane of a 4:2:0 format, and its rows. */
static uint64_t chroma_row(uint32_t format, uint32_t width)
{
	uint64_t pairs = ((uint64_t)width + 1) / 2;
	switch (format) {
	case DRM_FORMAT_NV12:
	case DRM_FORMAT_NV21:
		return pairs * 2;
	case DRM_FORMAT_P010:
		return pairs * 4;
	default:
		return pairs;
	}
}

static void check_plane_event(const char *what, uint32_t id, struct planes *planes,
	uint32_t serial, uint32_t index, uint32_t offset, uint32_t stride, uint32_t size)
{
	if (index != planes->n || index >= MAX_PLANES)
		die("%s@%u.plane: index %u after %u plane events", what, id, index, planes->n);
	planes->plane[index].serial = serial;
	planes->plane[index].offset = offset;
	planes->plane[index].stride = stride;
	planes->plane[index].size = size;
	planes->n++;
}

/*
 * A layout's planes: as many as the format has, each holding its rows (stride
 * at least a row, size stride times the rows, computed without overflow) and
 * ending within end.
 */
static void check_planes(const char *what, uint32_t id, const struct planes *planes,
	uint32_t format, uint32_t width, uint32_t height, uint64_t end)
{
	if (planes->n != format_planes(format))
		die("%s@%u: %u plane events for a format of %u planes", what, id, planes->n,
			format_planes(format));
	for (uint32_t p = 0; p < planes->n; p++) {
		uint64_t row = p == 0 ? plane0_row(format, width) : chroma_row(format, width);
		uint64_t rows = p == 0 ? height : ((uint64_t)height + 1) / 2;
		uint64_t offset = planes->plane[p].offset, stride = planes->plane[p].stride;
		uint64_t size = planes->plane[p].size;
		if (stride < row || size != stride * rows || offset + size > end)
			die("%s@%u: plane %u (offset %llu stride %llu size %llu) of %ux%u "
				"does not hold its %llu rows of %llu bytes within %llu bytes", what,
				id, p, (unsigned long long)offset, (unsigned long long)stride,
				(unsigned long long)size, width, height, (unsigned long long)rows,
				(unsigned long long)row, (unsigned long long)end);
	}
}

static void check_mapped(struct slot *slot, struct object *att, const struct event_arg *args)
{
	uint32_t serial = args[0].u;
	int fd = args[1].fd;
	uint32_t offset = args[2].u, size = args[3].u, stride = args[4].u, flags = args[5].u;
	off_t end = lseek(fd, 0, SEEK_END);
	struct planes *planes = &att->planes;
	const struct object *buffer = find_object(slot, att->parent);

	if (end < 0 || (uint64_t)offset + size > (uint64_t)end)
		die("mapped: offset %u + size %u is beyond the fd's %lld bytes", offset, size,
			(long long)end);
	if (planes->n == 0 || planes->plane[0].offset != offset ||
			planes->plane[0].stride != stride || planes->plane[0].size != size)
		die("mapped: offset %u stride %u size %u, but %u plane events, the first "
			"offset %u stride %u size %u", offset, stride, size, planes->n,
			planes->plane[0].offset, planes->plane[0].stride, planes->plane[0].size);
	for (uint32_t p = 0; p < planes->n; p++) {
		if (planes->plane[p].serial != serial)
			die("mapped %u: plane %u came with serial %u", serial, p,
				planes->plane[p].serial);
		if ((uint64_t)planes->plane[p].offset + planes->plane[p].size > (uint64_t)end)
			die("mapped: plane %u (offset %u size %u) is beyond the fd's %lld bytes",
				p, planes->plane[p].offset, planes->plane[p].size, (long long)end);
	}
	/* The buffer's format is known while its object lives and has had an info. */
	if (buffer != NULL && buffer->iface == &dmabroker_buffer_v1_interface &&
			buffer->format != 0)
		check_planes("dmabroker_attachment_v1.mapped", att->id, planes, buffer->format,
			buffer->width, buffer->height, (uint64_t)end);
	planes->n = 0;
	if (lseek(fd, 0, SEEK_SET) != 0)
		die("mapped: the fd does not seek back to 0: %s", strerror(errno));
	if ((flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY) &&
			(fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
		die("mapped: flags say read_only but the fd is open for writing");
}

static void check_info(struct object *buffer, const struct event_arg *args)
{
	uint32_t id = buffer->id;
	uint32_t width = args[0].u, height = args[1].u, format = args[2].u, stride = args[3].u;
	uint64_t size = (uint64_t)args[4].u << 32 | args[5].u;
	uint32_t access = args[6].u;

	if ((uint64_t)stride < plane0_row(format, width) ||
			size < (uint64_t)stride * height)
		die("dmabroker_buffer_v1@%u.info: %ux%u stride %u size %llu does not hold the rows",
			id, width, height, stride, (unsigned long long)size);
	if (access != DMABROKER_BUFFER_V1_ACCESS_READ &&
			access != DMABROKER_BUFFER_V1_ACCESS_READ_WRITE)
		die("dmabroker_buffer_v1@%u.info: access %u", id, access);
	check_planes("dmabroker_buffer_v1.info", id, &buffer->planes, format, width, height,
		size);
	if (buffer->planes.plane[0].stride != stride)
		die("dmabroker_buffer_v1@%u.info: stride %u, plane 0's %u", id, stride,
			buffer->planes.plane[0].stride);
	buffer->planes.n = 0;
	buffer->format = format;
	buffer->width = width;
	buffer->height = height;
}

#define DIRECTIONS (DMABROKER_ATTACHMENT_V1_DIRECTION_READ | DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE)
#define USAGES (DMABROKER_MANAGER_V1_USAGE_CPU_READ | DMABROKER_MANAGER_V1_USAGE_CPU_WRITE | \
	DMABROKER_MANAGER_V1_USAGE_COMPOSITE | DMABROKER_MANAGER_V1_USAGE_SHARE)

/* Introspection: enums in range, and an attachment's bracket only where it can be. */
static void check_introspection(uint32_t id, uint32_t opcode, const struct event_arg *args)
{
	if (opcode == DMABROKER_INFO_V1_ALLOCATOR &&
			args[1].u > DMABROKER_INFO_V1_ALLOCATOR_STATE_IN_USE) {
		die("dmabroker_info_v1@%u.allocator: state %u", id, args[1].u);
	}
	if (opcode == DMABROKER_INFO_V1_BUFFER && (args[11].u > 1 || (args[13].u & ~USAGES))) {
		die("dmabroker_info_v1@%u.buffer: write_fence %u, usage %#x", id, args[11].u,
			args[13].u);
	}
	if (opcode == DMABROKER_INFO_V1_ATTACHMENT) {
		uint32_t access = args[2].u, state = args[3].u, in = args[4].u, waiting = args[5].u;
		bool mapped = state == DMABROKER_INFO_V1_ATTACHMENT_STATE_MAPPED ||
			state == DMABROKER_INFO_V1_ATTACHMENT_STATE_MOVING;

		if ((access != DMABROKER_BUFFER_V1_ACCESS_READ &&
				access != DMABROKER_BUFFER_V1_ACCESS_READ_WRITE) ||
				state > DMABROKER_INFO_V1_ATTACHMENT_STATE_DEFUNCT ||
				(in & ~DIRECTIONS) || (waiting & ~DIRECTIONS) || (in && waiting) ||
				((in || waiting) && !mapped)) {
			die("dmabroker_info_v1@%u.attachment: access %u, state %u, in_access %u, "
				"waiting %u", id, access, state, in, waiting);
		}
	}
}

static void check_limits(const struct fuzz *fuzz, const struct event_arg *args)
{
	const struct dmab_server_options *o = &fuzz->options;
	uint64_t max_bytes = (uint64_t)args[2].u << 32 | args[3].u;

	if (args[0].u != o->max_width || args[1].u != o->max_height ||
			max_bytes != o->quota.max_bytes || args[4].u != o->quota.max_buffers ||
			args[5].u != o->quota.max_attachments || args[6].u != o->quota.max_tokens)
		die("limits(%u, %u, %llu, %u, %u, %u) differ from the server's options", args[0].u,
			args[1].u, (unsigned long long)max_bytes, args[4].u, args[5].u, args[6].u);
}

/* Hit counts, over every input this process ran */

#define MAX_UNDECLARED 16

static unsigned long error_hits[N_ERRORS], reason_hits[N_REASONS];

/* Errors the XML does not declare: wl_display's, or an object the harness does not know. */
static struct {
	char interface[64];
	uint32_t code;
	unsigned long hits;
} undeclared[MAX_UNDECLARED];

static void count_error(const char *interface, uint32_t code)
{
	size_t i;

	for (i = 0; i < N_ERRORS; i++) {
		if (protocol_errors_in_xml[i].value == code &&
				strcmp(protocol_errors_in_xml[i].interface, interface) == 0) {
			error_hits[i]++;
			return;
		}
	}
	for (i = 0; i < MAX_UNDECLARED && undeclared[i].hits > 0; i++) {
		if (undeclared[i].code == code && strcmp(undeclared[i].interface, interface) == 0) {
			break;
		}
	}
	if (i < MAX_UNDECLARED) {
		snprintf(undeclared[i].interface, sizeof(undeclared[i].interface), "%s", interface);
		undeclared[i].code = code;
		undeclared[i].hits++;
	}
}

/* A reason outside the enum is a broker bug. */
static void count_reason(const char *interface, uint32_t id, uint32_t reason)
{
	for (size_t i = 0; i < N_REASONS; i++) {
		if (protocol_reasons_in_xml[i].value == reason) {
			reason_hits[i]++;
			return;
		}
	}
	die("%s@%u.failed: reason %u is not in the enum", interface, id, reason);
}

/* "DMABROKER_ATTACHMENT_V1_ERROR_NOT_MAPPED" after "_ERROR_": "not_mapped" */
static void print_enum_name(FILE *out, const char *name, const char *infix)
{
	const char *tail = strstr(name, infix);

	for (tail = tail ? tail + strlen(infix) : name; *tail; tail++) {
		fputc(*tail >= 'A' && *tail <= 'Z' ? *tail - 'A' + 'a' : *tail, out);
	}
}

/*
 * permission_denied needs a connection of another uid, which only root can
 * make in one process.
 */
static bool reachable_reason(uint32_t reason)
{
	return reason != DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED || geteuid() == 0;
}

size_t fuzz_server_print_hits(FILE *out, const char *prefix)
{
	size_t missing = 0;

	for (size_t i = 0; i < N_ERRORS; i++) {
		fprintf(out, "%s%s.", prefix, protocol_errors_in_xml[i].interface);
		print_enum_name(out, protocol_errors_in_xml[i].name, "_ERROR_");
		fprintf(out, ": %lu\n", error_hits[i]);
		missing += error_hits[i] == 0;
	}
	for (size_t i = 0; i < N_REASONS; i++) {
		bool reachable = reachable_reason(protocol_reasons_in_xml[i].value);

		fputs(prefix, out);
		print_enum_name(out, protocol_reasons_in_xml[i].name, "_REASON_");
		fprintf(out, ": %lu%s\n", reason_hits[i],
			reachable ? "" : " (not counted: needs root to connect as another uid)");
		missing += reason_hits[i] == 0 && reachable;
	}
	for (size_t i = 0; i < MAX_UNDECLARED && undeclared[i].hits > 0; i++) {
		fprintf(out, "%s%s error %u (not in the XML's error enums): %lu\n", prefix,
			undeclared[i].interface, undeclared[i].code, undeclared[i].hits);
	}
	return missing;
}

/* The serials of an attachment's answers (see struct serials) */

static void track_request(struct slot *slot, uint32_t id, const struct wl_message *method)
{
	struct object *object = find_object(slot, id);
	struct serials *s;

	if (!object || object->iface != &dmabroker_attachment_v1_interface) {
		return;
	}
	s = &object->serials;
	if (strcmp(method->name, "map") == 0) {
		s->maps++;
	} else if (strcmp(method->name, "begin_access") == 0) {
		s->begins++;
	} else if (strcmp(method->name, "unmap") == 0) {
		s->unmap_sent = s->maps;
	} else if (strcmp(method->name, "end_access") == 0) {
		s->end_sent = s->begins;
	}
}

/* The server has read and handled every request the slot sent. */
static void mark_processed(struct slot *slot)
{
	for (size_t i = 0; i < slot->n_objects; i++) {
		struct serials *s = &slot->objects[i].serials;

		s->unmapped = s->unmap_sent;
		s->ended = s->end_sent;
	}
}

/*
 * An answer names a request that was sent, comes after the answers to
 * earlier ones, and never after the server processed the request that
 * withdrew it.
 */
static void check_answer(const struct object *object, const char *event, uint32_t serial,
	uint32_t sent, uint32_t last, uint32_t withdrawn)
{
	if (object->serials.failed) {
		die("%s@%u.%s(%u) after failed", object->iface->name, object->id, event, serial);
	}
	if (serial == 0 || serial > sent) {
		die("%s@%u.%s(%u) answers no request: %u sent", object->iface->name, object->id,
			event, serial, sent);
	}
	if (serial <= last) {
		die("%s@%u.%s(%u) does not follow the last one, %u", object->iface->name,
			object->id, event, serial, last);
	}
	if (serial <= withdrawn) {
		die("%s@%u.%s(%u) came after the server processed the request that withdrew "
			"request %u", object->iface->name, object->id, event, serial, withdrawn);
	}
}

static void check_serials(struct object *object, uint32_t opcode, const struct event_arg *args)
{
	struct serials *s = &object->serials;
	uint32_t serial = args[0].u;

	switch (opcode) {
	case DMABROKER_ATTACHMENT_V1_MAPPED:
		check_answer(object, "mapped", serial, s->maps, s->mapped, s->unmapped);
		s->mapped = serial;
		break;
	case DMABROKER_ATTACHMENT_V1_READY:
		check_answer(object, "ready", serial, s->begins, s->ready, s->ended);
		s->ready = serial;
		break;
	case DMABROKER_ATTACHMENT_V1_MOVED:
		/* The storage of a map moves once, and only after that map was answered. */
		check_answer(object, "moved", serial, s->mapped, s->moved, s->unmapped);
		s->moved = serial;
		break;
	case DMABROKER_ATTACHMENT_V1_FAILED:
		/* Only a bracket can keep the owner waiting. */
		if (args[0].u == DMABROKER_MANAGER_V1_REASON_PREEMPTED && s->begins == 0) {
			die("%s@%u.failed: preempted, but it never began a bracket",
				object->iface->name, object->id);
		}
		s->failed = true;
		break;
	}
}

static void handle_event(struct slot *slot, struct object *object, uint32_t opcode,
	struct event_arg *args)
{
	const struct wl_interface *iface = object->iface;

	/* dmabroker's failed events carry a reason; linux-dmabuf's carry nothing. */
	if (strcmp(iface->events[opcode].name, "failed") == 0 &&
			strcmp(iface->events[opcode].signature, "us") == 0) {
		count_reason(iface->name, object->id, args[0].u);
	}
	if (iface == &dmabroker_attachment_v1_interface) {
		check_serials(object, opcode, args);
	}

	if (iface == &wl_display_interface && opcode == WL_DISPLAY_ERROR) {
		const struct object *culprit = find_object(slot, args[0].u);

		count_error(culprit ? culprit->iface->name : "(unknown object)", args[1].u);
	} else if (iface == &wl_display_interface && opcode == WL_DISPLAY_DELETE_ID) {
		remove_object(slot, args[0].u);
	} else if (iface == &wl_registry_interface && opcode == WL_REGISTRY_GLOBAL) {
		if (args[1].s && strcmp(args[1].s, dmabroker_manager_v1_interface.name) == 0)
			slot->manager_name = args[0].u;
		if (args[1].s && strcmp(args[1].s, zwp_linux_dmabuf_v1_interface.name) == 0)
			slot->linux_dmabuf_name = args[0].u;
	} else if (iface == &dmabroker_token_v1_interface &&
			opcode == DMABROKER_TOKEN_V1_TOKEN) {
		check_token(args[0].s, args[0].len);
		add_token(slot->fuzz, args[0].s);
	} else if (iface == &dmabroker_attachment_v1_interface &&
			opcode == DMABROKER_ATTACHMENT_V1_PLANE) {
		check_plane_event("dmabroker_attachment_v1", object->id, &object->planes, args[0].u,
			args[1].u, args[2].u, args[3].u, args[4].u);
	} else if (iface == &dmabroker_attachment_v1_interface &&
			opcode == DMABROKER_ATTACHMENT_V1_MAPPED) {
		check_mapped(slot, object, args);
	} else if (iface == &dmabroker_buffer_v1_interface && opcode == DMABROKER_BUFFER_V1_PLANE) {
		check_plane_event("dmabroker_buffer_v1", object->id, &object->planes, 0, args[0].u,
			args[1].u, args[2].u, args[3].u);
	} else if (iface == &dmabroker_buffer_v1_interface && opcode == DMABROKER_BUFFER_V1_INFO) {
		check_info(object, args);
	} else if (iface == &dmabroker_manager_v1_interface &&
			opcode == DMABROKER_MANAGER_V1_LIMITS) {
		check_limits(slot->fuzz, args);
	} else if (iface == &dmabroker_info_v1_interface) {
		check_introspection(object->id, opcode, args);
	} else if (iface == &dmabroker_fence_v1_interface && opcode == DMABROKER_FENCE_V1_FD &&
			args[1].u != DMABROKER_FENCE_V1_FD_TYPE_SYNC_FILE &&
			args[1].u != DMABROKER_FENCE_V1_FD_TYPE_SOCKET) {
		die("dmabroker_fence_v1@%u.fd: type %u is not one the broker sends", object->id,
			args[1].u);
	}
}

/*
 * Splits a message into its arguments, taking its fds from the front of a
 * queue; false if it does not fit its signature.
 */
static bool parse_args(int *fds, size_t *n_fds, const char *signature, const uint8_t *p,
	const uint8_t *end, struct event_arg *args, size_t *n_args)
{
	for (const char *c = signature; *c; c++) {
		struct event_arg *arg = &args[*n_args];
		uint32_t padded;

		if ((*c >= '0' && *c <= '9') || *c == '?')
			continue;
		if (*n_args == MAX_EVENT_ARGS)
			return false;
		*arg = (struct event_arg){ .fd = -1 };
		(*n_args)++;
		if (*c == 'h') {
			if (*n_fds == 0)
				die("a message has an fd argument but no fd came with it");
			arg->fd = fds[0];
			memmove(fds, fds + 1, --*n_fds * sizeof(int));
			continue;
		}
		if (end - p < 4)
			return false;
		memcpy(&arg->u, p, sizeof(arg->u));
		p += 4;
		if (*c != 's' && *c != 'a')
			continue;
		arg->len = arg->u;
		padded = (arg->len + 3) & ~3u;
		if ((size_t)(end - p) < padded)
			return false;
		if (*c == 's' && arg->len > 0) {
			if (p[arg->len - 1] != '\0')
				return false;
			arg->s = (const char *)p;
		}
		p += padded;
	}
	return true;
}

static void trace_message(struct slot *slot, const char *direction,
	const struct wl_interface *iface, uint32_t id, const struct wl_message *message,
	const struct event_arg *args, size_t n_args)
{
	size_t i = 0;

	fprintf(stderr, "client %d %s %s@%u.%s(", (int)(slot - slot->fuzz->slots), direction,
		iface->name, id, message->name);
	for (const char *c = message->signature; *c; c++) {
		if ((*c >= '0' && *c <= '9') || *c == '?')
			continue;
		if (i == n_args)
			break;
		fputs(i ? ", " : "", stderr);
		if (*c == 'h')
			fprintf(stderr, "fd %d", args[i].fd);
		else if (*c == 's' && args[i].s)
			fprintf(stderr, "\"%s\"", args[i].s);
		else if (*c == 's')
			fputs("null", stderr);
		else if (*c == 'a')
			fprintf(stderr, "array[%u]", args[i].len);
		else
			fprintf(stderr, "%u", args[i].u);
		i++;
	}
	fputs(")\n", stderr);
}

/* Objects the server created, such as the wl_buffer of zwp_linux_buffer_params_v1.created. */
static void add_event_objects(struct slot *slot, const struct wl_message *event,
	const struct event_arg *args)
{
	size_t i = 0;

	for (const char *c = event->signature; *c; c++) {
		if ((*c >= '0' && *c <= '9') || *c == '?')
			continue;
		if (*c == 'n')
			add_object(slot, args[i].u, event->types[i]);
		i++;
	}
}

static void dispatch_event(struct slot *slot, uint32_t id, uint32_t opcode,
	const uint8_t *payload, size_t len)
{
	struct object *object = find_object(slot, id);
	struct event_arg args[MAX_EVENT_ARGS];
	size_t n_args = 0;

	if (!object)
		die("an event for object %u, which the client does not have", id);
	if (opcode >= (uint32_t)object->iface->event_count)
		die("event opcode %u of %s@%u is out of range", opcode, object->iface->name, id);
	if (!parse_args(slot->in_fds, &slot->n_in_fds, object->iface->events[opcode].signature,
			payload, payload + len, args, &n_args))
		die("%s@%u.%s does not match its signature", object->iface->name, id,
			object->iface->events[opcode].name);
	if (trace)
		trace_message(slot, "<-", object->iface, id, &object->iface->events[opcode],
			args, n_args);
	handle_event(slot, object, opcode, args);
	add_event_objects(slot, &object->iface->events[opcode], args);
	/* The handlers borrow the fds; the broker's are kept for later requests. */
	for (size_t i = 0; i < n_args; i++) {
		if (args[i].fd >= 0)
			keep_fd(slot->fuzz, args[i].fd);
	}
}

static void parse_events(struct slot *slot)
{
	size_t pos = 0;

	while (slot->in_len - pos >= 8) {
		uint32_t id, size_opcode, size;

		memcpy(&id, slot->in + pos, sizeof(id));
		memcpy(&size_opcode, slot->in + pos + 4, sizeof(size_opcode));
		size = size_opcode >> 16;
		if (size < 8 || size % 4 != 0)
			die("the server sent a malformed event header: size %u", size);
		if (slot->in_len - pos < size)
			break;
		dispatch_event(slot, id, size_opcode & 0xffff, slot->in + pos + 8, size - 8);
		pos += size;
	}
	memmove(slot->in, slot->in + pos, slot->in_len - pos);
	slot->in_len -= pos;
}

/* Connections */

static void handle_client_destroy(struct wl_listener *listener, void *data)
{
	struct slot *slot = wl_container_of(listener, slot, client_destroy);

	slot->wl_client = NULL;
}

static void slot_reset(struct slot *slot)
{
	if (slot->wl_client) {
		wl_client_destroy(slot->wl_client);
		slot->wl_client = NULL;
	}
	if (slot->fd >= 0)
		close(slot->fd);
	slot->fd = -1;
	close_fds(slot->in_fds, &slot->n_in_fds);
	slot->n_objects = 0;
	slot->out_len = 0;
	slot->n_out_fds = 0;
	slot->in_len = 0;
	slot->manager_name = 0;
	slot->linux_dmabuf_name = 0;
	slot->raw = false;
}

/* Server headers have no request opcodes: the generated tables do. */
static uint32_t method_opcode(const struct wl_interface *iface, const char *name)
{
	for (int i = 0; i < iface->method_count; i++) {
		if (strcmp(iface->methods[i].name, name) == 0)
			return (uint32_t)i;
	}
	die("%s has no request %s", iface->name, name);
}

/* Sends a request of the prologue, which the input does not choose. */
static void send_new_id(struct slot *slot, struct message *msg,
	const struct wl_interface *iface)
{
	uint32_t id = slot->next_id++;

	message_u32(msg, id);
	message_end(msg);
	if (commit(slot, msg))
		add_object(slot, id, iface);
	flush(slot->fuzz);
}

static void bind_global(struct slot *slot, uint32_t name, const struct wl_interface *iface,
	uint32_t version)
{
	struct message msg;

	message_begin(&msg, 2, method_opcode(&wl_registry_interface, "bind"));
	message_u32(&msg, name);
	message_string(&msg, iface->name);
	message_u32(&msg, version);
	send_new_id(slot, &msg, iface);
}

/*
 * A socketpair carries its creator's effective uid as the peer credentials:
 * as root, the connection can be another user's.
 */
static void make_socketpair(bool foreign, int fds[2])
{
	bool as_nobody = foreign && geteuid() == 0;
	int ret;

	if (as_nobody && seteuid(NOBODY) < 0) {
		die("seteuid(%d): %s", NOBODY, strerror(errno));
	}
	ret = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
	if (as_nobody && seteuid(0) < 0) {
		die("seteuid(0): %s", strerror(errno));
	}
	if (ret < 0) {
		die("socketpair: %s", strerror(errno));
	}
}

/*
 * Connects a client: wl_display is 1, the registry 2, and the globals, bound
 * by the names the registry announced: the manager 3 and linux-dmabuf 4.
 * Requests of the input start at 5.
 */
static bool slot_connect(struct slot *slot)
{
	struct fuzz *fuzz = slot->fuzz;
	struct message msg;
	int fds[2];

	if (fuzz->connects >= MAX_CONNECTS)
		return false;
	fuzz->connects++;
	make_socketpair(slot->foreign, fds);
	slot->foreign = false;
	slot->wl_client = wl_client_create(fuzz->display, fds[1]);
	if (!slot->wl_client)
		die("wl_client_create: %s", strerror(errno));
	slot->client_destroy.notify = handle_client_destroy;
	wl_client_add_destroy_listener(slot->wl_client, &slot->client_destroy);
	slot->fd = fds[0];
	slot->next_id = 1;
	add_object(slot, slot->next_id++, &wl_display_interface);

	message_begin(&msg, 1, method_opcode(&wl_display_interface, "get_registry"));
	send_new_id(slot, &msg, &wl_registry_interface);
	/* Once the fuzzer destroyed the server, there are no globals left. */
	if (slot->manager_name && slot->linux_dmabuf_name) {
		bind_global(slot, slot->manager_name, &dmabroker_manager_v1_interface, 1);
		bind_global(slot, slot->linux_dmabuf_name, &zwp_linux_dmabuf_v1_interface, 3);
	}
	return slot->fd >= 0;
}

/* The structured generator */

static uint32_t gen_uint(struct input *in)
{
	uint8_t pick = take_u8(in);

	return pick < 0xc0 ? uint_dict[pick % UINT_DICT_LEN] : take_u32(in);
}

/* Returns the string to send (NULL for a null string); buf holds made-up ones. */
static const char *gen_string(struct fuzz *fuzz, struct input *in, char *buf,
	size_t buf_size)
{
	uint8_t pick = take_u8(in);
	unsigned param = pick >> 3;
	size_t len;

	switch (pick & 7) {
	case 0:
		return NULL;
	case 1:
		return fuzz->n_tokens ? fuzz->tokens[param % fuzz->n_tokens] : "";
	case 2:
		len = take_u8(in) % MAX_STRING;
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)take_u8(in);
		buf[len] = '\0';
		return buf;
	case 3: /* one byte too long for a name */
	case 4: /* the longest name */
		len = (pick & 7) == 3 ? 64 : 63;
		memset(buf, 'n', len);
		buf[len] = '\0';
		return buf;
	case 5:
		return bindable[param % BINDABLE_LEN]->name;
	case 6: /* well formed, but no buffer has it */
		snprintf(buf, buf_size, "%032x", param);
		return buf;
	default:
		return "";
	}
}

static uint32_t gen_object(struct slot *slot, struct input *in, const struct wl_interface *iface)
{
	uint8_t pick = take_u8(in);
	struct object *object = NULL;

	if (pick >= 0xf0)
		return pick == 0xff ? take_u32(in) : 0;
	if (pick < 0xc0 && iface)
		object = pick_object(slot, iface, pick);
	if (!object)
		object = pick_object(slot, NULL, pick);
	return object ? object->id : 0;
}

/* Mostly the id the server expects next; else one in use, or any (a freed one is valid). */
static uint32_t gen_new_id(struct slot *slot, struct input *in)
{
	uint8_t pick = take_u8(in);
	struct object *object;

	if (pick < 0xf0)
		return slot->next_id;
	if (pick == 0xff)
		return take_u32(in);
	object = pick_object(slot, NULL, pick - 0xf0u);
	return object ? object->id : 0;
}

static void trace_request(struct slot *slot, const struct wl_interface *iface,
	const struct wl_message *method, const struct message *msg)
{
	struct event_arg args[MAX_EVENT_ARGS];
	int fds[MAX_MSG_FDS];
	size_t n_fds = msg->n_fds, n_args = 0;
	uint32_t id;

	memcpy(fds, msg->fds, sizeof(fds));
	memcpy(&id, msg->data, sizeof(id));
	if (parse_args(fds, &n_fds, method->signature, msg->data + 8, msg->data + msg->len,
			args, &n_args))
		trace_message(slot, "->", iface, id, method, args, n_args);
}

static bool is_destructor(const struct wl_message *method)
{
	return strcmp(method->name, "destroy") == 0 || strcmp(method->name, "revoke") == 0;
}

/* Queues a request that gen_request or gen_well_formed wrote, and tracks its objects. */
static void send_request(struct slot *slot, struct object *target,
	const struct wl_message *method, struct message *msg, uint32_t new_id,
	const struct wl_interface *new_iface)
{
	const struct wl_interface *iface = target->iface;
	uint32_t target_id = target->id;

	message_end(msg);
	if (trace) {
		trace_request(slot, iface, method, msg);
	}
	if (!commit(slot, msg)) {
		return;
	}
	/*
	 * commit may have pumped: look the target up again. The server confirms
	 * the destruction of the objects the client made with delete_id, and of
	 * its own with nothing.
	 */
	track_request(slot, target_id, method);
	if (is_destructor(method) && target_id >= SERVER_ID_START) {
		remove_object(slot, target_id);
	} else if (is_destructor(method) && (target = find_object(slot, target_id))) {
		target->zombie = true;
	}
	/*
	 * Tracked whatever the id: if the server refuses it the client is gone
	 * anyway, and if it accepts it (a freed id) its events must be understood.
	 */
	if (new_id != 0) {
		if (new_id == slot->next_id) {
			slot->next_id++;
		}
		add_object(slot, new_id, new_iface ? new_iface : &wl_callback_interface);
		struct object *made = find_object(slot, new_id);
		if (made != NULL && iface == &dmabroker_buffer_v1_interface)
			made->parent = target_id;
	}
}

/* The untyped new_id of wl_registry.bind names its interface in the string before it. */
static void gen_request(struct slot *slot, struct input *in)
{
	struct fuzz *fuzz = slot->fuzz;
	struct object *target = pick_object(slot, NULL, take_u8(in));
	const struct wl_interface *new_iface = NULL, *named = NULL;
	const struct wl_message *method;
	uint32_t opcode, new_id = 0;
	bool has_new_id = false;
	char string_buf[MAX_STRING + 1];
	struct message msg;
	int type = 0;

	if (!target)
		return;
	opcode = take_u8(in) % (uint32_t)target->iface->method_count;
	method = &target->iface->methods[opcode];
	message_begin(&msg, target->id, opcode);
	for (const char *c = method->signature; *c; c++) {
		const struct wl_interface *arg_iface;

		if ((*c >= '0' && *c <= '9') || *c == '?')
			continue;
		arg_iface = method->types[type++];
		switch (*c) {
		case 'i':
		case 'u':
			message_u32(&msg, gen_uint(in));
			break;
		case 'f':
			message_u32(&msg, take_u32(in));
			break;
		case 's': {
			const char *string = gen_string(fuzz, in, string_buf, sizeof(string_buf));

			named = string ? bindable_by_name(string) : NULL;
			message_string(&msg, string);
			break;
		}
		case 'o':
			message_u32(&msg, gen_object(slot, in, arg_iface));
			break;
		case 'n':
			if (slot->n_objects == MAX_OBJECTS)
				return;
			new_id = gen_new_id(slot, in);
			new_iface = arg_iface ? arg_iface : named;
			has_new_id = true;
			message_u32(&msg, new_id);
			break;
		case 'a': {
			uint8_t bytes[MAX_ARRAY];
			uint32_t len = take_u8(in) % MAX_ARRAY;

			for (uint32_t i = 0; i < len; i++)
				bytes[i] = take_u8(in);
			message_bytes(&msg, bytes, len);
			break;
		}
		case 'h':
			message_fd(&msg, fuzz->fds[take_u8(in) % fuzz->n_fds]);
			break;
		default:
			die("%s.%s: unknown signature character '%c'", target->iface->name,
				method->name, *c);
		}
	}
	send_request(slot, target, method, &msg, has_new_id ? new_id : 0, new_iface);
}

/*
 * Well-formed requests (op 8): the request is chosen by name among those of
 * the client's live objects, and each argument mostly from the values that
 * request accepts, so that random inputs get past validation into the deep
 * states (maps, brackets, migrations, shares, fences).
 */

static const struct wl_interface *const well_formed_ifaces[] = {
	&dmabroker_manager_v1_interface,
	&dmabroker_buffer_v1_interface,
	&dmabroker_attachment_v1_interface,
	&dmabroker_token_v1_interface,
	&dmabroker_fence_v1_interface,
	&dmabroker_info_v1_interface,
	&zwp_linux_dmabuf_v1_interface,
	&zwp_linux_buffer_params_v1_interface,
	&wl_buffer_interface,
};
#define WELL_FORMED_IFACES (sizeof(well_formed_ifaces) / sizeof(well_formed_ifaces[0]))

/* The values an argument (its index in the signature) mostly takes. */
struct arg_hint {
	const struct wl_interface *iface;
	const char *request;
	unsigned arg;
	const uint32_t *values;
	size_t len;
};

#define HINT(iface_, request_, arg_, ...) { \
	.iface = &iface_##_interface, .request = request_, .arg = arg_, \
	.values = (const uint32_t[]){ __VA_ARGS__ }, \
	.len = sizeof((const uint32_t[]){ __VA_ARGS__ }) / sizeof(uint32_t), \
}

/* An fd hint of POOL_FIXED takes an fd the broker sent, if any. */
static const struct arg_hint arg_hints[] = {
	HINT(dmabroker_manager_v1, "create_buffer", 1, 1, 16, 64, 100, 256, 1024),
	HINT(dmabroker_manager_v1, "create_buffer", 2, 1, 16, 64, 512),
	HINT(dmabroker_manager_v1, "create_buffer", 3, DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888,
		DRM_FORMAT_RGB565),
	HINT(dmabroker_manager_v1, "create_buffer", 4, 0, 1, 2, 3, 8, 15),
	HINT(dmabroker_manager_v1, "import_dmabuf", 1, POOL_SEALED, POOL_SEALED_SMALL,
		POOL_READ_ONLY, POOL_FIXED),
	HINT(dmabroker_manager_v1, "import_dmabuf", 2, DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888),
	HINT(dmabroker_manager_v1, "import_dmabuf", 3, 16, 64),
	HINT(dmabroker_manager_v1, "import_dmabuf", 4, 16, 64),
	HINT(dmabroker_manager_v1, "import_dmabuf", 5, 0, 64),
	HINT(dmabroker_manager_v1, "import_dmabuf", 6, 64, 256),
	HINT(dmabroker_manager_v1, "import_dmabuf", 7, 0, 1),
	HINT(dmabroker_buffer_v1, "attach", 1, 1, 3),
	HINT(dmabroker_buffer_v1, "attach", 2, 0, 1),
	HINT(dmabroker_buffer_v1, "attach", 3, 0, 64, 256, 4096),
	HINT(dmabroker_buffer_v1, "attach", 4, 1, 2),
	HINT(dmabroker_buffer_v1, "share", 1, 1, 3),
	HINT(dmabroker_buffer_v1, "get_fence", 1, 0, 1),
	HINT(dmabroker_attachment_v1, "map", 0, 1, 2, 3),
	HINT(dmabroker_attachment_v1, "begin_access", 0, 1, 2, 3),
	HINT(dmabroker_attachment_v1, "end_access", 0, 1, 2, 3),
	HINT(dmabroker_attachment_v1, "set_acquire_fence", 0, POOL_EVENTFD,
		POOL_EVENTFD_SIGNALED, POOL_FIXED),
	HINT(zwp_linux_buffer_params_v1, "add", 0, POOL_SEALED, POOL_SEALED_SMALL, POOL_FIXED),
	HINT(zwp_linux_buffer_params_v1, "add", 1, 0),
	HINT(zwp_linux_buffer_params_v1, "add", 2, 0, 64),
	HINT(zwp_linux_buffer_params_v1, "add", 3, 256, 1024),
	HINT(zwp_linux_buffer_params_v1, "add", 4, 0),
	HINT(zwp_linux_buffer_params_v1, "add", 5, 0),
	HINT(zwp_linux_buffer_params_v1, "create", 0, 16, 64),
	HINT(zwp_linux_buffer_params_v1, "create", 1, 16, 64),
	HINT(zwp_linux_buffer_params_v1, "create", 2, DRM_FORMAT_ARGB8888, DRM_FORMAT_XRGB8888),
	HINT(zwp_linux_buffer_params_v1, "create", 3, 0),
	HINT(zwp_linux_buffer_params_v1, "create_immed", 1, 16, 64),
	HINT(zwp_linux_buffer_params_v1, "create_immed", 2, 16, 64),
	HINT(zwp_linux_buffer_params_v1, "create_immed", 3, DRM_FORMAT_ARGB8888,
		DRM_FORMAT_XRGB8888),
	HINT(zwp_linux_buffer_params_v1, "create_immed", 4, 0),
};
#define ARG_HINTS (sizeof(arg_hints) / sizeof(arg_hints[0]))

static const struct arg_hint *find_hint(const struct wl_interface *iface,
	const struct wl_message *method, unsigned arg)
{
	for (size_t i = 0; i < ARG_HINTS; i++) {
		if (arg_hints[i].iface == iface && arg_hints[i].arg == arg &&
				strcmp(arg_hints[i].request, method->name) == 0) {
			return &arg_hints[i];
		}
	}
	return NULL;
}

/* A byte below 0xe0 takes a hinted value, if there is a hint; else uint_dict. */
static uint32_t well_formed_uint(const struct arg_hint *hint, uint8_t pick)
{
	if (hint && pick < 0xe0) {
		return hint->values[pick % hint->len];
	}
	return uint_dict[pick % UINT_DICT_LEN];
}

static int well_formed_fd(struct fuzz *fuzz, const struct arg_hint *hint, uint8_t pick)
{
	size_t kept = fuzz->n_fds - POOL_FIXED;
	uint32_t index;

	if (!hint || pick >= 0xe0) {
		return fuzz->fds[pick % fuzz->n_fds];
	}
	index = hint->values[pick % hint->len];
	if (index == POOL_FIXED) {
		index = kept ? POOL_FIXED + (pick >> 2) % kept : POOL_EVENTFD_SIGNALED;
	}
	return fuzz->fds[index];
}

/* The token to import, else a name; the protocols have no other strings. */
static const char *well_formed_string(struct fuzz *fuzz, const struct wl_message *method,
	uint8_t pick)
{
	if (strcmp(method->name, "import_buffer") != 0) {
		return "fuzz";
	}
	return fuzz->n_tokens ? fuzz->tokens[pick % fuzz->n_tokens] :
		"00000000000000000000000000000000";
}

/* The pick-th request (modulo their number) of the interfaces above. */
static const struct wl_message *well_formed_method(uint8_t pick,
	const struct wl_interface **iface, uint32_t *opcode)
{
	size_t total = 0;

	for (size_t i = 0; i < WELL_FORMED_IFACES; i++) {
		total += (size_t)well_formed_ifaces[i]->method_count;
	}
	pick = (uint8_t)(pick % total);
	for (size_t i = 0; i < WELL_FORMED_IFACES; i++) {
		if (pick < well_formed_ifaces[i]->method_count) {
			*iface = well_formed_ifaces[i];
			*opcode = pick;
			return &well_formed_ifaces[i]->methods[pick];
		}
		pick = (uint8_t)(pick - well_formed_ifaces[i]->method_count);
	}
	return NULL;
}

/* A request byte, a target byte, then a byte per argument. */
static void gen_well_formed(struct slot *slot, struct input *in)
{
	struct fuzz *fuzz = slot->fuzz;
	const struct wl_interface *iface = NULL, *new_iface = NULL;
	const struct wl_message *method;
	struct object *target, *object;
	uint32_t opcode = 0, new_id = 0;
	unsigned arg = 0, type = 0;
	struct message msg;

	method = well_formed_method(take_u8(in), &iface, &opcode);
	target = pick_object(slot, iface, take_u8(in));
	if (!method || !target || slot->n_objects == MAX_OBJECTS) {
		return;
	}
	message_begin(&msg, target->id, opcode);
	for (const char *c = method->signature; *c; c++) {
		const struct wl_interface *arg_iface;
		const struct arg_hint *hint;

		if ((*c >= '0' && *c <= '9') || *c == '?') {
			continue;
		}
		arg_iface = method->types[type++];
		hint = find_hint(iface, method, arg++);
		switch (*c) {
		case 'i':
		case 'u':
			message_u32(&msg, well_formed_uint(hint, take_u8(in)));
			break;
		case 's':
			message_string(&msg, well_formed_string(fuzz, method, take_u8(in)));
			break;
		case 'o':
			object = pick_object(slot, arg_iface, take_u8(in));
			if (!object) {
				return;
			}
			message_u32(&msg, object->id);
			break;
		case 'n':
			new_id = slot->next_id;
			new_iface = arg_iface;
			message_u32(&msg, new_id);
			break;
		case 'h':
			message_fd(&msg, well_formed_fd(fuzz, hint, take_u8(in)));
			break;
		default: /* f and a: the requests above have none */
			die("%s.%s: no well-formed '%c' argument", iface->name, method->name, *c);
		}
	}
	send_request(slot, target, method, &msg, new_id, new_iface);
}

/* Control (op 9) */

enum control {
	CONTROL_HOLD, /* sleep past the broker's hold bound, then run its timer */
	CONTROL_STARVE, /* the server handles the pending requests with no fd to spare */
	CONTROL_FOREIGN, /* the client's next connection is another uid's */
	CONTROL_COUNT,
};

/* A bracket was begun, and neither answered nor ended: only then is a sleep worth it. */
static bool bracket_waiting(const struct fuzz *fuzz)
{
	for (int i = 0; i < MAX_SLOTS; i++) {
		const struct slot *slot = &fuzz->slots[i];

		for (size_t j = 0; j < slot->n_objects; j++) {
			const struct serials *s = &slot->objects[j].serials;

			if (!s->failed && s->begins > s->ready && s->begins > s->end_sent) {
				return true;
			}
		}
	}
	return false;
}

/* At most MAX_HOLDS per input, and only with a bracket waiting, to keep fuzzing fast. */
static void hold(struct fuzz *fuzz)
{
	struct timespec delay = { .tv_nsec = (MAX_HOLD_MS + 5) * 1000000L };

	flush(fuzz);
	if (bracket_waiting(fuzz) && fuzz->holds++ < MAX_HOLDS) {
		while (nanosleep(&delay, &delay) < 0 && errno == EINTR) {
		}
	}
	flush(fuzz);
}

/* RLIMIT_NOFILE at the lowest free fd: every fd the broker makes meanwhile fails. */
static void starve(struct fuzz *fuzz)
{
	struct rlimit saved, starved;
	int lowest;

	for (int i = 0; i < MAX_SLOTS; i++) {
		send_out(&fuzz->slots[i]);
	}
	/* Any fd of the pool: stdin may be closed. */
	lowest = fcntl(fuzz->fds[POOL_DEVNULL], F_DUPFD_CLOEXEC, 0);
	if (getrlimit(RLIMIT_NOFILE, &saved) < 0 || lowest < 0) {
		die("getrlimit or F_DUPFD: %s", strerror(errno));
	}
	close(lowest);
	starved = (struct rlimit){ .rlim_cur = (rlim_t)lowest, .rlim_max = saved.rlim_max };
	if (setrlimit(RLIMIT_NOFILE, &starved) < 0) {
		die("setrlimit: %s", strerror(errno));
	}
	/* The clients' ends are read once the limit is back: only the broker starves. */
	wl_event_loop_dispatch(fuzz->loop, 0);
	wl_display_flush_clients(fuzz->display);
	if (setrlimit(RLIMIT_NOFILE, &saved) < 0) {
		die("setrlimit: %s", strerror(errno));
	}
	flush(fuzz);
}

static void control(struct slot *slot, uint8_t pick)
{
	switch (pick % CONTROL_COUNT) {
	case CONTROL_HOLD:
		hold(slot->fuzz);
		break;
	case CONTROL_STARVE:
		starve(slot->fuzz);
		break;
	default:
		slot->foreign = true;
		break;
	}
}

/* Compositor reads through the server API */

static void handle_read_ready(struct dmab_server_read *read, void *data)
{
	struct read_record *record = data;

	if (!dmab_server_read_is_ready(read))
		die("the ready callback ran for a read that is not ready");
	if (trace)
		fprintf(stderr, "compositor: read ready\n");
	record->ready = true;
}

/* A read that failed after it began must show nothing from then on. */
static void handle_read_failed(struct dmab_server_read *read, int error, const char *message,
	void *data)
{
	struct read_record *record = data;

	if (dmab_server_read_is_ready(read) || dmab_server_read_get_error(read) != error)
		die("a failed read still reports ready, or another error than %d", error);
	if (trace)
		fprintf(stderr, "compositor: read failed: %s\n", message);
	record->ready = false;
}

static const struct dmab_server_read_listener read_listener = {
	.ready = handle_read_ready,
	.failed = handle_read_failed,
};

static struct read_record *pick_read(struct fuzz *fuzz, uint8_t pick)
{
	size_t count = 0, seen = 0;

	for (size_t i = 0; i < MAX_READS; i++)
		count += fuzz->reads[i].read != NULL;
	for (size_t i = 0; count && i < MAX_READS; i++) {
		if (fuzz->reads[i].read && seen++ == pick % count)
			return &fuzz->reads[i];
	}
	return NULL;
}

static void read_begin(struct slot *slot, uint8_t pick)
{
	struct fuzz *fuzz = slot->fuzz;
	struct read_record *record = NULL;
	struct dmab_server_buffer *buffer;
	struct wl_resource *resource;
	struct dmab_pixels layout;
	struct object *object;

	flush(fuzz);
	/* Mostly a wl_buffer; else any object, which the API must refuse. */
	object = pick_object(slot, pick < 0xc0 ? &wl_buffer_interface : NULL, pick);
	if (!object || !slot->wl_client)
		return;
	for (size_t i = 0; i < MAX_READS && !record; i++) {
		if (!fuzz->reads[i].read)
			record = &fuzz->reads[i];
	}
	resource = wl_client_get_object(slot->wl_client, object->id);
	if (!record || !resource)
		return;
	buffer = dmab_server_buffer_from_wl_buffer(resource);
	if (dmab_server_is_wl_buffer(resource) != (object->iface == &wl_buffer_interface))
		die("dmab_server_is_wl_buffer(%s@%u) is wrong", object->iface->name, object->id);
	if (buffer && object->iface != &wl_buffer_interface)
		die("dmab_server_buffer_from_wl_buffer accepted %s@%u", object->iface->name,
			object->id);
	if (!buffer)
		return;
	dmab_server_buffer_get_layout(buffer, &layout);
	if (layout.width == 0 || layout.height == 0 || layout.stride == 0)
		die("a live wl_buffer has an empty layout: %ux%u stride %u", layout.width,
			layout.height, layout.stride);
	record->ready = false;
	record->read = dmab_server_read_begin(buffer, &read_listener, record);
	if (trace)
		fprintf(stderr, "compositor: read of wl_buffer@%u: %s\n", object->id,
			!record->read ? strerror(errno) : record->ready ? "ready" : "waiting");
	flush(fuzz);
}

/* Touches the first and last byte of every row: the mapping must cover them. */
static void read_pixels(struct read_record *record)
{
	struct dmab_pixels pixels;
	const volatile uint8_t *row;
	uint32_t row_bytes;
	uint8_t sum = 0;

	if (!record || !dmab_server_read_is_ready(record->read))
		return;
	dmab_server_read_get_pixels(record->read, &pixels);
	if (trace)
		fprintf(stderr, "compositor: pixels %ux%u stride %u\n", pixels.width,
			pixels.height, pixels.stride);
	if (!pixels.data || pixels.width == 0 || pixels.height == 0)
		die("a ready read has no pixels: %p, %ux%u", pixels.data, pixels.width,
			pixels.height);
	row_bytes = (uint32_t)plane0_row(pixels.format, pixels.width);
	if (pixels.stride < row_bytes)
		die("stride %u is smaller than a row of %u bytes", pixels.stride, row_bytes);
	for (uint32_t y = 0; y < pixels.height; y++) {
		row = (const volatile uint8_t *)pixels.data + (size_t)y * pixels.stride;
		sum = (uint8_t)(sum + row[0] + row[row_bytes - 1]);
	}
	(void)sum;
}

static void read_end(struct read_record *record)
{
	if (!record)
		return;
	if (trace)
		fprintf(stderr, "compositor: read ended\n");
	dmab_server_read_end(record->read);
	record->read = NULL;
	record->ready = false;
}

static void reads_end(struct fuzz *fuzz)
{
	for (size_t i = 0; i < MAX_READS; i++) {
		if (fuzz->reads[i].read)
			read_end(&fuzz->reads[i]);
	}
}

static void server_destroy(struct fuzz *fuzz)
{
	dmab_server_destroy(fuzz->server);
	fuzz->server = NULL;
}

static void run_structured(struct fuzz *fuzz, struct input *in)
{
	while (!input_empty(in)) {
		uint8_t op = take_u8(in);
		struct slot *slot = &fuzz->slots[(op >> 4) & 1];

		switch (op & 0x0f) {
		case OP_FLUSH:
			flush(fuzz);
			break;
		case OP_READ_BEGIN:
			read_begin(slot, take_u8(in));
			break;
		case OP_READ_END:
			read_end(pick_read(fuzz, take_u8(in)));
			break;
		case OP_READ_PIXELS:
			read_pixels(pick_read(fuzz, take_u8(in)));
			break;
		case OP_DISCONNECT:
			send_out(slot);
			if (slot->fd >= 0) {
				close(slot->fd);
				slot->fd = -1;
			}
			pump(fuzz);
			slot_reset(slot);
			break;
		case OP_SERVER:
			if (op == 0xff && fuzz->server)
				server_destroy(fuzz);
			else if (op == 0xef)
				signal_eventfd(fuzz->fds[POOL_EVENTFD]);
			flush(fuzz);
			break;
		case OP_CONTROL:
			control(slot, take_u8(in));
			break;
		case OP_WELL_FORMED:
			if (slot->fd < 0 && !slot_connect(slot)) {
				break;
			}
			gen_well_formed(slot, in);
			break;
		default:
			if (slot->fd < 0 && !slot_connect(slot))
				break;
			gen_request(slot, in);
			break;
		}
	}
	flush(fuzz);
}

static void run_raw(struct fuzz *fuzz, struct input *in)
{
	struct slot *slot = &fuzz->slots[0];
	size_t n_fds = take_u8(in) % 5;

	if (!slot_connect(slot))
		return;
	slot->raw = true;
	memcpy(slot->out_fds, fuzz->fds, n_fds * sizeof(int));
	slot->n_out_fds = n_fds;
	do {
		size_t len = in->size - in->pos;

		if (len > OUT_SIZE)
			len = OUT_SIZE;
		memcpy(slot->out, in->data + in->pos, len);
		slot->out_len = len;
		in->pos += len;
		flush(fuzz);
	} while (!input_empty(in) && slot->fd >= 0);
}

/* $DMAB_TEST_ALLOCATOR, like every test tier, so that the kernel tier can run the corpus too. */
static const char *test_allocator(void)
{
	const char *allocator = getenv("DMAB_TEST_ALLOCATOR");

	return allocator && allocator[0] ? allocator : "memfd";
}

static void fuzz_init(struct fuzz *fuzz)
{
	const struct dmab_server_options options = {
		.allocator = test_allocator(),
		.quota = {
			.max_bytes = 1 << 20,
			.max_buffers = 8,
			.max_attachments = 16,
			.max_tokens = 4,
		},
		/* Wide enough that a buffer can exceed the byte limit, small enough to be cheap. */
		.max_width = 1024,
		.max_height = 512,
		.max_hold_ms = MAX_HOLD_MS,
		.linux_dmabuf = true,
	};

	*fuzz = (struct fuzz){ .options = options };
	fuzz->display = wl_display_create();
	if (!fuzz->display)
		die("wl_display_create failed");
	fuzz->loop = wl_display_get_event_loop(fuzz->display);
	fuzz->server = dmab_server_create(fuzz->display, &fuzz->options);
	if (!fuzz->server)
		die("dmab_server_create: %s", dmab_server_last_error());
	for (int i = 0; i < MAX_SLOTS; i++) {
		fuzz->slots[i].fuzz = fuzz;
		fuzz->slots[i].fd = -1;
	}
	pool_init(fuzz);
}

/* Either order must leave nothing behind. */
static void fuzz_finish(struct fuzz *fuzz, bool server_first)
{
	if (server_first && fuzz->server)
		server_destroy(fuzz);
	reads_end(fuzz);
	for (int i = 0; i < MAX_SLOTS; i++)
		slot_reset(&fuzz->slots[i]);
	server_destroy(fuzz);
	close_fds(fuzz->fds, &fuzz->n_fds);
	wl_display_destroy(fuzz->display);
}

static void print_hits_at_exit(void)
{
	fprintf(stderr, "fuzz-server: hits over every input of this process:\n");
	fuzz_server_print_hits(stderr, "  ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz fuzz; /* large: keep it off the stack */
	static bool started;
	struct input in = { .data = data, .size = size };
	uint8_t mode = take_u8(&in);
	int fds_before;

	/* libFuzzer's own exit runs it: how often each error came up over the run */
	if (!started && getenv("FUZZ_SERVER_HITS")) {
		atexit(print_hits_at_exit);
	}
	started = true;
	trace = getenv("FUZZ_SERVER_TRACE") != NULL;
	wl_log_set_handler_server(trace ? trace_log : silent_log);
	fds_before = count_fds();
	fuzz_init(&fuzz);
	if ((mode & MODE_MASK) == MODE_RAW)
		run_raw(&fuzz, &in);
	else
		run_structured(&fuzz, &in);
	fuzz_finish(&fuzz, mode & TEARDOWN_SERVER_FIRST);
	if (count_fds() != fds_before)
		die("%d fds open after the input, %d before", count_fds(), fds_before);
	return 0;
}
