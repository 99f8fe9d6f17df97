/* SPDX-License-Identifier: MIT */
#include "harness.h"

int main(int argc, char *argv[])
{
	return dmab_test_main(argc, argv);
}
