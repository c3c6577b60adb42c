#include "core/checkpoint.h"

#include "core/collectives.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <torch/serialize.h>

#include "core/atomic_file.h"
#include "core/collectives.h"
#include "core/memory_format.h"
#include "core/named_tensors.h"

namespace mssl {

namespace {

// 2: the objective's state in one 'objective' section (was 'queue').
constexpr int64_t kFormatVersion = 2;

std::string joinParts(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "+") + p;
  return out.empty() ? "none" : out;
}

// Module::save's layout (own parameters, own buffers, then one archive per child), but every
// tensor written NCHW-contiguous: a channels-last model's checkpoint has the same bytes as an
// NCHW one's (loadCheckpoint restores the model's format).
void saveModuleContiguous(const torch::nn::Module& m, torch::serialize::OutputArchive& a) {
  for (const auto& p : m.named_parameters(/*recurse=*/false)) a.write(p.key(), p.value().contiguous());
  for (const auto& b : m.named_buffers(/*recurse=*/false)) a.write(b.key(), b.value().contiguous(), /*is_buffer=*/true);
  for (const auto& c : m.named_children()) {
    if (!c.value()->is_serializable()) continue;
    torch::serialize::OutputArchive child(a.compilation_unit());
    saveModuleContiguous(*c.value(), child);
    a.write(c.key(), child);
  }
}

void writeModule(torch::serialize::OutputArchive& root, const std::string& key, const torch::nn::Module& m) {
  torch::serialize::OutputArchive a;
  saveModuleContiguous(m, a);
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

}  // namespace

std::string modelSignature(const SslModel& model) {
  const SslNetworksConfig& m = model.config().networks;
  std::ostringstream os;
  os << "resnet" << m.backbone.depth << "/" << m.backbone.stem << "/c" << m.backbone.inChannels << "/w" << m.backbone.width
     << " projector " << m.projectorHidden << "-" << m.projectorOut << (m.projectorLastBn ? "+bn" : "")
     << (m.prototypes > 0 ? " prototypes " + std::to_string(m.prototypes) : std::string()) << " predictor " << m.predictorHidden
     << " ema " << joinParts(m.emaParts) << " objective " << model.objective().signature() << " optimizer " << model.config().optim.name;
  return os.str();
}

void saveCheckpoint(SslModel& ssl, const std::string& path, const std::string& extra) {
  SslNetworks& model = ssl.networks();
  // Data parallel (design §9): every rank calls this; the augmentation streams of all ranks are
  // gathered into rank 0's file, and only rank 0 writes (the others hold the same weights).
  Collectives* dist = ssl.collectives();
  const int64_t world = dist ? dist->worldSize() : 1;
  torch::Tensor rngRanks;
  if (world > 1) {
    rngRanks = gatherNoGrad(*dist, ssl.augmenter().generatorState().unsqueeze(0));
    if (dist->rank() != 0) return;
  }
  torch::serialize::OutputArchive root;
  root.write("format", c10::IValue(kFormatVersion));
  root.write("signature", c10::IValue(modelSignature(ssl)));
  root.write("step", c10::IValue(ssl.stepCount()));
  root.write("extra", c10::IValue(extra));
  writeModule(root, "backbone", *model.backbone());
  writeModule(root, "projector", *model.projector());
  if (!model.predictor().is_empty()) writeModule(root, "predictor", *model.predictor());
  if (!model.emaBackbone().is_empty()) writeModule(root, "emaBackbone", *model.emaBackbone());
  if (!model.emaProjector().is_empty()) writeModule(root, "emaProjector", *model.emaProjector());
  torch::serialize::OutputArchive opt;
  ssl.optimizer().save(opt);
  root.write("optimizer", opt);
  root.write("augmentRng", ssl.augmenter().generatorState());
  root.write("worldSize", c10::IValue(world));
  if (world > 1) root.write("augmentRngRanks", rngRanks);
  torch::serialize::OutputArchive oa;
  for (const auto& [k, v] : ssl.objective().state()) oa.write(k, v);
  root.write("objective", oa);
  // Serialised in memory and sealed with a checksum, then written atomically (atomic_file.h).
  checkRegularFileTarget(path, "checkpoint path");
  std::ostringstream bytes;
  root.save_to(bytes);
  writeFileAtomic(path, seal(std::move(bytes).str()));
}

std::string loadCheckpoint(SslModel& ssl, const std::string& path) {
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
  SslNetworks& model = ssl.networks();
  const std::string want = modelSignature(ssl);
  const std::string have = readString(root, "signature");
  if (have != want) {
    throw std::invalid_argument("checkpoint: '" + path + "' was written by another model/config (" + have + "); this model is " + want);
  }
  c10::IValue step;
  if (!root.try_read("step", step) || !step.isInt()) throw std::invalid_argument("checkpoint: missing 'step'");
  // Each rank resumes its own augmentation stream, so only the same number of processes resumes
  // exactly — unless the augmentation is keyed by sample (perSample), which no rank's stream
  // holds: then any world size continues the run (the trainer checks the global batch).
  // Checkpoints from before data parallelism are single-process ones.
  c10::IValue worldIv;
  const int64_t written = root.try_read("worldSize", worldIv) && worldIv.isInt() ? worldIv.toInt() : 1;
  const int64_t world = ssl.collectives() ? ssl.collectives()->worldSize() : 1;
  if (written != world && !ssl.config().augment.perSample) {
    throw std::invalid_argument("checkpoint: '" + path + "' was written by a run of " + std::to_string(written) + " process(es); this run has " +
                                std::to_string(world) + ": resume with the same world size (each rank resumes its own augmentation stream), or train with augment.perSample");
  }
  torch::Tensor rngRanks;
  const bool perRank = world > 1 && written == world;
  if (perRank && (!root.try_read("augmentRngRanks", rngRanks) || rngRanks.dim() != 2 || rngRanks.size(0) != world)) {
    throw std::invalid_argument("checkpoint: '" + path + "' lacks the per-rank augmentation state of a " + std::to_string(world) + "-process run");
  }
  const std::string extra = readString(root, "extra");

  readModule(root, "backbone", *model.backbone());
  readModule(root, "projector", *model.projector());
  if (!model.predictor().is_empty()) readModule(root, "predictor", *model.predictor());
  if (!model.emaBackbone().is_empty()) readModule(root, "emaBackbone", *model.emaBackbone());
  if (!model.emaProjector().is_empty()) readModule(root, "emaProjector", *model.emaProjector());
  // Loading re-points parameters at the file's (NCHW) storage: back to the run's memory format,
  // then into the flat EMA buffers.
  if (ssl.config().channelsLast) setModelMemoryFormat(model, true);
  model.rebindEma();
  torch::serialize::InputArchive opt;
  if (!root.try_read("optimizer", opt)) throw std::invalid_argument("checkpoint: missing section 'optimizer'");
  ssl.optimizer().load(opt);
  torch::Tensor rng;
  if (!root.try_read("augmentRng", rng)) throw std::invalid_argument("checkpoint: missing section 'augmentRng'");
  ssl.augmenter().setGeneratorState(perRank ? rngRanks[ssl.collectives()->rank()].contiguous() : rng);
  torch::serialize::InputArchive oa;
  if (!root.try_read("objective", oa)) throw std::invalid_argument("checkpoint: missing section 'objective'");
  std::vector<std::pair<std::string, torch::Tensor>> state = ssl.objective().state();
  for (auto& [k, v] : state) {
    if (!oa.try_read(k, v)) throw std::invalid_argument("checkpoint: objective state is missing '" + k + "'");
  }
  ssl.objective().loadState(state);
  ssl.setStepCount(step.toInt());
  return extra;
}

void exportBackboneStateDict(SslNetworks& model, const std::string& path, bool ema) {
  if (ema && !model.anyEma()) throw std::invalid_argument("exportStateDict: ema=true but the model has no EMA parts");
  c10::Dict<std::string, at::Tensor> dict;
  for (auto& [key, tensor] : backboneTensors(model, ema)) dict.insert(key, tensor);
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  // No checksum trailer: Python's torch.load must read this file as it is.
  checkRegularFileTarget(path, "exportStateDict path");
  writeFileAtomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace mssl
