/* SPDX-License-Identifier: MIT */
/*
 * linux-dmabuf-check: dmabrokerd composites a stock-style zwp_linux_dmabuf_v1
 * client on a machine without a GPU. $DMABUF_CLIENT (dmabuf-client.c) brings
 * its own udmabuf through create_immed; the screenshot must show its frame
 * pixel for pixel. With --no-linux-dmabuf the daemon must not offer the global,
 * and the same client must say so and exit 3.
 *
 * Prints the tier's PASS/FAIL/SKIP markers (see screen.h); exits 0, 1 or 77.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "pattern.h"
#include "screen.h"

#define OUTPUT_WIDTH 320
#define OUTPUT_HEIGHT 240
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define CLIENT_WIDTH 256
#define CLIENT_HEIGHT 192
#define CLIENT_FRAME 7
#define PRESENT_TIMEOUT_MS 20000
#define SCREEN_TIMEOUT_MS 10000
#define EXIT_NO_LINUX_DMABUF 3

static uint32_t expected_pattern(int x, int y, const void *data)
{
	const uint32_t *frame = data;
	return dmab_pattern_expected(DRM_FORMAT_XRGB8888, (uint32_t)x, (uint32_t)y, *frame);
}

static bool spawn_client(struct kt_proc *client, const char *path)
{
	const char *argv[] = {
		path, "--width", STRINGIFY(CLIENT_WIDTH), "--height", STRINGIFY(CLIENT_HEIGHT),
		"--frame", STRINGIFY(CLIENT_FRAME), NULL,
	};
	return kt_spawn(client, "dmabuf-client", argv);
}

static void check_composited(const char *client_path)
{
	struct kt_daemon daemon;
	if (!kt_check(kt_daemon_start(&daemon, OUTPUT_WIDTH, OUTPUT_HEIGHT, NULL),
			"linux-dmabuf/daemon-starts[udmabuf]", "with linux-dmabuf on (the default)"))
		return;
	struct kt_proc client;
	if (!spawn_client(&client, client_path)) {
		kt_fail("linux-dmabuf/client-presents[udmabuf]", "cannot spawn %s", client_path);
		kt_daemon_stop(&daemon);
		return;
	}
	bool presented = kt_wait_for_output(&client, "presented", PRESENT_TIMEOUT_MS);
	if (!kt_check(presented, "linux-dmabuf/client-presents[udmabuf]",
			"create_immed of a udmabuf, attached and committed")) {
		kt_stop(&client, SIGKILL, 1000);
		kt_print_logs(&client);
	} else {
		/* The first toplevel sits at the output's top-left corner. */
		uint32_t frame = CLIENT_FRAME;
		struct kt_region_result r;
		int ms = kt_wait_for_region(&daemon, 0, 0, CLIENT_WIDTH, CLIENT_HEIGHT,
			expected_pattern, &frame, SCREEN_TIMEOUT_MS, &r);
		if (ms >= 0)
			kt_pass("linux-dmabuf/frame-pixel-exact[udmabuf]", "%dx%d pattern frame "
				"%d on screen after %d ms", CLIENT_WIDTH, CLIENT_HEIGHT, CLIENT_FRAME,
				ms);
		else
			kt_fail("linux-dmabuf/frame-pixel-exact[udmabuf]", "%dx%d pattern frame "
				"%d: %ld pixels differ, the first at %d,%d: 0x%06x, expected 0x%06x",
				CLIENT_WIDTH, CLIENT_HEIGHT, CLIENT_FRAME, r.mismatches, r.bad_x,
				r.bad_y, r.got, r.want);
		int status = kt_stop(&client, SIGTERM, 5000);
		if (!kt_check(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
				!kt_sanitizer_reported(&client), "linux-dmabuf/client-exits-0[udmabuf]",
				"on SIGTERM"))
			kt_print_logs(&client);
	}
	if (kt_check(kt_daemon_stop(&daemon), "linux-dmabuf/daemon-exits-0[udmabuf]",
			"on SIGTERM") && kt_failures() > 0)
		kt_print_logs(&daemon.proc);
}

static void check_disabled(const char *client_path)
{
	static const char *const args[] = { "--no-linux-dmabuf", NULL };
	struct kt_daemon daemon;
	if (!kt_check(kt_daemon_start(&daemon, OUTPUT_WIDTH, OUTPUT_HEIGHT, args),
			"linux-dmabuf/daemon-starts-without-it", "--no-linux-dmabuf"))
		return;
	struct kt_proc client;
	if (spawn_client(&client, client_path)) {
		bool exited = kt_wait(&client, PRESENT_TIMEOUT_MS);
		if (!exited)
			kt_stop(&client, SIGKILL, 1000);
		bool refused = exited && WIFEXITED(client.status) &&
			WEXITSTATUS(client.status) == EXIT_NO_LINUX_DMABUF;
		if (!kt_check(refused, "linux-dmabuf/off-with-no-linux-dmabuf",
				"the client finds no zwp_linux_dmabuf_v1 (wait status 0x%x)",
				client.status))
			kt_print_logs(&client);
	}
	kt_daemon_stop(&daemon);
}

int main(int argc, char *argv[])
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *client_path = getenv("DMABUF_CLIENT");
	if (client_path == NULL || access(client_path, X_OK) != 0) {
		kt_skip("linux-dmabuf[udmabuf]", "$DMABUF_CLIENT is not set or not built");
		return kt_exit_status();
	}
	int udmabuf = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (udmabuf < 0) {
		kt_skip("linux-dmabuf[udmabuf]", "/dev/udmabuf: %s", strerror(errno));
		return kt_exit_status();
	}
	close(udmabuf);
	int fds = kt_count_fds();
	check_composited(client_path);
	check_disabled(client_path);
	int fds_after = kt_count_fds();
	kt_check(fds_after == fds, "linux-dmabuf/no-fd-leak", "%d fds open before, %d after", fds,
		fds_after);
	return kt_exit_status();
}
