#include "core/memory_format.h"

namespace mssl {

void setModelMemoryFormat(SslNetworks& model, bool channelsLast) {
  const auto format = channelsLast ? c10::MemoryFormat::ChannelsLast : c10::MemoryFormat::Contiguous;
  setConvMemoryFormat(*model.backbone(), format);
  if (!model.emaBackbone().is_empty()) setConvMemoryFormat(*model.emaBackbone(), format);
  model.rebindEma();
}

}  // namespace mssl
