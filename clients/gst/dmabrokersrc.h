/* SPDX-License-Identifier: MIT */
#ifndef DMAB_GST_SRC_H
#define DMAB_GST_SRC_H

#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_DMABROKER_SRC (gst_dmabroker_src_get_type())
G_DECLARE_FINAL_TYPE(GstDmabrokerSrc, gst_dmabroker_src, GST, DMABROKER_SRC, GstPushSrc)

G_END_DECLS

#endif
