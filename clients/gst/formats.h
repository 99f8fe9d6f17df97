/* The broker's formats as GStreamer raw video formats, and the caps of both elements. */
#ifndef DMAB_GST_FORMATS_H
#define DMAB_GST_FORMATS_H

#include <gst/video/video.h>

#define DMAB_GST_FORMATS "{ BGRA, BGRx, RGBA, RGBx, RGB16, NV12, NV21, I420, YUY2, P010_10LE }"
#define DMAB_GST_CAPS GST_VIDEO_CAPS_MAKE(DMAB_GST_FORMATS)

/* The DRM fourcc of a GStreamer format; 0 if the broker does not take it. */
guint32 dmab_gst_format_to_fourcc(GstVideoFormat format);
GstVideoFormat dmab_gst_format_from_fourcc(guint32 fourcc);

#endif
