/* SPDX-License-Identifier: MIT */
#include <drm_fourcc.h>

#include "formats.h"

/* DRM names the bytes of a little-endian word, GStreamer the bytes in memory. */
static const struct {
	GstVideoFormat gst;
	guint32 drm;
} table[] = {
	{ GST_VIDEO_FORMAT_BGRA, DRM_FORMAT_ARGB8888 },
	{ GST_VIDEO_FORMAT_BGRx, DRM_FORMAT_XRGB8888 },
	{ GST_VIDEO_FORMAT_RGBA, DRM_FORMAT_ABGR8888 },
	{ GST_VIDEO_FORMAT_RGBx, DRM_FORMAT_XBGR8888 },
	{ GST_VIDEO_FORMAT_RGB16, DRM_FORMAT_RGB565 },
	{ GST_VIDEO_FORMAT_NV12, DRM_FORMAT_NV12 },
	{ GST_VIDEO_FORMAT_NV21, DRM_FORMAT_NV21 },
	{ GST_VIDEO_FORMAT_I420, DRM_FORMAT_YUV420 },
	{ GST_VIDEO_FORMAT_YUY2, DRM_FORMAT_YUYV },
	{ GST_VIDEO_FORMAT_P010_10LE, DRM_FORMAT_P010 },
};

guint32 dmab_gst_format_to_fourcc(GstVideoFormat format)
{
	for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
		if (table[i].gst == format) {
			return table[i].drm;
		}
	}
	return 0;
}

GstVideoFormat dmab_gst_format_from_fourcc(guint32 fourcc)
{
	for (gsize i = 0; i < G_N_ELEMENTS(table); i++) {
		if (table[i].drm == fourcc) {
			return table[i].gst;
		}
	}
	return GST_VIDEO_FORMAT_UNKNOWN;
}
