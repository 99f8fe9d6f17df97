/* SPDX-License-Identifier: MIT */
/*
 * e2e: the real dmabrokerd on a private XDG_RUNTIME_DIR, with the example
 * clients and stock clients against it. What reaches the screen is checked
 * pixel by pixel in grim's screenshots against the frame pattern the clients
 * draw (clients/common/pattern.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "fixture.h"
#include "format.h"
#include "frame.h"
#include "harness.h"
#include "json.h"
#include "pattern.h"

/* The daemon cascades toplevels from the output's top-left corner by this step (view.c). */
#define CASCADE_STEP 32
#define PAINT_WIDTH 320
#define PAINT_HEIGHT 240
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define CLIENT_TIMEOUT_MS (20000 * dmab_test_time_scale())
#define LINE_TIMEOUT_MS (10000 * dmab_test_time_scale())
#define FRAME_TIMEOUT_MS (5000 * dmab_test_time_scale())

struct box {
	int x, y, width, height;
};

static bool box_contains(const struct box *box, int x, int y)
{
	return box != NULL && x >= box->x && y >= box->y && x < box->x + box->width &&
		y < box->y + box->height;
}

enum content {
	CONTENT_PATTERN, /* dmab-paint: the bare frame pattern */
	CONTENT_SHARED, /* dmab-share and dmab-view: the pattern under a frame header */
};

/* A window showing frames drawn by an example client, as the screen should show it. */
struct window_check {
	struct box box; /* where it is on screen; its size is the buffer's */
	uint32_t format;
	enum content content;
	long last_seq; /* CONTENT_SHARED: the frame that carries DMAB_FRAME_LAST, or -1 */
	const struct box *above; /* a window stacked on top of it, or NULL */
};

struct check_result {
	long checked, mismatches;
	int bad_x, bad_y; /* the first mismatch, in window coordinates */
	uint32_t bad_got, bad_want;
};

/* The window column where 32 pixels of frame code start: after any frame header. */
static int code_column(const struct window_check *w)
{
	return w->content == CONTENT_SHARED ? DMAB_PATTERN_CODE_BITS : 0;
}

static char *spawn_and_capture(struct e2e *e, const char *name, const char *const argv[],
	int want_exit, int timeout_ms)
{
	struct e2e_proc *p = e2e_spawn(e, name, argv);
	e2e_expect_exit(p, want_exit, timeout_ms);
	return e2e_read_file(p->out_path);
}

/*
 * Reads the frame number from the window's frame code. False if one of the
 * code pixels is not pure black or white: this is not a frame code.
 */
static bool read_frame_code(const struct dmab_test_image *img, const struct window_check *w,
	uint32_t *frame)
{
	uint32_t argb[DMAB_PATTERN_CODE_BITS];
	int x0 = w->box.x + code_column(w), y = w->box.y;
	if (x0 + DMAB_PATTERN_CODE_BITS > img->width || y >= img->height)
		return false;
	for (int i = 0; i < DMAB_PATTERN_CODE_BITS; i++) {
		uint32_t rgb = dmab_test_image_pixel(img, x0 + i, y);
		if (rgb != 0x000000 && rgb != 0xffffff)
			return false;
		argb[i] = 0xff000000u | rgb;
	}
	*frame = dmab_pattern_decode_frame(argb, DMAB_PATTERN_CODE_BITS);
	return true;
}

/* The frame as the client draws it into its buffer, made with the clients' own code. */
static uint8_t *draw_reference(const struct window_check *w, uint32_t frame, uint32_t *stride)
{
	const struct dmab_format_info *info = dmab_format_lookup(w->format);
	CHECK(info != NULL);
	*stride = (uint32_t)w->box.width * info->bpp;
	uint8_t *data = calloc((size_t)w->box.height, *stride);
	CHECK(data != NULL);
	uint32_t width = (uint32_t)w->box.width, height = (uint32_t)w->box.height;
	if (w->content == CONTENT_PATTERN) {
		CHECK(dmab_pattern_fill(data, *stride, width, height, w->format, frame));
	} else {
		uint32_t flags = (long)frame == w->last_seq ? DMAB_FRAME_LAST : 0;
		CHECK(dmab_frame_write(data, *stride, width, height, w->format, frame, flags));
	}
	return data;
}

/* Compares every visible pixel of the window with frame `frame`, header included. */
static struct check_result check_window(const struct dmab_test_image *img,
	const struct window_check *w, uint32_t frame)
{
	struct check_result r = { .bad_x = -1, .bad_y = -1 };
	uint32_t bpp = dmab_format_lookup(w->format)->bpp, stride;
	uint8_t *reference = draw_reference(w, frame, &stride);
	for (int y = 0; y < w->box.height; y++) {
		for (int x = 0; x < w->box.width; x++) {
			int sx = w->box.x + x, sy = w->box.y + y;
			if (sx >= img->width || sy >= img->height || box_contains(w->above, sx, sy))
				continue;
			const uint8_t *stored = reference + (size_t)y * stride + (size_t)x * bpp;
			uint32_t want = dmab_pixel_unpack(w->format, dmab_pixel_load(stored, bpp));
			want &= 0xffffff;
			uint32_t got = dmab_test_image_pixel(img, sx, sy);
			r.checked++;
			if (got == want)
				continue;
			if (r.mismatches++ == 0) {
				r.bad_x = x;
				r.bad_y = y;
				r.bad_got = got;
				r.bad_want = want;
			}
		}
	}
	free(reference);
	return r;
}

/* Decodes the frame a window shows and checks every visible pixel of it. */
static bool window_shows_frame(const struct dmab_test_image *img, const struct window_check *w,
	uint32_t *frame, bool report)
{
	if (!read_frame_code(img, w, frame)) {
		if (report)
			printf("# no frame code in row 0 of the window at %d,%d\n", w->box.x,
				w->box.y);
		return false;
	}
	struct check_result r = check_window(img, w, *frame);
	/* A window mostly hidden would prove little: insist on a real area. */
	bool ok = r.mismatches == 0 && r.checked >= (long)CASCADE_STEP * w->box.height;
	if (!ok && report) {
		printf("# window at %d,%d, frame %u: %ld of %ld pixels differ", w->box.x,
			w->box.y, *frame, r.mismatches, r.checked);
		if (r.mismatches > 0)
			printf("; first at %d,%d: 0x%06x, expected 0x%06x", r.bad_x, r.bad_y,
				r.bad_got, r.bad_want);
		printf("\n");
	}
	return ok;
}

/* Every pixel outside the windows has one colour: nothing else reached the screen. */
static void check_background(const struct dmab_test_image *img, const struct box *windows,
	int windows_len)
{
	bool have = false;
	uint32_t background = 0;
	long count = 0;
	for (int y = 0; y < img->height; y++) {
		for (int x = 0; x < img->width; x++) {
			bool inside = false;
			for (int i = 0; i < windows_len; i++)
				inside |= box_contains(&windows[i], x, y);
			if (inside)
				continue;
			uint32_t rgb = dmab_test_image_pixel(img, x, y);
			if (!have) {
				background = rgb;
				have = true;
			}
			if (rgb != background)
				E2E_FAIL("pixel %d,%d outside the windows is 0x%06x, the "
					"background elsewhere 0x%06x", x, y, rgb, background);
			count++;
		}
	}
	CHECK(count > 0);
}

static void screenshot(struct e2e *e, struct dmab_test_image *img)
{
	CHECK(e2e_screenshot(e, img));
	CHECK_EQ(img->width, E2E_OUTPUT_WIDTH);
	CHECK_EQ(img->height, E2E_OUTPUT_HEIGHT);
}

/*
 * Screenshots until each of the n windows shows a complete frame newer than
 * after[i] (clients take a few frames to map), and stores those frames. The
 * screenshot that showed them is left in img. Fails after timeout_ms.
 */
static void wait_for_frames(struct e2e *e, const struct window_check *w, int n,
	const long *after, uint32_t *frames, struct dmab_test_image *img, int timeout_ms)
{
	int64_t deadline = e2e_now_ms() + timeout_ms;
	for (;;) {
		screenshot(e, img);
		bool last_try = e2e_now_ms() >= deadline;
		int shown = 0;
		for (int i = 0; i < n; i++) {
			if (window_shows_frame(img, &w[i], &frames[i], last_try) &&
					(long)frames[i] > after[i])
				shown++;
		}
		if (shown == n)
			return;
		dmab_test_image_finish(img);
		if (last_try)
			E2E_FAIL("%d of %d windows showed no complete new "
				"frame within %d ms", n - shown, n, timeout_ms);
		e2e_sleep_ms(50);
	}
}

static uint32_t wait_for_frame(struct e2e *e, const struct window_check *w, long after)
{
	struct dmab_test_image img;
	uint32_t frame;
	wait_for_frames(e, w, 1, &after, &frame, &img, FRAME_TIMEOUT_MS);
	dmab_test_image_finish(&img);
	return frame;
}

static struct e2e_proc *spawn_paint(struct e2e *e, const char *const extra[])
{
	const char *argv[24] = {
		e2e_built_program("DMAB_PAINT"), "--width", STRINGIFY(PAINT_WIDTH),
		"--height", STRINGIFY(PAINT_HEIGHT), "--verbose",
	};
	int argc = 6;
	for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
		CHECK(argc < 23);
		argv[argc++] = extra[i];
	}
	return e2e_spawn(e, "dmab-paint", argv);
}

static void wait_for_line_or_fail(struct e2e_proc *p, const char *needle, int timeout_ms)
{
	char *line = e2e_wait_for_line(p, needle, timeout_ms);
	if (line == NULL)
		E2E_FAIL("%s printed no \"%s\" line within %d ms%s",
			p->name, needle, timeout_ms, p->pid == 0 ? " and exited" : "");
	free(line);
}

/* Example clients quit cleanly on SIGTERM. */
static void stop_client(struct e2e_proc *p)
{
	CHECK(e2e_running(p));
	e2e_stop(p, SIGTERM, 5000);
	if (!WIFEXITED(p->status) || WEXITSTATUS(p->status) != 0)
		E2E_FAIL("%s did not exit 0 on SIGTERM (status 0x%x)",
			p->name, p->status);
	e2e_check_sanitizers(p);
}

static struct window_check paint_window(int index, uint32_t format)
{
	return (struct window_check){
		.box = { index * CASCADE_STEP, index * CASCADE_STEP, PAINT_WIDTH, PAINT_HEIGHT },
		.format = format,
		.content = CONTENT_PATTERN,
		.last_seq = -1,
	};
}

static struct json *run_info_json(struct e2e *e)
{
	const char *argv[] = { e2e_built_program("DMAB_INFO"), "--json", NULL };
	char *out = spawn_and_capture(e, "dmab-info", argv, 0, CLIENT_TIMEOUT_MS);
	struct json *info = json_parse(out);
	if (info == NULL) {
		printf("# dmab-info --json printed:\n# %s\n", out);
		free(out);
		E2E_FAIL("dmab-info --json printed no valid JSON");
	}
	free(out);
	CHECK(info->type == JSON_OBJECT);
	const struct json *version = json_get(info, "version");
	CHECK(version != NULL && version->type == JSON_NUMBER && version->number == 2);
	return info;
}

static const struct json *info_array(const struct json *info, const char *key)
{
	const struct json *array = json_get(info, key);
	if (array == NULL || array->type != JSON_ARRAY)
		E2E_FAIL("dmab-info --json has no \"%s\" array", key);
	return array;
}

static double json_number(const struct json *object, const char *key)
{
	const struct json *value = json_get(object, key);
	if (value == NULL || value->type != JSON_NUMBER)
		E2E_FAIL("no number \"%s\" in dmab-info --json", key);
	return value->number;
}

/* The buffers dmab-info lists whose owner is pid. */
static int count_buffers_of(const struct json *info, pid_t pid)
{
	const struct json *buffers = info_array(info, "buffers");
	int count = 0;
	for (size_t i = 0; i < buffers->len; i++)
		count += json_number(buffers->items[i], "owner_pid") == (double)pid;
	return count;
}

/* The allocator the daemon was started with, as dmab-info names it: "dma-heap:x" is "dma-heap". */
static bool is_test_allocator(const char *name)
{
	const char *want = dmab_test_allocator();
	size_t len = strcspn(want, ":");
	return strlen(name) == len && strncmp(name, want, len) == 0;
}

static bool json_bool(const struct json *object, const char *key)
{
	const struct json *value = json_get(object, key);
	if (value == NULL || value->type != JSON_BOOL)
		E2E_FAIL("no boolean \"%s\" in dmab-info --json", key);
	return value->boolean;
}

/*
 * What dmab-info shows while dmab-paint holds a frame's WRITE bracket: the
 * buffer it writes has the write fence, and another attachment on it, the
 * compositor's read of the committed buffer, waits outside any bracket; one
 * other buffer of the client is inside the compositor's READ bracket: the
 * frame on screen.
 */
static void check_hold_in_info(struct e2e *e, pid_t paint)
{
	struct json *info = run_info_json(e);
	const struct json *buffers = info_array(info, "buffers");
	int held = 0, shown = 0;
	for (size_t i = 0; i < buffers->len; i++) {
		const struct json *buffer = buffers->items[i];
		if (json_number(buffer, "owner_pid") != (double)paint)
			continue;
		const struct json *attachments = json_get(buffer, "attachments");
		CHECK(attachments != NULL && attachments->type == JSON_ARRAY);
		bool writing = false, read_waits = false, reading = false;
		for (size_t j = 0; j < attachments->len; j++) {
			const struct json *att = attachments->items[j];
			const char *in_access = json_get_string(att, "in_access");
			CHECK(in_access != NULL);
			if (json_number(att, "pid") == (double)paint) {
				writing |= strcmp(in_access, "write") == 0;
			} else {
				read_waits |= strcmp(in_access, "none") == 0;
				reading |= strcmp(in_access, "read") == 0;
			}
		}
		held += json_bool(buffer, "write_fence") && writing && read_waits;
		shown += !json_bool(buffer, "write_fence") && reading;
	}
	json_free(info);
	if (held != 1 || shown != 1)
		E2E_FAIL("during the hold dmab-info shows %d buffers written with the "
			"compositor's read waiting (expected 1) and %d read by the compositor "
			"(expected 1)", held, shown);
}

/* Paints the window's frame into an image as the compositor would show it. */
static void paint_into(struct dmab_test_image *img, const struct window_check *w, uint32_t frame)
{
	uint32_t bpp = dmab_format_lookup(w->format)->bpp, stride;
	uint8_t *reference = draw_reference(w, frame, &stride);
	for (int y = 0; y < w->box.height; y++) {
		for (int x = 0; x < w->box.width; x++) {
			const uint8_t *stored = reference + (size_t)y * stride + (size_t)x * bpp;
			uint32_t argb = dmab_pixel_unpack(w->format, dmab_pixel_load(stored, bpp));
			uint8_t *rgb = &img->rgb[((size_t)(w->box.y + y) * (size_t)img->width +
				(size_t)(w->box.x + x)) * 3];
			rgb[0] = (uint8_t)(argb >> 16);
			rgb[1] = (uint8_t)(argb >> 8);
			rgb[2] = (uint8_t)argb;
		}
	}
	free(reference);
}

/*
 * The screenshot checks themselves, on images made here: a flat image, a
 * wrong frame under a right frame code and a single wrong pixel all fail, and
 * a PPM with a comment in its header parses.
 */
DMAB_TEST(screenshot_checks_reject_wrong_pixels)
{
	static const char ppm[] = "P6\n# grim\n2 1\n255\n\x01\x02\x03\xfd\xfe\xff";
	struct dmab_test_image img;
	CHECK(dmab_test_ppm_parse(ppm, sizeof(ppm) - 1, &img));
	CHECK_EQ(img.width, 2);
	CHECK_EQ(img.height, 1);
	CHECK_EQ(dmab_test_image_pixel(&img, 0, 0), 0x010203);
	CHECK_EQ(dmab_test_image_pixel(&img, 1, 0), 0xfdfeff);
	dmab_test_image_finish(&img);
	CHECK(!dmab_test_ppm_parse(ppm, sizeof(ppm) - 2, &img));

	img = (struct dmab_test_image){ .width = 400, .height = 300 };
	img.rgb = calloc((size_t)img.width * (size_t)img.height, 3);
	CHECK(img.rgb != NULL);
	struct window_check w = paint_window(1, DRM_FORMAT_RGB565);
	uint32_t frame;
	/* Black is a valid frame code (frame 0), but the rows below are not the pattern. */
	CHECK(!window_shows_frame(&img, &w, &frame, false));

	paint_into(&img, &w, 1234);
	CHECK(window_shows_frame(&img, &w, &frame, false));
	CHECK_EQ(frame, 1234);
	/* Row 0 of frame 1234 over the rest of frame 1235. */
	struct window_check below = w;
	below.box.y++;
	below.box.height--;
	paint_into(&img, &below, 1235);
	CHECK(!window_shows_frame(&img, &w, &frame, false));

	paint_into(&img, &w, 1234);
	img.rgb[((size_t)(w.box.y + 100) * (size_t)img.width + (size_t)w.box.x + 200) * 3] ^= 8;
	CHECK(!window_shows_frame(&img, &w, &frame, false));

	/* A shared frame's header is checked too. */
	struct window_check shared = {
		.box = { 0, 0, 256, 192 }, .format = DRM_FORMAT_XRGB8888,
		.content = CONTENT_SHARED, .last_seq = 99,
	};
	paint_into(&img, &shared, 99);
	CHECK(window_shows_frame(&img, &shared, &frame, false));
	CHECK_EQ(frame, 99);
	shared.last_seq = -1;
	CHECK(!window_shows_frame(&img, &shared, &frame, false));
	dmab_test_image_finish(&img);
}

/*
 * dmab-paint's window, composited by the daemon, is pixel-exact: every pixel of
 * three screenshots equals the pattern of the frame encoded in its row 0, the
 * frames advance, and nothing else is on screen.
 */
DMAB_TEST(paint_window_is_pixel_exact)
{
	e2e_stock_program("grim");
	e2e_built_program("DMAB_PAINT");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	struct e2e_proc *paint = spawn_paint(&e, NULL);
	wait_for_line_or_fail(paint, "frame 2 committed", LINE_TIMEOUT_MS);

	struct window_check w = paint_window(0, DRM_FORMAT_XRGB8888);
	long previous = -1;
	for (int i = 0; i < 3; i++) {
		struct dmab_test_image img;
		uint32_t frame;
		wait_for_frames(&e, &w, 1, &previous, &frame, &img, FRAME_TIMEOUT_MS);
		check_background(&img, &w.box, 1);
		dmab_test_image_finish(&img);
		previous = frame;
	}
	stop_client(paint);
	e2e_finish(&e);
}

/*
 * Every format composites exactly: one dmab-paint after the other in each
 * format, each window (cascaded one step further) pixel-exact.
 */
DMAB_TEST(paint_every_format_is_pixel_exact)
{
	static const char *const formats[] = {
		"XRGB8888", "ARGB8888", "XBGR8888", "ABGR8888", "RGB565",
	};
	e2e_stock_program("grim");
	e2e_built_program("DMAB_PAINT");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	for (int i = 0; i < (int)(sizeof(formats) / sizeof(formats[0])); i++) {
		const char *extra[] = { "--format", formats[i], NULL };
		struct e2e_proc *paint = spawn_paint(&e, extra);
		wait_for_line_or_fail(paint, "frame 1 committed", LINE_TIMEOUT_MS);
		struct window_check w = paint_window(i, dmab_format_from_name(formats[i])->fourcc);
		struct dmab_test_image img;
		uint32_t frame;
		long after = -1;
		wait_for_frames(&e, &w, 1, &after, &frame, &img, FRAME_TIMEOUT_MS);
		/* The previous windows are gone. */
		check_background(&img, &w.box, 1);
		dmab_test_image_finish(&img);
		stop_client(paint);
	}
	e2e_finish(&e);
}

/*
 * dmab-share publishes 300 frames through its ring and dmab-view reads every
 * one of them inside READ brackets: none torn, lost or repeated. Meanwhile both
 * windows are on screen, pixel-exact: share's frames, and view's copies of them.
 */
#define SHARE_FRAMES 300
DMAB_TEST(share_view_stream_is_intact)
{
	e2e_stock_program("grim");
	const char *share_path = e2e_built_program("DMAB_SHARE");
	const char *view_path = e2e_built_program("DMAB_VIEW");
	struct e2e e;
	e2e_init(&e);
	/* 300 frames at 120 Hz take 2.5 s. */
	const char *daemon_args[] = { "--refresh", "120", NULL };
	e2e_start_daemon(&e, daemon_args);
	char token_file[E2E_PATH_MAX], frames[16];
	snprintf(token_file, sizeof(token_file), "%.*s/token", E2E_DIR_MAX, e.dir);
	snprintf(frames, sizeof(frames), "%d", SHARE_FRAMES);
	const char *share_argv[] = {
		share_path, "--width", "256", "--height", "192", "--frames", frames,
		"--token-file", token_file, "--verbose", NULL,
	};
	struct e2e_proc *share = e2e_spawn(&e, "dmab-share", share_argv);
	/* Frame 1 is published after frame 0's frame callback: share is mapped, at 0,0. */
	wait_for_line_or_fail(share, "frame 1 published", LINE_TIMEOUT_MS);
	char *token_line = e2e_wait_for_line(share, "DMAB_TOKEN=", 0);
	CHECK(token_line != NULL);
	free(token_line);
	const char *view_argv[] = {
		view_path, "--token-file", token_file, "--verify", "--timeout", "60", "--verbose",
		NULL,
	};
	struct e2e_proc *view = e2e_spawn(&e, "dmab-view", view_argv);

	struct window_check w[2] = {
		{ .box = { 0, 0, 256, 192 }, .format = DRM_FORMAT_XRGB8888,
			.content = CONTENT_SHARED, .last_seq = SHARE_FRAMES - 1 },
		{ .box = { CASCADE_STEP, CASCADE_STEP, 256, 192 }, .format = DRM_FORMAT_XRGB8888,
			.content = CONTENT_SHARED, .last_seq = SHARE_FRAMES - 1 },
	};
	/* View maps second: it is on top, one cascade step further. */
	w[0].above = &w[1].box;
	long after[2] = { -1, -1 };
	uint32_t shown[2];
	struct dmab_test_image img;
	wait_for_frames(&e, w, 2, after, shown, &img, FRAME_TIMEOUT_MS);
	struct box boxes[2] = { w[0].box, w[1].box };
	check_background(&img, boxes, 2);
	dmab_test_image_finish(&img);

	e2e_expect_exit(view, 0, CLIENT_TIMEOUT_MS);
	e2e_expect_exit(share, 0, CLIENT_TIMEOUT_MS);
	char *summary = e2e_last_line(view, "dmab-view: frames=");
	CHECK(summary != NULL);
	unsigned long n, torn, lost, duplicates;
	int fields = sscanf(summary, "dmab-view: frames=%lu torn=%lu lost=%lu duplicates=%lu",
		&n, &torn, &lost, &duplicates);
	printf("# %s\n", summary);
	free(summary);
	CHECK_EQ(fields, 4);
	CHECK_EQ(torn, 0);
	CHECK_EQ(lost, 0);
	CHECK_EQ(duplicates, 0);
	/* View joined a little late; from its first frame on it saw every one, in order. */
	char *first = e2e_wait_for_line(view, "dmab-view: frame ", 0);
	char *last = e2e_last_line(view, "dmab-view: frame ");
	CHECK(first != NULL && last != NULL);
	unsigned long first_seq, last_seq;
	CHECK_EQ(sscanf(first, "dmab-view: frame %lu", &first_seq), 1);
	CHECK_EQ(sscanf(last, "dmab-view: frame %lu", &last_seq), 1);
	free(first);
	free(last);
	CHECK_EQ(last_seq, SHARE_FRAMES - 1);
	CHECK_EQ(n, SHARE_FRAMES - first_seq);
	CHECK(n >= 200);
	e2e_finish(&e);
}

/*
 * The proof that a buffer committed inside a WRITE bracket is never
 * composited: dmab-paint commits frame K while it keeps overwriting it with
 * poison colours for HOLD_MS; meanwhile the screen shows frame K-1, complete,
 * and once the bracket ends a newer frame appears.
 */
#define HOLD_FRAME 20
#define HOLD_MS (3000 * dmab_test_time_scale())
DMAB_TEST(write_bracket_is_never_composited)
{
	e2e_stock_program("grim");
	e2e_built_program("DMAB_PAINT");
	e2e_built_program("DMAB_INFO");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	char hold_frame[16], hold_ms[16];
	snprintf(hold_frame, sizeof(hold_frame), "%d", HOLD_FRAME);
	snprintf(hold_ms, sizeof(hold_ms), "%d", HOLD_MS);
	const char *extra[] = { "--hold-write-on-frame", hold_frame, "--hold-ms", hold_ms, NULL };
	struct e2e_proc *paint = spawn_paint(&e, extra);
	char holding[64], committed[64];
	snprintf(holding, sizeof(holding), "holding WRITE on frame %d", HOLD_FRAME);
	snprintf(committed, sizeof(committed), "frame %d committed", HOLD_FRAME);
	wait_for_line_or_fail(paint, holding, LINE_TIMEOUT_MS);
	int64_t hold_start = e2e_now_ms();

	struct window_check w = paint_window(0, DRM_FORMAT_XRGB8888);
	/*
	 * Twice during the hold: right away, and after the client rewrote the
	 * poison many times; in between, the broker's view of the hold.
	 */
	for (int i = 0; i < 2; i++) {
		if (i > 0) {
			check_hold_in_info(&e, paint->pid);
			e2e_sleep_ms(HOLD_MS / 4);
		}
		struct dmab_test_image img;
		screenshot(&e, &img);
		/* The hold must still be on, or the screenshot proves nothing. */
		if (e2e_wait_for_line(paint, committed, 0) != NULL)
			E2E_FAIL("the hold ended before screenshot %d was "
				"taken (%lld ms after it began): the check proves nothing", i,
				(long long)(e2e_now_ms() - hold_start));
		uint32_t frame;
		bool shows = window_shows_frame(&img, &w, &frame, true);
		uint32_t rgb = dmab_test_image_pixel(&img, PAINT_WIDTH / 2, PAINT_HEIGHT / 2);
		dmab_test_image_finish(&img);
		if (!shows)
			E2E_FAIL("during the hold the window shows no "
				"complete frame (centre pixel 0x%06x)", rgb);
		CHECK_EQ(frame, HOLD_FRAME - 1);
	}

	wait_for_line_or_fail(paint, committed, HOLD_MS + LINE_TIMEOUT_MS);
	/* The held frame itself, or a later one: complete. */
	CHECK(wait_for_frame(&e, &w, HOLD_FRAME - 1) >= HOLD_FRAME);
	stop_client(paint);
	e2e_finish(&e);
}

/* Stock clients: weston-simple-shm renders through wl_shm and xdg_shell. */
DMAB_TEST(stock_weston_simple_shm_runs)
{
	const char *simple_shm = e2e_stock_program("weston-simple-shm");
	e2e_stock_program("grim");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	const char *argv[] = { simple_shm, NULL };
	struct e2e_proc *p = e2e_spawn(&e, "weston-simple-shm", argv);
	e2e_sleep_ms(2000);
	if (!e2e_running(p))
		E2E_FAIL("weston-simple-shm ended within 2 s (status "
			"0x%x)", p->status);
	/* Its 250x250 window is at the cascade origin and is not one flat colour. */
	struct dmab_test_image img;
	screenshot(&e, &img);
	uint32_t first = dmab_test_image_pixel(&img, 0, 0);
	int differing = 0;
	for (int y = 0; y < 250; y += 5) {
		for (int x = 0; x < 250; x += 5)
			differing += dmab_test_image_pixel(&img, x, y) != first;
	}
	dmab_test_image_finish(&img);
	CHECK(differing > 100);
	/* It quits cleanly on SIGINT. */
	e2e_stop(p, SIGINT, 5000);
	CHECK(WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0);
	e2e_finish(&e);
}

DMAB_TEST(stock_wayland_info_lists_globals)
{
	const char *wayland_info = e2e_stock_program("wayland-info");
	static const char *const globals[] = {
		"dmabroker_manager_v1", "wl_compositor", "wl_subcompositor", "wl_shm",
		"xdg_wm_base", "zxdg_output_manager_v1", "zwlr_screencopy_manager_v1", "wl_seat",
		"wl_output",
	};
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	const char *argv[] = { wayland_info, NULL };
	char *out = spawn_and_capture(&e, "wayland-info", argv, 0, CLIENT_TIMEOUT_MS);
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++) {
		char quoted[64];
		snprintf(quoted, sizeof(quoted), "interface: '%s'", globals[i]);
		if (strstr(out, quoted) == NULL) {
			free(out);
			E2E_FAIL("wayland-info does not list %s", globals[i]);
		}
	}
	free(out);
	e2e_finish(&e);
}

/*
 * dmab-info against the daemon lists the five formats, the allocators with
 * the chosen one in use, and dmab-paint's live buffers with their layout and
 * attachment.
 */
DMAB_TEST(info_lists_formats_allocators_and_buffers)
{
	e2e_built_program("DMAB_PAINT");
	e2e_built_program("DMAB_INFO");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	struct e2e_proc *paint = spawn_paint(&e, NULL);
	wait_for_line_or_fail(paint, "frame 2 committed", LINE_TIMEOUT_MS);
	struct json *info = run_info_json(&e);

	const struct json *formats = info_array(info, "formats");
	/* The five RGB formats the example clients draw, and five YUV formats. */
	CHECK_EQ(formats->len, 10);
	for (size_t i = 0; i < 5; i++) {
		const struct dmab_format_info *known = dmab_format_at(i);
		bool listed = false;
		for (size_t j = 0; j < formats->len; j++) {
			const char *name = json_get_string(formats->items[j], "name");
			listed |= json_number(formats->items[j], "fourcc") == known->fourcc &&
				name != NULL && strcmp(name, known->name) == 0;
		}
		if (!listed)
			E2E_FAIL("dmab-info does not list %s", known->name);
	}

	const struct json *allocators = info_array(info, "allocators");
	int in_use = 0;
	bool memfd_listed = false;
	for (size_t i = 0; i < allocators->len; i++) {
		const char *name = json_get_string(allocators->items[i], "name");
		const char *state = json_get_string(allocators->items[i], "state");
		CHECK(name != NULL && state != NULL);
		memfd_listed |= strcmp(name, "memfd") == 0;
		if (strcmp(state, "in_use") == 0) {
			in_use++;
			if (!is_test_allocator(name))
				E2E_FAIL("allocator %s is in use, not %s", name,
					dmab_test_allocator());
		}
	}
	CHECK(memfd_listed);
	CHECK_EQ(in_use, 1);

	/* dmab-paint's swapchain: three 320x240 XRGB8888 buffers, each attached and mapped. */
	const struct json *buffers = info_array(info, "buffers");
	CHECK_EQ(count_buffers_of(info, paint->pid), 3);
	long page = sysconf(_SC_PAGESIZE);
	for (size_t i = 0; i < buffers->len; i++) {
		const struct json *buffer = buffers->items[i];
		if (json_number(buffer, "owner_pid") != (double)paint->pid)
			continue;
		const char *name = json_get_string(buffer, "name");
		CHECK(name != NULL && strstr(name, "dmab-paint") != NULL);
		CHECK_EQ(json_number(buffer, "width"), PAINT_WIDTH);
		CHECK_EQ(json_number(buffer, "height"), PAINT_HEIGHT);
		CHECK_EQ(json_number(buffer, "format"), DRM_FORMAT_XRGB8888);
		CHECK_STR_EQ(json_get_string(buffer, "format_name"), "XRGB8888");
		long stride = (long)json_number(buffer, "stride");
		long size = (long)json_number(buffer, "size");
		CHECK(stride >= PAINT_WIDTH * 4 && stride % 64 == 0);
		CHECK(size >= stride * PAINT_HEIGHT && size % page == 0);
		/* One plane: all of the buffer's rows, from the start of the storage. */
		const struct json *planes = json_get(buffer, "planes");
		CHECK(planes != NULL && planes->type == JSON_ARRAY);
		CHECK_EQ(planes->len, 1);
		CHECK_EQ(json_number(planes->items[0], "offset"), 0);
		CHECK_EQ(json_number(planes->items[0], "stride"), stride);
		CHECK_EQ(json_number(planes->items[0], "size"), stride * PAINT_HEIGHT);
		const char *allocator = json_get_string(buffer, "allocator");
		CHECK(allocator != NULL && is_test_allocator(allocator));
		const struct json *attachments = json_get(buffer, "attachments");
		CHECK(attachments != NULL && attachments->type == JSON_ARRAY);
		int own = 0;
		for (size_t j = 0; j < attachments->len; j++) {
			const struct json *att = attachments->items[j];
			if (json_number(att, "pid") != (double)paint->pid)
				continue;
			own++;
			CHECK_STR_EQ(json_get_string(att, "access"), "read_write");
			CHECK_STR_EQ(json_get_string(att, "state"), "mapped");
		}
		CHECK_EQ(own, 1);
	}
	json_free(info);

	/* The plain text form too. */
	const char *argv[] = { e2e_built_program("DMAB_INFO"), NULL };
	char *text = spawn_and_capture(&e, "dmab-info", argv, 0, CLIENT_TIMEOUT_MS);
	CHECK(strstr(text, "formats: ") != NULL && strstr(text, "XRGB8888") != NULL);
	CHECK(strstr(text, "buffers: 3\n") != NULL);
	CHECK(strstr(text, "\t\tplane 0: offset 0 stride ") != NULL);
	free(text);
	stop_client(paint);
	e2e_finish(&e);
}

/* Polls dmab-info until pid owns no buffer; false after timeout_ms. */
static bool wait_for_buffers_gone(struct e2e *e, pid_t pid, int timeout_ms)
{
	int64_t deadline = e2e_now_ms() + timeout_ms;
	for (;;) {
		struct json *info = run_info_json(e);
		int count = count_buffers_of(info, pid);
		json_free(info);
		if (count == 0)
			return true;
		if (e2e_now_ms() >= deadline)
			return false;
		e2e_sleep_ms(50);
	}
}

/* The daemon's fd count once it settled: the same twice, 100 ms apart. */
static int settled_fd_count(pid_t pid)
{
	int count = e2e_count_fds(pid);
	for (int i = 0; i < 20; i++) {
		e2e_sleep_ms(100);
		int again = e2e_count_fds(pid);
		if (again == count)
			return count;
		count = again;
	}
	return count;
}

/*
 * A client killed inside a WRITE bracket, mid-frame, leaves nothing behind: the
 * daemon stays up, its buffers go, the daemon's fd count returns to what it was
 * before the client came, and the next client works.
 */
DMAB_TEST(client_killed_mid_frame_leaves_nothing)
{
	e2e_stock_program("grim");
	e2e_built_program("DMAB_PAINT");
	e2e_built_program("DMAB_INFO");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	/* One complete client first, so that whatever the daemon sets up lazily is there. */
	const char *frames[] = { "--frames", "3", NULL };
	e2e_expect_exit(spawn_paint(&e, frames), 0, CLIENT_TIMEOUT_MS);
	pid_t daemon = e.daemon->pid;
	int baseline = settled_fd_count(daemon);
	CHECK(baseline > 0);

	const char *hold[] = { "--hold-write-on-frame", "5", "--hold-ms", "60000", NULL };
	struct e2e_proc *victim = spawn_paint(&e, hold);
	wait_for_line_or_fail(victim, "holding WRITE on frame 5", LINE_TIMEOUT_MS);
	pid_t victim_pid = victim->pid;
	struct json *info = run_info_json(&e);
	CHECK_EQ(count_buffers_of(info, victim_pid), 3);
	json_free(info);
	CHECK(e2e_count_fds(daemon) > baseline);

	e2e_stop(victim, SIGKILL, 5000);
	CHECK(WIFSIGNALED(victim->status) && WTERMSIG(victim->status) == SIGKILL);
	int count = e2e_wait_for_fd_count(daemon, baseline, 2000);
	if (count != baseline)
		E2E_FAIL("dmabrokerd has %d fds 2 s after the client "
			"died, %d before it came", count, baseline);
	CHECK(e2e_running(e.daemon));
	if (!wait_for_buffers_gone(&e, victim_pid, 2000))
		E2E_FAIL("dmab-info still lists buffers of the killed "
			"client 2 s after it died");

	/* The next client maps one cascade step further; the dead one's window is gone. */
	struct e2e_proc *next = spawn_paint(&e, NULL);
	wait_for_line_or_fail(next, "frame 1 committed", LINE_TIMEOUT_MS);
	struct window_check w = paint_window(2, DRM_FORMAT_XRGB8888);
	struct dmab_test_image img;
	long after = -1;
	uint32_t frame;
	wait_for_frames(&e, &w, 1, &after, &frame, &img, FRAME_TIMEOUT_MS);
	check_background(&img, &w.box, 1);
	dmab_test_image_finish(&img);
	stop_client(next);
	CHECK_EQ(e2e_wait_for_fd_count(daemon, baseline, 2000), baseline);
	e2e_finish(&e);
}

static bool runtime_dir_is_empty(const struct e2e *e)
{
	DIR *dir = opendir(e->runtime_dir);
	CHECK(dir != NULL);
	int entries = 0;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
			printf("# left in XDG_RUNTIME_DIR: %s\n", entry->d_name);
			entries++;
		}
	}
	closedir(dir);
	return entries == 0;
}

/*
 * SIGTERM with clients connected, mid-stream: the daemon exits 0, leaks
 * nothing (LeakSanitizer in sanitizer builds, with only wlroots' known leak
 * suppressed) and removes its socket; its clients see the connection end and
 * exit with an error, not a crash.
 */
DMAB_TEST(sigterm_with_clients_is_clean)
{
	const char *share_path = e2e_built_program("DMAB_SHARE");
	const char *view_path = e2e_built_program("DMAB_VIEW");
	e2e_built_program("DMAB_PAINT");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	struct e2e_proc *paint = spawn_paint(&e, NULL);
	char token_file[E2E_PATH_MAX];
	snprintf(token_file, sizeof(token_file), "%.*s/token", E2E_DIR_MAX, e.dir);
	const char *share_argv[] = { share_path, "--token-file", token_file, "--verbose", NULL };
	struct e2e_proc *share = e2e_spawn(&e, "dmab-share", share_argv);
	const char *view_argv[] = { view_path, "--token-file", token_file, "--verbose", NULL };
	struct e2e_proc *view = e2e_spawn(&e, "dmab-view", view_argv);
	wait_for_line_or_fail(paint, "frame 5 committed", LINE_TIMEOUT_MS);
	wait_for_line_or_fail(view, "dmab-view: frame ", LINE_TIMEOUT_MS);
	/* A held WRITE bracket and a held commit must not hold up the shutdown either. */
	const char *hold[] = { "--hold-write-on-frame", "2", "--hold-ms", "60000", NULL };
	struct e2e_proc *holder = spawn_paint(&e, hold);
	wait_for_line_or_fail(holder, "holding WRITE on frame 2", LINE_TIMEOUT_MS);

	e2e_stop_daemon(&e);
	CHECK(runtime_dir_is_empty(&e));

	struct e2e_proc *clients[] = { paint, share, view, holder };
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		struct e2e_proc *p = clients[i];
		if (!e2e_wait(p, 5000))
			E2E_FAIL("%s still runs 5 s after the daemon left",
				p->name);
		if (!WIFEXITED(p->status))
			E2E_FAIL("%s died of signal %d when the daemon left",
				p->name, WTERMSIG(p->status));
		CHECK(WEXITSTATUS(p->status) != 0);
		e2e_check_sanitizers(p);
	}
	e2e_finish(&e);
}

/* Spawns the daemon with args and expects it to exit with code before serving anything. */
static char *daemon_fails(struct e2e *e, const char *const args[], int code)
{
	struct e2e_proc *daemon = e2e_spawn_daemon_raw(e, args);
	e2e_expect_exit(daemon, code, 10000);
	char *out = e2e_read_file(daemon->out_path);
	CHECK(strstr(out, "WAYLAND_DISPLAY=") == NULL);
	free(out);
	CHECK(runtime_dir_is_empty(e));
	return e2e_read_file(daemon->err_path);
}

/* An allocator the machine lacks is a startup error (exit 1) that says why. */
DMAB_TEST(daemon_rejects_missing_udmabuf)
{
	int fd = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		dmab_test_skip("/dev/udmabuf exists here: udmabuf is a usable allocator");
	}
	const char *reason = strerror(errno);
	e2e_built_program("DMABROKERD");
	struct e2e e;
	e2e_init(&e);
	const char *args[] = { "--width", "64", "--height", "64", "--allocator", "udmabuf", NULL };
	char *err = daemon_fails(&e, args, 1);
	bool named = strstr(err, "/dev/udmabuf") != NULL && strstr(err, reason) != NULL;
	if (!named)
		printf("# dmabrokerd stderr:\n# %s\n", err);
	free(err);
	if (!named)
		E2E_FAIL("the error does not name /dev/udmabuf and \"%s\"",
			reason);
	e2e_finish(&e);
}

/* The soft and hard "Max open files" of /proc/<pid>/limits, 31 characters at most. */
static bool read_nofile(pid_t pid, char soft[32], char hard[32])
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	char *text = e2e_read_file(path);
	const char *line = strstr(text, "Max open files");
	bool found = line != NULL && sscanf(line, "Max open files %31s %31s", soft, hard) == 2;
	free(text);
	return found;
}

/* Like a wlroots compositor, the daemon raises its soft RLIMIT_NOFILE to the hard limit. */
DMAB_TEST(daemon_raises_its_fd_limit)
{
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= 512)
		dmab_test_skip("the hard RLIMIT_NOFILE is %ju: nothing to raise",
			(uintmax_t)rl.rlim_max);
	rl.rlim_cur = 512;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	e2e_built_program("DMABROKERD");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	char soft[32], hard[32];
	CHECK(read_nofile(e.daemon->pid, soft, hard));
	printf("# dmabrokerd's Max open files: %s %s\n", soft, hard);
	CHECK_STR_EQ(soft, hard);
	char *err = e2e_read_file(e.daemon->err_path);
	bool logged = strstr(err, "RLIMIT_NOFILE raised from 512 to ") != NULL;
	free(err);
	CHECK(logged);
	e2e_finish(&e);
}

static int connect_raw(const struct e2e *e)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int path_len = snprintf(addr.sun_path, sizeof(addr.sun_path), "%.60s/%.40s",
		e->runtime_dir, e->display);
	CHECK(path_len > 0 && strlen(e->runtime_dir) <= 60 && strlen(e->display) <= 40);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK_EQ(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

/*
 * What a refused connection got within timeout_ms: 1 for a wl_display.error
 * naming the fd limit, 0 for a bare hangup, -1 for nothing (it hangs).
 */
static int refusal(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	char buf[256] = "";
	ssize_t len = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (len <= 0)
		return 0;
	uint32_t words[5];
	CHECK(len >= (ssize_t)sizeof(words));
	memcpy(words, buf, sizeof(words));
	CHECK_EQ(words[0], 1); /* wl_display */
	CHECK_EQ(words[1] & 0xffff, 0); /* error */
	CHECK_EQ(words[3], 2); /* no_memory */
	printf("# refused: %s\n", buf + sizeof(words));
	CHECK(strstr(buf + sizeof(words), "out of file descriptors (RLIMIT_NOFILE 64)") != NULL);
	return 1;
}

/*
 * Connections that never bind the broker take two of the daemon's fds each.
 * Once they are all gone, libwayland's accept fails with EMFILE and would
 * leave a new client hanging for ever: the daemon refuses it with an error.
 */
DMAB_TEST(daemon_out_of_fds_refuses_new_clients_with_an_error)
{
	struct rlimit rl = { .rlim_cur = 64, .rlim_max = 64 };
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	e2e_built_program("DMABROKERD");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	int held[40];
	int len = 0;
	while (len < 40) {
		int fd = connect_raw(&e);
		int got = refusal(fd, 200);
		if (got >= 0) {
			close(fd);
			break;
		}
		/* Accepted, and waiting for requests: keep it. */
		held[len++] = fd;
	}
	if (len == 40)
		E2E_FAIL("40 connections and no refusal: past the fd limit, clients hang");
	printf("# %d idle connections filled the daemon's fds\n", len);
	int errors = 0;
	for (int i = 0; i < 3; i++) {
		int fd = connect_raw(&e);
		int got = refusal(fd, 5000);
		close(fd);
		if (got < 0)
			E2E_FAIL("a new client hung at connect after %d refusals", i);
		errors += got;
	}
	CHECK(errors > 0);
	while (len > 0)
		close(held[--len]);
	e2e_finish(&e);
}

/* A bad command line is a usage error: exit 2, naming the option. */
DMAB_TEST(daemon_rejects_bad_options)
{
	static const struct {
		const char *args[4];
		const char *named; /* in the message */
	} cases[] = {
		{ { "--no-such-option", NULL }, "no-such-option" },
		{ { "--width", "0", NULL }, "width" },
		{ { "--height", "12x", NULL }, "height" },
		{ { "--allocator", "floppy", NULL }, "allocator" },
		{ { "--log-level", "loud", NULL }, "log-level" },
		{ { "--quota-bytes", "-5", NULL }, "quota-bytes" },
		{ { "--uid-quota-bytes", "1X", NULL }, "uid-quota-bytes" },
		{ { "--uid-quota-connections", "0", NULL }, "uid-quota-connections" },
		{ { "--uid-quota-fds", "-1", NULL }, "uid-quota-fds" },
		{ { "--refresh", "0", NULL }, "refresh" },
		{ { "--width", NULL }, "width" },
		{ { "stray-argument", NULL }, "stray-argument" },
	};
	e2e_built_program("DMABROKERD");
	struct e2e e;
	e2e_init(&e);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *err = daemon_fails(&e, cases[i].args, 2);
		bool named = strstr(err, cases[i].named) != NULL;
		if (!named)
			printf("# dmabrokerd stderr:\n# %s\n", err);
		free(err);
		if (!named)
			E2E_FAIL("the usage error for case %zu does not name "
				"%s", i, cases[i].named);
	}
	e2e_finish(&e);
}

int main(int argc, char *argv[])
{
	return dmab_test_main(argc, argv);
}

/*
 * A commit that the daemon holds because its buffer is inside a WRITE bracket
 * must not stay held when the compositor's read of it fails: the creator
 * revokes the token the committing client imported the buffer with.
 */
DMAB_TEST(failed_read_releases_the_held_commit)
{
	const char *peer = e2e_built_program("DMAB_E2E_PEER");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	const char *argv[] = { peer, "held-commit-revoke", NULL };
	struct e2e_proc *p = e2e_spawn(&e, "peer", argv);
	wait_for_line_or_fail(p, "held", LINE_TIMEOUT_MS);
	wait_for_line_or_fail(p, "released", LINE_TIMEOUT_MS);
	e2e_expect_exit(p, 0, LINE_TIMEOUT_MS);
	CHECK(e2e_running(e.daemon));
	e2e_finish(&e);
}

/*
 * A reader that holds READ on the creator's buffer forever, and comes back
 * each time it is preempted: every frame of the creator waits about the hold
 * bound, and none waits forever. Prints the waits measured.
 */
DMAB_TEST(hostile_reader_delays_the_creator_by_the_bound)
{
	const char *peer = e2e_built_program("DMAB_E2E_PEER");
	struct e2e e;
	e2e_init(&e);
	const char *daemon_args[] = { "--max-hold-ms", "100", NULL };
	e2e_start_daemon(&e, daemon_args);
	const char *argv[] = { peer, "hostile-reader", "20", NULL };
	struct e2e_proc *p = e2e_spawn(&e, "peer", argv);
	char *line = e2e_wait_for_line(p, "frames 20", 20 * 1000 * dmab_test_time_scale());
	if (line == NULL)
		E2E_FAIL("the creator did not finish 20 frames against a hostile reader");
	printf("# --max-hold-ms 100: %s\n", line);
	free(line);
	e2e_expect_exit(p, 0, LINE_TIMEOUT_MS);
	e2e_finish(&e);
}

/* The largest difference of one channel between two 0xRRGGBB pixels. */
static int channel_diff(uint32_t a, uint32_t b)
{
	int max = 0;
	for (int shift = 0; shift < 24; shift += 8) {
		int d = abs((int)(a >> shift & 0xff) - (int)(b >> shift & 0xff));
		max = d > max ? d : max;
	}
	return max;
}

/* The pixels of the peer's 64x64 window at the origin that differ from the reference. */
static int yuv_window_errors(const struct dmab_test_image *img, int tolerance, int *worst)
{
	static const uint32_t reference[4] = { 0xffffff, 0xff0000, 0x00ff00, 0x0000ff };
	int errors = 0;
	*worst = 0;
	for (int y = 0; y < 64; y++) {
		for (int x = 0; x < 64; x++) {
			uint32_t want = reference[(y / 32) * 2 + x / 32];
			int d = channel_diff(dmab_test_image_pixel(img, x, y), want);
			*worst = d > *worst ? d : *worst;
			errors += d > tolerance;
		}
	}
	return errors;
}

/*
 * The compositor shows YUV buffers: a window of BT.601 limited-range white,
 * red, green and blue in each YUV format matches its RGB reference in the
 * screenshot, every channel of every pixel within 2 of 255 or 0 (the 8-bit
 * Y'CbCr of the primaries rounds to within 1 of them; 2 leaves room for a
 * converter that rounds differently, and none for a wrong matrix or plane).
 */
DMAB_TEST(yuv_windows_match_their_rgb_reference)
{
	const char *peer = e2e_built_program("DMAB_E2E_PEER");
	e2e_stock_program("grim");
	static const char *const formats[] = { "nv12", "nv21", "yuv420", "yuyv", "p010" };
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		/* A daemon each: its first window is at the cascade origin. */
		struct e2e e;
		e2e_init(&e);
		e2e_start_daemon(&e, NULL);
		const char *argv[] = { peer, "yuv", formats[i], NULL };
		struct e2e_proc *p = e2e_spawn(&e, "peer", argv);
		wait_for_line_or_fail(p, "shown", LINE_TIMEOUT_MS);
		int64_t deadline = e2e_now_ms() + FRAME_TIMEOUT_MS;
		int errors, worst;
		for (;;) {
			struct dmab_test_image img;
			screenshot(&e, &img);
			errors = yuv_window_errors(&img, 2, &worst);
			dmab_test_image_finish(&img);
			if (errors == 0 || e2e_now_ms() >= deadline) {
				break;
			}
			e2e_sleep_ms(50);
		}
		printf("# %s: %d pixels off by more than 2, worst channel difference %d\n",
			formats[i], errors, worst);
		if (errors != 0) {
			E2E_FAIL("the %s window differs from its RGB reference in %d pixels",
				formats[i], errors);
		}
		e2e_stop(p, SIGTERM, 5000);
		e2e_finish(&e);
	}
}

/* --- the GStreamer plugin --- */

/* The plugin's directory; skips the test when the plugin was not built. */
static const char *gst_plugin_dir(void)
{
	const char *dir = getenv("DMAB_GST_PLUGIN_DIR");
	const char *why = getenv("DMAB_GST_SKIP_REASON");
	if (dir == NULL || dir[0] == '\0') {
		dmab_test_skip("%s", why != NULL && why[0] != '\0' ? why :
			"built without the GStreamer plugin (-Dgstreamer)");
	}
	return dir;
}

/* Where a dmabrokersink of the test publishes its tokens, and the property that says so. */
struct gst_tokens {
	char path[E2E_PATH_MAX + 32];
	char arg[E2E_PATH_MAX + 48]; /* token-file=path, for the sink and the source */
};

static void gst_tokens_init(struct gst_tokens *tokens, const struct e2e *e)
{
	snprintf(tokens->path, sizeof(tokens->path), "%s/tokens", e->dir);
	snprintf(tokens->arg, sizeof(tokens->arg), "token-file=%s", tokens->path);
}

struct gst_env {
	char plugin_path[E2E_PATH_MAX + 32];
	char registry[E2E_PATH_MAX + 32];
	char preload[E2E_PATH_MAX + 32];
	char sanitizer[64];
};

/*
 * The plugin on the path, and a registry of the test's own, not the user's
 * cache. In an ASan build the plugin loads only into a process whose first
 * library is the ASan runtime: DMAB_GST_PRELOAD names it, and it goes in
 * LD_PRELOAD of gst-launch and gst-inspect (and of gst-plugin-scanner, which
 * inherits it). Their own leaks, GStreamer's and GLib's, are not the plugin's:
 * leak detection is off in them.
 */
static void gst_env_init(struct gst_env *env, const struct e2e *e)
{
	snprintf(env->plugin_path, sizeof(env->plugin_path), "GST_PLUGIN_PATH=%s",
		gst_plugin_dir());
	snprintf(env->registry, sizeof(env->registry), "GST_REGISTRY=%s/gst-registry.bin",
		e->dir);
	const char *preload = getenv("DMAB_GST_PRELOAD");
	bool sanitized = preload != NULL && preload[0] != '\0';
	snprintf(env->preload, sizeof(env->preload), "%s=%s",
		sanitized ? "LD_PRELOAD" : "DMAB_GST_NO_PRELOAD", sanitized ? preload : "1");
	snprintf(env->sanitizer, sizeof(env->sanitizer), "%s",
		sanitized ? "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1" :
		"DMAB_GST_NO_PRELOAD=1");
}

DMAB_TEST(gst_inspect_lists_both_elements_and_their_properties)
{
	gst_plugin_dir();
	const char *inspect = e2e_stock_program("gst-inspect-1.0");
	struct e2e e;
	e2e_init(&e);
	struct gst_env env;
	gst_env_init(&env, &e);
	static const struct {
		const char *element;
		const char *expected[16];
	} cases[] = {
		{ "dmabrokersink", { "Sink/Video", "display", "buffers", "show", "token-file",
			"tokens", "NV12", "NV21", "I420", "YUY2", "P010_10LE", "BGRx", "RGB16",
			NULL } },
		{ "dmabrokersrc", { "Source/Video", "display", "tokens", "token-file", "timeout",
			"NV12", "I420", "P010_10LE", NULL } },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const char *argv[] = { "/usr/bin/env", env.plugin_path, env.registry,
			env.preload, env.sanitizer, inspect,
			cases[c].element, NULL };
		struct e2e_proc *p = e2e_spawn(&e, "gst-inspect", argv);
		e2e_expect_exit(p, 0, LINE_TIMEOUT_MS);
		char *out = e2e_read_file(p->out_path);
		CHECK(out != NULL);
		for (size_t i = 0; cases[c].expected[i] != NULL; i++) {
			if (strstr(out, cases[c].expected[i]) == NULL) {
				E2E_FAIL("gst-inspect-1.0 %s does not list %s", cases[c].element,
					cases[c].expected[i]);
			}
		}
		free(out);
	}
	e2e_finish(&e);
}

/* Whether the window at the origin shows SMPTE bars: white, yellow, cyan, green. */
static int smpte_errors(const struct dmab_test_image *img, int *worst)
{
	/* videotestsrc's 100% bars, each 1280 / 7 pixels wide; four fit in the output. */
	static const uint32_t bars[4] = { 0xffffff, 0xffff00, 0x00ffff, 0x00ff00 };
	int errors = 0;
	*worst = 0;
	for (int y = 20; y < 400; y += 10) {
		for (int bar = 0; bar < 4; bar++) {
			for (int x = bar * 1280 / 7 + 10; x < (bar + 1) * 1280 / 7 - 10 &&
					x < E2E_OUTPUT_WIDTH; x += 10) {
				int d = channel_diff(dmab_test_image_pixel(img, x, y), bars[bar]);
				*worst = d > *worst ? d : *worst;
				errors += d > 3;
			}
		}
	}
	return errors;
}

/*
 * The pipeline: videotestsrc writes NV12 720p straight into the
 * sink's broker buffers (the pool), which the compositor shows. The bars in
 * the screenshot match their RGB values within 3 per channel (BT.709 decoding
 * of BT.709 video rounds to within 1), the ring's tokens are published, and
 * every frame rendered came from the pool: none was copied.
 */
DMAB_TEST(gst_sink_shows_videotestsrc_nv12_720p)
{
	gst_plugin_dir();
	const char *launch = e2e_stock_program("gst-launch-1.0");
	e2e_stock_program("grim");
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	struct gst_env env;
	gst_env_init(&env, &e);
	struct gst_tokens tokens;
	gst_tokens_init(&tokens, &e);
	const char *argv[] = { "/usr/bin/env", env.plugin_path, env.registry, env.preload,
		env.sanitizer, "GST_DEBUG=dmabrokersink:4", "GST_DEBUG_NO_COLOR=1", launch,
		"videotestsrc",
		"num-buffers=300", "!", "video/x-raw,format=NV12,width=1280,height=720", "!",
		"dmabrokersink", tokens.arg, NULL };
	struct e2e_proc *p = e2e_spawn(&e, "gst-launch", argv);

	int64_t deadline = e2e_now_ms() + FRAME_TIMEOUT_MS;
	int errors, worst;
	for (;;) {
		struct dmab_test_image img;
		screenshot(&e, &img);
		errors = smpte_errors(&img, &worst);
		dmab_test_image_finish(&img);
		if (errors == 0 || e2e_now_ms() >= deadline) {
			break;
		}
		e2e_sleep_ms(50);
	}
	printf("# smpte bars: %d samples off by more than 3, worst channel difference %d\n",
		errors, worst);
	if (errors != 0) {
		E2E_FAIL("the dmabrokersink window does not show the bars (%d samples off)",
			errors);
	}
	char *published = e2e_read_file(tokens.path);
	CHECK(published != NULL);
	/* Three buffers by default: three lines of 32 hex digits. */
	CHECK_EQ(strlen(published), 3 * 33);
	CHECK_EQ(strspn(published, "0123456789abcdef\n"), 3 * 33);
	free(published);

	e2e_expect_exit(p, 0, 60 * 1000 * dmab_test_time_scale());
	char *log = e2e_read_file(p->err_path);
	CHECK(log != NULL);
	/*
	 * Rendered frames, not buffers: the sink drops a late frame (QoS, under
	 * load), and renders the preroll frame twice.
	 */
	const char *line = strstr(log, "sink_stop:");
	unsigned long pooled = 0, copied = 1;
	if (line == NULL || sscanf(strchr(line, '>') + 1, " %lu frames from the pool, %lu copied",
			&pooled, &copied) != 2 || pooled < 2 || copied != 0) {
		E2E_FAIL("the sink rendered %lu frames from its pool and copied %lu", pooled,
			copied);
	}
	free(log);
	/* The sink removes the token file when it stops. */
	CHECK(access(tokens.path, F_OK) != 0);
	e2e_finish(&e);
}

/* Runs gst-launch-1.0 with args until it exits 0; returns its pooled and copied counts. */
static void gst_run(struct e2e *e, const char *const *args, unsigned long *pooled,
	unsigned long *copied)
{
	const char *launch = e2e_stock_program("gst-launch-1.0");
	struct gst_env env;
	gst_env_init(&env, e);
	const char *argv[32] = { "/usr/bin/env", env.plugin_path, env.registry, env.preload,
		env.sanitizer, "GST_DEBUG=dmabrokersink:4", "GST_DEBUG_NO_COLOR=1", launch };
	int argc = 8;
	for (int i = 0; args[i] != NULL; i++) {
		CHECK(argc < 31);
		argv[argc++] = args[i];
	}
	struct e2e_proc *p = e2e_spawn(e, "gst-launch", argv);
	e2e_expect_exit(p, 0, 60 * 1000 * dmab_test_time_scale());
	char *log = e2e_read_file(p->err_path);
	CHECK(log != NULL);
	const char *line = strstr(log, "sink_stop:");
	CHECK(line != NULL && strchr(line, '>') != NULL);
	CHECK_EQ(sscanf(strchr(line, '>') + 1, " %lu frames from the pool, %lu copied", pooled,
		copied), 2);
	free(log);
}

/*
 * With a queue, upstream acquires the next buffer from the pool in its own
 * thread while the sink renders the last one: the wait for the next buffer's
 * readers (the compositor shows the last frame until the next replaces it)
 * must not keep the sink from rendering. Without the pool (identity drops the
 * allocation query), frames are copied into the ring.
 */
DMAB_TEST(gst_sink_renders_through_a_queue_and_copies_foreign_buffers)
{
	gst_plugin_dir();
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	unsigned long pooled, copied;
	static const char *const queued[] = { "videotestsrc", "num-buffers=100", "!",
		"video/x-raw,format=NV12,width=320,height=240", "!", "queue", "!",
		"dmabrokersink", NULL };
	gst_run(&e, queued, &pooled, &copied);
	printf("# through a queue: %lu frames from the pool, %lu copied\n", pooled, copied);
	CHECK(pooled >= 2);
	CHECK_EQ(copied, 0);
	static const char *const foreign[] = { "videotestsrc", "num-buffers=100", "!",
		"video/x-raw,format=I420,width=320,height=240", "!", "identity",
		"drop-allocation=true", "!", "dmabrokersink", NULL };
	gst_run(&e, foreign, &pooled, &copied);
	printf("# without the pool: %lu frames from the pool, %lu copied\n", pooled, copied);
	CHECK_EQ(pooled, 0);
	CHECK(copied >= 2);
	e2e_finish(&e);
}

enum { GST_PAIR_FRAMES = 300, GST_PAIR_FRAME_SIZE = 320 * 240 * 3 / 2 };

/* FNV-1a of each frame of an I420 320x240 file; the number of frames, or -1. */
static int frame_checksums(const char *path, uint32_t *sums, int max)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return -1;
	}
	static uint8_t frame[GST_PAIR_FRAME_SIZE];
	int n = 0;
	while (n < max && fread(frame, 1, sizeof(frame), f) == sizeof(frame)) {
		sums[n++] = dmab_fnv1a32(DMAB_FNV1A32_BASIS, frame, sizeof(frame));
	}
	fclose(f);
	return n;
}

static struct e2e_proc *gst_spawn(struct e2e *e, const char *name, const char *debug,
	const char *const *args)
{
	const char *launch = e2e_stock_program("gst-launch-1.0");
	static struct gst_env env;
	gst_env_init(&env, e);
	const char *argv[40] = { "/usr/bin/env", env.plugin_path, env.registry, env.preload,
		env.sanitizer, debug, "GST_DEBUG_NO_COLOR=1", launch };
	int argc = 8;
	for (int i = 0; args[i] != NULL; i++) {
		CHECK(argc < 39);
		argv[argc++] = args[i];
	}
	return e2e_spawn(e, name, argv);
}

#define GST_PAIR_CAPS "video/x-raw,format=NV12,width=320,height=240,framerate=30/1"

/*
 * A dmabrokersink and a dmabrokersrc in two processes: every frame the source
 * pushes (through videoconvert, which reads the video meta, so with no copy)
 * has the checksum of the frame the sink got at the same position. A frame
 * read while written would match none (torn); a frame skipped would shift the
 * rest (lost). The sink drops no late frame (max-lateness=-1).
 */
DMAB_TEST(gst_sink_to_src_pair_is_intact)
{
	gst_plugin_dir();
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	struct gst_tokens tokens;
	char expected[E2E_PATH_MAX + 32], expected_arg[E2E_PATH_MAX + 48];
	char received[E2E_PATH_MAX + 32], received_arg[E2E_PATH_MAX + 48];
	gst_tokens_init(&tokens, &e);
	snprintf(expected, sizeof(expected), "%s/expected.i420", e.dir);
	snprintf(expected_arg, sizeof(expected_arg), "location=%s", expected);
	snprintf(received, sizeof(received), "%s/received.i420", e.dir);
	snprintf(received_arg, sizeof(received_arg), "location=%s", received);

	const char *const reference[] = { "videotestsrc", "num-buffers=300", "pattern=ball", "!",
		GST_PAIR_CAPS, "!", "videoconvert", "!", "video/x-raw,format=I420", "!",
		"filesink", expected_arg, NULL };
	e2e_expect_exit(gst_spawn(&e, "reference", "GST_DEBUG=0", reference), 0,
		60 * 1000 * dmab_test_time_scale());
	const char *const reader[] = { "dmabrokersrc", tokens.arg, "!", "videoconvert", "!",
		"video/x-raw,format=I420", "!", "filesink", received_arg, NULL };
	struct e2e_proc *src = gst_spawn(&e, "src", "GST_DEBUG=dmabrokersrc:4", reader);
	const char *const writer[] = { "videotestsrc", "num-buffers=300", "pattern=ball", "!",
		GST_PAIR_CAPS, "!", "dmabrokersink", "show=false", "max-lateness=-1", tokens.arg,
		NULL };
	struct e2e_proc *sink = gst_spawn(&e, "sink", "GST_DEBUG=0", writer);
	e2e_expect_exit(sink, 0, 60 * 1000 * dmab_test_time_scale());
	e2e_expect_exit(src, 0, 60 * 1000 * dmab_test_time_scale());

	static uint32_t want[GST_PAIR_FRAMES + 1], got[GST_PAIR_FRAMES + 1];
	int n_want = frame_checksums(expected, want, GST_PAIR_FRAMES + 1);
	int n_got = frame_checksums(received, got, GST_PAIR_FRAMES + 1);
	CHECK_EQ(n_want, GST_PAIR_FRAMES);
	int torn = 0, lost = 0, matched = 0;
	for (int i = 0; i < n_got; i++) {
		bool known = false;
		for (int j = 0; j < n_want; j++) {
			known |= got[i] == want[j];
		}
		torn += !known;
		matched += i < n_want && got[i] == want[i];
	}
	lost = n_want - matched - torn;
	printf("# sink -> src: %d frames received of %d, %d torn, %d lost or out of order\n",
		n_got, n_want, torn, lost);
	CHECK_EQ(torn, 0);
	CHECK_EQ(lost, 0);
	CHECK_EQ(n_got, n_want);
	char *log = e2e_read_file(src->err_path);
	CHECK(log != NULL);
	if (strstr(log, "300 frames, 0 lost, 0 copied") == NULL) {
		E2E_FAIL("dmabrokersrc did not push 300 frames with no copy");
	}
	free(log);
	e2e_finish(&e);
}

/*
 * A source that waits for a frame the sink has not written (one frame every 30
 * s, timeout 60 s) sleeps on the connection: an interrupt, which makes
 * gst-launch-1.0 stop the pipeline (unlock, then stop), must end that wait at
 * once rather than at the next frame or the timeout.
 */
DMAB_TEST(gst_src_waiting_for_a_frame_stops_at_once)
{
	gst_plugin_dir();
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	struct gst_tokens tokens;
	gst_tokens_init(&tokens, &e);
	const char *const slow[] = { "videotestsrc", "is-live=true", "!",
		"video/x-raw,format=NV12,width=320,height=240,framerate=1/30", "!",
		"dmabrokersink", "show=false", tokens.arg, NULL };
	const char *const reader[] = { "dmabrokersrc", tokens.arg, "timeout=60000", "!",
		"fakesink", NULL };
	struct e2e_proc *sink = gst_spawn(&e, "sink", "GST_DEBUG=0", slow);
	struct e2e_proc *src = gst_spawn(&e, "src", "GST_DEBUG=0", reader);
	/* Frame 0 comes at once; then the source waits for frame 1, due in 30 s. */
	e2e_sleep_ms(2000 * dmab_test_time_scale());
	CHECK(e2e_running(src));
	int64_t start = e2e_now_ms();
	kill(src->pid, SIGINT);
	CHECK(e2e_wait(src, 10 * 1000 * dmab_test_time_scale()));
	int64_t took = e2e_now_ms() - start;
	printf("# the waiting source stopped %lld ms after SIGINT\n", (long long)took);
	if (took > 3000 * dmab_test_time_scale())
		E2E_FAIL("the waiting source took %lld ms to stop", (long long)took);
	e2e_stop(sink, SIGKILL, 5000);
	e2e_finish(&e);
}

/* A sink publishes its tokens once its pipeline runs: under TCG that takes seconds. */
static void wait_for_token_file(const char *path, int timeout_ms)
{
	int64_t deadline = e2e_now_ms() + timeout_ms;
	while (access(path, F_OK) != 0) {
		if (e2e_now_ms() > deadline)
			E2E_FAIL("the sink wrote no token file %s within %d ms", path, timeout_ms);
		e2e_sleep_ms(10);
	}
}

/*
 * Killing either end mid-stream: the source reports an error within its
 * timeout once the sink is gone, and the sink goes on to the end of its
 * stream once the source is gone.
 */
DMAB_TEST(gst_pair_survives_either_end_being_killed)
{
	gst_plugin_dir();
	struct e2e e;
	e2e_init(&e);
	e2e_start_daemon(&e, NULL);
	struct gst_tokens tokens;
	gst_tokens_init(&tokens, &e);
	const char *const endless[] = { "videotestsrc", "!", GST_PAIR_CAPS, "!",
		"dmabrokersink", "show=false", tokens.arg, NULL };
	/* The source waits this long for each frame (and for the token file, already there). */
	int timeout_ms = 1000 * dmab_test_time_scale();
	char timeout_arg[32], no_frame[48];
	snprintf(timeout_arg, sizeof(timeout_arg), "timeout=%d", timeout_ms);
	snprintf(no_frame, sizeof(no_frame), "No frame for %d ms", timeout_ms);
	const char *const reader[] = { "dmabrokersrc", tokens.arg, timeout_arg, "!",
		"fakesink", NULL };

	struct e2e_proc *sink = gst_spawn(&e, "sink", "GST_DEBUG=0", endless);
	wait_for_token_file(tokens.path, 30 * 1000 * dmab_test_time_scale());
	struct e2e_proc *src = gst_spawn(&e, "src", "GST_DEBUG=0", reader);
	e2e_sleep_ms(timeout_ms * 3 / 2);
	CHECK(e2e_running(src));
	e2e_stop(sink, SIGKILL, 5000);
	/* The error comes well within ten timeouts. */
	CHECK(e2e_wait(src, 10 * timeout_ms));
	CHECK(WIFEXITED(src->status) && WEXITSTATUS(src->status) != 0);
	/* gst-launch-1.0 prints the element error on stderr. */
	char *err = e2e_read_file(src->err_path);
	CHECK(err != NULL);
	if (strstr(err, no_frame) == NULL) {
		E2E_FAIL("dmabrokersrc ended without saying the frames stopped");
	}
	free(err);

	unlink(tokens.path);
	const char *const finite[] = { "videotestsrc", "num-buffers=90", "!", GST_PAIR_CAPS, "!",
		"dmabrokersink", "show=false", tokens.arg, NULL };
	sink = gst_spawn(&e, "sink", "GST_DEBUG=0", finite);
	wait_for_token_file(tokens.path, 30 * 1000 * dmab_test_time_scale());
	src = gst_spawn(&e, "src", "GST_DEBUG=0", reader);
	e2e_sleep_ms(timeout_ms);
	e2e_stop(src, SIGKILL, 5000);
	e2e_expect_exit(sink, 0, 30 * 1000 * dmab_test_time_scale());
	e2e_finish(&e);
}

/* How many times needle occurs in p's stderr. */
static int count_in_stderr(struct e2e_proc *p, const char *needle)
{
	char *text = e2e_read_file(p->err_path);
	int count = 0;
	for (const char *at = text; (at = strstr(at, needle)) != NULL; at += strlen(needle))
		count++;
	free(text);
	return count;
}

/*
 * dmab-tinywl, the example compositor that doc/integration.md walks through,
 * run headless as the daemon is: dmab-paint's window at the top-left corner of
 * its output is pixel-exact in three screenshots, with nothing else on screen;
 * the example's listeners of the broker's signals log the client and each of
 * its buffers, created and then destroyed; once the client is gone the
 * example holds no more fds than before it came; and it exits 0 on SIGTERM
 * (e2e_finish, with the sanitizers' reports checked in ASan builds).
 */
DMAB_TEST(example_compositor_shows_paint_pixel_exact)
{
	e2e_stock_program("grim");
	const char *tinywl = e2e_built_program("DMAB_TINYWL");
	e2e_built_program("DMAB_PAINT");
	struct e2e e;
	e2e_init(&e);
	const char *argv[] = { tinywl, dmab_test_allocator(), NULL };
	e2e_start_compositor(&e, "dmab-tinywl", argv);
	pid_t compositor = e.daemon->pid;

	/* A complete client and a screenshot first: the output's buffers are made lazily. */
	const char *frames[] = { "--frames", "3", NULL };
	e2e_expect_exit(spawn_paint(&e, frames), 0, CLIENT_TIMEOUT_MS);
	struct dmab_test_image img;
	screenshot(&e, &img);
	dmab_test_image_finish(&img);
	int baseline = settled_fd_count(compositor);
	CHECK(baseline > 0);

	struct e2e_proc *paint = spawn_paint(&e, NULL);
	pid_t paint_pid = paint->pid;
	wait_for_line_or_fail(paint, "frame 2 committed", LINE_TIMEOUT_MS);
	struct window_check w = paint_window(0, DRM_FORMAT_XRGB8888);
	long previous = -1;
	for (int i = 0; i < 3; i++) {
		uint32_t frame;
		wait_for_frames(&e, &w, 1, &previous, &frame, &img, FRAME_TIMEOUT_MS);
		check_background(&img, &w.box, 1);
		dmab_test_image_finish(&img);
		previous = frame;
	}
	CHECK(e2e_count_fds(compositor) > baseline);
	stop_client(paint);
	int count = e2e_wait_for_fd_count(compositor, baseline, 2000);
	if (count != baseline)
		E2E_FAIL("dmab-tinywl has %d fds 2 s after the client left, %d before it came",
			count, baseline);

	char bound[64], created[64], destroyed[64];
	snprintf(bound, sizeof(bound), "broker: client %d bound the broker", (int)paint_pid);
	snprintf(created, sizeof(created), "broker: buffer %dx%d of client %d created",
		PAINT_WIDTH, PAINT_HEIGHT, (int)paint_pid);
	snprintf(destroyed, sizeof(destroyed), "broker: buffer %dx%d of client %d destroyed",
		PAINT_WIDTH, PAINT_HEIGHT, (int)paint_pid);
	CHECK_EQ(count_in_stderr(e.daemon, bound), 1);
	int buffers = count_in_stderr(e.daemon, created);
	CHECK(buffers >= 2); /* dmab-paint's swapchain */
	CHECK_EQ(count_in_stderr(e.daemon, destroyed), buffers);
	e2e_finish(&e);
}
