/* SPDX-License-Identifier: MIT */
/*
 * dmab-info: prints what a dmabroker knows, like wayland-info for the broker
 * or the kernel's dma-buf bufinfo: formats, limits, allocator backends, and
 * every live buffer with its attachments, from dmabroker_info_v1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "format.h"
#include "loop.h"
#include "options.h"

static const char prog[] = "dmab-info";

/* The "version" member of the JSON output: bumped on incompatible changes. */
#define JSON_VERSION 2

struct options {
	struct dmab_options common;
	bool json;
};

struct allocator {
	char *name;
	uint32_t state;
	char *detail;
};

struct attachment {
	int32_t pid;
	uint32_t access;
	uint32_t state; /* enum dmabroker_info_v1_attachment_state */
	uint32_t in_access, waiting;
};

struct buffer {
	uint32_t id;
	char *name;
	int32_t owner_pid, payer_pid;
	uint32_t usage;
	uint32_t width, height, format, stride;
	/* From version 3's buffer_plane events; none from an older broker. */
	uint32_t n_planes;
	struct {
		uint32_t offset, stride, size;
	} planes[DMAB_CLIENT_MAX_PLANES];
	uint64_t size;
	char *allocator;
	uint32_t refs, write_fence, read_fences;
	struct attachment *attachments;
	size_t attachments_len;
};

struct uid_usage {
	uint32_t uid, connections, buffers, fds;
	uint64_t bytes;
};

/* Sent by brokers of version 2 and later. */
struct fd_and_uid_limits {
	bool have;
	uint32_t soft_limit, headroom, open;
	uint64_t max_bytes;
	uint32_t max_buffers, max_connections, max_fds;
};

struct snapshot {
	struct fd_and_uid_limits limits;
	struct uid_usage *uids;
	size_t uids_len;
	struct allocator *allocators;
	size_t allocators_len;
	struct buffer *buffers;
	size_t buffers_len;
	bool done;
	bool failed;
	uint32_t reason;
	char *message;
	bool oom;
};

static void usage(void)
{
	printf("Usage: %s [OPTION]...\n"
		"Print a dmabroker's formats, limits, allocators and live buffers.\n"
		"\n"
		DMAB_HELP_SOCKET
		"  -j, --json               print JSON (the format is in dmab-info(1))\n"
		DMAB_HELP_HELP_VERSION,
		prog);
}

static void handle_option(void *data, int option, const char *arg)
{
	struct options *opts = data;
	if (option == 'j')
		opts->json = true;
}

static const struct option own_options[] = {
	{ "json", no_argument, NULL, 'j' },
	{ 0 },
};

static const struct dmab_command command = {
	.prog = prog,
	.options = own_options,
	.usage = usage,
	.handle = handle_option,
};

static void parse_options(int argc, char *argv[], struct options *opts)
{
	*opts = (struct options){ 0 };
	dmab_options_parse(&command, argc, argv, &opts->common, opts);
}

static char *dup_string(struct snapshot *snap, const char *s)
{
	char *copy = strdup(s != NULL ? s : "");
	if (copy == NULL)
		snap->oom = true;
	return copy;
}

/* Grows *array of *len elements of size elem by one zeroed element; NULL when out of memory. */
static void *append(struct snapshot *snap, void **array, size_t *len, size_t elem)
{
	void *grown = realloc(*array, (*len + 1) * elem);
	if (grown == NULL) {
		snap->oom = true;
		return NULL;
	}
	*array = grown;
	void *item = (char *)grown + *len * elem;
	memset(item, 0, elem);
	(*len)++;
	return item;
}

static void handle_allocator(void *data, struct dmabroker_info_v1 *info, const char *name,
	uint32_t state, const char *detail)
{
	struct snapshot *snap = data;
	struct allocator *alloc = append(snap, (void **)&snap->allocators,
		&snap->allocators_len, sizeof(*alloc));
	if (alloc == NULL)
		return;
	alloc->name = dup_string(snap, name);
	alloc->state = state;
	alloc->detail = dup_string(snap, detail);
}

static void handle_buffer(void *data, struct dmabroker_info_v1 *info, uint32_t id,
	const char *name, int32_t owner_pid, uint32_t width, uint32_t height, uint32_t format,
	uint32_t stride, uint32_t size_hi, uint32_t size_lo, const char *allocator,
	uint32_t refs, uint32_t write_fence, uint32_t read_fences, uint32_t usage,
	int32_t payer_pid)
{
	struct snapshot *snap = data;
	struct buffer *buf = append(snap, (void **)&snap->buffers, &snap->buffers_len,
		sizeof(*buf));
	if (buf == NULL)
		return;
	*buf = (struct buffer){
		.id = id,
		.name = dup_string(snap, name),
		.owner_pid = owner_pid,
		.width = width,
		.height = height,
		.format = format,
		.stride = stride,
		.size = (uint64_t)size_hi << 32 | size_lo,
		.allocator = dup_string(snap, allocator),
		.refs = refs,
		.write_fence = write_fence,
		.read_fences = read_fences,
		.usage = usage,
		.payer_pid = payer_pid,
	};
}

static struct buffer *find_buffer(struct snapshot *snap, uint32_t id)
{
	for (size_t i = snap->buffers_len; i > 0; i--) {
		if (snap->buffers[i - 1].id == id)
			return &snap->buffers[i - 1];
	}
	return NULL;
}

static void handle_buffer_plane(void *data, struct dmabroker_info_v1 *info,
	uint32_t buffer_id, uint32_t index, uint32_t offset, uint32_t stride, uint32_t size)
{
	struct snapshot *snap = data;
	struct buffer *buf = find_buffer(snap, buffer_id);
	/* A broker with more planes than we know: those are not shown. */
	if (buf == NULL || index >= DMAB_CLIENT_MAX_PLANES)
		return;
	buf->planes[index].offset = offset;
	buf->planes[index].stride = stride;
	buf->planes[index].size = size;
	if (index >= buf->n_planes)
		buf->n_planes = index + 1;
}

static void handle_attachment(void *data, struct dmabroker_info_v1 *info, uint32_t buffer_id,
	int32_t pid, uint32_t access, uint32_t state, uint32_t in_access, uint32_t waiting)
{
	struct snapshot *snap = data;
	struct buffer *buf = find_buffer(snap, buffer_id);
	if (buf == NULL)
		return;
	struct attachment *att = append(snap, (void **)&buf->attachments, &buf->attachments_len,
		sizeof(*att));
	if (att == NULL)
		return;
	*att = (struct attachment){
		.pid = pid,
		.access = access,
		.state = state,
		.in_access = in_access,
		.waiting = waiting,
	};
}

static void handle_done(void *data, struct dmabroker_info_v1 *info)
{
	struct snapshot *snap = data;
	snap->done = true;
}

static void handle_failed(void *data, struct dmabroker_info_v1 *info, uint32_t reason,
	const char *message)
{
	struct snapshot *snap = data;
	snap->failed = true;
	snap->reason = reason;
	free(snap->message);
	snap->message = dup_string(snap, message);
}

static void handle_fd_limit(void *data, struct dmabroker_info_v1 *info, uint32_t soft_limit,
	uint32_t headroom, uint32_t open)
{
	struct snapshot *snap = data;
	snap->limits.have = true;
	snap->limits.soft_limit = soft_limit;
	snap->limits.headroom = headroom;
	snap->limits.open = open;
}

static void handle_uid_limits(void *data, struct dmabroker_info_v1 *info,
	uint32_t max_bytes_hi, uint32_t max_bytes_lo, uint32_t max_buffers,
	uint32_t max_connections, uint32_t max_fds)
{
	struct snapshot *snap = data;
	snap->limits.max_bytes = (uint64_t)max_bytes_hi << 32 | max_bytes_lo;
	snap->limits.max_buffers = max_buffers;
	snap->limits.max_connections = max_connections;
	snap->limits.max_fds = max_fds;
}

static void handle_uid_usage(void *data, struct dmabroker_info_v1 *info, uint32_t uid,
	uint32_t connections, uint32_t buffers, uint32_t bytes_hi, uint32_t bytes_lo, uint32_t fds)
{
	struct snapshot *snap = data;
	struct uid_usage *usage = append(snap, (void **)&snap->uids, &snap->uids_len,
		sizeof(*usage));
	if (usage == NULL) {
		return;
	}
	*usage = (struct uid_usage){
		.uid = uid,
		.connections = connections,
		.buffers = buffers,
		.bytes = (uint64_t)bytes_hi << 32 | bytes_lo,
		.fds = fds,
	};
}

static const struct dmabroker_info_v1_listener info_listener = {
	.allocator = handle_allocator,
	.buffer = handle_buffer,
	.buffer_plane = handle_buffer_plane,
	.attachment = handle_attachment,
	.done = handle_done,
	.failed = handle_failed,
	.fd_limit = handle_fd_limit,
	.uid_limits = handle_uid_limits,
	.uid_usage = handle_uid_usage,
};

static void snapshot_finish(struct snapshot *snap)
{
	for (size_t i = 0; i < snap->allocators_len; i++) {
		free(snap->allocators[i].name);
		free(snap->allocators[i].detail);
	}
	free(snap->allocators);
	for (size_t i = 0; i < snap->buffers_len; i++) {
		free(snap->buffers[i].name);
		free(snap->buffers[i].allocator);
		free(snap->buffers[i].attachments);
	}
	free(snap->buffers);
	free(snap->uids);
	free(snap->message);
}

static const char *allocator_state_name(uint32_t state)
{
	switch (state) {
	case DMABROKER_INFO_V1_ALLOCATOR_STATE_ABSENT:
		return "absent";
	case DMABROKER_INFO_V1_ALLOCATOR_STATE_LIVE:
		return "live";
	case DMABROKER_INFO_V1_ALLOCATOR_STATE_IN_USE:
		return "in_use";
	}
	return "unknown";
}

static const char *access_name(uint32_t access)
{
	switch (access) {
	case DMABROKER_BUFFER_V1_ACCESS_READ:
		return "read";
	case DMABROKER_BUFFER_V1_ACCESS_READ_WRITE:
		return "read_write";
	}
	return "unknown";
}

static const char *direction_name(uint32_t direction)
{
	switch (direction) {
	case 0:
		return "none";
	case DMABROKER_ATTACHMENT_V1_DIRECTION_READ:
		return "read";
	case DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE:
		return "write";
	case DMABROKER_ATTACHMENT_V1_DIRECTION_READ | DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE:
		return "read_write";
	}
	return "unknown";
}

static const char *attachment_state_name(uint32_t state)
{
	switch (state) {
	case DMABROKER_INFO_V1_ATTACHMENT_STATE_UNMAPPED:
		return "unmapped";
	case DMABROKER_INFO_V1_ATTACHMENT_STATE_MAP_PENDING:
		return "map_pending";
	case DMABROKER_INFO_V1_ATTACHMENT_STATE_MAPPED:
		return "mapped";
	case DMABROKER_INFO_V1_ATTACHMENT_STATE_MOVING:
		return "moving";
	case DMABROKER_INFO_V1_ATTACHMENT_STATE_DEFUNCT:
		return "defunct";
	}
	return "unknown";
}

static void print_text_buffer(const struct buffer *buf)
{
	char name[16];
	printf("\t#%" PRIu32 " \"%s\" pid %" PRId32 ": %" PRIu32 "x%" PRIu32 " %s", buf->id,
		buf->name, buf->owner_pid, buf->width, buf->height,
		dmab_format_name(buf->format, name, sizeof(name)));
	printf(" stride %" PRIu32 " size %" PRIu64 " allocator %s refs %" PRIu32
		" write_fence %" PRIu32 " read_fences %" PRIu32 " usage 0x%" PRIx32
		" paid by pid %" PRId32 "\n", buf->stride, buf->size,
		buf->allocator[0] ? buf->allocator : "(none)", buf->refs, buf->write_fence,
		buf->read_fences, buf->usage, buf->payer_pid);
	for (uint32_t p = 0; p < buf->n_planes; p++) {
		printf("\t\tplane %" PRIu32 ": offset %" PRIu32 " stride %" PRIu32 " size %"
			PRIu32 "\n", p, buf->planes[p].offset, buf->planes[p].stride,
			buf->planes[p].size);
	}
	for (size_t j = 0; j < buf->attachments_len; j++) {
		const struct attachment *att = &buf->attachments[j];
		printf("\t\tattachment pid %" PRId32 " %s %s in_access %s waiting %s\n", att->pid,
			access_name(att->access), attachment_state_name(att->state),
			direction_name(att->in_access), direction_name(att->waiting));
	}
}

static void print_text_fds_and_uids(const struct snapshot *snap)
{
	const struct fd_and_uid_limits *limits = &snap->limits;
	if (!limits->have) {
		return;
	}
	printf("fds: open %" PRIu32 ", soft limit %" PRIu32 ", headroom %" PRIu32 "\n",
		limits->open, limits->soft_limit, limits->headroom);
	printf("uid limits: max_bytes %" PRIu64 ", max_buffers %" PRIu32 ", max_connections %"
		PRIu32 ", max_fds %" PRIu32 "\n", limits->max_bytes, limits->max_buffers,
		limits->max_connections, limits->max_fds);
	printf("uids: %zu\n", snap->uids_len);
	for (size_t i = 0; i < snap->uids_len; i++) {
		const struct uid_usage *usage = &snap->uids[i];
		printf("\tuid %" PRIu32 ": connections %" PRIu32 ", buffers %" PRIu32 ", bytes %"
			PRIu64 ", fds %" PRIu32 "\n", usage->uid, usage->connections,
			usage->buffers, usage->bytes, usage->fds);
	}
}

static void print_text(struct dmab_client *client, const struct snapshot *snap)
{
	char name[16];
	size_t formats_len;
	const uint32_t *formats = dmab_client_get_formats(client, &formats_len);
	printf("formats:");
	for (size_t i = 0; i < formats_len; i++)
		printf(" %s", dmab_format_name(formats[i], name, sizeof(name)));
	printf("\n");

	struct dmab_client_limits limits;
	dmab_client_get_limits(client, &limits);
	printf("limits: max_width %" PRIu32 ", max_height %" PRIu32 ", max_bytes %" PRIu64
		", max_buffers %" PRIu32 ", max_attachments %" PRIu32 ", max_tokens %" PRIu32 "\n",
		limits.max_width, limits.max_height, limits.max_bytes, limits.max_buffers,
		limits.max_attachments, limits.max_tokens);

	print_text_fds_and_uids(snap);

	printf("allocators:\n");
	for (size_t i = 0; i < snap->allocators_len; i++) {
		const struct allocator *alloc = &snap->allocators[i];
		printf("\t%-10s %-7s %s\n", alloc->name, allocator_state_name(alloc->state),
			alloc->detail);
	}

	printf("buffers: %zu\n", snap->buffers_len);
	for (size_t i = 0; i < snap->buffers_len; i++)
		print_text_buffer(&snap->buffers[i]);
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_json_buffer(const struct buffer *buf)
{
	char name[16];
	printf("    {\"id\": %" PRIu32 ", \"name\": ", buf->id);
	print_json_string(buf->name);
	printf(", \"owner_pid\": %" PRId32 ", \"width\": %" PRIu32 ", \"height\": %" PRIu32
		", \"format\": %" PRIu32 ", \"format_name\": ", buf->owner_pid, buf->width,
		buf->height, buf->format);
	print_json_string(dmab_format_name(buf->format, name, sizeof(name)));
	printf(", \"stride\": %" PRIu32 ", \"size\": %" PRIu64 ", \"allocator\": ", buf->stride,
		buf->size);
	print_json_string(buf->allocator);
	printf(", \"refs\": %" PRIu32 ", \"write_fence\": %s, \"read_fences\": %" PRIu32
		", \"usage\": %" PRIu32 ", \"payer_pid\": %" PRId32 ", \"planes\": [",
		buf->refs, buf->write_fence ? "true" : "false", buf->read_fences, buf->usage,
		buf->payer_pid);
	for (uint32_t p = 0; p < buf->n_planes; p++) {
		printf("%s{\"offset\": %" PRIu32 ", \"stride\": %" PRIu32 ", \"size\": %"
			PRIu32 "}", p > 0 ? ", " : "", buf->planes[p].offset,
			buf->planes[p].stride, buf->planes[p].size);
	}
	printf("], \"attachments\": [");
	for (size_t j = 0; j < buf->attachments_len; j++) {
		const struct attachment *att = &buf->attachments[j];
		printf("%s\n      {\"pid\": %" PRId32 ", \"access\": \"%s\", \"state\": \"%s\", "
			"\"in_access\": \"%s\", \"waiting\": \"%s\"}", j > 0 ? "," : "", att->pid,
			access_name(att->access), attachment_state_name(att->state),
			direction_name(att->in_access), direction_name(att->waiting));
	}
	printf("%s]}", buf->attachments_len > 0 ? "\n    " : "");
}

static void print_json_fds_and_uids(const struct snapshot *snap)
{
	const struct fd_and_uid_limits *limits = &snap->limits;
	if (!limits->have) {
		return;
	}
	printf("  \"fds\": {\"open\": %" PRIu32 ", \"soft_limit\": %" PRIu32
		", \"headroom\": %" PRIu32 "},\n", limits->open, limits->soft_limit,
		limits->headroom);
	printf("  \"uid_limits\": {\"max_bytes\": %" PRIu64 ", \"max_buffers\": %" PRIu32
		", \"max_connections\": %" PRIu32 ", \"max_fds\": %" PRIu32 "},\n",
		limits->max_bytes, limits->max_buffers, limits->max_connections, limits->max_fds);
	printf("  \"uids\": [");
	for (size_t i = 0; i < snap->uids_len; i++) {
		const struct uid_usage *usage = &snap->uids[i];
		printf("%s\n    {\"uid\": %" PRIu32 ", \"connections\": %" PRIu32
			", \"buffers\": %" PRIu32 ", \"bytes\": %" PRIu64 ", \"fds\": %" PRIu32 "}",
			i > 0 ? "," : "", usage->uid, usage->connections, usage->buffers,
			usage->bytes, usage->fds);
	}
	printf("%s],\n", snap->uids_len > 0 ? "\n  " : "");
}

static void print_json(struct dmab_client *client, const struct snapshot *snap)
{
	char name[16];
	size_t formats_len;
	const uint32_t *formats = dmab_client_get_formats(client, &formats_len);
	printf("{\n  \"version\": %d,\n  \"formats\": [", JSON_VERSION);
	for (size_t i = 0; i < formats_len; i++) {
		printf("%s\n    {\"fourcc\": %" PRIu32 ", \"name\": ", i > 0 ? "," : "",
			formats[i]);
		print_json_string(dmab_format_name(formats[i], name, sizeof(name)));
		printf("}");
	}
	struct dmab_client_limits limits;
	dmab_client_get_limits(client, &limits);
	printf("\n  ],\n  \"limits\": {\"max_width\": %" PRIu32 ", \"max_height\": %" PRIu32
		", \"max_bytes\": %" PRIu64 ", \"max_buffers\": %" PRIu32 ", \"max_attachments\": %"
		PRIu32 ", \"max_tokens\": %" PRIu32 "},\n  \"allocators\": [", limits.max_width,
		limits.max_height, limits.max_bytes, limits.max_buffers, limits.max_attachments,
		limits.max_tokens);
	for (size_t i = 0; i < snap->allocators_len; i++) {
		const struct allocator *alloc = &snap->allocators[i];
		printf("%s\n    {\"name\": ", i > 0 ? "," : "");
		print_json_string(alloc->name);
		printf(", \"state\": \"%s\", \"detail\": ", allocator_state_name(alloc->state));
		print_json_string(alloc->detail);
		printf("}");
	}
	printf("\n  ],\n");
	print_json_fds_and_uids(snap);
	printf("  \"buffers\": [");
	for (size_t i = 0; i < snap->buffers_len; i++) {
		printf("%s\n", i > 0 ? "," : "");
		print_json_buffer(&snap->buffers[i]);
	}
	printf("%s]\n}\n", snap->buffers_len > 0 ? "\n  " : "");
}

static int take_snapshot(struct dmab_client *client, struct snapshot *snap)
{
	struct dmabroker_info_v1 *info =
		dmabroker_manager_v1_get_info(dmab_client_get_manager(client));
	if (info == NULL)
		return -ENOMEM;
	dmabroker_info_v1_add_listener(info, &info_listener, snap);
	int ret = 0;
	while (!snap->done && !snap->failed && ret >= 0)
		ret = dmab_client_dispatch(client);
	dmabroker_info_v1_destroy(info);
	if (ret == 0 && snap->oom)
		ret = -ENOMEM;
	return ret;
}

int main(int argc, char *argv[])
{
	struct options opts;
	parse_options(argc, argv, &opts);

	struct dmab_client *client = dmab_connect(prog, opts.common.socket);
	if (client == NULL)
		return EXIT_FAILURE;
	struct snapshot snap = { 0 };
	int status = EXIT_FAILURE;
	int ret = take_snapshot(client, &snap);
	if (ret < 0) {
		dmab_report_error(prog, dmab_client_get_display(client), "introspection failed",
			ret);
	} else if (snap.failed) {
		fprintf(stderr, "%s: introspection refused%s: %s\n", prog,
			snap.reason == DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED ?
			" (permission denied)" : "", snap.message ? snap.message : "");
	} else {
		if (opts.json)
			print_json(client, &snap);
		else
			print_text(client, &snap);
		status = fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	snapshot_finish(&snap);
	dmab_client_destroy(client);
	return status;
}
