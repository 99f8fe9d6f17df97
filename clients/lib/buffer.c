/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-private.h"

static void handle_info(void *data, struct dmabroker_buffer_v1 *proxy, uint32_t width,
	uint32_t height, uint32_t format, uint32_t stride, uint32_t size_hi, uint32_t size_lo,
	uint32_t access)
{
	struct dmab_client_buffer *buffer = data;
	buffer->layout = (struct dmab_client_layout){
		.width = width,
		.height = height,
		.format = format,
		.stride = stride,
		.size = (uint64_t)size_hi << 32 | size_lo,
		.access = access,
		.n_planes = buffer->pending_n_planes,
	};
	memcpy(buffer->layout.planes, buffer->pending_planes, sizeof(buffer->layout.planes));
	buffer->pending_n_planes = 0;
	buffer->have_info = true;
}

static void handle_buffer_plane(void *data, struct dmabroker_buffer_v1 *proxy, uint32_t index,
	uint32_t offset, uint32_t stride, uint32_t size)
{
	struct dmab_client_buffer *buffer = data;
	if (index >= DMAB_CLIENT_MAX_PLANES) {
		return;
	}
	buffer->pending_planes[index] = (struct dmab_client_plane){ offset, stride, size };
	if (index >= buffer->pending_n_planes) {
		buffer->pending_n_planes = index + 1;
	}
}

static void handle_buffer_failed(void *data, struct dmabroker_buffer_v1 *proxy, uint32_t reason,
	const char *message)
{
	struct dmab_client_buffer *buffer = data;
	client_failure_init(&buffer->failure, reason, message);
	buffer->failed = true;
}

static const struct dmabroker_buffer_v1_listener buffer_listener = {
	.info = handle_info,
	.failed = handle_buffer_failed,
	.plane = handle_buffer_plane,
};

static bool buffer_answered(const void *data)
{
	const struct dmab_client_buffer *buffer = data;
	return buffer->have_info || buffer->failed;
}

static struct dmab_client_buffer *buffer_alloc(struct dmab_client *client)
{
	struct dmab_client_buffer *buffer = calloc(1, sizeof(*buffer));
	if (buffer == NULL)
		return NULL;
	buffer->client = client;
	wl_list_init(&buffer->attachments);
	wl_list_init(&buffer->tokens);
	wl_list_insert(client->buffers.prev, &buffer->link);
	return buffer;
}

/* Takes the new proxy (or NULL) and waits for the buffer's first event. */
static struct dmab_client_buffer *buffer_finish_create(struct dmab_client_buffer *buffer,
	struct dmabroker_buffer_v1 *proxy)
{
	int ret;
	if (proxy == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	buffer->proxy = proxy;
	dmabroker_buffer_v1_add_listener(proxy, &buffer_listener, buffer);
	ret = client_wait(buffer->client, buffer_answered, buffer);
	if (ret < 0)
		goto err;
	if (buffer->failed) {
		ret = client_report_failure(&buffer->failure);
		goto err;
	}
	return buffer;
err:
	dmab_client_buffer_destroy(buffer);
	errno = -ret;
	return NULL;
}

struct dmab_client_buffer *dmab_client_buffer_create(struct dmab_client *client,
	uint32_t width, uint32_t height, uint32_t format, uint32_t usage, const char *name)
{
	struct dmab_client_buffer *buffer = buffer_alloc(client);
	if (buffer == NULL)
		return NULL;
	return buffer_finish_create(buffer, dmabroker_manager_v1_create_buffer(client->manager,
		width, height, format, usage, name != NULL ? name : ""));
}

struct dmab_client_buffer *dmab_client_buffer_import(struct dmab_client *client,
	const char *token)
{
	if (token == NULL) {
		errno = EINVAL;
		return NULL;
	}
	struct dmab_client_buffer *buffer = buffer_alloc(client);
	if (buffer == NULL)
		return NULL;
	return buffer_finish_create(buffer,
		dmabroker_manager_v1_import_buffer(client->manager, token));
}

struct dmab_client_buffer *dmab_client_buffer_import_fd(struct dmab_client *client, int fd,
	uint32_t format, uint32_t width, uint32_t height, uint32_t offset, uint32_t stride,
	uint32_t flags)
{
	/* libwayland aborts on an fd it cannot duplicate, so refuse it here. */
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		errno = EBADF;
		return NULL;
	}
	struct dmab_client_buffer *buffer = buffer_alloc(client);
	if (buffer == NULL)
		return NULL;
	/* Marshalling duplicates the fd and closes the copy once sent. */
	return buffer_finish_create(buffer, dmabroker_manager_v1_import_dmabuf(client->manager,
		fd, format, width, height, offset, stride, flags));
}

struct dmab_client_buffer *dmab_client_buffer_import_planar_fd(struct dmab_client *client,
	int fd, uint32_t format, uint32_t width, uint32_t height, uint32_t n_planes,
	const uint32_t *offsets, const uint32_t *strides, uint32_t flags)
{
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		errno = EBADF;
		return NULL;
	}
	/* Beyond a wire message: the broker could never take it. */
	if (n_planes > 64) {
		errno = EINVAL;
		return NULL;
	}
	uint32_t pairs[2 * 64];
	for (uint32_t i = 0; i < n_planes; i++) {
		pairs[2 * i] = offsets[i];
		pairs[2 * i + 1] = strides[i];
	}
	struct wl_array planes = {
		.size = n_planes * 2 * sizeof(uint32_t),
		.alloc = sizeof(pairs),
		.data = pairs,
	};
	struct dmab_client_buffer *buffer = buffer_alloc(client);
	if (buffer == NULL) {
		return NULL;
	}
	return buffer_finish_create(buffer, dmabroker_manager_v1_import_planar_dmabuf(
		client->manager, fd, format, width, height, &planes, flags));
}

void dmab_client_buffer_destroy(struct dmab_client_buffer *buffer)
{
	if (buffer == NULL)
		return;
	struct dmab_client_attachment *att, *att_tmp;
	wl_list_for_each_safe(att, att_tmp, &buffer->attachments, link)
		dmab_client_attachment_destroy(att);
	struct dmab_client_token *token, *token_tmp;
	wl_list_for_each_safe(token, token_tmp, &buffer->tokens, link)
		dmab_client_token_destroy(token);
	if (buffer->wl_buffer != NULL)
		wl_buffer_destroy(buffer->wl_buffer);
	if (buffer->app_proxy != NULL)
		wl_proxy_wrapper_destroy(buffer->app_proxy);
	if (buffer->proxy != NULL)
		dmabroker_buffer_v1_destroy(buffer->proxy);
	wl_display_flush(buffer->client->display);
	wl_list_remove(&buffer->link);
	free(buffer);
}

void dmab_client_buffer_get_layout(struct dmab_client_buffer *buffer,
	struct dmab_client_layout *layout)
{
	*layout = buffer->layout;
}

struct dmabroker_buffer_v1 *dmab_client_buffer_get_proxy(struct dmab_client_buffer *buffer)
{
	if (buffer->app_proxy == NULL && buffer->proxy != NULL)
		buffer->app_proxy = client_app_wrapper(buffer->proxy);
	return buffer->app_proxy;
}

struct wl_buffer *dmab_client_buffer_get_wl_buffer(struct dmab_client_buffer *buffer)
{
	if (buffer->wl_buffer == NULL) {
		/* The application listens to its release events, on its own queue. */
		struct dmabroker_manager_v1 *manager = dmab_client_get_manager(buffer->client);
		buffer->wl_buffer = manager != NULL ?
			dmabroker_manager_v1_get_wl_buffer(manager, buffer->proxy) : NULL;
		if (buffer->wl_buffer == NULL)
			errno = ENOMEM;
	}
	return buffer->wl_buffer;
}

struct fence_wait {
	int fd;
	bool done;
};

static void handle_fence_fd(void *data, struct dmabroker_fence_v1 *fence, int32_t fd,
	uint32_t type)
{
	struct fence_wait *wait = data;
	client_fd_ensure_cloexec(fd);
	if (wait->fd >= 0) {
		close(fd);
		return;
	}
	wait->fd = fd;
	wait->done = true;
}

static void handle_fence_signaled(void *data, struct dmabroker_fence_v1 *fence)
{
}

static const struct dmabroker_fence_v1_listener fence_listener = {
	.fd = handle_fence_fd,
	.signaled = handle_fence_signaled,
};

static bool fence_answered(const void *data)
{
	const struct fence_wait *wait = data;
	return wait->done;
}

int dmab_client_buffer_get_fence_fd(struct dmab_client_buffer *buffer, bool write)
{
	struct dmabroker_fence_v1 *fence = dmabroker_buffer_v1_get_fence(buffer->proxy,
		write ? DMABROKER_BUFFER_V1_FENCE_KIND_WRITE : DMABROKER_BUFFER_V1_FENCE_KIND_READ);
	if (fence == NULL)
		return -ENOMEM;
	struct fence_wait wait = { .fd = -1 };
	dmabroker_fence_v1_add_listener(fence, &fence_listener, &wait);
	int ret = client_wait(buffer->client, fence_answered, &wait);
	/* Once destroyed, the proxy's later events (and their fds) are dropped by libwayland. */
	dmabroker_fence_v1_destroy(fence);
	if (ret < 0) {
		if (wait.fd >= 0)
			close(wait.fd);
		return ret;
	}
	return wait.fd;
}

static void handle_token(void *data, struct dmabroker_token_v1 *proxy, const char *string)
{
	struct dmab_client_token *token = data;
	snprintf(token->string, sizeof(token->string), "%s", string);
	token->have_token = true;
}

static void handle_token_failed(void *data, struct dmabroker_token_v1 *proxy, uint32_t reason,
	const char *message)
{
	struct dmab_client_token *token = data;
	client_failure_init(&token->failure, reason, message);
	token->failed = true;
}

static const struct dmabroker_token_v1_listener token_listener = {
	.token = handle_token,
	.failed = handle_token_failed,
};

static bool token_answered(const void *data)
{
	const struct dmab_client_token *token = data;
	return token->have_token || token->failed;
}

struct dmab_client_token *dmab_client_token_create(struct dmab_client_buffer *buffer,
	uint32_t access)
{
	struct dmab_client_token *token = calloc(1, sizeof(*token));
	if (token == NULL)
		return NULL;
	token->buffer = buffer;
	wl_list_insert(buffer->tokens.prev, &token->link);
	int ret;
	token->proxy = dmabroker_buffer_v1_share(buffer->proxy, access);
	if (token->proxy == NULL) {
		ret = -ENOMEM;
		goto err;
	}
	dmabroker_token_v1_add_listener(token->proxy, &token_listener, token);
	ret = client_wait(buffer->client, token_answered, token);
	if (ret < 0)
		goto err;
	if (token->failed) {
		ret = client_report_failure(&token->failure);
		goto err;
	}
	return token;
err:
	dmab_client_token_destroy(token);
	errno = -ret;
	return NULL;
}

const char *dmab_client_token_get_string(const struct dmab_client_token *token)
{
	return token->string;
}

static void token_free(struct dmab_client_token *token)
{
	wl_display_flush(token->buffer->client->display);
	wl_list_remove(&token->link);
	free(token);
}

void dmab_client_token_revoke(struct dmab_client_token *token)
{
	if (token == NULL)
		return;
	if (token->proxy != NULL)
		dmabroker_token_v1_revoke(token->proxy);
	token_free(token);
}

void dmab_client_token_destroy(struct dmab_client_token *token)
{
	if (token == NULL)
		return;
	if (token->proxy != NULL)
		dmabroker_token_v1_destroy(token->proxy);
	token_free(token);
}
