/* SPDX-License-Identifier: MIT */
// A C++ translation unit against the installed headers: they must compile as
// C++ and their functions must link with C linkage (extern "C").
#include <cstdio>
#include <dmabroker/client.h>
#include <dmabroker/server.h>
#include <dmabroker/wlr.h>

extern "C" void broker_report(struct dmab_server *server);

void broker_report(struct dmab_server *server)
{
	if (server == nullptr) {
		std::fprintf(stderr, "install-compositor: %s\n", dmab_server_last_error());
		return;
	}
	std::fprintf(stderr, "install-compositor: allocator %s\n",
		dmab_server_allocator_name(server));
}
