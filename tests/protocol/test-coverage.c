/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "coverage.h"
#include "dmabroker/client.h"
#include "harness.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "protocol-enums.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct covered_entry *find_covered(const struct covered_entry *covered, size_t len,
	const char *interface, uint32_t value)
{
	for (size_t i = 0; i < len; i++) {
		if (strcmp(covered[i].interface, interface) == 0 && covered[i].value == value)
			return &covered[i];
	}
	return NULL;
}

static bool in_xml(const struct protocol_enum_entry *xml, size_t len, const char *interface,
	uint32_t value)
{
	for (size_t i = 0; i < len; i++) {
		if (strcmp(xml[i].interface, interface) == 0 && xml[i].value == value)
			return true;
	}
	return false;
}

static int check_coverage(const char *what, const struct protocol_enum_entry *xml,
	size_t xml_len, const struct covered_entry *covered, size_t covered_len)
{
	int missing = 0;
	for (size_t i = 0; i < xml_len; i++) {
		if (find_covered(covered, covered_len, xml[i].interface, xml[i].value) == NULL) {
			printf("# no test for the %s %s (%s %u)\n", what, xml[i].name,
				xml[i].interface, xml[i].value);
			missing++;
		}
	}
	for (size_t i = 0; i < covered_len; i++) {
		if (!in_xml(xml, xml_len, covered[i].interface, covered[i].value)) {
			printf("# %s claims %s %s %u, which the XML does not declare\n",
				covered[i].test, what, covered[i].interface, covered[i].value);
			missing++;
		}
	}
	return missing;
}

DMAB_TEST(every_protocol_error_has_a_test)
{
	CHECK_EQ(check_coverage("error", protocol_errors_in_xml,
		ARRAY_LEN(protocol_errors_in_xml), covered_errors, covered_errors_len), 0);
}

DMAB_TEST(every_failure_reason_has_a_test)
{
	CHECK_EQ(check_coverage("reason", protocol_reasons_in_xml,
		ARRAY_LEN(protocol_reasons_in_xml), covered_reasons, covered_reasons_len), 0);
}
