// The parameters and buffers of a model's networks as (name, tensor) lists: what every weight
// export writes (the torchvision state_dict, the ONNX graph's initializers).
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace mssl {

class SslNetworks;

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// The backbone with torchvision's key names (conv1.weight, layer1.0.bn1.running_mean, ...),
// parameters first, then buffers. `ema` takes the EMA backbone's tensors for its EMA parts (the
// online ones for the others); std::invalid_argument when the model has no EMA parts.
// Detached CPU copies, so they outlive the model and a later step cannot change them.
NamedTensors backboneTensors(SslNetworks& model, bool ema = false);

// The projector (an Mlp: 0.weight, 0.bias, 1.weight, ..., 1.running_var, 3.weight, ...), online
// or (`ema`, when the projector is an EMA part) the EMA copy.
NamedTensors projectorTensors(SslNetworks& model, bool ema = false);

}  // namespace mssl
