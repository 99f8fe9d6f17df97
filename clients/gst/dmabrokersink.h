/* SPDX-License-Identifier: MIT */
#ifndef DMAB_GST_SINK_H
#define DMAB_GST_SINK_H

#include <gst/video/gstvideosink.h>

G_BEGIN_DECLS

#define GST_TYPE_DMABROKER_SINK (gst_dmabroker_sink_get_type())
G_DECLARE_FINAL_TYPE(GstDmabrokerSink, gst_dmabroker_sink, GST, DMABROKER_SINK, GstVideoSink)

G_END_DECLS

#endif
