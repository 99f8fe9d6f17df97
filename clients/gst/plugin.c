/* The dmabroker GStreamer plugin: dmabrokersink. */
#include <gst/gst.h>

#include "dmabrokersink.h"

static gboolean plugin_init(GstPlugin *plugin)
{
	return gst_element_register(plugin, "dmabrokersink", GST_RANK_NONE,
		GST_TYPE_DMABROKER_SINK);
}

#define PACKAGE "dmabroker"

GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, dmabroker,
	"Share raw video through a dmabroker", plugin_init, DMAB_VERSION, "MIT", "dmabroker",
	"the dmabroker source tree")
