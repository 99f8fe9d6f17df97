/* SPDX-License-Identifier: MIT */
/*
 * A small JSON reader for dmab-info --json: parses a whole document into a
 * tree. Strings keep \u escapes outside ASCII as '?', which the tests never
 * need to compare.
 */
#ifndef DMAB_E2E_JSON_H
#define DMAB_E2E_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json {
	enum json_type type;
	bool boolean;
	double number;
	char *string;
	/* Arrays and objects: len items; objects also have a key per item. */
	struct json **items;
	char **keys;
	size_t len;
};

/* NULL if text is not exactly one JSON value (surrounding whitespace allowed). */
struct json *json_parse(const char *text);
void json_free(struct json *value);
/* The member named key of an object, or NULL. */
const struct json *json_get(const struct json *object, const char *key);
/* The string member named key, or NULL. */
const char *json_get_string(const struct json *object, const char *key);

#endif
