/* SPDX-License-Identifier: MIT */
/*
 * An out-of-tree dmabroker client, built from an install with pkg-config only:
 * connects, creates a buffer, maps it for writing, fills it inside a WRITE
 * bracket, and prints "install-client: ok".
 */
#include <stdio.h>
#include <string.h>
#include <dmabroker/client.h>

int main(void)
{
	struct dmab_client *client = dmab_client_connect(NULL);
	if (client == NULL) {
		fprintf(stderr, "install-client: cannot connect to the broker\n");
		return 1;
	}
	size_t n_formats = 0;
	const uint32_t *formats = dmab_client_get_formats(client, &n_formats);
	if (n_formats == 0) {
		fprintf(stderr, "install-client: the broker offers no format\n");
		return 1;
	}
	struct dmab_client_buffer *buffer = dmab_client_buffer_create(client, 64, 64, formats[0],
		DMABROKER_MANAGER_V1_USAGE_CPU_WRITE, "install-client");
	struct dmab_client_attachment *att =
		buffer != NULL ? dmab_client_attachment_create(buffer,
			DMABROKER_BUFFER_V1_ACCESS_READ_WRITE, NULL) : NULL;
	if (att == NULL ||
			dmab_client_attachment_map(att, DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE) < 0 ||
			dmab_client_attachment_begin(att, DMABROKER_ATTACHMENT_V1_DIRECTION_WRITE) < 0) {
		fprintf(stderr, "install-client: cannot write a buffer: %s\n",
			dmab_client_last_failure()->message);
		return 1;
	}
	memset(dmab_client_attachment_get_data(att), 0xff,
		(size_t)dmab_client_attachment_get_stride(att) * 64);
	if (dmab_client_attachment_end(att) < 0) {
		fprintf(stderr, "install-client: end_access failed\n");
		return 1;
	}
	dmab_client_buffer_destroy(buffer);
	dmab_client_destroy(client);
	printf("install-client: ok\n");
	return 0;
}
