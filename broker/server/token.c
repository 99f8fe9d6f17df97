/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <stdlib.h>
#include <wayland-server-core.h>

#include "dmabroker-v1-server-protocol.h"
#include "server-private.h"

struct token {
	struct server_object base;
	struct dmab_token *core; /* holds a buffer reference until revoked */
	bool revoking; /* the client asked: end the access granted through it too */
};

static const struct dmabroker_token_v1_interface token_impl;

static struct token *token_from_resource(struct wl_resource *resource)
{
	assert(wl_resource_instance_of(resource, &dmabroker_token_v1_interface, &token_impl));
	return wl_resource_get_user_data(resource);
}

static void token_handle_revoke(struct wl_client *client, struct wl_resource *resource)
{
	struct token *token = token_from_resource(resource);

	if (token)
		token->revoking = true;
	wl_resource_destroy(resource);
}

static void token_handle_destroy(struct wl_client *client, struct wl_resource *resource)
{
	wl_resource_destroy(resource);
}

static const struct dmabroker_token_v1_interface token_impl = {
	.revoke = token_handle_revoke,
	.destroy = token_handle_destroy,
};

static void token_emit(struct token *token, struct wl_signal *signal)
{
	struct dmab_server_token_event event = {
		.client = wl_resource_get_client(token->base.resource),
		.resource = token->base.resource,
	};

	wl_signal_emit(signal, &event);
}

static void token_release(struct server_object *object)
{
	struct token *token = wl_container_of(object, token, base);

	if (token->revoking && token->base.resource) {
		token_emit(token, &token->base.server->events.token_revoke);
	}
	if (token->revoking)
		dmab_token_revoke(token->core);
	else
		dmab_token_withdraw(token->core);
	server_object_finish(&token->base);
	free(token);
}

/*
 * A client that disconnects withdraws its tokens: no more imports, but what
 * it granted stays granted. Only revoke takes it back.
 */
static void token_handle_resource_destroy(struct wl_resource *resource)
{
	struct token *token = token_from_resource(resource);

	if (token)
		token_release(&token->base);
}

void server_token_create(struct wl_resource *parent, uint32_t id, struct dmab_server *server,
	struct dmab_token *core, const struct dmab_failure *fail)
{
	struct wl_resource *resource = server_resource_create(parent,
		&dmabroker_token_v1_interface, &token_impl, token_handle_resource_destroy, id);
	struct token *token;

	if (!resource) {
		dmab_token_revoke(core);
		return;
	}
	if (!core) {
		dmabroker_token_v1_send_failed(resource, fail->reason, fail->message);
		server_note_failure(server, wl_resource_get_client(resource), fail);
		return;
	}
	token = calloc(1, sizeof(*token));
	if (!token) {
		dmab_token_revoke(core);
		wl_resource_post_no_memory(resource);
		return;
	}
	token->core = core;
	server_object_init(&token->base, server, resource, token_release);
	wl_resource_set_user_data(resource, token);
	dmabroker_token_v1_send_token(resource, dmab_token_get_string(core));
	token_emit(token, &server->events.token_share);
}
