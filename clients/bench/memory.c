/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "loop.h"

/* Twice a 32 MiB last-level cache: writing it evicts whatever the frame left there. */
#define EVICT_BYTES (96u << 20)

static uint8_t *evict_buf;
static uint8_t *src_buf, *dst_buf;
static size_t buf_size;

/* Keeps the compiler from dropping the reads. */
static volatile uint64_t sink;

static void evict(void)
{
	memset(evict_buf, (int)(sink & 0xff), EVICT_BYTES);
	sink += evict_buf[EVICT_BYTES / 2];
}

static uint64_t read_all(const uint8_t *data, size_t size)
{
	const uint64_t *words = (const uint64_t *)data;
	uint64_t sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
	size_t n = size / sizeof(uint64_t);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		sum0 += words[i];
		sum1 += words[i + 1];
		sum2 += words[i + 2];
		sum3 += words[i + 3];
	}
	for (; i < n; i++) {
		sum0 += words[i];
	}
	return sum0 + sum1 + sum2 + sum3;
}

static bool ensure_buffers(size_t size)
{
	if (evict_buf == NULL) {
		evict_buf = malloc(EVICT_BYTES);
	}
	if (buf_size < size) {
		free(src_buf);
		free(dst_buf);
		src_buf = malloc(size);
		dst_buf = malloc(size);
		buf_size = size;
		if (src_buf != NULL && dst_buf != NULL) {
			/* Fault every page in now, so no timed pass pays for a first touch. */
			memset(src_buf, 1, size);
			memset(dst_buf, 2, size);
		}
	}
	return evict_buf != NULL && src_buf != NULL && dst_buf != NULL;
}

enum op {
	OP_MEMSET,
	OP_MEMCPY,
	OP_READ,
};

static double time_op(enum op op, size_t size, bool cold)
{
	if (cold) {
		evict();
	} else {
		/* Warm: one untimed pass first leaves the data where the timed one looks. */
		memcpy(dst_buf, src_buf, size);
		sink += read_all(src_buf, size);
	}
	int64_t start = dmab_now_ns();
	switch (op) {
	case OP_MEMSET:
		memset(dst_buf, (int)(sink & 0x7f), size);
		break;
	case OP_MEMCPY:
		memcpy(dst_buf, src_buf, size);
		break;
	case OP_READ:
		sink += read_all(src_buf, size);
		break;
	}
	int64_t end = dmab_now_ns();
	sink += dst_buf[size / 3];
	return (double)(end - start) / 1e9;
}

bool bench_memory_sample(struct bench_memory *memory, size_t size)
{
	if (!ensure_buffers(size)) {
		return false;
	}
	/* Interleaved, so a burst of load from elsewhere touches every figure alike. */
	series_add(&memory->memset_cold, time_op(OP_MEMSET, size, true));
	series_add(&memory->memcpy_cold, time_op(OP_MEMCPY, size, true));
	series_add(&memory->read_cold, time_op(OP_READ, size, true));
	series_add(&memory->memset_warm, time_op(OP_MEMSET, size, false));
	series_add(&memory->memcpy_warm, time_op(OP_MEMCPY, size, false));
	series_add(&memory->read_warm, time_op(OP_READ, size, false));
	return true;
}
