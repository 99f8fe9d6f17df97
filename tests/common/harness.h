/* SPDX-License-Identifier: MIT */
/*
 * The test harness shared by every suite: each test runs in a forked child
 * under an alarm, the child's open fds are compared before and after the test,
 * and results are printed as TAP with a closing "N passed, N failed" line.
 */
#ifndef DMAB_TEST_HARNESS_H
#define DMAB_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*dmab_test_func)(void);

void dmab_test_register(const char *name, dmab_test_func func);
/* Ends the current test as skipped, with a reason. */
_Noreturn void dmab_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void dmab_test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The number of fds this process has open. */
int dmab_test_count_fds(void);
/*
 * $DMAB_TEST_TIME_SCALE (an integer, at least 1; default 1): how much slower than
 * usual this machine runs, e.g. 3 under qemu's TCG emulation. Timeouts and holds
 * that wait on real time are multiplied by it; nothing else changes.
 */
int dmab_test_time_scale(void);
/* $DMAB_TEST_ALLOCATOR, or "memfd". */
const char *dmab_test_allocator(void);
/* Runs the registered tests whose names contain one of argv[1..] (all without). */
int dmab_test_main(int argc, char *argv[]);

#define DMAB_TEST(fn) \
	static void fn(void); \
	__attribute__((constructor)) static void register_##fn(void) \
	{ \
		dmab_test_register(#fn, fn); \
	} \
	static void fn(void)

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			dmab_test_fail(__FILE__, __LINE__, "%s", #cond); \
	} while (0)

#define CHECK_EQ(a, b) \
	do { \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		if (check_a_ != check_b_) \
			dmab_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, \
				check_a_, check_b_); \
	} while (0)

#define CHECK_STR_EQ(a, b) \
	do { \
		const char *check_a_ = (a), *check_b_ = (b); \
		if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) \
			dmab_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
				check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)"); \
	} while (0)

#endif
