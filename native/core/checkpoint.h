// Checkpoints of a whole training state, and a torchvision-style export of the backbone.
#pragma once
#include <string>

#include "core/ssl_model.h"

namespace mssl {

// A string that two runs share iff a checkpoint of one can be loaded into the other: the
// architecture, the EMA parts, the objective's state layout and the optimizer (not LR or
// augmentation settings).
std::string modelSignature(const SslModel& model);

// Everything a resumed run needs to continue identically: online and EMA weights and buffers,
// optimizer state, the objective's state (queue, centre), augmentation RNG, step count. Written to `path.tmp` then renamed, so a
// crash mid-write leaves the previous checkpoint intact.
// `extra` is an opaque string stored with it (the JS trainer keeps its sampler position there, so
// one atomic file holds the whole state).
void saveCheckpoint(SslModel& model, const std::string& path, const std::string& extra = "");

// Loads into an existing model built with the same signature; throws std::invalid_argument
// naming both signatures otherwise, and leaves the model unchanged if the file is unreadable.
// Returns the `extra` string saved with it.
std::string loadCheckpoint(SslModel& model, const std::string& path);

// Writes the backbone's parameters and buffers with torchvision's key names (conv1.weight,
// layer1.0.bn1.running_mean, ...) as a pickled dict that Python's torch.load reads. `ema`
// exports the EMA backbone's weights for its EMA parts (online weights for the others).
void exportBackboneStateDict(SslNetworks& networks, const std::string& path, bool ema = false);

}  // namespace mssl
