// Batched, seeded SimCLR-style augmentation of uint8 image batches (design.md §6).
//
// One call turns uint8 [B,C,H,W] (C = 1 or 3) into one float32 view [B,C,S,S], S = outSize.
// Every per-sample parameter is drawn up front, as batched tensors, from one CPU generator owned by
// the augmenter: the same seed (or restored generator state) gives the same output, and the number
// of draws per call depends only on B, never on the data or on which ops fire.
//
// Pipeline, in torchvision's SimCLR order:
//   1. RandomResizedCrop + RandomHorizontalFlip as one affine grid + grid_sample (bilinear,
//      align_corners=false, border padding) from the whole image straight to S×S.
//      Crop box: torchvision's rule vectorised — 10 candidate (scale, log-ratio) pairs per sample,
//      the first one that fits is used, else torchvision's centre fallback (ratio clamped).
//      Boxes are integer pixel boxes, as in torchvision. No antialiasing on downscale (torchvision
//      tensors before 0.17 don't antialias by default either).
//   2. ColorJitter with probability jitterP: brightness, contrast, saturation, hue, each in a
//      random order per sample (torchvision permutes the order per call; we permute per sample).
//   3. RandomGrayscale (grayscaleP).
//   4. GaussianBlur with probability blurP: per-sample sigma ~ U[blurSigmaMin, blurSigmaMax],
//      separable, reflect padding (torchvision's).
//   5. RandomSolarize with probability solarizeP: x >= 0.5 -> 1 - x (on [0,1] values).
//   6. Normalize (x - mean[c]) / std[c].
// Single-channel data: brightness, contrast, blur and solarize apply (they are intensity ops);
// saturation, hue and grayscale are skipped ("colour ops skip single-channel data"). Their random
// draws are still made so that the stream does not depend on C.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace mssl {

struct AugmentConfig {
  int64_t outSize = 32;                                     // output is outSize × outSize
  double scaleMin = 0.08, scaleMax = 1.0;                   // crop area fraction, 0 < min <= max <= 1
  double ratioMin = 3.0 / 4, ratioMax = 4.0 / 3;           // crop aspect w/h, 0 < min <= max
  double flipP = 0.5;
  double jitterP = 0.8, brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1;
  double grayscaleP = 0.2;
  double blurP = 0.0, blurSigmaMin = 0.1, blurSigmaMax = 2.0;
  int64_t blurKernelSize = 0;                               // odd; 0 = auto (about 10% of outSize, >= 3)
  double solarizeP = 0.0;
  std::vector<double> mean, std;                            // per channel (or one value for all); empty = 0.5
  // Multi-crop (DINO, SwAV): localCrops extra small views per image, localSize × localSize,
  // crop area fraction in [localScaleMin, localScaleMax]; the same colour pipeline.
  int64_t localCrops = 0;
  int64_t localSize = 0;                                    // 0 = auto: 3/7 of outSize (DINO's 96/224), >= 4
  double localScaleMin = 0.05, localScaleMax = 0.4;
  // Each sample's random parameters drawn from its own counter-based stream keyed by (seed, step,
  // sample index, view) instead of the batch's sequential stream: a sample is augmented the same
  // whichever batch, position or data-parallel rank it lands on (design §6, §9). Needs sample
  // indices with every training step.
  bool perSample = false;

  // Throws std::invalid_argument (mean/std length) or std::out_of_range (a value), naming the
  // field and what is allowed. channels = 0 checks what can be checked without the data.
  void validate(int64_t channels = 0) const;
  // The blur kernel size actually used for views of side `size` (resolves 0 = auto).
  int64_t effectiveBlurKernel(int64_t size) const;
  int64_t effectiveBlurKernel() const { return effectiveBlurKernel(outSize); }
  // Side of the local crops (resolves 0 = auto).
  int64_t effectiveLocalSize() const;
};

// Per-sample parameters of one view. All CPU tensors with leading dimension B.
struct AugmentParams {
  at::Tensor cropBox;       // [B,4] float64: top, left, height, width in input pixels
  at::Tensor flip;          // [B] bool
  at::Tensor jitter;        // [B] bool
  at::Tensor jitterFactor;  // [B,4] float32: brightness, contrast, saturation (>= 0), hue shift
  at::Tensor jitterOrder;   // [B,4] int64: a permutation of 0..3 (0 b, 1 c, 2 s, 3 h) per sample
  at::Tensor grayscale;     // [B] bool
  at::Tensor blur;          // [B] bool
  at::Tensor blurSigma;     // [B] float32
  at::Tensor solarize;      // [B] bool
  int64_t outSize = 0;      // side of the view; 0 = the config's outSize
};

class BatchAugmenter {
 public:
  BatchAugmenter(AugmentConfig cfg, uint64_t seed);

  // One augmented view: uint8 [B,C,H,W] -> float32 [B,C,outSize,outSize] on the input's device.
  at::Tensor operator()(const at::Tensor& uint8Batch);
  // One local crop (multi-crop): float32 [B,C,localSize,localSize].
  at::Tensor local(const at::Tensor& uint8Batch);
  // The views of one training step: `globalViews` views, then config().localCrops local crops.
  std::vector<at::Tensor> views(const at::Tensor& uint8Batch, int64_t globalViews = 2);
  // The same with config().perSample: `sampleKeys` int64 [B] (dataset indices) and `step` key
  // each sample's draws; the sequential stream is not used (nor advanced).
  std::vector<at::Tensor> views(const at::Tensor& uint8Batch, int64_t globalViews, const at::Tensor& sampleKeys, int64_t step);

  // The two halves of operator(), exposed so that tests (and callers that want to log or replay
  // parameters) can use a known set of parameters.
  // `local` draws a local crop (localScaleMin..Max, localSize) instead of a global view.
  AugmentParams sample(int64_t batch, int64_t height, int64_t width, bool local = false);
  // Parameters from given uniforms u [B, drawsPerSample()] (float64 in [0, 1)).
  AugmentParams paramsFrom(const at::Tensor& u, int64_t height, int64_t width, bool local) const;
  static int64_t drawsPerSample();
  // The uniforms of perSample mode: a pure function of (seed, step, view, key, column).
  at::Tensor keyedDraws(const at::Tensor& sampleKeys, int64_t step, int64_t view) const;
  at::Tensor apply(const at::Tensor& uint8Batch, const AugmentParams& params) const;

  // Generator state for checkpoints/resume (uint8 tensor, LibTorch's CPU generator format).
  at::Tensor generatorState() const;
  void setGeneratorState(const at::Tensor& state);

  const AugmentConfig& config() const { return cfg_; }

  // Type/shape checks on an input batch (std::invalid_argument naming `name`); also used by the
  // N-API layer to fail synchronously before queueing work.
  static void checkInput(const at::Tensor& x, const char* name = "batch");

 private:
  AugmentConfig cfg_;
  uint64_t seed_;
  at::Generator gen_;
};

// Colour ops on float [N,C,H,W] values in [0,1] with per-sample factors [N]. Exposed for tests.
// Per-channel (x − mean) / std in place on float [B,C,H,W] (empty mean/std: 0.5).
at::Tensor normalizePerChannel(at::Tensor x, const AugmentConfig& cfg);
// The evaluation view of uint8 images: resized to outSize (bilinear), scaled to [0, 1],
// normalised like the training views; no randomness.
at::Tensor evalTransform(const AugmentConfig& cfg, const at::Tensor& uint8Batch);

namespace augment_ops {
at::Tensor grayscale(const at::Tensor& x);  // [N,1,H,W], ITU-R 601-2 luma (torchvision weights)
at::Tensor adjustBrightness(const at::Tensor& x, const at::Tensor& factor);
at::Tensor adjustContrast(const at::Tensor& x, const at::Tensor& factor);
at::Tensor adjustSaturation(const at::Tensor& x, const at::Tensor& factor);
at::Tensor adjustHue(const at::Tensor& x, const at::Tensor& shift);  // shift in [-0.5, 0.5]
at::Tensor gaussianBlur(const at::Tensor& x, const at::Tensor& sigma, int64_t kernelSize);
}  // namespace augment_ops

}  // namespace mssl
