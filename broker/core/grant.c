/* SPDX-License-Identifier: MIT */
/*
 * Grants: the lineage of access to a buffer. Each share token makes a grant
 * whose parent is the grant of the reference it was shared from; the
 * creator's references have none. Revoking a token cuts its grant, and with
 * it every reference, attachment and token that descends from it, without the
 * broker having to remember the token itself.
 */
#include <stdlib.h>

#include "core/internal.h"

struct dmab_grant *dmab_grant_create(struct dmab_grant *parent)
{
	struct dmab_grant *grant = calloc(1, sizeof(*grant));
	if (grant == NULL) {
		return NULL;
	}
	grant->refs = 1;
	grant->parent = dmab_grant_ref(parent);
	return grant;
}

struct dmab_grant *dmab_grant_ref(struct dmab_grant *grant)
{
	if (grant != NULL) {
		grant->refs++;
	}
	return grant;
}

void dmab_grant_unref(struct dmab_grant *grant)
{
	while (grant != NULL && --grant->refs == 0) {
		struct dmab_grant *parent = grant->parent;
		free(grant);
		grant = parent;
	}
}

bool dmab_grant_is_cut(const struct dmab_grant *grant)
{
	for (; grant != NULL; grant = grant->parent) {
		if (grant->cut) {
			return true;
		}
	}
	return false;
}
