#include "core/augment.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>

namespace mssl {

namespace {

constexpr int64_t kCropTries = 10;  // torchvision's RandomResizedCrop tries
// Columns of the single [B, kDraws] uniform draw made per call (see sample()).
constexpr int64_t kColScale = 0;                        // kCropTries columns
constexpr int64_t kColRatio = kColScale + kCropTries;   // kCropTries columns
constexpr int64_t kColTop = kColRatio + kCropTries;
constexpr int64_t kColLeft = kColTop + 1;
constexpr int64_t kColFlip = kColLeft + 1;
constexpr int64_t kColJitter = kColFlip + 1;
constexpr int64_t kColFactor = kColJitter + 1;          // 4 columns
constexpr int64_t kColOrder = kColFactor + 4;           // 4 columns
constexpr int64_t kColGray = kColOrder + 4;
constexpr int64_t kColBlur = kColGray + 1;
constexpr int64_t kColSigma = kColBlur + 1;
constexpr int64_t kColSolarize = kColSigma + 1;
constexpr int64_t kDraws = kColSolarize + 1;

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// NaN fails every comparison, so `!(lo <= v && v <= hi)` rejects it too.
void checkProbability(double v, const char* name) {
  if (!(v >= 0.0 && v <= 1.0)) throw std::out_of_range(std::string("augment config: ") + name + " must be a probability in [0, 1], got " + fmt(v));
}

void checkRange(double lo, double hi, const char* name, const char* rule, bool ok) {
  if (!ok) throw std::out_of_range(std::string("augment config: ") + name + " must satisfy " + rule + ", got [" + fmt(lo) + ", " + fmt(hi) + "]");
}

void checkPerChannel(const std::vector<double>& v, const char* name, int64_t channels, bool positive) {
  if (!v.empty() && channels > 0 && static_cast<int64_t>(v.size()) != channels) {
    throw std::invalid_argument(std::string("augment config: ") + name + " must have one value per channel (" + std::to_string(channels) +
                                ") or be empty (0.5), got " + std::to_string(v.size()) + " values");
  }
  if (channels == 0 && !(v.empty() || v.size() == 1 || v.size() == 3)) {
    throw std::invalid_argument(std::string("augment config: ") + name + " must have 1 or 3 values (one per channel) or be empty, got " +
                                std::to_string(v.size()) + " values");
  }
  for (double x : v) {
    bool ok = std::isfinite(x) && (!positive || x > 0);
    if (!ok) throw std::out_of_range(std::string("augment config: ") + name + " values must be finite" + (positive ? " and > 0" : "") + ", got " + fmt(x));
  }
}

at::Tensor perSample(const at::Tensor& v, const at::Tensor& like) {
  // [N] parameters broadcast over [N,C,H,W].
  return v.to(like.device(), like.scalar_type()).view({-1, 1, 1, 1});
}

at::Tensor blend(const at::Tensor& x, const at::Tensor& other, const at::Tensor& factor) {
  // torchvision _blend: f*x + (1-f)*other = other + f*(x - other), clamped to the valid range.
  return (x - other).mul_(perSample(factor, x)).add_(other).clamp_(0, 1);
}

at::Tensor lumaWeights(const at::Tensor& like) {
  return at::tensor({0.2989, 0.587, 0.114}, at::TensorOptions().dtype(at::kDouble)).to(like.options()).view({1, 3, 1, 1});
}

// Runs fn on the samples selected by `mask` ([B] bool, CPU) and writes them back into x.
// Indices are computed on the CPU parameters, so a CUDA batch needs no device->host sync.
template <typename F>
void applyMasked(at::Tensor& x, const at::Tensor& mask, F&& fn) {
  at::Tensor idx = mask.nonzero().squeeze(1);
  int64_t n = idx.numel();
  if (n == 0) return;
  if (n == x.size(0)) {
    x = fn(x, idx);
    return;
  }
  at::Tensor idxDev = idx.to(x.device());
  x.index_copy_(0, idxDev, fn(x.index_select(0, idxDev), idx));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Config

void AugmentConfig::validate(int64_t channels) const {
  if (outSize < 1) throw std::out_of_range("augment config: outSize must be an integer >= 1, got " + std::to_string(outSize));
  checkRange(scaleMin, scaleMax, "scale [scaleMin, scaleMax]", "0 < scaleMin <= scaleMax <= 1", scaleMin > 0 && scaleMin <= scaleMax && scaleMax <= 1);
  checkRange(ratioMin, ratioMax, "ratio [ratioMin, ratioMax]", "0 < ratioMin <= ratioMax (finite)",
             ratioMin > 0 && ratioMin <= ratioMax && std::isfinite(ratioMax));
  checkProbability(flipP, "flipP");
  checkProbability(jitterP, "jitterP");
  checkProbability(grayscaleP, "grayscaleP");
  checkProbability(blurP, "blurP");
  checkProbability(solarizeP, "solarizeP");
  auto nonNeg = [](double v, const char* name) {
    if (!(v >= 0 && std::isfinite(v))) throw std::out_of_range(std::string("augment config: ") + name + " must be a finite number >= 0, got " + fmt(v));
  };
  nonNeg(brightness, "brightness");
  nonNeg(contrast, "contrast");
  nonNeg(saturation, "saturation");
  if (!(hue >= 0 && hue <= 0.5)) throw std::out_of_range("augment config: hue must be in [0, 0.5], got " + fmt(hue));
  checkRange(blurSigmaMin, blurSigmaMax, "blurSigma [blurSigmaMin, blurSigmaMax]", "0 < blurSigmaMin <= blurSigmaMax (finite)",
             blurSigmaMin > 0 && blurSigmaMin <= blurSigmaMax && std::isfinite(blurSigmaMax));
  // Reflect padding needs the half-width below the image size.
  if (blurKernelSize != 0 && (blurKernelSize < 1 || blurKernelSize % 2 == 0 || blurKernelSize / 2 >= outSize)) {
    throw std::out_of_range("augment config: blurKernelSize must be 0 (auto) or an odd integer in [1, " + std::to_string(2 * outSize - 1) +
                            "] for outSize " + std::to_string(outSize) + ", got " + std::to_string(blurKernelSize));
  }
  if (localCrops < 0 || localCrops > 64) throw std::out_of_range("augment config: localCrops must be an integer in [0, 64], got " + std::to_string(localCrops));
  if (localSize < 0) throw std::out_of_range("augment config: localSize must be 0 (auto) or an integer >= 1, got " + std::to_string(localSize));
  checkRange(localScaleMin, localScaleMax, "localScale [localScaleMin, localScaleMax]", "0 < localScaleMin <= localScaleMax <= 1",
             localScaleMin > 0 && localScaleMin <= localScaleMax && localScaleMax <= 1);
  if (channels != 0 && channels != 1 && channels != 3) {
    throw std::invalid_argument("augment: channels must be 1 or 3, got " + std::to_string(channels));
  }
  checkPerChannel(mean, "mean", channels, false);
  checkPerChannel(std, "std", channels, true);
}

int64_t AugmentConfig::effectiveBlurKernel(int64_t size) const {
  // An explicit kernel is sized for outSize; local crops get the largest odd kernel reflect allows.
  int64_t k = blurKernelSize;
  if (k <= 0) {
    // SimCLR: kernel ~10% of the image side, odd; at least 3 taps.
    k = static_cast<int64_t>(0.1 * static_cast<double>(size));
    if (k % 2 == 0) k += 1;
    k = std::max<int64_t>(k, 3);
  }
  return std::min<int64_t>(k, 2 * size - 1);
}

int64_t AugmentConfig::effectiveLocalSize() const {
  if (localSize > 0) return localSize;
  return std::max<int64_t>(4, (outSize * 3 + 3) / 7);
}

// ---------------------------------------------------------------------------------------------
// Colour jitter, CPU fp32 fast path: each sample runs its own ops in its own order in place, one
// pass per op over its (cache-resident) pixels. Same arithmetic as augment_ops (fp32, same
// operation order; the contrast mean is accumulated in double), without the per-stage masks,
// index_select/index_copy_ and ~60 small tensor ops of the generic path.

namespace {

constexpr float kLuma[3] = {0.2989f, 0.587f, 0.114f};

inline float clamp01(float v) { return std::min(std::max(v, 0.0f), 1.0f); }

void brightnessInPlace(float* x, int64_t n, float f) {
  for (int64_t i = 0; i < n; ++i) x[i] = clamp01(x[i] * f);
}

void contrastInPlace(float* x, int64_t C, int64_t P, float f) {
  float m = 0.0f;
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0.0;
    for (int64_t i = 0; i < P; ++i) sum += x[c * P + i];
    const float mc = static_cast<float>(sum / static_cast<double>(P));
    m = C == 3 ? m + mc * kLuma[c] : mc;
  }
  for (int64_t i = 0; i < C * P; ++i) x[i] = clamp01((x[i] - m) * f + m);
}

void saturationInPlace(float* x, int64_t P, float f) {
  float* r = x;
  float* g = x + P;
  float* b = x + 2 * P;
  for (int64_t i = 0; i < P; ++i) {
    const float gray = r[i] * kLuma[0] + g[i] * kLuma[1] + b[i] * kLuma[2];
    r[i] = clamp01((r[i] - gray) * f + gray);
    g[i] = clamp01((g[i] - gray) * f + gray);
    b[i] = clamp01((b[i] - gray) * f + gray);
  }
}

void hueInPlace(float* x, int64_t P, float shift) {
  const float add = shift * 6.0f + 12.0f;
  const float sixth = static_cast<float>(1.0 / 6.0);
  float* __restrict__ r = x;
  float* __restrict__ g = x + P;
  float* __restrict__ b = x + 2 * P;
  // Branch-free body (selects, truncating conversions) so the compiler vectorises it.
  auto channel = [sixth](float h6, float n, float maxc, float chroma) {
    float k = h6 + n;
    // floor(k / 6) via truncation (no libm call); exact for any k in int range.
    const float q = k * sixth;
    float fl = static_cast<float>(static_cast<int32_t>(q));
    fl = fl > q ? fl - 1.0f : fl;
    k -= fl * 6.0f;
    const float t = k < 4.0f - k ? k : 4.0f - k;
    const float c = t < 0.0f ? 0.0f : (t > 1.0f ? 1.0f : t);
    return maxc - c * chroma;
  };
  for (int64_t i = 0; i < P; ++i) {
    const float R = r[i], G = g[i], B = b[i];
    const float mgb = G > B ? G : B;
    const float maxc = R > mgb ? R : mgb;
    const float ngb = G < B ? G : B;
    const float minc = R < ngb ? R : ngb;
    const float chroma = maxc - minc;
    const float inv = 1.0f / (chroma > 1e-12f ? chroma : 1e-12f);
    // Sector of the max channel (ties give the same hue): (g-b)/c, (b-r)/c + 2, (r-g)/c + 4.
    const float hr = (G - B) * inv + 0.0f, hg = (B - R) * inv + 2.0f, hb = (R - G) * inv + 4.0f;
    const float h6 = (R == maxc ? hr : (G == maxc ? hg : hb)) + add;
    r[i] = channel(h6, 5.0f, maxc, chroma);
    g[i] = channel(h6, 3.0f, maxc, chroma);
    b[i] = channel(h6, 1.0f, maxc, chroma);
  }
}

// x: contiguous fp32 [B,C,H,W] on the CPU, modified in place. jitter [B] bool, order [B,4] int64
// (stage -> op), factor [B,4] float (brightness, contrast, saturation, hue shift).
void colorJitterCpuFloat(at::Tensor& x, const at::Tensor& jitterIn, const at::Tensor& orderIn, const at::Tensor& factorIn) {
  const at::Tensor jitter = jitterIn.to(at::kCPU, at::kBool).contiguous();
  const at::Tensor order = orderIn.to(at::kCPU, at::kLong).contiguous();
  const at::Tensor factor = factorIn.to(at::kCPU, at::kFloat).contiguous();
  const int64_t B = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
  float* data = x.data_ptr<float>();
  const bool* jp = jitter.data_ptr<bool>();
  const int64_t* op = order.data_ptr<int64_t>();
  const float* fp = factor.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(C * P, 1));
  at::parallel_for(0, B, grain, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      if (!jp[n]) continue;
      float* xs = data + n * C * P;
      for (int64_t s = 0; s < 4; ++s) {
        const int64_t o = op[n * 4 + s];
        const float f = fp[n * 4 + o];
        switch (o) {
          case 0: brightnessInPlace(xs, C * P, f); break;
          case 1: contrastInPlace(xs, C, P, f); break;
          case 2: if (C == 3) saturationInPlace(xs, P, f); break;
          default: if (C == 3) hueInPlace(xs, P, f); break;
        }
      }
    }
  });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Colour ops

namespace augment_ops {

at::Tensor grayscale(const at::Tensor& x) {
  if (x.size(1) == 1) return x;
  // torchvision's rgb_to_grayscale weights.
  return (x * lumaWeights(x)).sum(1, /*keepdim=*/true);
}

at::Tensor adjustBrightness(const at::Tensor& x, const at::Tensor& factor) { return (x * perSample(factor, x)).clamp_(0, 1); }

at::Tensor adjustContrast(const at::Tensor& x, const at::Tensor& factor) {
  // Mean of the grayscale image = luma-weighted mean of the channel means: one cheap reduction
  // instead of a full grayscale pass.
  at::Tensor m = x.mean({2, 3}, /*keepdim=*/true);
  if (x.size(1) == 3) m = (m * lumaWeights(x)).sum(1, /*keepdim=*/true);
  return blend(x, m, factor);
}

at::Tensor adjustSaturation(const at::Tensor& x, const at::Tensor& factor) { return blend(x, grayscale(x), factor); }

at::Tensor adjustHue(const at::Tensor& x, const at::Tensor& shift) {
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && x.dim() == 4 && x.size(1) == 3) {
    // CPU fp32: the per-pixel loop of the fused jitter, same arithmetic as below.
    at::Tensor out = x.contiguous().clone();
    const at::Tensor sh = shift.to(at::kCPU, at::kFloat).contiguous();
    const int64_t P = x.size(2) * x.size(3);
    float* o = out.data_ptr<float>();
    const float* sp = sh.data_ptr<float>();
    at::parallel_for(0, x.size(0), 1, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) hueInPlace(o + n * 3 * P, P, sp[n]);
    });
    return out;
  }
  // HSV hue rotation with torchvision's RGB->HSV sector rule, then HSV->RGB in closed form:
  //   c_n = max - chroma * clamp(min(k, 4 - k), 0, 1),  k = (n + 6h) mod 6,  n = 5, 3, 1 for r, g, b
  // (v*s = chroma), which is the six-sector table as arithmetic. 6h is kept unnormalised in
  // [-1, 5) and the per-sample shift (plus 12, so the floor-mod below sees positive values) is
  // added once.
  auto maxAndArg = x.max(1, /*keepdim=*/true);
  auto maxc = std::get<0>(maxAndArg);  // [N,1,H,W]
  auto chroma = maxc - at::amin(x, 1, /*keepdim=*/true);
  // Grey pixels (chroma 0) have g - b = 0 etc., so any finite inverse gives h = 0 there.
  auto inv = chroma.clamp_min(1e-12).reciprocal_();
  // Sector formulas for max = r, g, b: (g-b)/c, (b-r)/c + 2, (r-g)/c + 4, picked by the argmax
  // channel with one gather (ties give the same hue either way). roll(-1) - roll(-2) over the
  // channels is (g-b, b-r, r-g).
  auto sectors = (x.roll(-1, 1) - x.roll(-2, 1)).mul_(inv).add_(at::tensor({0.0, 2.0, 4.0}, at::kDouble).to(x.options()).view({1, 3, 1, 1}));
  auto h6 = sectors.gather(1, std::get<1>(maxAndArg));  // [N,1,H,W] in [-1, 5)
  h6.add_(perSample(shift * 6.0 + 12.0, x));
  auto out = at::empty_like(x, at::MemoryFormat::Contiguous);
  const double n[3] = {5, 3, 1};
  for (int64_t c = 0; c < 3; ++c) {
    // k = (h6 + n) mod 6 via floor (ATen's fmod is several times slower on CPU).
    auto k = h6 + n[c];
    k.sub_(at::floor(k * (1.0 / 6.0)).mul_(6.0));
    k = at::minimum(k, 4.0 - k).clamp_(0, 1).mul_(chroma);
    at::Tensor dst = out.narrow(1, c, 1);  // written in place through the view
    at::sub_out(dst, maxc, k);
  }
  return out;
}

at::Tensor gaussianBlur(const at::Tensor& x, const at::Tensor& sigma, int64_t kernelSize) {
  // Separable blur with a per-sample kernel (torchvision's: exp(-d²/2σ²) on d = -K/2..K/2,
  // normalised), reflect padding. Each 1-D pass is K shifted multiply-adds: with per-sample
  // weights that is cheaper than a grouped conv2d over N*C groups and identical on CPU and CUDA.
  const int64_t half = kernelSize / 2;
  if (half == 0) return x;
  auto opts = x.options();
  auto d = at::arange(kernelSize, opts).sub_(static_cast<double>(half));
  auto sig = sigma.to(x.device(), x.scalar_type()).view({-1, 1});
  auto w = at::exp(-0.5 * (d.view({1, -1}) / sig).pow(2));
  w = w / w.sum(1, true);  // [N,K]
  const int64_t H = x.size(2), W = x.size(3);
  auto padded = at::reflection_pad2d(x, {half, half, half, half});
  // Vertical pass over the padded width, then horizontal.
  at::Tensor v = at::zeros({x.size(0), x.size(1), H, W + 2 * half}, opts);
  for (int64_t k = 0; k < kernelSize; ++k) v.add_(padded.narrow(2, k, H) * w.select(1, k).view({-1, 1, 1, 1}));
  at::Tensor out = at::zeros_like(x);
  for (int64_t k = 0; k < kernelSize; ++k) out.add_(v.narrow(3, k, W) * w.select(1, k).view({-1, 1, 1, 1}));
  return out;
}

}  // namespace augment_ops

// ---------------------------------------------------------------------------------------------
// Augmenter

BatchAugmenter::BatchAugmenter(AugmentConfig cfg, uint64_t seed)
    : cfg_(std::move(cfg)), seed_(seed), gen_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  cfg_.validate(0);
}

void BatchAugmenter::checkInput(const at::Tensor& x, const char* name) {
  std::string n(name);
  if (!x.defined()) throw std::invalid_argument(n + " must be a uint8 tensor [B,C,H,W], got an undefined tensor");
  if (x.scalar_type() != at::kByte) {
    throw std::invalid_argument(n + " must be a uint8 tensor [B,C,H,W] (pixel values 0..255), got dtype " + std::string(c10::toString(x.scalar_type())));
  }
  if (x.dim() != 4) throw std::invalid_argument(n + " must have rank 4 [B,C,H,W], got rank " + std::to_string(x.dim()));
  if (x.size(1) != 1 && x.size(1) != 3) throw std::invalid_argument(n + " must have C = 1 or 3 channels (dim 1 of [B,C,H,W]), got " + std::to_string(x.size(1)));
  if (x.size(2) < 1 || x.size(3) < 1) throw std::invalid_argument(n + " must have H, W >= 1, got " + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)));
}

int64_t BatchAugmenter::drawsPerSample() { return kDraws; }

namespace {
// splitmix64's finaliser: a bijective mix, so distinct keys give independent-looking streams.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
}  // namespace

at::Tensor BatchAugmenter::keyedDraws(const at::Tensor& keys, int64_t step, int64_t view) const {
  if (!keys.defined() || keys.scalar_type() != at::kLong || keys.dim() != 1) {
    throw std::invalid_argument("augment.perSample: needs the batch's sample indices (int64 [B]) with every step");
  }
  at::Tensor k = keys.to(at::kCPU).contiguous();
  const int64_t B = k.size(0);
  at::Tensor u = at::empty({B, kDraws}, at::TensorOptions().dtype(at::kDouble));
  const int64_t* kp = k.data_ptr<int64_t>();
  double* up = u.data_ptr<double>();
  const uint64_t base = mix64(mix64(mix64(seed_ ^ 0x6A09E667F3BCC909ULL) ^ static_cast<uint64_t>(step)) ^ static_cast<uint64_t>(view));
  for (int64_t b = 0; b < B; ++b) {
    const uint64_t h = mix64(base ^ static_cast<uint64_t>(kp[b]));
    for (int64_t j = 0; j < kDraws; ++j) {
      // The top 53 bits as a double in [0, 1).
      up[b * kDraws + j] = static_cast<double>(mix64(h + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(j + 1)) >> 11) * 0x1.0p-53;
    }
  }
  return u;
}

AugmentParams BatchAugmenter::sample(int64_t B, int64_t H, int64_t W, bool local) {
  // One draw for everything, fixed width: the stream position after a call depends only on B.
  return paramsFrom(at::rand({B, kDraws}, gen_, at::TensorOptions().dtype(at::kDouble)), H, W, local);
}

AugmentParams BatchAugmenter::paramsFrom(const at::Tensor& u, int64_t H, int64_t W, bool local) const {
  if (u.dim() != 2 || u.size(1) != kDraws || u.scalar_type() != at::kDouble) {
    throw std::invalid_argument("augment: uniforms must be float64 [B, " + std::to_string(kDraws) + "]");
  }
  const int64_t B = u.size(0);
  const double area = static_cast<double>(H * W);
  const double Hd = static_cast<double>(H), Wd = static_cast<double>(W);

  // RandomResizedCrop.get_params, all tries at once; the first try that fits wins.
  const double lrMin = std::log(cfg_.ratioMin), lrMax = std::log(cfg_.ratioMax);
  const double sMin = local ? cfg_.localScaleMin : cfg_.scaleMin, sMax = local ? cfg_.localScaleMax : cfg_.scaleMax;
  auto scale = u.narrow(1, kColScale, kCropTries) * (sMax - sMin) + sMin;
  auto aspect = at::exp(u.narrow(1, kColRatio, kCropTries) * (lrMax - lrMin) + lrMin);
  auto target = scale * area;
  auto w = at::round(at::sqrt(target * aspect));  // round half to even, like Python's round()
  auto h = at::round(at::sqrt(target / aspect));
  auto fits = (w > 0).logical_and(w <= Wd).logical_and(h > 0).logical_and(h <= Hd);
  // Earlier tries get larger weights, so argmax picks the first fitting one.
  auto rank = fits.to(at::kLong) * at::arange(kCropTries, 0, -1, at::kLong).view({1, -1});
  auto first = rank.argmax(1, /*keepdim=*/true);
  auto any = fits.any(1);
  // Fallback: whole image with the aspect clamped into the ratio range, centred.
  double fw = Wd, fh = Hd;
  const double inRatio = Wd / Hd;
  if (inRatio < cfg_.ratioMin) fh = std::nearbyint(fw / cfg_.ratioMin);
  else if (inRatio > cfg_.ratioMax) fw = std::nearbyint(fh * cfg_.ratioMax);
  auto cw = at::where(any, w.gather(1, first).squeeze(1), at::full({B}, fw, u.options()));
  auto ch = at::where(any, h.gather(1, first).squeeze(1), at::full({B}, fh, u.options()));
  // randint(0, H - h + 1) as floor(u * (H - h + 1)); u < 1 keeps it in range.
  auto top = at::where(any, at::floor(u.select(1, kColTop) * (Hd - ch + 1)), at::floor((Hd - ch) / 2));
  auto left = at::where(any, at::floor(u.select(1, kColLeft) * (Wd - cw + 1)), at::floor((Wd - cw) / 2));

  AugmentParams p;
  p.cropBox = at::stack({top, left, ch, cw}, 1);
  p.flip = u.select(1, kColFlip) < cfg_.flipP;
  p.jitter = u.select(1, kColJitter) < cfg_.jitterP;
  // ColorJitter ranges: [max(0, 1 - x), 1 + x] for b/c/s, [-hue, hue] for the hue shift.
  auto lo = at::tensor({std::max(0.0, 1 - cfg_.brightness), std::max(0.0, 1 - cfg_.contrast), std::max(0.0, 1 - cfg_.saturation), -cfg_.hue},
                       u.options());
  auto hi = at::tensor({1 + cfg_.brightness, 1 + cfg_.contrast, 1 + cfg_.saturation, cfg_.hue}, u.options());
  p.jitterFactor = (lo + u.narrow(1, kColFactor, 4) * (hi - lo)).to(at::kFloat);
  // argsort of i.i.d. uniforms is a uniformly random permutation.
  p.jitterOrder = std::get<1>(u.narrow(1, kColOrder, 4).sort(/*dim=*/1));
  p.grayscale = u.select(1, kColGray) < cfg_.grayscaleP;
  p.blur = u.select(1, kColBlur) < cfg_.blurP;
  p.blurSigma = (u.select(1, kColSigma) * (cfg_.blurSigmaMax - cfg_.blurSigmaMin) + cfg_.blurSigmaMin).to(at::kFloat);
  p.solarize = u.select(1, kColSolarize) < cfg_.solarizeP;
  p.outSize = local ? cfg_.effectiveLocalSize() : cfg_.outSize;
  return p;
}

at::Tensor BatchAugmenter::apply(const at::Tensor& input, const AugmentParams& p) const {
  checkInput(input);
  cfg_.validate(input.size(1));
  const int64_t B = input.size(0), C = input.size(1), H = input.size(2), W = input.size(3);
  const int64_t S = p.outSize > 0 ? p.outSize : cfg_.outSize;
  auto fopts = input.options().dtype(at::kFloat);
  if (B == 0) return at::empty({0, C, S, S}, fopts);
  if (p.cropBox.size(0) != B) throw std::invalid_argument("augment: params are for batch " + std::to_string(p.cropBox.size(0)) + ", got batch " + std::to_string(B));

  // 1. Crop + resize + flip as one affine grid: output pixel centre t = (2u+1)/S - 1 maps to
  //    x = (w/W)·(±t) + (2·left + w)/W - 1 in grid_sample's normalised coordinates
  //    (align_corners=false), i.e. a resize of the box with half-pixel centres; y likewise. This is
  //    affine_grid(theta = [[±w/W, 0, tx], [0, h/H, ty]]), built from its separable form: the
  //    per-sample math is on [B,S] rows and columns, and one stack writes the [B,S,S,2] grid
  //    (affine_grid's batched matmul plus a clamp of the full grid cost ~3x more on CPU).
  auto box = p.cropBox.to(at::kDouble);
  auto top = box.select(1, 0).unsqueeze(1), left = box.select(1, 1).unsqueeze(1);
  auto ch = box.select(1, 2).unsqueeze(1), cw = box.select(1, 3).unsqueeze(1);
  auto t = at::arange(S, box.options()).mul_(2).add_(1).div_(static_cast<double>(S)).sub_(1).unsqueeze(0);  // [1,S]
  auto sign = at::where(p.flip, at::full({B}, -1.0, box.options()), at::ones({B}, box.options())).unsqueeze(1);
  auto Wd = static_cast<double>(W), Hd = static_cast<double>(H);
  auto gx = (cw / Wd) * sign * t + ((2 * left + cw) / Wd - 1);  // [B,S]
  auto gy = (ch / Hd) * t + ((2 * top + ch) / Hd - 1);
  // Clamp to the box's outer pixel centres: torchvision resizes the cropped image, so upsampling
  // replicates the box edge instead of blending in pixels outside it.
  gx = at::maximum(at::minimum(gx, (2 * (left + cw) - 1) / Wd - 1), (2 * left + 1) / Wd - 1).to(fopts);
  gy = at::maximum(at::minimum(gy, (2 * (top + ch) - 1) / Hd - 1), (2 * top + 1) / Hd - 1).to(fopts);
  auto grid = at::stack({gx.unsqueeze(1).expand({B, S, S}), gy.unsqueeze(2).expand({B, S, S})}, 3);  // [B,S,S,2]
  at::Tensor x = at::grid_sampler(input.to(at::kFloat).div_(255.0), grid, /*bilinear*/ 0, /*border*/ 1, /*align_corners=*/false);

  // 2. Colour jitter, ops in each sample's own order; stage s runs op o on the samples whose
  //    s-th op is o. Single-channel data skips saturation and hue.
  if (x.device().is_cpu() && x.scalar_type() == at::kFloat && x.is_contiguous()) {
    colorJitterCpuFloat(x, p.jitter, p.jitterOrder, p.jitterFactor);
  } else if (p.jitter.any().item<bool>()) {
    auto order = p.jitterOrder;
    for (int64_t s = 0; s < 4; ++s) {
      for (int64_t op = 0; op < 4; ++op) {
        if (C == 1 && op >= 2) continue;
        auto mask = p.jitter.logical_and(order.select(1, s) == op);
        auto factor = p.jitterFactor.select(1, op);
        applyMasked(x, mask, [&](const at::Tensor& xs, const at::Tensor& idx) {
          auto f = factor.index_select(0, idx);
          switch (op) {
            case 0: return augment_ops::adjustBrightness(xs, f);
            case 1: return augment_ops::adjustContrast(xs, f);
            case 2: return augment_ops::adjustSaturation(xs, f);
            default: return augment_ops::adjustHue(xs, f);
          }
        });
      }
    }
  }

  // 3. Random grayscale (kept 3-channel, as torchvision's RandomGrayscale).
  if (C == 3) {
    applyMasked(x, p.grayscale, [](const at::Tensor& xs, const at::Tensor&) { return augment_ops::grayscale(xs).repeat({1, 3, 1, 1}); });
  }

  // 4. Gaussian blur.
  const int64_t K = cfg_.effectiveBlurKernel(S);
  applyMasked(x, p.blur, [&](const at::Tensor& xs, const at::Tensor& idx) {
    return augment_ops::gaussianBlur(xs, p.blurSigma.index_select(0, idx), K);
  });

  // 5. Solarize at 0.5.
  applyMasked(x, p.solarize, [](const at::Tensor& xs, const at::Tensor&) { return at::where(xs >= 0.5, 1.0 - xs, xs); });

  // 6. Normalise per channel.
  if (!x.is_contiguous()) x = x.contiguous();  // every step above returns a fresh tensor
  return normalizePerChannel(x, cfg_);
}

at::Tensor BatchAugmenter::operator()(const at::Tensor& batch) {
  checkInput(batch);
  cfg_.validate(batch.size(1));
  auto params = sample(batch.size(0), batch.size(2), batch.size(3));
  return apply(batch, params);
}

at::Tensor BatchAugmenter::local(const at::Tensor& batch) {
  checkInput(batch);
  cfg_.validate(batch.size(1));
  auto params = sample(batch.size(0), batch.size(2), batch.size(3), /*local=*/true);
  return apply(batch, params);
}

std::vector<at::Tensor> BatchAugmenter::views(const at::Tensor& batch, int64_t globalViews) {
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < globalViews; ++i) out.push_back((*this)(batch));
  for (int64_t i = 0; i < cfg_.localCrops; ++i) out.push_back(local(batch));
  return out;
}

std::vector<at::Tensor> BatchAugmenter::views(const at::Tensor& batch, int64_t globalViews, const at::Tensor& keys, int64_t step) {
  if (!cfg_.perSample) return views(batch, globalViews);
  checkInput(batch);
  cfg_.validate(batch.size(1));
  if (!keys.defined() || keys.dim() != 1 || keys.size(0) != batch.size(0)) {
    throw std::invalid_argument("augment.perSample: needs the batch's sample indices (int64 [B]) with every step");
  }
  std::vector<at::Tensor> out;
  const int64_t H = batch.size(2), W = batch.size(3);
  for (int64_t i = 0; i < globalViews + cfg_.localCrops; ++i) {
    const bool isLocal = i >= globalViews;
    out.push_back(apply(batch, paramsFrom(keyedDraws(keys, step, i), H, W, isLocal)));
  }
  return out;
}

at::Tensor BatchAugmenter::generatorState() const {
  at::Generator g = gen_;
  std::lock_guard<std::mutex> lock(g.mutex());
  return g.get_state();
}

void BatchAugmenter::setGeneratorState(const at::Tensor& state) {
  if (!state.defined() || state.scalar_type() != at::kByte || state.dim() != 1) {
    throw std::invalid_argument("augment: generator state must be a 1-D uint8 tensor from generatorState()");
  }
  std::lock_guard<std::mutex> lock(gen_.mutex());
  try {
    gen_.set_state(state.cpu().contiguous());
  } catch (const c10::Error& e) {
    throw std::invalid_argument(std::string("augment: not a CPU generator state (") + e.what_without_backtrace() + ")");
  }
}

at::Tensor normalizePerChannel(at::Tensor x, const AugmentConfig& cfg) {
  const int64_t C = x.size(1);
  auto perChannel = [&](const std::vector<double>& v) {
    std::vector<double> full(static_cast<size_t>(C), 0.5);
    if (!v.empty()) full = v;
    return at::tensor(full, at::TensorOptions().dtype(at::kDouble)).to(x.options()).view({1, C, 1, 1});
  };
  return x.sub_(perChannel(cfg.mean)).div_(perChannel(cfg.std));
}

at::Tensor evalTransform(const AugmentConfig& cfg, const at::Tensor& uint8Batch) {
  BatchAugmenter::checkInput(uint8Batch, "images");
  at::Tensor x = uint8Batch.to(at::kFloat).div_(255.0);
  if (x.size(2) != cfg.outSize || x.size(3) != cfg.outSize) {
    x = at::upsample_bilinear2d(x, {cfg.outSize, cfg.outSize}, /*align_corners=*/false);
  }
  return normalizePerChannel(x.contiguous(), cfg);
}

}  // namespace mssl
