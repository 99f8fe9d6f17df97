/* SPDX-License-Identifier: MIT */
/*
 * Limits per peer uid, over all of its connections, and the fd headroom: a
 * uid cannot take more than its share by opening more connections, and an
 * fd-starved broker answers with failed events, never with a hang.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dmabroker-v1-client-protocol.h"
#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

/*
 * Every connection of the test is the test's uid. 16384x8192 ARGB is the
 * whole default connection quota of 512 MiB; the default uid limit of 2 GiB
 * holds four. Nothing is allocated before a map.
 */
DMAB_TEST(uid_bytes_span_connections)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c[5];
	struct dmab_client_buffer *buffers[5];
	for (int i = 0; i < 5; i++) {
		c[i] = fixture_client(f);
	}
	for (int i = 0; i < 4; i++) {
		buffers[i] = dmab_client_buffer_create(c[i]->client, 16384, 8192, ARGB, 0, "big");
		CHECK(buffers[i] != NULL);
	}
	CHECK(dmab_client_buffer_create(c[4]->client, 16384, 8192, ARGB, 0, "big") == NULL);
	CHECK_EQ(errno, EDQUOT);
	const struct dmab_client_failure *failure = dmab_client_last_failure();
	CHECK_EQ(failure->reason, DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	char expected[160];
	snprintf(expected, sizeof(expected), "uid %u byte quota exceeded: 2147483648 bytes in "
		"use by its 5 connections, 536870912 more requested, 2147483648 allowed",
		(unsigned)getuid());
	CHECK_STR_EQ(failure->message, expected);

	/* The uid's bytes come back with a buffer of any of its connections. */
	dmab_client_buffer_destroy(buffers[0]);
	CHECK(dmab_client_roundtrip(c[0]->client) >= 0);
	buffers[4] = dmab_client_buffer_create(c[4]->client, 16384, 8192, ARGB, 0, "big");
	CHECK(buffers[4] != NULL);
	fixture_destroy(f);
}

DMAB_TEST(uid_buffers_span_connections)
{
	struct fixture_options options = { .uid_quota = { .max_buffers = 3 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	CHECK(dmab_client_buffer_create(a->client, 8, 8, ARGB, 0, "a") != NULL);
	CHECK(dmab_client_buffer_create(a->client, 8, 8, ARGB, 0, "a") != NULL);
	CHECK(dmab_client_buffer_create(b->client, 8, 8, ARGB, 0, "b") != NULL);
	CHECK(dmab_client_buffer_create(b->client, 8, 8, ARGB, 0, "b") == NULL);
	CHECK_EQ(errno, EDQUOT);
	CHECK(strstr(dmab_client_last_failure()->message,
		"buffer quota exceeded: 3 of 3 buffers in use by its 2 connections") != NULL);
	fixture_destroy(f);
}

/*
 * A limit of 64 connections per uid: the 65th bind is an error that names the
 * limit, and a closed connection makes room again.
 */
DMAB_TEST(uid_connection_limit)
{
	enum { LIMIT = 64 };
	struct fixture_options options = { .uid_quota = { .max_connections = LIMIT } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c[LIMIT];
	for (int i = 0; i < LIMIT; i++) {
		c[i] = fixture_client(f);
	}
	struct fixture_client *over = fixture_connect(f);
	util_capture_client_log();
	CHECK(dmab_client_create(over->display) == NULL);
	CHECK_EQ(errno, EPROTO);
	const struct wl_interface *iface = NULL;
	uint32_t id;
	CHECK_EQ(wl_display_get_protocol_error(over->display, &iface, &id),
		WL_DISPLAY_ERROR_IMPLEMENTATION);
	CHECK(iface == &wl_display_interface);
	char expected[128];
	snprintf(expected, sizeof(expected), "dmabroker: uid %u connection limit exceeded: "
		"64 of 64 connections in use", (unsigned)getuid());
	if (strstr(util_last_client_log(), expected) == NULL) {
		dmab_test_fail(__FILE__, __LINE__, "error \"%s\" lacks \"%s\"",
			util_last_client_log(), expected);
	}
	printf("# %s", util_last_client_log());
	fixture_client_close(over);

	fixture_client_close(c[0]);
	struct fixture_client *again = fixture_client(f);
	CHECK(dmab_client_roundtrip(again->client) >= 0);
	fixture_destroy(f);
}

struct mapper {
	struct dmab_client_buffer *buffers[128];
	struct dmab_client_attachment *atts[128];
	int len;
};

/* Maps up to max new 1x1 buffers, until one fails: the error of the failing map, or 0. */
static int map_until_failure(struct fixture_client *c, struct mapper *m, int max)
{
	while (m->len < max) {
		struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 1, 1, ARGB,
			0, "fds");
		if (buffer == NULL) {
			return -errno;
		}
		struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW,
			NULL);
		int ret = att != NULL ? dmab_client_attachment_map(att, WRITE) : -errno;
		m->buffers[m->len] = buffer;
		m->atts[m->len] = att;
		m->len++;
		if (ret < 0) {
			return ret;
		}
	}
	return 0;
}

static void mapper_finish(struct mapper *m)
{
	for (int i = 0; i < m->len; i++) {
		dmab_client_attachment_destroy(m->atts[i]);
		dmab_client_buffer_destroy(m->buffers[i]);
	}
	m->len = 0;
}

/*
 * 154 connections x 128 mapped 1x1 buffers exhausted the daemon's fds, after
 * which new clients hung. With RLIMIT_NOFILE at 256 the broker keeps 32 fds of
 * headroom: maps past it fail with alloc_failed, no client is disconnected,
 * and a new client connects and maps (and fails) like any other.
 */
DMAB_TEST(fd_headroom_fails_maps_and_admits_new_clients)
{
	enum { CLIENTS = 8 };
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 256;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c[CLIENTS];
	static struct mapper m[CLIENTS];
	int failures = 0;
	for (int i = 0; i < CLIENTS; i++) {
		c[i] = fixture_client(f);
		int ret = map_until_failure(c[i], &m[i], 128);
		if (ret == 0) {
			continue;
		}
		CHECK_EQ(ret, -ENOMEM);
		const struct dmab_client_failure *failure = dmab_client_last_failure();
		CHECK_EQ(failure->reason, DMABROKER_MANAGER_V1_REASON_ALLOC_FAILED);
		CHECK(strstr(failure->message, strerror(EMFILE)) != NULL);
		if (failures++ == 0) {
			printf("# failed: %s\n", failure->message);
		}
	}
	CHECK(failures > 0);
	for (int i = 0; i < CLIENTS; i++) {
		CHECK(dmab_client_roundtrip(c[i]->client) >= 0);
	}

	struct fixture_client *late = fixture_client(f);
	CHECK(dmab_client_roundtrip(late->client) >= 0);
	struct mapper late_maps = {0};
	CHECK_EQ(map_until_failure(late, &late_maps, 128), -ENOMEM);
	CHECK(dmab_client_roundtrip(late->client) >= 0);

	/* Destroying buffers gives their fds back. */
	for (int i = 0; i < CLIENTS; i++) {
		mapper_finish(&m[i]);
	}
	mapper_finish(&late_maps);
	CHECK_EQ(map_until_failure(late, &late_maps, 16), 0);
	mapper_finish(&late_maps);
	fixture_destroy(f);
}

/*
 * A fence that has not signaled holds two fds for its client's uid; one over
 * the uid's fd limit is an implementation error naming it, as a fence has no
 * failed event. One that has signaled holds none.
 */
DMAB_TEST(uid_fd_limit_counts_pending_fences)
{
	struct fixture_options options = { .uid_quota = { .max_fds = 3 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(c->client, 8, 8, ARGB, 0,
		"fenced");
	CHECK(buffer != NULL);
	int signaled = dmab_client_buffer_get_fence_fd(buffer, true);
	CHECK(signaled >= 0);
	close(signaled);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(att, WRITE), 0);
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	int pending = dmab_client_buffer_get_fence_fd(buffer, true);
	CHECK(pending >= 0);
	close(pending);
	/* Signaled, it gives its fds back, though its object is long gone. */
	CHECK_EQ(dmab_client_attachment_end(att), 0);
	CHECK_EQ(dmab_client_attachment_begin(att, WRITE), 0);
	pending = dmab_client_buffer_get_fence_fd(buffer, true);
	CHECK(pending >= 0);
	close(pending);

	util_capture_client_log();
	CHECK_EQ(dmab_client_buffer_get_fence_fd(buffer, true), -EPROTO);
	const struct wl_interface *iface = NULL;
	uint32_t id;
	CHECK_EQ(wl_display_get_protocol_error(c->display, &iface, &id),
		WL_DISPLAY_ERROR_IMPLEMENTATION);
	char expected[128];
	snprintf(expected, sizeof(expected), "dmabroker: get_fence: uid %u fd quota exceeded: "
		"3 of 3 fds in use by its 1 connection\n", (unsigned)getuid());
	if (strstr(util_last_client_log(), expected) == NULL) {
		dmab_test_fail(__FILE__, __LINE__, "error \"%s\" lacks \"%s\"",
			util_last_client_log(), expected);
	}
	printf("# %s", util_last_client_log());
	fixture_destroy(f);
}

/* Introspection (version 2) shows the fd budget, the uid limits and each uid's usage. */
DMAB_TEST(info_reports_fds_and_uid_usage)
{
	struct fixture_options options = {
		.uid_quota = { .max_bytes = 1 << 20, .max_buffers = 20, .max_connections = 5,
			.max_fds = 30 },
	};
	struct fixture *f = fixture_create(&options);
	struct fixture_client *a = fixture_client(f);
	struct fixture_client *b = fixture_client(f);
	for (int i = 0; i < 2; i++) {
		CHECK(dmab_client_buffer_create(a->client, 64, 64, ARGB, 0, "a") != NULL);
	}
	CHECK(dmab_client_buffer_create(b->client, 64, 64, ARGB, 0, "b") != NULL);
	CHECK(dmab_client_roundtrip(b->client) >= 0);

	static struct info_snapshot snap;
	CHECK(info_snapshot_take(a->display, dmab_client_get_manager(a->client), &snap));
	CHECK(snap.done);
	CHECK(snap.have_fd_limit && snap.have_uid_limits);
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK_EQ(snap.fd_soft_limit, rl.rlim_cur == RLIM_INFINITY ? 0 : (uint32_t)rl.rlim_cur);
	printf("# fds: open %u, soft limit %u, headroom %u\n", snap.fds_open, snap.fd_soft_limit,
		snap.fd_headroom);
	CHECK(snap.fd_headroom >= 32 && snap.fd_headroom <= 4096);
	CHECK(snap.fds_open > 0);
	CHECK_EQ(snap.uid_max_bytes, 1 << 20);
	CHECK_EQ(snap.uid_max_buffers, 20);
	CHECK_EQ(snap.uid_max_connections, 5);
	CHECK_EQ(snap.uid_max_fds, 30);
	CHECK_EQ(snap.uids_len, 1);
	CHECK_EQ(snap.uids[0].uid, getuid());
	CHECK_EQ(snap.uids[0].connections, 2);
	CHECK_EQ(snap.uids[0].buffers, 3);
	CHECK_EQ(snap.uids[0].bytes, 3 * 64 * 64 * 4);
	CHECK_EQ(snap.uids[0].fds, 3);
	fixture_destroy(f);
}

struct v1_bind {
	struct dmabroker_manager_v1 *manager;
};

static void v1_global(void *data, struct wl_registry *registry, uint32_t name,
	const char *interface, uint32_t version)
{
	struct v1_bind *bind = data;
	if (strcmp(interface, dmabroker_manager_v1_interface.name) == 0) {
		CHECK_EQ(version, 3);
		bind->manager = wl_registry_bind(registry, name, &dmabroker_manager_v1_interface,
			1);
	}
}

static void v1_global_remove(void *data, struct wl_registry *registry, uint32_t name)
{
}

static const struct wl_registry_listener v1_registry_listener = {
	.global = v1_global,
	.global_remove = v1_global_remove,
};

/* A client bound at version 1 gets a version 1 snapshot. */
DMAB_TEST(info_version_1_has_no_uid_events)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_connect(f);
	struct wl_registry *registry = wl_display_get_registry(c->display);
	struct v1_bind bind = {0};
	wl_registry_add_listener(registry, &v1_registry_listener, &bind);
	ROUNDTRIP(c->display);
	CHECK(bind.manager != NULL);
	static struct info_snapshot snap;
	CHECK(info_snapshot_take(c->display, bind.manager, &snap));
	CHECK(snap.done);
	CHECK(!snap.have_fd_limit && !snap.have_uid_limits);
	CHECK_EQ(snap.uids_len, 0);
	CHECK(snap.allocators_len > 0);
	dmabroker_manager_v1_destroy(bind.manager);
	wl_registry_destroy(registry);
	fixture_destroy(f);
}
