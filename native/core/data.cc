#include "core/data.h"

#include <stdexcept>

namespace mssl::data {

namespace {

std::string shapeStr(at::IntArrayRef s) { return "[" + c10::Join(", ", s) + "]"; }

bool isIntegral(at::ScalarType t) {
  return t == at::kByte || t == at::kChar || t == at::kShort || t == at::kInt || t == at::kLong;
}

}  // namespace

ImageBatch prepare(const at::Tensor& images, const at::Tensor& labels, int64_t numClasses, Layout layout) {
  if (!images.defined() || images.scalar_type() != at::kByte) {
    throw std::invalid_argument("images must be a uint8 tensor, got " +
                                std::string(images.defined() ? c10::toString(images.scalar_type()) : "undefined"));
  }
  if (images.dim() != 3 && images.dim() != 4) {
    throw std::invalid_argument("images must have shape [N, C, H, W] (or [N, H, W] for one channel), got " + shapeStr(images.sizes()));
  }
  if (!labels.defined() || !isIntegral(labels.scalar_type()) || labels.dim() != 1) {
    throw std::invalid_argument("labels must be a 1-D integer tensor, got " +
                                (labels.defined() ? std::string(c10::toString(labels.scalar_type())) + " " + shapeStr(labels.sizes()) : std::string("undefined")));
  }
  if (labels.size(0) != images.size(0)) {
    throw std::invalid_argument("labels has " + std::to_string(labels.size(0)) + " entries but images has " + std::to_string(images.size(0)) + " samples");
  }
  at::Tensor img = images.dim() == 3 ? images.unsqueeze(layout == Layout::NCHW ? 1 : 3) : images;
  // NHWC (decoders' interleaved pixels) becomes NCHW once here, never per batch.
  if (layout == Layout::NHWC) img = img.permute({0, 3, 1, 2});
  img = img.contiguous();
  at::Tensor lab = labels.to(at::kLong).contiguous();
  if (lab.numel() > 0 && numClasses > 0) {
    int64_t lo = lab.min().item<int64_t>(), hi = lab.max().item<int64_t>();
    if (lo < 0 || hi >= numClasses) {
      int64_t bad = lo < 0 ? lo : hi;
      int64_t at = (lab == bad).nonzero().flatten()[0].item<int64_t>();
      throw std::out_of_range("labels[" + std::to_string(at) + "] = " + std::to_string(bad) + " is outside [0, " + std::to_string(numClasses) + ")");
    }
  }
  return {img, lab, at::Tensor()};
}

ImageBatch unpackRecords(const at::Tensor& raw, const RecordSpec& spec) {
  if (!raw.defined() || raw.scalar_type() != at::kByte) throw std::invalid_argument("records must be a uint8 tensor");
  if (spec.recordSize < 1 || spec.channels < 1 || spec.height < 1 || spec.width < 1) {
    throw std::invalid_argument("record spec needs recordSize, channels, height and width >= 1");
  }
  const int64_t pixels = spec.channels * spec.height * spec.width;
  if (spec.pixelOffset < 0 || spec.pixelOffset + pixels > spec.recordSize || spec.labelOffset < 0 || spec.labelOffset >= spec.recordSize) {
    throw std::invalid_argument("record spec does not fit in a record of " + std::to_string(spec.recordSize) + " bytes");
  }
  const int64_t bytes = raw.numel();
  if (bytes == 0 || bytes % spec.recordSize != 0) {
    throw std::invalid_argument(std::to_string(bytes) + " bytes is not a positive multiple of the record size " + std::to_string(spec.recordSize));
  }
  at::Tensor rec = raw.contiguous().view({bytes / spec.recordSize, spec.recordSize});
  // narrow() makes strided views; contiguous() copies each field out once.
  at::Tensor images = rec.narrow(1, spec.pixelOffset, pixels).contiguous().view({-1, spec.channels, spec.height, spec.width});
  at::Tensor labels = rec.select(1, spec.labelOffset).to(at::kLong).contiguous();
  return {images, labels, at::Tensor()};
}

at::Tensor checkIndices(const at::Tensor& indices, int64_t n, const std::string& what) {
  if (!indices.defined()) throw std::invalid_argument(what + " is undefined");
  if (indices.scalar_type() != at::kLong && indices.scalar_type() != at::kInt) {
    throw std::invalid_argument(what + " must be int32 or int64, got " + std::string(c10::toString(indices.scalar_type())));
  }
  if (indices.dim() != 1) throw std::invalid_argument(what + " must be 1-D, got shape " + shapeStr(indices.sizes()));
  at::Tensor idx = indices.to(at::kCPU).to(at::kLong).contiguous();
  if (idx.numel() == 0) return idx;
  at::Tensor bad = (idx < 0).logical_or(idx >= n);
  if (bad.any().item<bool>()) {
    int64_t pos = bad.nonzero().flatten()[0].item<int64_t>();
    throw std::out_of_range(what + "[" + std::to_string(pos) + "] = " + std::to_string(idx[pos].item<int64_t>()) +
                            " is out of range for a dataset of " + std::to_string(n) + " samples");
  }
  return idx;
}

ImageBatch gather(const at::Tensor& images, const at::Tensor& labels, const at::Tensor& indices) {
  at::Tensor idx = checkIndices(indices, images.size(0));
  // Indices as given (int32 input becomes int64) but never aliasing the caller's tensor.
  at::Tensor index = idx.data_ptr() == indices.data_ptr() ? idx.clone() : idx;
  return {images.index_select(0, idx), labels.index_select(0, idx), index};
}

// ---------------------------------------------------------------------------------------------

namespace {
// splitmix64 (Steele, Lea, Flood 2014): the seeding generator recommended for xoshiro.
uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Xoshiro256::Xoshiro256(uint64_t seed, uint64_t stream) {
  // Hash seed and stream separately so (seed, epoch) pairs do not collide by simple offsets.
  uint64_t a = seed, b = stream ^ 0x6A09E667F3BCC909ULL;
  uint64_t x = splitmix(a) ^ rotl(splitmix(b), 17);
  for (auto& s : s_) s = splitmix(x);
}

uint64_t Xoshiro256::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

uint64_t Xoshiro256::below(uint64_t bound) {
  // Reject the lowest (2^64 mod bound) values so every residue is equally likely.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t r = next();
    if (r >= threshold) return r % bound;
  }
}

at::Tensor permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  if (n < 0) throw std::invalid_argument("permutation: n must be >= 0");
  at::Tensor p = at::arange(n, at::kLong);
  if (!shuffle || n < 2) return p;
  int64_t* d = p.data_ptr<int64_t>();
  Xoshiro256 rng(seed, static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(d[i], d[j]);
  }
  return p;
}

EpochSampler::EpochSampler(const SamplerConfig& config) : cfg_(config) {
  if (cfg_.batchSize < 1) throw std::out_of_range("batchSize must be an integer >= 1, got " + std::to_string(cfg_.batchSize));
  if (cfg_.size < 1) throw std::out_of_range("the dataset is empty: a sampler needs at least one sample");
  if (cfg_.worldSize < 1 || cfg_.rank < 0 || cfg_.rank >= cfg_.worldSize) {
    throw std::out_of_range("sampler rank must be in [0, worldSize = " + std::to_string(cfg_.worldSize) + "), got " + std::to_string(cfg_.rank));
  }
  if (cfg_.worldSize > 1 && !cfg_.dropLast) throw std::invalid_argument("a data-parallel sampler (worldSize > 1) needs dropLast: every rank must take the same number of batches");
  if (batchesPerEpoch() == 0) {
    throw std::out_of_range("dropLast with batchSize " + std::to_string(cfg_.batchSize) + " > dataset size " + std::to_string(cfg_.size) +
                            " leaves no batch in an epoch");
  }
}

int64_t EpochSampler::batchesPerEpoch() const {
  const int64_t share = cfg_.size / cfg_.worldSize;  // samples per rank (all of them in one process)
  return cfg_.dropLast ? share / cfg_.batchSize : (share + cfg_.batchSize - 1) / cfg_.batchSize;
}

void EpochSampler::setState(const SamplerState& s) {
  if (s.epoch < 0) throw std::out_of_range("state.epoch must be >= 0, got " + std::to_string(s.epoch));
  if (s.position < 0 || s.position >= batchesPerEpoch()) {
    throw std::out_of_range("state.position must be in [0, " + std::to_string(batchesPerEpoch()) + "), got " + std::to_string(s.position));
  }
  st_ = s;
}

const at::Tensor& EpochSampler::order() {
  if (permEpoch_ != st_.epoch) {
    perm_ = permutation(cfg_.size, cfg_.seed, st_.epoch, cfg_.shuffle);
    permEpoch_ = st_.epoch;
  }
  return perm_;
}

at::Tensor EpochSampler::next() {
  const at::Tensor& p = order();
  int64_t start = st_.position * cfg_.batchSize;
  at::Tensor out;
  if (cfg_.worldSize == 1) {
    int64_t len = std::min(cfg_.batchSize, cfg_.size - start);
    out = p.narrow(0, start, len).clone();  // the caller owns it; perm_ is reused
  } else {
    // Positions rank, rank + W, rank + 2W, ... of the permutation, batch `position` of them.
    out = p.narrow(0, start * cfg_.worldSize + cfg_.rank, (cfg_.batchSize - 1) * cfg_.worldSize + 1).slice(0, 0, c10::nullopt, cfg_.worldSize).clone();
  }
  if (++st_.position >= batchesPerEpoch()) st_ = {st_.epoch + 1, 0};
  return out;
}

}  // namespace mssl::data
