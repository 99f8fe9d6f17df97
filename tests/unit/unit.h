/* SPDX-License-Identifier: MIT */
/* Helpers shared by the core's unit tests. */
#ifndef DMAB_TEST_UNIT_H
#define DMAB_TEST_UNIT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "harness.h"

/* What an attachment's listener saw; the last mapping's fd is owned here. */
struct recorder {
	char name; /* in the shared event log */
	struct dmab_attachment *att;
	int mapped, ready, moved, failed;
	uint32_t mapped_serial, ready_serial; /* of the last mapped and ready events */
	struct dmab_mapping mapping;
	struct dmab_failure failure;
	/* Run from the listener, after the counts are updated. */
	void (*on_event)(struct recorder *rec, const char *event);
	void *user;
};

extern const struct dmab_attachment_listener test_listener;

/* Every listener event as "<name><event> ", e.g. "Aready Bmapped ". */
extern char test_log[1024];

/* A core on $DMAB_TEST_ALLOCATOR; the test is skipped if it is unavailable here. */
struct dmab_core *test_core_create(const struct dmab_limits *limits);
struct dmab_handle *test_buffer(struct dmab_account *account, uint32_t width, uint32_t height);
void test_recorder_init(struct recorder *rec, char name);
/* Closes the recorded mapping's fd. */
void test_recorder_finish(struct recorder *rec);
struct dmab_attachment *test_attach(struct dmab_handle *handle, struct dmab_account *account,
	enum dmab_access access, uint32_t flags, uint32_t row_alignment, struct recorder *rec);
/* Destroys rec's attachment and closes its mapping. */
void test_detach(struct recorder *rec);
void test_map(struct recorder *rec, uint32_t dir);
void test_unmap(struct recorder *rec);
void test_begin(struct recorder *rec, uint32_t dir);
void test_end(struct recorder *rec, uint32_t dir);

/* Stats of the buffer with this id, false if it is gone. */
bool test_buffer_stats(struct dmab_core *core, uint32_t id, struct dmab_buffer_stats *stats);
int test_count_buffers(struct dmab_core *core);
/* The stats of a buffer's index-th attachment, in creation order. */
bool test_attachment_stats(struct dmab_core *core, uint32_t buffer_id, int index,
	struct dmab_attachment_stats *stats);

/* True if the allocator in use can give contiguous storage. */
bool test_has_contiguous(struct dmab_core *core);
/* Maps a mapping's fd; NULL on failure. */
void *test_mmap(const struct dmab_mapping *mapping, bool writable);
void test_munmap(const struct dmab_mapping *mapping, void *data);
/* A memfd of size bytes with the given seals. */
int test_memfd(uint64_t size, int seals);
/* Makes every new fd fail with EMFILE until test_fd_limit_restore. */
void test_fd_limit_exhaust(void);
void test_fd_limit_restore(void);

#endif
