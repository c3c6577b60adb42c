// Channels-last (NHWC) training (issue #14): the backbone's convolution weights, and its EMA
// copy's, stored NHWC so oneDNN runs its preferred layout; inputs converted at the step's entry
// (resnet.h inConvFormat). Checkpoints and exports stay NCHW (checkpoint.cc writes contiguous
// copies; loading restores the model's format).
#pragma once
#include "core/ssl_networks.h"

namespace mssl {

// Backbone and EMA backbone to NHWC (channelsLast) or NCHW, then the EMA buffers re-flattened
// (the EMA copy mirrors the online strides, so the flat elementwise update stays paired).
void setModelMemoryFormat(SslNetworks& model, bool channelsLast);

}  // namespace mssl
