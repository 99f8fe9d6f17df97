/* SPDX-License-Identifier: MIT */
/*
 * The compositor's own broker buffers: made through the same core as the
 * clients', charged to an account of the compositor's process, shown by
 * introspection, shared by token, and written or read inside brackets.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <wayland-server-core.h>

#include "server-private.h"

struct dmab_server_own_buffer {
	struct dmab_server *server;
	struct dmab_handle *handle;
	struct wl_list tokens; /* struct dmab_server_token.link */
	struct wl_list link; /* struct dmab_server.own_buffers */
};

struct dmab_server_token {
	struct dmab_server_own_buffer *buffer;
	struct dmab_token *core;
	struct wl_list link; /* struct dmab_server_own_buffer.tokens */
};

/* Like a client's buffer's events, with no client: the compositor's own. */
static void buffer_emit(struct dmab_server_own_buffer *buffer, struct wl_signal *signal)
{
	struct dmab_pixels layout;
	struct dmab_server_buffer_event event = { .own_buffer = buffer };

	dmab_server_own_buffer_get_layout(buffer, &layout);
	event.width = layout.width;
	event.height = layout.height;
	event.format = layout.format;
	wl_signal_emit(signal, &event);
}

static void token_emit(struct dmab_server_token *token, struct wl_signal *signal)
{
	struct dmab_server_token_event event = {
		.own_buffer = token->buffer,
		.own_token = token,
	};

	wl_signal_emit(signal, &event);
}

static struct dmab_account *own_account(struct dmab_server *server)
{
	if (!server->own_account)
		server->own_account = dmab_account_create(server->core, getpid(), geteuid());
	return server->own_account;
}

struct dmab_server_own_buffer *dmab_server_own_buffer_create(struct dmab_server *server,
	uint32_t width, uint32_t height, uint32_t format, const char *name)
{
	struct dmab_buffer_desc desc = {
		.width = width, .height = height, .format = format, .name = name ? name : "",
	};
	struct dmab_misuse_report report = {0};
	struct dmab_failure fail = server_nomem_failure;
	struct dmab_account *account = own_account(server);
	struct dmab_server_own_buffer *buffer;

	if (!account) {
		server_set_last_error("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (!dmab_buffer_desc_check(server->core, &desc, &report)) {
		server_set_last_error("%s", report.message);
		errno = EINVAL;
		return NULL;
	}
	buffer = calloc(1, sizeof(*buffer));
	if (!buffer) {
		server_set_last_error("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	buffer->handle = dmab_handle_create(account, &desc, &fail);
	if (!buffer->handle) {
		free(buffer);
		server_set_last_error("%s", fail.message);
		errno = server_reason_errno(fail.reason);
		return NULL;
	}
	buffer->server = server;
	wl_list_init(&buffer->tokens);
	wl_list_insert(&server->own_buffers, &buffer->link);
	buffer_emit(buffer, &server->events.buffer_create);
	return buffer;
}

static void token_free(struct dmab_server_token *token, bool revoke)
{
	if (revoke) {
		token_emit(token, &token->buffer->server->events.token_revoke);
		dmab_token_revoke(token->core);
	} else {
		dmab_token_withdraw(token->core);
	}
	wl_list_remove(&token->link);
	free(token);
}

void dmab_server_own_buffer_destroy(struct dmab_server_own_buffer *buffer)
{
	struct dmab_server_token *token, *tmp;

	if (!buffer) {
		return;
	}
	/* First, so that listeners can still read the layout and tokens. */
	buffer_emit(buffer, &buffer->server->events.buffer_destroy);
	wl_list_for_each_safe(token, tmp, &buffer->tokens, link) {
		token_free(token, false);
	}
	dmab_handle_destroy(buffer->handle);
	wl_list_remove(&buffer->link);
	free(buffer);
}

void dmab_server_own_buffer_get_layout(struct dmab_server_own_buffer *buffer,
	struct dmab_pixels *layout)
{
	struct dmab_layout core_layout;

	dmab_buffer_get_layout(dmab_handle_get_buffer(buffer->handle), &core_layout);
	server_layout_to_pixels(&core_layout, layout);
}

struct dmab_server_token *dmab_server_own_buffer_share(struct dmab_server_own_buffer *buffer,
	bool read_write)
{
	struct dmab_failure fail = server_nomem_failure;
	struct dmab_server_token *token = calloc(1, sizeof(*token));

	if (!token) {
		server_set_last_error("out of memory");
		errno = ENOMEM;
		return NULL;
	}
	token->core = dmab_token_create(buffer->handle,
		read_write ? DMAB_ACCESS_READ_WRITE : DMAB_ACCESS_READ, &fail);
	if (!token->core) {
		free(token);
		server_set_last_error("%s", fail.message);
		errno = server_reason_errno(fail.reason);
		return NULL;
	}
	token->buffer = buffer;
	wl_list_insert(&buffer->tokens, &token->link);
	token_emit(token, &buffer->server->events.token_share);
	return token;
}

const char *dmab_server_token_get_string(const struct dmab_server_token *token)
{
	return dmab_token_get_string(token->core);
}

void dmab_server_token_revoke(struct dmab_server_token *token)
{
	if (token) {
		token_free(token, true);
	}
}

void dmab_server_token_destroy(struct dmab_server_token *token)
{
	if (token) {
		token_free(token, false);
	}
}

struct dmab_server_read *dmab_server_own_buffer_begin(struct dmab_server_own_buffer *buffer,
	bool write, const struct dmab_server_read_listener *listener, void *data)
{
	return server_access_begin(buffer->server, buffer->handle, write, listener, data);
}

void server_own_buffers_finish(struct dmab_server *server)
{
	/* Like a listener left on a signal: the compositor would free them later. */
	assert(wl_list_empty(&server->own_buffers));
	dmab_account_destroy(server->own_account);
	server->own_account = NULL;
}
