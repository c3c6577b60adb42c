// namedTensors(which, ema?) of the model binding: a model's weights as [name, Tensor] pairs for
// exporters written in JS (ONNX, tfjs), collected on the torch worker so it queues behind steps.
#pragma once
#include <napi.h>

#include <memory>

namespace mssl {
class SslNetworks;
}

namespace mssl::napi {

// info: (which: 'backbone' | 'projector', ema?: boolean). `model` is kept alive by the job (pass
// an aliasing shared_ptr into whatever owns it). Resolves to Array<[string, Tensor]>.
Napi::Value submitNamedTensors(const Napi::CallbackInfo& info, std::shared_ptr<SslNetworks> model);

}  // namespace mssl::napi
