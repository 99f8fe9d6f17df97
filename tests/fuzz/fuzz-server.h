/* SPDX-License-Identifier: MIT */
/*
 * The fuzz-server harness's entry point, and its count of the protocol
 * errors and failed reasons that the inputs so far provoked.
 */
#ifndef DMAB_TEST_FUZZ_SERVER_H
#define DMAB_TEST_FUZZ_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Prints "interface.error: hits" for every error the protocol XML declares
 * and "reason: hits" for every failed reason, each line starting with prefix,
 * then the errors that the harness saw but the XML does not declare. Returns
 * how many declared errors and reasons were never hit, not counting those
 * that this process cannot provoke (it says which, and why).
 */
size_t fuzz_server_print_hits(FILE *out, const char *prefix);

#endif
