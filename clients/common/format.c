/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdio.h>
#include <strings.h>

#include <drm_fourcc.h>

#include "format.h"

static const struct dmab_format_info formats[] = {
	{ DRM_FORMAT_XRGB8888, "XRGB8888", 4 },
	{ DRM_FORMAT_ARGB8888, "ARGB8888", 4 },
	{ DRM_FORMAT_XBGR8888, "XBGR8888", 4 },
	{ DRM_FORMAT_ABGR8888, "ABGR8888", 4 },
	{ DRM_FORMAT_RGB565, "RGB565", 2 },
};

#define FORMATS_LEN (sizeof(formats) / sizeof(formats[0]))

const struct dmab_format_info *dmab_format_at(size_t i)
{
	return i < FORMATS_LEN ? &formats[i] : NULL;
}

const struct dmab_format_info *dmab_format_lookup(uint32_t fourcc)
{
	for (size_t i = 0; i < FORMATS_LEN; i++) {
		if (formats[i].fourcc == fourcc)
			return &formats[i];
	}
	return NULL;
}

const struct dmab_format_info *dmab_format_from_name(const char *name)
{
	for (size_t i = 0; i < FORMATS_LEN; i++) {
		if (strcasecmp(formats[i].name, name) == 0)
			return &formats[i];
	}
	return NULL;
}

const char *dmab_format_name(uint32_t fourcc, char *buf, size_t len)
{
	const struct dmab_format_info *info = dmab_format_lookup(fourcc);
	if (info != NULL) {
		snprintf(buf, len, "%s", info->name);
		return buf;
	}
	char chars[5];
	for (int i = 0; i < 4; i++) {
		chars[i] = (char)((fourcc >> (8 * i)) & 0xff);
		if (!isprint((unsigned char)chars[i])) {
			snprintf(buf, len, "0x%08x", fourcc);
			return buf;
		}
	}
	chars[4] = '\0';
	snprintf(buf, len, "%s", chars);
	return buf;
}
