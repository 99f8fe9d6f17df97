/* SPDX-License-Identifier: MIT */
/* The broker's formats as GStreamer raw video formats, and the caps of both elements. */
#ifndef DMAB_GST_FORMATS_H
#define DMAB_GST_FORMATS_H

#include <gst/video/video.h>

#define DMAB_GST_FORMATS "{ BGRA, BGRx, RGBA, RGBx, RGB16, NV12, NV21, I420, YUY2, P010_10LE }"
/* At least 16 pixels wide, so that a row of plane 0 holds a frame tag. */
#define DMAB_GST_CAPS \
	"video/x-raw, format = (string) " DMAB_GST_FORMATS ", width = (int) [ 16, 16384 ], " \
	"height = (int) [ 1, 16382 ], framerate = " GST_VIDEO_FPS_RANGE

/*
 * The frame tag: every ring buffer has DMAB_GST_TAG_ROWS more rows than the
 * video, and the first of them starts with four little-endian 32-bit words,
 * written inside the frame's WRITE bracket, so a reader sees the tag of the
 * frame it reads: magic, the frame's sequence number from 0, flags, and 0.
 * A tag with DMAB_GST_TAG_EOS carries no frame: the stream ended.
 */
#define DMAB_GST_TAG_ROWS 2
#define DMAB_GST_TAG_MAGIC 0x47424d44u /* "DMBG" */
#define DMAB_GST_TAG_EOS 0x1u

struct dmab_gst_tag {
	guint32 magic, seq, flags, reserved;
};

/* The DRM fourcc of a GStreamer format; 0 if the broker does not take it. */
guint32 dmab_gst_format_to_fourcc(GstVideoFormat format);
GstVideoFormat dmab_gst_format_from_fourcc(guint32 fourcc);

#endif
