#include "core/checkpoint.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <torch/serialize.h>

#include "core/atomic_file.h"

namespace mssl {

namespace {

constexpr int64_t kFormatVersion = 1;

std::string joinParts(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "+") + p;
  return out.empty() ? "none" : out;
}

void writeModule(torch::serialize::OutputArchive& root, const std::string& key, const torch::nn::Module& m) {
  torch::serialize::OutputArchive a;
  m.save(a);
  root.write(key, a);
}

void readModule(torch::serialize::InputArchive& root, const std::string& key, torch::nn::Module& m) {
  torch::serialize::InputArchive a;
  if (!root.try_read(key, a)) throw std::invalid_argument("checkpoint: missing section '" + key + "'");
  m.load(a);
}

std::string readString(torch::serialize::InputArchive& a, const std::string& key) {
  c10::IValue v;
  if (!a.try_read(key, v) || !v.isString()) throw std::invalid_argument("checkpoint: missing or invalid '" + key + "' (not a momentum-ssl checkpoint?)");
  return v.toStringRef();
}

// Which part a torchvision-style backbone key belongs to.
int partOfKey(const std::string& key) {
  if (key.rfind("conv1.", 0) == 0 || key.rfind("bn1.", 0) == 0) return 0;
  for (int b = 1; b <= 4; ++b) {
    if (key.rfind("layer" + std::to_string(b) + ".", 0) == 0) return b;
  }
  return -1;
}

}  // namespace

std::string modelSignature(const SslModelConfig& m, const StepConfig& s) {
  std::ostringstream os;
  os << "resnet" << m.backbone.depth << "/" << m.backbone.stem << "/c" << m.backbone.inChannels << "/w" << m.backbone.width
     << " projector " << m.projectorHidden << "-" << m.projectorOut << " predictor " << m.predictorHidden << " ema "
     << joinParts(m.emaParts) << " loss " << s.loss << " queue " << s.queueSize << " optimizer " << s.optim.name;
  return os.str();
}

void saveCheckpoint(StepRunner& runner, const std::string& path, const std::string& extra) {
  SslModel& model = runner.model();
  torch::serialize::OutputArchive root;
  root.write("format", c10::IValue(kFormatVersion));
  root.write("signature", c10::IValue(modelSignature(model.config(), runner.config())));
  root.write("step", c10::IValue(runner.stepCount()));
  root.write("extra", c10::IValue(extra));
  writeModule(root, "backbone", *model.backbone());
  writeModule(root, "projector", *model.projector());
  if (!model.predictor().is_empty()) writeModule(root, "predictor", *model.predictor());
  if (!model.emaBackbone().is_empty()) writeModule(root, "emaBackbone", *model.emaBackbone());
  if (!model.emaProjector().is_empty()) writeModule(root, "emaProjector", *model.emaProjector());
  torch::serialize::OutputArchive opt;
  runner.optimizer().save(opt);
  root.write("optimizer", opt);
  root.write("augmentRng", runner.augmenter().generatorState());
  if (NegativeQueue* q = runner.queue()) {
    torch::serialize::OutputArchive qa;
    for (const auto& [k, v] : q->state()) qa.write(k, v);
    root.write("queue", qa);
  }
  // Serialised in memory and sealed with a checksum, then written atomically (atomic_file.h).
  checkRegularFileTarget(path, "checkpoint path");
  std::ostringstream bytes;
  root.save_to(bytes);
  writeFileAtomic(path, seal(std::move(bytes).str()));
}

std::string loadCheckpoint(StepRunner& runner, const std::string& path) {
  // The checksum is verified before anything is parsed, so a damaged file never reaches the model.
  checkRegularFileTarget(path, "checkpoint path");
  std::string bytes = readWholeFile(path);
  unseal(bytes, path);
  std::istringstream in(std::move(bytes));
  torch::serialize::InputArchive root;
  try {
    root.load_from(in);
  } catch (const c10::Error& e) {
    throw CorruptFileError(path, std::string("not a readable checkpoint (") + e.what_without_backtrace() + ")");
  }
  c10::IValue format;
  if (!root.try_read("format", format) || !format.isInt() || format.toInt() != kFormatVersion) {
    throw std::invalid_argument("checkpoint: '" + path + "' has an unknown format (expected momentum-ssl format " + std::to_string(kFormatVersion) + ")");
  }
  SslModel& model = runner.model();
  const std::string want = modelSignature(model.config(), runner.config());
  const std::string have = readString(root, "signature");
  if (have != want) {
    throw std::invalid_argument("checkpoint: '" + path + "' was written by another model/config (" + have + "); this model is " + want);
  }
  c10::IValue step;
  if (!root.try_read("step", step) || !step.isInt()) throw std::invalid_argument("checkpoint: missing 'step'");
  const std::string extra = readString(root, "extra");

  readModule(root, "backbone", *model.backbone());
  readModule(root, "projector", *model.projector());
  if (!model.predictor().is_empty()) readModule(root, "predictor", *model.predictor());
  if (!model.emaBackbone().is_empty()) readModule(root, "emaBackbone", *model.emaBackbone());
  if (!model.emaProjector().is_empty()) readModule(root, "emaProjector", *model.emaProjector());
  // Loading re-points parameters at the file's storage; put them back into the flat EMA buffers.
  model.rebindEma();
  torch::serialize::InputArchive opt;
  if (!root.try_read("optimizer", opt)) throw std::invalid_argument("checkpoint: missing section 'optimizer'");
  runner.optimizer().load(opt);
  torch::Tensor rng;
  if (!root.try_read("augmentRng", rng)) throw std::invalid_argument("checkpoint: missing section 'augmentRng'");
  runner.augmenter().setGeneratorState(rng);
  if (NegativeQueue* q = runner.queue()) {
    torch::serialize::InputArchive qa;
    if (!root.try_read("queue", qa)) throw std::invalid_argument("checkpoint: missing section 'queue'");
    std::vector<std::pair<std::string, torch::Tensor>> state = q->state();
    for (auto& [k, v] : state) {
      if (!qa.try_read(k, v)) throw std::invalid_argument("checkpoint: queue is missing '" + k + "'");
    }
    q->loadState(state);
  }
  runner.setStepCount(step.toInt());
  return extra;
}

void exportBackboneStateDict(SslModel& model, const std::string& path, bool ema) {
  if (ema && !model.anyEma()) throw std::invalid_argument("exportStateDict: ema=true but the model has no EMA parts");
  c10::Dict<std::string, at::Tensor> dict;
  auto emaNamed = model.emaBackbone().is_empty() ? torch::OrderedDict<std::string, torch::Tensor>() : model.emaBackbone()->named_parameters();
  auto emaBuffers = model.emaBackbone().is_empty() ? torch::OrderedDict<std::string, torch::Tensor>() : model.emaBackbone()->named_buffers();
  auto pick = [&](const std::string& key, const torch::Tensor& online, const torch::OrderedDict<std::string, torch::Tensor>& emaSide) {
    int part = partOfKey(key);
    bool useEma = ema && part >= 0 && model.hasEma(part) && emaSide.contains(key);
    dict.insert(key, (useEma ? emaSide[key] : online).detach().to(torch::kCPU).clone());
  };
  // Parameters then buffers per module would reorder keys relative to torchvision; Python code
  // indexes by name, so order is cosmetic. Keep parameters first, then buffers.
  for (const auto& item : model.backbone()->named_parameters()) pick(item.key(), item.value(), emaNamed);
  for (const auto& item : model.backbone()->named_buffers()) pick(item.key(), item.value(), emaBuffers);
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  // No checksum trailer: Python's torch.load must read this file as it is.
  checkRegularFileTarget(path, "exportStateDict path");
  writeFileAtomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace mssl
