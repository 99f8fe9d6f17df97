/* SPDX-License-Identifier: MIT */
/* The dmabroker GStreamer plugin: dmabrokersink and dmabrokersrc. */
#include <gst/gst.h>

#include "dmabrokersink.h"
#include "dmabrokersrc.h"

static gboolean plugin_init(GstPlugin *plugin)
{
	return gst_element_register(plugin, "dmabrokersink", GST_RANK_NONE,
		GST_TYPE_DMABROKER_SINK) &&
		gst_element_register(plugin, "dmabrokersrc", GST_RANK_NONE,
		GST_TYPE_DMABROKER_SRC);
}

#define PACKAGE "dmabroker"

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, dmabroker,
	"Share raw video through a dmabroker", plugin_init, DMAB_VERSION, "MIT", "dmabroker",
	"the dmabroker source tree")
