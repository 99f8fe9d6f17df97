/* SPDX-License-Identifier: MIT */
/*
 * What the protocol tests cover, checked against the errors and reasons that
 * the XML declares (test-coverage.c).
 */
#ifndef DMAB_TEST_PROTOCOL_COVERAGE_H
#define DMAB_TEST_PROTOCOL_COVERAGE_H

#include <stddef.h>
#include <stdint.h>

struct protocol_enum_entry {
	const char *interface;
	const char *name;
	uint32_t value;
};

struct covered_entry {
	const char *interface;
	uint32_t value;
	const char *test;
};

extern const struct covered_entry covered_errors[];
extern const size_t covered_errors_len;
extern const struct covered_entry covered_reasons[];
extern const size_t covered_reasons_len;

#endif
