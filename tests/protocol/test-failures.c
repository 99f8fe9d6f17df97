/* SPDX-License-Identifier: MIT */
/*
 * One test per failed reason: conditions a correct client can meet, reported
 * by non-fatal failed events and mapped to errnos by libdmabroker-client.
 */
#include <drm_fourcc.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coverage.h"
#include "fixture.h"
#include "harness.h"
#include "util.h"

#define ARGB DRM_FORMAT_ARGB8888
#define RW DMABROKER_BUFFER_V1_ACCESS_READ_WRITE
#define READ DMABROKER_ATTACHMENT_V1_DIRECTION_READ
#define WRITE DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE

const struct covered_entry covered_reasons[] = {
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED,
		"failure_quota_{bytes,buffers,attachments,tokens}" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN,
		"failure_unknown_token" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN,
		"failure_revoked_token" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_ALLOC_FAILED,
		"failure_alloc_failed" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_UNSATISFIABLE,
		"failure_unsatisfiable" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_DEFUNCT, "failure_defunct" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED,
		"failure_permission_denied" },
	{ "dmabroker_manager_v1", DMABROKER_MANAGER_V1_REASON_PREEMPTED, "failure_preempted" },
};
const size_t covered_reasons_len = sizeof(covered_reasons) / sizeof(covered_reasons[0]);

/* The last call failed with err because of a failed event with this reason. */
static void check_failure(int err, int expected_errno, uint32_t reason)
{
	CHECK_EQ(err, expected_errno);
	const struct dmab_client_failure *failure = dmab_client_last_failure();
	CHECK_EQ(failure->reason, reason);
	CHECK(failure->message[0] != '\0');
	printf("# failed: %s\n", failure->message);
}

static struct dmab_client_buffer *create(struct fixture_client *c, uint32_t width,
	uint32_t height)
{
	return dmab_client_buffer_create(c->client, width, height, ARGB, 0, "failures");
}

DMAB_TEST(failure_quota_bytes)
{
	/* Four 64x64 ARGB buffers of 16 KiB each fill the quota. */
	struct fixture_options options = { .quota = { .max_bytes = 64 << 10 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_limits limits;
	dmab_client_get_limits(c->client, &limits);
	CHECK_EQ(limits.max_bytes, 64 << 10);

	struct dmab_client_buffer *buffers[4];
	for (int i = 0; i < 4; i++) {
		buffers[i] = create(c, 64, 64);
		CHECK(buffers[i] != NULL);
	}
	CHECK(create(c, 64, 64) == NULL);
	check_failure(errno, EDQUOT, DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	/* Importing charges no bytes: they are the creator's. */
	struct dmab_client_token *token = dmab_client_token_create(buffers[0], RW);
	CHECK(token != NULL);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(c->client,
		dmab_client_token_get_string(token));
	CHECK(imported != NULL);
	dmab_client_buffer_destroy(imported);
	dmab_client_token_revoke(token);

	dmab_client_buffer_destroy(buffers[0]);
	buffers[0] = create(c, 64, 64);
	CHECK(buffers[0] != NULL);
	fixture_destroy(f);
}

DMAB_TEST(failure_quota_buffers)
{
	struct fixture_options options = { .quota = { .max_buffers = 2 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_limits limits;
	dmab_client_get_limits(c->client, &limits);
	CHECK_EQ(limits.max_buffers, 2);

	struct dmab_client_buffer *first = create(c, 16, 16);
	struct dmab_client_buffer *second = create(c, 16, 16);
	CHECK(first != NULL && second != NULL);
	CHECK(create(c, 16, 16) == NULL);
	check_failure(errno, EDQUOT, DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);

	/* An import is a buffer reference too. */
	struct dmab_client_token *token = dmab_client_token_create(first, RW);
	CHECK(token != NULL);
	CHECK(dmab_client_buffer_import(c->client, dmab_client_token_get_string(token)) == NULL);
	check_failure(errno, EDQUOT, DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	struct fixture_client *other = fixture_client(f);
	struct dmab_client_buffer *imported = dmab_client_buffer_import(other->client,
		dmab_client_token_get_string(token));
	CHECK(imported != NULL);

	dmab_client_buffer_destroy(second);
	CHECK(create(c, 16, 16) != NULL);
	fixture_destroy(f);
}

DMAB_TEST(failure_quota_attachments)
{
	struct fixture_options options = { .quota = { .max_attachments = 2 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = create(c, 16, 16);
	CHECK(buffer != NULL);
	struct dmab_client_attachment *first = dmab_client_attachment_create(buffer, RW, NULL);
	struct dmab_client_attachment *second = dmab_client_attachment_create(buffer, RW, NULL);
	struct dmab_client_attachment *third = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK(first != NULL && second != NULL && third != NULL);
	CHECK_EQ(dmab_client_attachment_map(first, READ), 0);
	CHECK_EQ(dmab_client_attachment_map(second, READ), 0);
	check_failure(dmab_client_attachment_map(third, READ), -EDQUOT,
		DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	/* Defunct: it keeps failing without asking the broker again. */
	check_failure(dmab_client_attachment_map(third, READ), -EDQUOT,
		DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	dmab_client_attachment_destroy(third);

	dmab_client_attachment_destroy(first);
	struct dmab_client_attachment *again = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(again, WRITE), 0);
	fixture_destroy(f);
}

DMAB_TEST(failure_quota_tokens)
{
	struct fixture_options options = { .quota = { .max_tokens = 1 } };
	struct fixture *f = fixture_create(&options);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_limits limits;
	dmab_client_get_limits(c->client, &limits);
	CHECK_EQ(limits.max_tokens, 1);
	struct dmab_client_buffer *buffer = create(c, 16, 16);
	CHECK(buffer != NULL);
	struct dmab_client_token *token = dmab_client_token_create(buffer, RW);
	CHECK(token != NULL);
	CHECK(dmab_client_token_create(buffer, DMABROKER_BUFFER_V1_ACCESS_READ) == NULL);
	check_failure(errno, EDQUOT, DMABROKER_MANAGER_V1_REASON_QUOTA_EXCEEDED);
	dmab_client_token_revoke(token);
	CHECK(dmab_client_token_create(buffer, RW) != NULL);
	fixture_destroy(f);
}

DMAB_TEST(failure_unknown_token)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	CHECK(dmab_client_buffer_import(c->client, UTIL_BOGUS_TOKEN) == NULL);
	check_failure(errno, ENOENT, DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN);
	/* A string that is no token at all is unknown too, not a protocol error. */
	CHECK(dmab_client_buffer_import(c->client, "not a token") == NULL);
	check_failure(errno, ENOENT, DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN);
	CHECK(dmab_client_buffer_import(c->client, "") == NULL);
	check_failure(errno, ENOENT, DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN);
	fixture_destroy(f);
}

DMAB_TEST(failure_revoked_token)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *owner = fixture_client(f);
	struct fixture_client *importer = fixture_client(f);
	struct dmab_client_buffer *buffer = create(owner, 16, 16);
	CHECK(buffer != NULL);
	struct dmab_client_token *token = dmab_client_token_create(buffer, RW);
	CHECK(token != NULL);
	char string[64];
	snprintf(string, sizeof(string), "%s", dmab_client_token_get_string(token));
	struct dmab_client_buffer *early = dmab_client_buffer_import(importer->client, string);
	CHECK(early != NULL);
	dmab_client_token_revoke(token);
	CHECK_EQ(dmab_client_roundtrip(owner->client), 0);

	CHECK(dmab_client_buffer_import(importer->client, string) == NULL);
	check_failure(errno, EACCES, DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN);
	/* An import made before the revocation is cut off too. */
	struct dmab_client_attachment *att = dmab_client_attachment_create(early, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(att, READ), -EACCES);
	check_failure(EACCES, EACCES, DMABROKER_MANAGER_V1_REASON_REVOKED_TOKEN);
	dmab_client_buffer_destroy(early);

	/* Once the buffer is freed, its revoked tokens are forgotten. */
	dmab_client_buffer_destroy(buffer);
	CHECK_EQ(dmab_client_roundtrip(owner->client), 0);
	CHECK(dmab_client_buffer_import(importer->client, string) == NULL);
	check_failure(errno, ENOENT, DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN);
	fixture_destroy(f);
}

/*
 * An honest allocation failure: with RLIMIT_NOFILE at the lowest free fd, the
 * allocator (in this process's server thread) cannot create the storage fd.
 */
DMAB_TEST(failure_alloc_failed)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = create(c, 64, 64);
	CHECK(buffer != NULL);
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_roundtrip(c->client), 0);

	struct rlimit saved;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
	int lowest_free = fcntl(wl_display_get_fd(c->display), F_DUPFD_CLOEXEC, 0);
	CHECK(lowest_free >= 0);
	close(lowest_free);
	struct rlimit limit = { .rlim_cur = (rlim_t)lowest_free, .rlim_max = saved.rlim_max };
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
	int ret = dmab_client_attachment_map(att, WRITE);
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
	check_failure(ret, -ENOMEM, DMABROKER_MANAGER_V1_REASON_ALLOC_FAILED);

	/* The failure was the attachment's: the buffer can still be backed. */
	struct dmab_client_attachment *retry = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(retry, WRITE), 0);
	fixture_destroy(f);
}

DMAB_TEST(failure_unsatisfiable)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct dmab_client_buffer *buffer = create(c, 64, 64);
	CHECK(buffer != NULL);
	struct dmab_client_constraints contiguous = {
		.flags = DMABROKER_BUFFER_V1_CONSTRAINT_FLAGS_CONTIGUOUS,
	};
	struct dmab_client_attachment *att = dmab_client_attachment_create(buffer, RW,
		&contiguous);
	int ret = dmab_client_attachment_map(att, WRITE);
	if (ret == 0)
		dmab_test_skip("allocator %s provides contiguous storage",
			fixture_allocator_name(f));
	check_failure(ret, -EINVAL, DMABROKER_MANAGER_V1_REASON_UNSATISFIABLE);

	/* The buffer itself is fine: a plain attachment maps. */
	struct dmab_client_attachment *plain = dmab_client_attachment_create(buffer, RW, NULL);
	CHECK_EQ(dmab_client_attachment_map(plain, WRITE), 0);
	/* And backed storage refuses it the same way. */
	struct dmab_client_attachment *late = dmab_client_attachment_create(buffer, RW,
		&contiguous);
	check_failure(dmab_client_attachment_map(late, READ), -EINVAL,
		DMABROKER_MANAGER_V1_REASON_UNSATISFIABLE);
	fixture_destroy(f);
}

DMAB_TEST(failure_defunct)
{
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *c = fixture_client(f);
	struct raw_buffer defunct;
	raw_buffer_listen(&defunct, dmabroker_manager_v1_import_buffer(
		dmab_client_get_manager(c->client), UTIL_BOGUS_TOKEN));
	ROUNDTRIP(c->display);
	CHECK(defunct.failed);
	CHECK_EQ(defunct.reason, DMABROKER_MANAGER_V1_REASON_UNKNOWN_TOKEN);

	struct raw_attachment att;
	raw_attachment_listen(&att, dmabroker_buffer_v1_attach(defunct.proxy, RW, 0, 0, 1));
	struct raw_token token;
	raw_token_listen(&token, dmabroker_buffer_v1_share(defunct.proxy, RW));
	ROUNDTRIP(c->display);
	CHECK(att.failed);
	CHECK_EQ(att.reason, DMABROKER_MANAGER_V1_REASON_DEFUNCT);
	CHECK(att.message[0] != '\0');
	CHECK(token.failed);
	CHECK_EQ(token.reason, DMABROKER_MANAGER_V1_REASON_DEFUNCT);
	CHECK(!token.have_token);

	/* A defunct attachment ignores requests: no error, no answer. */
	dmabroker_attachment_v1_map(att.proxy, READ);
	dmabroker_attachment_v1_begin_access(att.proxy, READ);
	ROUNDTRIP(c->display);
	CHECK_EQ(att.mapped_count, 0);
	CHECK_EQ(att.ready_count, 0);
	raw_attachment_destroy(&att);
	dmabroker_token_v1_revoke(token.proxy);
	raw_buffer_destroy(&defunct);
	ROUNDTRIP(c->display);
	fixture_destroy(f);
}

static int send_fd(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control = { 0 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = control.buf,
		.msg_controllen = sizeof(control.buf),
	};
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
	if (cmsg == NULL || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

enum { NOBODY = 65534 };

/*
 * Runs as another user: the peer credentials of a socketpair are its
 * creator's, so the child makes the connection itself and hands the broker
 * its end. Exits 0 if introspection was refused with permission_denied.
 */
static _Noreturn void introspect_as_nobody(int control)
{
	alarm(10);
	if (setgroups(0, NULL) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		_exit(10);
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 ||
			send_fd(control, fds[0]) < 0)
		_exit(11);
	close(fds[0]);
	struct wl_display *display = wl_display_connect_to_fd(fds[1]);
	struct dmab_client *client = display ? dmab_client_create(display) : NULL;
	if (client == NULL)
		_exit(12);
	struct info_snapshot snap;
	if (!info_snapshot_take(display, dmab_client_get_manager(client), &snap))
		_exit(13);
	bool refused = snap.failed && !snap.done && snap.buffers_len == 0 &&
		snap.reason == DMABROKER_MANAGER_V1_REASON_PERMISSION_DENIED;
	dmab_client_destroy(client);
	wl_display_disconnect(display);
	_exit(refused ? 0 : 1);
}

DMAB_TEST(failure_permission_denied)
{
	if (geteuid() != 0)
		dmab_test_skip("needs root to run a client as another user");
	struct fixture *f = fixture_create(NULL);
	struct fixture_client *same_user = fixture_client(f);
	struct dmab_client_buffer *buffer = create(same_user, 16, 16);
	CHECK(buffer != NULL);
	struct info_snapshot snap;
	CHECK(info_snapshot_take(same_user->display, dmab_client_get_manager(same_user->client),
		&snap));
	CHECK(snap.done && !snap.failed);
	CHECK(info_find_buffer(&snap, "failures") >= 0);

	int control[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, control), 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(control[0]);
		introspect_as_nobody(control[1]);
	}
	close(control[1]);
	int server_end = recv_fd(control[0]);
	close(control[0]);
	if (server_end >= 0)
		fixture_add_client_fd(f, server_end);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(server_end >= 0);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	fixture_destroy(f);
}
