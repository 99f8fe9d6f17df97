/* SPDX-License-Identifier: MIT */
/*
 * The per-client policy: a quota, introspection and token imports decided per
 * wl_client. Here the second connection is "sandboxed", as in the example of
 * doc/integration.md: half the quota, no introspection, no token import.
 */
#include <drm_fourcc.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <wayland-server.h>

#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RO DMABROKER_BUFFER_V1_ACCESS_READ

/* Written on the server thread, read by the test thread after fixture_run returns. */
struct policy_state {
	struct fixture *f;
	int calls;
	pid_t pid;
	uid_t uid;
};

static void sandbox_second_client(struct wl_client *client,
	struct dmab_server_client_policy *policy, void *data)
{
	struct policy_state *state = data;
	gid_t gid;
	/* The defaults the policy starts from. */
	CHECK_EQ(policy->quota.max_buffers, 4);
	CHECK_EQ(policy->quota.max_tokens, DMAB_QUOTA_DEFAULT_TOKENS);
	CHECK(policy->may_introspect);
	CHECK(policy->may_import_tokens);
	wl_client_get_credentials(client, &state->pid, &state->uid, &gid);
	if (++state->calls != 2)
		return;
	policy->quota.max_bytes /= 2;
	policy->quota.max_buffers /= 2;
	policy->may_introspect = false;
	policy->may_import_tokens = false;
}

static void set_policy_task(void *data)
{
	struct policy_state *state = data;
	dmab_server_set_policy(fixture_server(state->f), sandbox_second_client, state);
}

static void noop_task(void *data)
{
}

DMAB_TEST(policy_sets_quota_introspection_and_imports_per_client)
{
	struct fixture_options options = { .quota = { .max_buffers = 4 } };
	struct fixture *f = fixture_create(&options);
	struct policy_state state = { .f = f };
	fixture_run(f, set_policy_task, &state);

	struct fixture_client *trusted = fixture_client(f);
	struct fixture_client *sandboxed = fixture_client(f);
	fixture_run(f, noop_task, NULL);
	CHECK_EQ(state.calls, 2);
	CHECK_EQ(state.pid, getpid());
	CHECK_EQ(state.uid, getuid());

	/* The limits event carries each client's own quota. */
	struct dmab_client_limits trusted_limits, sandboxed_limits;
	dmab_client_get_limits(trusted->client, &trusted_limits);
	dmab_client_get_limits(sandboxed->client, &sandboxed_limits);
	CHECK_EQ(trusted_limits.max_buffers, 4);
	CHECK_EQ(sandboxed_limits.max_buffers, 2);
	CHECK_EQ(sandboxed_limits.max_bytes, DMAB_QUOTA_DEFAULT_BYTES / 2);

	/* Half the buffers. */
	struct dmab_client_buffer *mine[2];
	for (int i = 0; i < 2; i++) {
		mine[i] = dmab_client_buffer_create(sandboxed->client, 8, 8, ARGB, 0, "sandboxed");
		CHECK(mine[i] != NULL);
	}
	CHECK(dmab_client_buffer_create(sandboxed->client, 8, 8, ARGB, 0, "third") == NULL);
	CHECK_EQ(dmab_client_last_failure()->reason, DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	CHECK(strstr(dmab_client_last_failure()->message, "2 of 2 buffers") != NULL);

	/* No introspection, although the uid is the compositor's. */
	struct info_snapshot snap;
	CHECK(info_snapshot_take(sandboxed->display, dmab_client_get_manager(sandboxed->client),
		&snap));
	CHECK(snap.failed);
	CHECK_EQ(snap.reason, DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED);
	CHECK(info_snapshot_take(trusted->display, dmab_client_get_manager(trusted->client),
		&snap));
	CHECK(!snap.failed);
	CHECK(info_find_buffer(&snap, "sandboxed") >= 0);

	/* No token import; the trusted client imports the same token. */
	struct dmab_client_buffer *shared = dmab_client_buffer_create(trusted->client, 8, 8, ARGB,
		0, "shared");
	CHECK(shared != NULL);
	struct dmab_client_token *token = dmab_client_token_create(shared, RO);
	CHECK(token != NULL);
	CHECK(dmab_client_buffer_import(sandboxed->client,
		dmab_client_token_get_string(token)) == NULL);
	CHECK_EQ(dmab_client_last_failure()->reason,
		DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED);
	CHECK(strstr(dmab_client_last_failure()->message, "policy") != NULL);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(trusted->client,
		dmab_client_token_get_string(token));
	CHECK(imported != NULL);

	dmab_client_buffer_destroy(imported);
	dmab_client_token_destroy(token);
	dmab_client_buffer_destroy(shared);
	for (int i = 0; i < 2; i++)
		dmab_client_buffer_destroy(mine[i]);
	fixture_destroy(f);
}

DMAB_TEST(without_a_policy_only_the_same_uid_introspects)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct info_snapshot snap;
	CHECK(info_snapshot_take(c->display, dmab_client_get_manager(c->client), &snap));
	CHECK(!snap.failed);
	struct dmab_client_limits limits;
	dmab_client_get_limits(c->client, &limits);
	CHECK_EQ(limits.max_buffers, DMAB_QUOTA_DEFAULT_BUFFERS);
	fixture_destroy(f);
}
