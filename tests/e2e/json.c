/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

enum {
	MAX_DEPTH = 64,
};

struct parser {
	const char *p;
	int depth;
};

static struct json *parse_value(struct parser *ps);

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static bool consume(struct parser *ps, const char *word)
{
	size_t len = strlen(word);
	if (strncmp(ps->p, word, len) != 0)
		return false;
	ps->p += len;
	return true;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool parse_escape(struct parser *ps, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	char c = *ps->p++;
	const char *hit = c != '\0' ? strchr(from, c) : NULL;
	if (hit != NULL) {
		*out = to[hit - from];
		return true;
	}
	if (c != 'u')
		return false;
	uint32_t code = 0;
	for (int i = 0; i < 4; i++) {
		int digit = hex_digit(*ps->p++);
		if (digit < 0)
			return false;
		code = code << 4 | (uint32_t)digit;
	}
	*out = code < 0x80 ? (char)code : '?';
	return true;
}

/* At the opening quote; returns the unescaped string. */
static char *parse_string(struct parser *ps)
{
	if (*ps->p != '"')
		return NULL;
	ps->p++;
	size_t cap = strlen(ps->p) + 1;
	char *out = malloc(cap), *w = out;
	if (out == NULL)
		return NULL;
	while (*ps->p != '"') {
		char c = *ps->p++;
		if (c == '\0' || (unsigned char)c < 0x20 ||
				(c == '\\' && !parse_escape(ps, &c))) {
			free(out);
			return NULL;
		}
		*w++ = c;
	}
	ps->p++;
	*w = '\0';
	return out;
}

static bool append(struct json *value, struct json *item, char *key)
{
	struct json **items = realloc(value->items, (value->len + 1) * sizeof(*items));
	if (items == NULL)
		return false;
	value->items = items;
	if (value->type == JSON_OBJECT) {
		char **keys = realloc(value->keys, (value->len + 1) * sizeof(*keys));
		if (keys == NULL)
			return false;
		value->keys = keys;
		keys[value->len] = key;
	}
	items[value->len++] = item;
	return true;
}

/* At the opening bracket of an array or brace of an object. */
static bool parse_container(struct parser *ps, struct json *value)
{
	bool object = value->type == JSON_OBJECT;
	char close = object ? '}' : ']';
	ps->p++;
	skip_space(ps);
	if (*ps->p == close) {
		ps->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;
		if (object) {
			skip_space(ps);
			key = parse_string(ps);
			skip_space(ps);
			if (key == NULL || *ps->p++ != ':') {
				free(key);
				return false;
			}
		}
		struct json *item = parse_value(ps);
		if (item == NULL || !append(value, item, key)) {
			free(key);
			json_free(item);
			return false;
		}
		skip_space(ps);
		char c = *ps->p++;
		if (c == close)
			return true;
		if (c != ',')
			return false;
	}
}

static bool parse_number(struct parser *ps, struct json *value)
{
	char *end;
	value->number = strtod(ps->p, &end);
	if (end == ps->p)
		return false;
	ps->p = end;
	return true;
}

static bool parse_into(struct parser *ps, struct json *value)
{
	switch (*ps->p) {
	case '{':
		value->type = JSON_OBJECT;
		return parse_container(ps, value);
	case '[':
		value->type = JSON_ARRAY;
		return parse_container(ps, value);
	case '"':
		value->type = JSON_STRING;
		value->string = parse_string(ps);
		return value->string != NULL;
	case 't':
	case 'f':
		value->type = JSON_BOOL;
		value->boolean = *ps->p == 't';
		return consume(ps, value->boolean ? "true" : "false");
	case 'n':
		value->type = JSON_NULL;
		return consume(ps, "null");
	default:
		value->type = JSON_NUMBER;
		return parse_number(ps, value);
	}
}

static struct json *parse_value(struct parser *ps)
{
	if (++ps->depth > MAX_DEPTH)
		return NULL;
	skip_space(ps);
	struct json *value = calloc(1, sizeof(*value));
	if (value == NULL)
		return NULL;
	if (!parse_into(ps, value)) {
		json_free(value);
		return NULL;
	}
	ps->depth--;
	return value;
}

struct json *json_parse(const char *text)
{
	struct parser ps = { .p = text };
	struct json *value = parse_value(&ps);
	if (value == NULL)
		return NULL;
	skip_space(&ps);
	if (*ps.p != '\0') {
		json_free(value);
		return NULL;
	}
	return value;
}

void json_free(struct json *value)
{
	if (value == NULL)
		return;
	for (size_t i = 0; i < value->len; i++) {
		json_free(value->items[i]);
		if (value->keys != NULL)
			free(value->keys[i]);
	}
	free(value->items);
	free(value->keys);
	free(value->string);
	free(value);
}

const struct json *json_get(const struct json *object, const char *key)
{
	if (object == NULL || object->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < object->len; i++) {
		if (strcmp(object->keys[i], key) == 0)
			return object->items[i];
	}
	return NULL;
}

const char *json_get_string(const struct json *object, const char *key)
{
	const struct json *value = json_get(object, key);
	return value != NULL && value->type == JSON_STRING ? value->string : NULL;
}
