/* SPDX-License-Identifier: MIT */
/*
 * dmab-view: imports the ring of read-only buffers dmab-share publishes, reads
 * every frame inside a READ bracket, checks its sequence number and checksum,
 * and shows a copy in a toplevel.
 *
 * The READ begin of the next ring buffer is queued before the current bracket
 * ends, mirroring dmab-share's WRITE chain (see dmab-view(1)), so no frame can
 * be overwritten before this viewer has read it.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <wayland-client.h>

#include <dmabroker/client.h>

#include "format.h"
#include "frame.h"
#include "loop.h"
#include "options.h"
#include "ring.h"
#include "swapchain.h"
#include "window.h"

static const char prog[] = "dmab-view";

#define TOKENS_MAX (DMAB_RING_MAX * (DMAB_TOKEN_LEN + 1))
#define DISPLAY_BUFFERS 3
#define TOKEN_FILE_POLL_MS 5
/* Without --timeout, how long to wait for --token-file to appear. */
#define TOKEN_FILE_DEFAULT_TIMEOUT_S 10

struct options {
	struct dmab_options common;
	const char *token;
	const char *token_file;
	bool verify;
	uint32_t frames;
	uint32_t timeout_s;
};

enum stop_reason {
	STOP_NONE,
	STOP_LAST_FRAME, /* the producer ended the stream */
	STOP_FRAME_COUNT, /* --frames reached */
	STOP_QUIT, /* signal or window closed */
	STOP_PRODUCER_LEFT, /* a stale frame: the producer's chain is gone */
	STOP_TIMEOUT,
	STOP_ERROR,
};

struct view {
	const struct options *opts;
	int64_t deadline_ns; /* 0: none */
	char tokens[TOKENS_MAX + 1];
	char *token_list[DMAB_RING_MAX];

	struct dmab_client *client;
	struct wl_display *display;
	struct dmab_window *window;
	struct dmab_swapchain *chain;
	struct dmab_ring ring;
	struct dmab_client_layout layout;
	uint32_t row_bytes;

	uint32_t current; /* the ring index whose READ is begun */
	bool have_expected;
	uint32_t expected; /* the next sequence number */
	uint64_t frames, torn, lost, duplicates;
	enum stop_reason stop;
};

static void usage(void)
{
	printf("Usage: %s [OPTION]...\n"
		"Show the frames dmab-share publishes, checking that none is torn or lost.\n"
		"The tokens come from --token, --token-file or $DMAB_TOKEN, in that order.\n"
		"\n"
		DMAB_HELP_SOCKET
		"  -T, --token TOKENS       the tokens dmab-share printed after DMAB_TOKEN=\n"
		"  -t, --token-file PATH    read the tokens from PATH, waiting for it to appear\n"
		"  -c, --verify             exit with status 1 if a frame was torn or lost\n"
		"  -n, --frames N           exit after N frames (default 0: at the end of the\n"
		"                           stream)\n"
		"  -w, --timeout S          give up after S seconds (default 0: never; the wait\n"
		"                           for --token-file is then %d s)\n"
		"  -v, --verbose            print a line for every frame\n"
		DMAB_HELP_HELP_VERSION,
		prog, TOKEN_FILE_DEFAULT_TIMEOUT_S);
}

static void handle_option(void *data, int option, const char *arg)
{
	struct options *opts = data;
	switch (option) {
	case 'T':
		opts->token = arg;
		break;
	case 't':
		opts->token_file = arg;
		break;
	case 'c':
		opts->verify = true;
		break;
	case 'n':
		opts->frames = dmab_option_u32(prog, "frames", arg, 0, UINT32_MAX);
		break;
	case 'w':
		opts->timeout_s = dmab_option_u32(prog, "timeout", arg, 0, 86400);
		break;
	}
}

static const struct option own_options[] = {
	{ "token", required_argument, NULL, 'T' },
	{ "token-file", required_argument, NULL, 't' },
	{ "verify", no_argument, NULL, 'c' },
	{ "frames", required_argument, NULL, 'n' },
	{ "timeout", required_argument, NULL, 'w' },
	{ 0 },
};

static const struct dmab_command command = {
	.prog = prog,
	.common = DMAB_OPTIONS_VERBOSE,
	.options = own_options,
	.usage = usage,
	.handle = handle_option,
};

static void parse_options(int argc, char *argv[], struct options *opts)
{
	*opts = (struct options){ 0 };
	dmab_options_parse(&command, argc, argv, &opts->common, opts);
}

static bool is_token(const char *token)
{
	if (strlen(token) != DMAB_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < DMAB_TOKEN_LEN; i++) {
		if (!isxdigit((unsigned char)token[i]) || isupper((unsigned char)token[i]))
			return false;
	}
	return true;
}

/* Splits "tok,tok,..." (optionally prefixed with DMAB_TOKEN=) into view->token_list. */
static bool parse_tokens(struct view *view, const char *text, const char *source)
{
	static const char prefix[] = "DMAB_TOKEN=";
	if (strncmp(text, prefix, strlen(prefix)) == 0)
		text += strlen(prefix);
	size_t len = strlen(text);
	while (len > 0 && isspace((unsigned char)text[len - 1]))
		len--;
	if (len > TOKENS_MAX) {
		fprintf(stderr, "%s: too many tokens in %s (at most %d)\n", prog, source,
			DMAB_RING_MAX);
		return false;
	}
	memcpy(view->tokens, text, len);
	view->tokens[len] = '\0';
	view->ring.len = 0;
	char *save = NULL;
	for (char *token = strtok_r(view->tokens, ",", &save); token != NULL;
			token = strtok_r(NULL, ",", &save)) {
		if (view->ring.len == DMAB_RING_MAX || !is_token(token)) {
			fprintf(stderr, "%s: %s is not a list of 2 to %d tokens of %d lowercase "
				"hex digits\n", prog, source, DMAB_RING_MAX, DMAB_TOKEN_LEN);
			return false;
		}
		view->token_list[view->ring.len++] = token;
	}
	if (view->ring.len < 2) {
		fprintf(stderr, "%s: %s holds %" PRIu32 " token(s); a dmab-share ring has at "
			"least 2\n", prog, source, view->ring.len);
		return false;
	}
	return true;
}

/* dmab-share writes the file by rename, so it is whole once it exists. */
static bool read_token_file(struct view *view, const char *path)
{
	int64_t deadline = view->deadline_ns ? view->deadline_ns :
		dmab_now_ns() + (int64_t)TOKEN_FILE_DEFAULT_TIMEOUT_S * 1000000000;
	FILE *file;
	while ((file = fopen(path, "re")) == NULL) {
		if (errno != ENOENT) {
			fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
			return false;
		}
		if (dmab_now_ns() >= deadline || dmab_quit_requested()) {
			fprintf(stderr, "%s: %s did not appear in time\n", prog, path);
			return false;
		}
		usleep(TOKEN_FILE_POLL_MS * 1000);
	}
	char text[TOKENS_MAX + 64];
	size_t len = fread(text, 1, sizeof(text) - 1, file);
	bool error = ferror(file);
	fclose(file);
	if (error) {
		fprintf(stderr, "%s: cannot read %s\n", prog, path);
		return false;
	}
	text[len] = '\0';
	return parse_tokens(view, text, path);
}

static bool get_tokens(struct view *view)
{
	const struct options *opts = view->opts;
	if (opts->token != NULL)
		return parse_tokens(view, opts->token, "--token");
	if (opts->token_file != NULL)
		return read_token_file(view, opts->token_file);
	const char *env = getenv("DMAB_TOKEN");
	if (env != NULL && env[0] != '\0')
		return parse_tokens(view, env, "$DMAB_TOKEN");
	dmab_usage_error(prog, "no tokens: use --token, --token-file or $DMAB_TOKEN");
}

/* A read-only import must give a read-only fd: one that cannot be mapped writable. */
static bool check_read_only(struct dmab_ring_slot *slot)
{
	uint32_t flags = dmab_client_attachment_get_map_flags(slot->attachment);
	if (!(flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_READ_ONLY)) {
		if (flags & DMABROKER_ATTACHMENT_V1_MAP_FLAGS_DMABUF) {
			fprintf(stderr, "%s: warning: a read-only dma-buf import is mapped without "
				"the read_only flag\n", prog);
			return true;
		}
		fprintf(stderr, "%s: a read-only import is mapped without the read_only flag\n",
			prog);
		return false;
	}
	int fd = dmab_client_attachment_get_fd(slot->attachment);
	long page = sysconf(_SC_PAGESIZE);
	void *map = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map != MAP_FAILED) {
		munmap(map, (size_t)page);
		fprintf(stderr, "%s: the fd of a read_only mapping can be mapped writable\n", prog);
		return false;
	}
	if (errno != EACCES) {
		fprintf(stderr, "%s: mapping a read_only fd writable failed with %s, not EACCES\n",
			prog, strerror(errno));
		return false;
	}
	return true;
}

static bool import_slot(struct view *view, uint32_t i)
{
	struct dmab_ring_slot *slot = &view->ring.slots[i];
	slot->buffer = dmab_client_buffer_import(view->client, view->token_list[i]);
	if (slot->buffer == NULL) {
		dmab_report_error(prog, view->display, "cannot import a shared buffer", -errno);
		return false;
	}
	slot->attachment = dmab_client_attachment_create(slot->buffer,
		DMABROKER_BUFFER_V1_ACCESS_READ, NULL);
	if (slot->attachment == NULL) {
		dmab_report_error(prog, view->display, "cannot attach to a shared buffer", -errno);
		return false;
	}
	int ret = dmab_client_attachment_map(slot->attachment,
		DMABROKER_ATTACHMENT_V1_DIRECTION_READ);
	if (ret < 0) {
		dmab_report_error(prog, view->display, "cannot map a shared buffer", ret);
		return false;
	}
	return check_read_only(slot);
}

static bool check_ring_layout(struct view *view)
{
	dmab_client_buffer_get_layout(view->ring.slots[0].buffer, &view->layout);
	const struct dmab_format_info *info = dmab_format_lookup(view->layout.format);
	for (uint32_t i = 1; i < view->ring.len; i++) {
		struct dmab_client_layout layout;
		dmab_client_buffer_get_layout(view->ring.slots[i].buffer, &layout);
		if (layout.width != view->layout.width || layout.height != view->layout.height ||
				layout.format != view->layout.format)
			info = NULL;
	}
	if (info == NULL || view->layout.width * info->bpp < DMAB_FRAME_HEADER_SIZE) {
		fprintf(stderr, "%s: the shared buffers are not the ring of one dmab-share\n",
			prog);
		return false;
	}
	view->row_bytes = view->layout.width * info->bpp;
	return true;
}

/* Queues the READ bracket of ring buffer index, mapping it again if it moved. */
static int queue_read(struct view *view, uint32_t index)
{
	struct dmab_ring_slot *slot = &view->ring.slots[index];
	int ret = dmab_ring_prepare(&view->ring, index, view->current);
	if (ret > 0 && !check_read_only(slot))
		ret = -EACCES;
	if (ret < 0)
		return ret;
	ret = dmab_client_attachment_begin_async(slot->attachment,
		DMABROKER_ATTACHMENT_V1_DIRECTION_READ);
	if (ret == 0)
		view->current = index;
	return ret;
}

static bool setup(struct view *view)
{
	if (!get_tokens(view))
		return false;
	view->client = dmab_connect(prog, view->opts->common.socket);
	if (view->client == NULL)
		return false;
	view->display = dmab_client_get_display(view->client);
	for (uint32_t i = 0; i < view->ring.len; i++) {
		if (!import_slot(view, i))
			return false;
	}
	if (!check_ring_layout(view))
		return false;
	/* Join first: the window can wait, ring[0] is overwritten N frames from now. */
	int ret = queue_read(view, 0);
	if (ret < 0) {
		dmab_report_error(prog, view->display, "cannot read the stream", ret);
		return false;
	}
	view->window = dmab_window_create(view->display, prog, view->layout.width,
		view->layout.height);
	if (view->window == NULL) {
		dmab_report_error(prog, view->display, "cannot create a window", -errno);
		return false;
	}
	const char *what;
	view->chain = dmab_swapchain_create(view->client, DISPLAY_BUFFERS, view->layout.width,
		view->layout.height, view->layout.format, prog, &what);
	if (view->chain == NULL) {
		dmab_report_error(prog, view->display, what, -errno);
		return false;
	}
	return true;
}

static void teardown(struct view *view)
{
	dmab_window_destroy(view->window);
	dmab_swapchain_destroy(view->chain);
	dmab_ring_finish(&view->ring);
	dmab_client_destroy(view->client);
}

/* Accounts for one frame read from the current ring buffer; sets view->stop to end. */
static int check_frame(struct view *view, const void *data, uint32_t stride)
{
	struct dmab_frame_header header;
	bool intact = dmab_frame_verify(data, stride, view->row_bytes, view->layout.height,
		&header);
	uint32_t seq = intact || !view->have_expected ? header.seq : view->expected;
	if (!intact) {
		view->torn++;
		fprintf(stderr, "%s: frame %" PRIu32 " is torn (checksum mismatch)\n", prog, seq);
	} else if (view->have_expected && (int32_t)(seq - view->expected) < 0) {
		/* The writer's queued bracket was cancelled: nobody will write again. */
		view->duplicates++;
		view->stop = STOP_PRODUCER_LEFT;
		return 0;
	} else if (seq % view->ring.len != view->current) {
		fprintf(stderr, "%s: frame %" PRIu32 " is in ring buffer %" PRIu32 ", not %" PRIu32
			": are the tokens in the order dmab-share printed?\n", prog, seq,
			view->current, seq % view->ring.len);
		view->stop = STOP_ERROR;
		return 0;
	} else if (view->have_expected && seq != view->expected) {
		view->lost += seq - view->expected;
		fprintf(stderr, "%s: lost frames %" PRIu32 " to %" PRIu32 "\n", prog,
			view->expected, seq - 1);
	}
	view->frames++;
	view->have_expected = true;
	view->expected = seq + 1;
	if (view->opts->common.verbose) {
		printf("%s: frame %" PRIu32 "%s\n", prog, seq, intact ? "" : " (torn)");
		fflush(stdout);
	}
	int ret = dmab_swapchain_show_copy(view->chain, view->window, data, stride);
	if (ret < 0)
		return ret;
	if (intact && (header.flags & DMAB_FRAME_LAST))
		view->stop = STOP_LAST_FRAME;
	else if (view->opts->frames != 0 && view->frames >= view->opts->frames)
		view->stop = STOP_FRAME_COUNT;
	return 0;
}

/* Returns 1 once the current ring buffer is readable, 0 if view->stop was set. */
static int wait_for_frame(struct view *view)
{
	struct dmab_client_attachment *att = view->ring.slots[view->current].attachment;
	while (!dmab_client_attachment_is_ready(att)) {
		if (dmab_quit_requested() || view->window->closed) {
			view->stop = STOP_QUIT;
			return 0;
		}
		if (view->deadline_ns != 0 && dmab_now_ns() >= view->deadline_ns) {
			view->stop = STOP_TIMEOUT;
			return 0;
		}
		int ret = dmab_ring_wait(&view->ring, view->current, view->display,
			dmab_timeout_ms(view->deadline_ns));
		if (ret < 0)
			return ret;
	}
	return 1;
}

/*
 * Reads frame after frame. The next buffer's READ is queued before the current
 * one ends, so the producer's WRITE of the frame after it is always behind it.
 */
static int run(struct view *view)
{
	int ret = 0;
	while (view->stop == STOP_NONE) {
		ret = wait_for_frame(view);
		if (ret <= 0)
			break;
		struct dmab_client_attachment *att = view->ring.slots[view->current].attachment;
		ret = check_frame(view, dmab_client_attachment_get_data(att),
			dmab_client_attachment_get_stride(att));
		if (ret < 0 || view->stop != STOP_NONE)
			break;
		ret = queue_read(view, (view->current + 1) % view->ring.len);
		if (ret == 0)
			ret = dmab_client_attachment_end(att);
		if (ret == 0)
			ret = dmab_ring_release_moved(&view->ring, view->current);
	}
	if (ret < 0) {
		dmab_report_error(prog, view->display, "cannot read the stream", ret);
		view->stop = STOP_ERROR;
	}
	return ret;
}

static bool stop_is_failure(const struct view *view)
{
	switch (view->stop) {
	case STOP_PRODUCER_LEFT:
		fprintf(stderr, "%s: the producer left without ending the stream after frame "
			"%" PRIu32 "\n", prog, view->expected - 1);
		return true;
	case STOP_TIMEOUT:
		fprintf(stderr, "%s: timed out after %" PRIu32 " s\n", prog, view->opts->timeout_s);
		return true;
	case STOP_ERROR:
		return true;
	default:
		return false;
	}
}

int main(int argc, char *argv[])
{
	struct options opts;
	parse_options(argc, argv, &opts);
	dmab_quit_on_signals();

	struct view view = {
		.opts = &opts,
		.ring.direction = DMABROKER_ATTACHMENT_V1_DIRECTION_READ,
	};
	if (opts.timeout_s != 0)
		view.deadline_ns = dmab_now_ns() + (int64_t)opts.timeout_s * 1000000000;
	int status = EXIT_FAILURE;
	if (setup(&view)) {
		run(&view);
		printf("%s: frames=%" PRIu64 " torn=%" PRIu64 " lost=%" PRIu64
			" duplicates=%" PRIu64 "\n", prog, view.frames, view.torn, view.lost,
			view.duplicates);
		fflush(stdout);
		bool failed = stop_is_failure(&view);
		if (opts.verify && (view.torn > 0 || view.lost > 0)) {
			fprintf(stderr, "%s: verification failed\n", prog);
			failed = true;
		}
		status = failed ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	teardown(&view);
	return status;
}
