#include <ATen/ATen.h>

#include <chrono>
#include <iostream>
#include <stdexcept>

#include <cstdlib>

#include "check.h"
#include "core/augment.h"

namespace {

using mssl::AugmentConfig;
using mssl::AugmentParams;
using mssl::BatchAugmenter;

// Everything random off: the output is the resized, unnormalised image.
AugmentConfig plainConfig(int64_t outSize) {
  AugmentConfig c;
  c.outSize = outSize;
  c.scaleMin = c.scaleMax = 1.0;
  c.ratioMin = c.ratioMax = 1.0;
  c.flipP = 0;
  c.jitterP = 0;
  c.grayscaleP = 0;
  c.blurP = 0;
  c.solarizeP = 0;
  c.mean = {0.0, 0.0, 0.0};
  c.std = {1.0, 1.0, 1.0};
  return c;
}

// Values depend on (row, col, channel) so that any misplacement shows.
at::Tensor patternImage(int64_t B, int64_t C, int64_t H, int64_t W) {
  auto row = at::arange(H, at::kLong).view({1, 1, H, 1});
  auto col = at::arange(W, at::kLong).view({1, 1, 1, W});
  auto ch = at::arange(C, at::kLong).view({1, C, 1, 1});
  return ((row * 7 + col * 3 + ch * 40) % 256).expand({B, C, H, W}).to(at::kByte).contiguous();
}

at::Tensor randomImages(int64_t B, int64_t C, int64_t H, int64_t W, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(0, 256, {B, C, H, W}, g, at::TensorOptions().dtype(at::kByte));
}

double maxAbsDiff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Params for B samples with every op off and the given crop box and flip.
AugmentParams fixedParams(BatchAugmenter& aug, int64_t B, int64_t H, int64_t W, double top, double left, double h, double w, bool flip) {
  AugmentParams p = aug.sample(B, H, W);
  p.cropBox = at::tensor({top, left, h, w}, at::kDouble).view({1, 4}).repeat({B, 1});
  p.flip = at::full({B}, flip, at::kBool);
  p.jitter = at::zeros({B}, at::kBool);
  p.grayscale = at::zeros({B}, at::kBool);
  p.blur = at::zeros({B}, at::kBool);
  p.solarize = at::zeros({B}, at::kBool);
  return p;
}

}  // namespace

MSSL_TEST(augment_shapes_dtype_and_range) {
  AugmentConfig c;  // defaults, but unnormalised so the [0,1] range can be checked
  c.mean = {0, 0, 0};
  c.std = {1, 1, 1};
  c.blurP = 0.5;
  c.solarizeP = 0.5;
  BatchAugmenter aug(c, 1);
  auto x = randomImages(16, 3, 40, 36, 7);
  auto y = aug(x);
  CHECK(y.scalar_type() == at::kFloat);
  CHECK((y.sizes() == at::IntArrayRef{16, 3, 32, 32}));
  CHECK(y.min().item<double>() >= 0.0);
  CHECK(y.max().item<double>() <= 1.0);
  CHECK(y.isfinite().all().item<bool>());

  // Default normalisation (0.5, 0.5) maps [0,1] to [-1,1].
  BatchAugmenter normed(AugmentConfig{}, 1);
  auto z = normed(x);
  CHECK(z.min().item<double>() >= -1.0 - 1e-6 && z.max().item<double>() <= 1.0 + 1e-6);
  // Same seed, same draws: normalisation is the only difference.
  CHECK(maxAbsDiff(z, y * 2 - 1) > 0);  // c has blur/solarize on, so not the same pipeline
  BatchAugmenter plainDefaults(AugmentConfig{}, 1);
  AugmentConfig c2;
  c2.mean = {0, 0, 0};
  c2.std = {1, 1, 1};
  BatchAugmenter unnormed(c2, 1);
  CHECK(maxAbsDiff(plainDefaults(x), unnormed(x) * 2 - 1) < 1e-5);

  // Non-square input, output size other than input.
  c2.outSize = 17;
  BatchAugmenter small(c2, 3);
  CHECK((small(randomImages(2, 3, 9, 50, 1)).sizes() == at::IntArrayRef{2, 3, 17, 17}));
  // Empty batch.
  CHECK((small(randomImages(0, 3, 9, 9, 1)).sizes() == at::IntArrayRef{0, 3, 17, 17}));
}

MSSL_TEST(augment_deterministic_per_seed) {
  auto x = randomImages(8, 3, 32, 32, 11);
  BatchAugmenter a(AugmentConfig{}, 42), b(AugmentConfig{}, 42), c(AugmentConfig{}, 43);
  auto a1 = a(x), a2 = a(x);
  auto b1 = b(x), b2 = b(x);
  CHECK(at::equal(a1, b1));
  CHECK(at::equal(a2, b2));
  CHECK(!at::equal(a1, a2));  // two views from one generator differ
  CHECK(!at::equal(a1, c(x)));
  // Per-sample parameters: identical inputs get different views within a batch.
  auto same = patternImage(4, 3, 32, 32);
  auto v = a(same);
  CHECK(maxAbsDiff(v[0], v[1]) > 0.01);
}

MSSL_TEST(augment_identity_and_flip) {
  auto x = patternImage(3, 3, 16, 16);
  auto xf = x.to(at::kFloat) / 255;
  BatchAugmenter id(plainConfig(16), 0);
  CHECK(maxAbsDiff(id(x), xf) < 1e-5);

  auto c = plainConfig(16);
  c.flipP = 1.0;
  BatchAugmenter flip(c, 0);
  CHECK(maxAbsDiff(flip(x), xf.flip({3})) < 1e-5);

  // Horizontal gradient, 1 channel: flipped output is the mirrored ramp.
  auto ramp = (at::arange(28, at::kLong) * 9).view({1, 1, 1, 28}).expand({2, 1, 28, 28}).to(at::kByte).contiguous();
  auto c1 = plainConfig(28);
  c1.flipP = 1.0;
  c1.mean = {0};
  c1.std = {1};
  BatchAugmenter flip1(c1, 5);
  auto out = flip1(ramp);
  CHECK(maxAbsDiff(out, ramp.to(at::kFloat).div(255).flip({3})) < 1e-5);
  CHECK_CLOSE(out[0][0][5][0].item<double>(), 27 * 9 / 255.0, 1e-6);
}

MSSL_TEST(augment_known_crop_box) {
  auto x = patternImage(2, 3, 12, 10);
  auto xf = x.to(at::kFloat) / 255;
  BatchAugmenter aug(plainConfig(4), 0);
  // Box of the output size: exact sub-image (samples fall on pixel centres).
  auto p = fixedParams(aug, 2, 12, 10, /*top*/ 2, /*left*/ 3, /*h*/ 4, /*w*/ 4, false);
  auto expected = xf.narrow(2, 2, 4).narrow(3, 3, 4);
  CHECK(maxAbsDiff(aug.apply(x, p), expected) < 1e-5);
  p = fixedParams(aug, 2, 12, 10, 2, 3, 4, 4, true);
  CHECK(maxAbsDiff(aug.apply(x, p), expected.flip({3})) < 1e-5);

  // 8x8 box to 4x4 output: bilinear with half-pixel centres averages 2x2 blocks.
  auto p2 = fixedParams(aug, 2, 12, 10, 4, 2, 8, 8, false);
  auto block = at::avg_pool2d(xf.narrow(2, 4, 8).narrow(3, 2, 8), {2, 2});
  CHECK(maxAbsDiff(aug.apply(x, p2), block) < 1e-5);

  // Upsampling a 2x2 box to 4x4 replicates the box edge (torchvision crops, then resizes).
  auto p3 = fixedParams(aug, 2, 12, 10, 0, 0, 2, 2, false);
  auto up = aug.apply(x, p3);
  CHECK_CLOSE(up[0][0][0][0].item<double>(), xf[0][0][0][0].item<double>(), 1e-6);
  CHECK_CLOSE(up[0][0][3][3].item<double>(), xf[0][0][1][1].item<double>(), 1e-6);
}

MSSL_TEST(augment_random_crop_boxes_valid) {
  AugmentConfig c;
  c.scaleMin = 0.2;
  BatchAugmenter aug(c, 9);
  auto p = aug.sample(2000, 28, 20);
  auto box = p.cropBox;
  auto top = box.select(1, 0), left = box.select(1, 1), h = box.select(1, 2), w = box.select(1, 3);
  CHECK(top.ge(0).all().item<bool>() && left.ge(0).all().item<bool>());
  CHECK((top + h).le(28).all().item<bool>() && (left + w).le(20).all().item<bool>());
  CHECK(h.ge(1).all().item<bool>() && w.ge(1).all().item<bool>());
  CHECK(at::equal(box, at::round(box)));  // integer pixel boxes
  auto area = h * w / (28.0 * 20);
  CHECK(area.max().item<double>() <= 1.0 + 1e-9);
  CHECK(area.min().item<double>() >= 0.2 * 0.8);  // rounding of w, h can shave a little
  // Fallback: ratio range that no box can satisfy on a 28x20 image -> centred full-height box.
  AugmentConfig f;
  f.scaleMin = 0.99;
  f.ratioMin = f.ratioMax = 4.0;
  BatchAugmenter fb(f, 1);
  auto q = fb.sample(3, 28, 20).cropBox;
  // in_ratio 20/28 < 4: w = 20, h = round(20/4) = 5, centred.
  CHECK_CLOSE(q[0][2].item<double>(), 5, 0);
  CHECK_CLOSE(q[0][3].item<double>(), 20, 0);
  CHECK_CLOSE(q[0][0].item<double>(), 11, 0);
  CHECK_CLOSE(q[0][1].item<double>(), 0, 0);
  // Flip frequency.
  double flips = p.flip.to(at::kDouble).mean().item<double>();
  CHECK(flips > 0.45 && flips < 0.55);
  double jit = p.jitter.to(at::kDouble).mean().item<double>();
  CHECK(jit > 0.75 && jit < 0.85);
  // Orders are permutations.
  CHECK(at::equal(std::get<0>(p.jitterOrder.sort(1)), at::arange(4, at::kLong).expand({2000, 4})));
}

MSSL_TEST(augment_multi_crop_local_views) {
  AugmentConfig c;
  c.outSize = 16;
  c.scaleMin = 0.4;
  c.localCrops = 3;
  c.localScaleMin = 0.05;
  c.localScaleMax = 0.3;
  c.blurP = 1.0;  // the blur kernel must fit the small views
  BatchAugmenter aug(c, 5);
  auto x = at::randint(0, 256, {4, 3, 20, 20}, at::kByte);
  auto views = aug.views(x, 2);
  CHECK(views.size() == 5);
  for (int i = 0; i < 2; ++i) CHECK(views[i].sizes() == at::IntArrayRef({4, 3, 16, 16}));
  // Auto local size: 3/7 of outSize (DINO's 96 of 224), rounded up.
  CHECK(c.effectiveLocalSize() == 7);
  for (int i = 2; i < 5; ++i) CHECK(views[i].sizes() == at::IntArrayRef({4, 3, 7, 7}));
  for (const auto& v : views) CHECK(at::isfinite(v).all().item<bool>());
  // Local boxes cover [localScaleMin, localScaleMax] of the area, global ones [scaleMin, 1].
  auto local = aug.sample(2000, 20, 20, /*local=*/true);
  auto area = local.cropBox.select(1, 2) * local.cropBox.select(1, 3) / 400.0;
  CHECK(area.max().item<double>() <= 0.3 * 1.25);
  CHECK(local.outSize == 7);
  auto global = aug.sample(2000, 20, 20);
  auto garea = global.cropBox.select(1, 2) * global.cropBox.select(1, 3) / 400.0;
  CHECK(garea.min().item<double>() >= 0.4 * 0.8);
  // The same seed gives the same views; without local crops views() is two calls of operator().
  BatchAugmenter again(c, 5);
  auto views2 = again.views(x, 2);
  for (size_t i = 0; i < views.size(); ++i) CHECK(at::equal(views[i], views2[i]));
  AugmentConfig g = c;
  g.localCrops = 0;
  BatchAugmenter a1(g, 8), a2(g, 8);
  auto two = a1.views(x, 2);
  CHECK(two.size() == 2 && at::equal(two[0], a2(x)) && at::equal(two[1], a2(x)));
  AugmentConfig bad = c;
  bad.localScaleMax = 1.5;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { bad.validate(3); }, "localScale"));
  bad = c;
  bad.localCrops = -1;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { bad.validate(3); }, "localCrops"));
}

MSSL_TEST(augment_colour_ops) {
  namespace ops = mssl::augment_ops;
  auto x = randomImages(4, 3, 8, 8, 3).to(at::kFloat) / 255;
  auto ones = at::ones({4});
  CHECK(maxAbsDiff(ops::adjustBrightness(x, ones), x) < 1e-6);
  CHECK(maxAbsDiff(ops::adjustContrast(x, ones), x) < 1e-6);
  CHECK(maxAbsDiff(ops::adjustSaturation(x, ones), x) < 1e-6);
  CHECK(maxAbsDiff(ops::adjustHue(x, at::zeros({4})), x) < 1e-5);
  // A full turn of hue twice by half is the identity.
  CHECK(maxAbsDiff(ops::adjustHue(ops::adjustHue(x, at::full({4}, 0.5)), at::full({4}, 0.5)), x) < 1e-5);
  // Pure red shifted by 1/3 is pure green; by -1/3 pure blue.
  auto red = at::zeros({2, 3, 1, 1});
  red.select(1, 0).fill_(1.0);
  auto shifted = ops::adjustHue(red, at::tensor({1.0 / 3, -1.0 / 3}, at::kFloat));
  CHECK(maxAbsDiff(shifted[0].flatten(), at::tensor({0.f, 1.f, 0.f})) < 1e-5);
  CHECK(maxAbsDiff(shifted[1].flatten(), at::tensor({0.f, 0.f, 1.f})) < 1e-5);
  // Orange (1, 0.5, 0) + 1/6 turn -> (0.5, 1, 0) yellow-green.
  auto orange = at::tensor({1.f, 0.5f, 0.f}).view({1, 3, 1, 1});
  CHECK(maxAbsDiff(ops::adjustHue(orange, at::full({1}, 1.0 / 6)).flatten(), at::tensor({0.5f, 1.f, 0.f})) < 1e-5);
  // Saturation 0 = grayscale; contrast 0 = the mean grey.
  auto gray = ops::grayscale(x);
  CHECK(maxAbsDiff(ops::adjustSaturation(x, at::zeros({4})), gray.expand_as(x)) < 1e-6);
  auto c0 = ops::adjustContrast(x, at::zeros({4}));
  CHECK(maxAbsDiff(c0, gray.mean({1, 2, 3}, true).expand_as(x)) < 1e-6);
  // Brightness scales and clamps.
  auto b2 = ops::adjustBrightness(x, at::full({4}, 2.0));
  CHECK(maxAbsDiff(b2, (x * 2).clamp(0, 1)) < 1e-6);
  // Blur: constant image stays constant (reflect padding), and mass is preserved in the interior.
  auto flat = at::full({2, 3, 9, 9}, 0.3);
  CHECK(maxAbsDiff(ops::gaussianBlur(flat, at::tensor({0.5f, 2.0f}), 5), flat) < 1e-6);
  auto impulse = at::zeros({1, 1, 9, 9});
  impulse[0][0][4][4] = 1.0;
  auto blurred = ops::gaussianBlur(impulse, at::tensor({1.0f}), 5);
  CHECK_CLOSE(blurred.sum().item<double>(), 1.0, 1e-5);
  // Separable Gaussian: centre weight = (1/sum_d exp(-d²/2))^2 for d = -2..2.
  double s = 0;
  for (int d = -2; d <= 2; ++d) s += std::exp(-0.5 * d * d);
  CHECK_CLOSE(blurred[0][0][4][4].item<double>(), 1.0 / (s * s), 1e-6);
  CHECK(blurred[0][0][4][3].item<double>() == blurred[0][0][3][4].item<double>());
}

MSSL_TEST(augment_pipeline_ops_fire) {
  auto x = randomImages(6, 3, 16, 16, 5);
  auto xf = x.to(at::kFloat) / 255;
  // Grayscale always: channels equal.
  auto c = plainConfig(16);
  c.grayscaleP = 1;
  auto g = BatchAugmenter(c, 0)(x);
  CHECK(maxAbsDiff(g.select(1, 0), g.select(1, 2)) < 1e-6);
  CHECK(maxAbsDiff(g.select(1, 0), mssl::augment_ops::grayscale(xf).squeeze(1)) < 1e-6);
  // Solarize always.
  c = plainConfig(16);
  c.solarizeP = 1;
  CHECK(maxAbsDiff(BatchAugmenter(c, 0)(x), at::where(xf >= 0.5, 1 - xf, xf)) < 1e-6);
  // Jitter always with zero-width ranges is the identity (factors 1, hue 0).
  c = plainConfig(16);
  c.jitterP = 1;
  c.brightness = c.contrast = c.saturation = c.hue = 0;
  CHECK(maxAbsDiff(BatchAugmenter(c, 0)(x), xf) < 1e-5);
  // Only brightness: output = clamp(f*x) with the sampled f.
  c.brightness = 0.5;
  BatchAugmenter bright(c, 3);
  auto p = bright.sample(6, 16, 16);
  auto f = p.jitterFactor.select(1, 0).view({-1, 1, 1, 1});
  CHECK(maxAbsDiff(bright.apply(x, p), (xf * f).clamp(0, 1)) < 1e-5);
  // Mixed batch: only the selected samples change.
  c = plainConfig(16);
  c.solarizeP = 1;
  BatchAugmenter sol(c, 0);
  auto q = sol.sample(6, 16, 16);
  q.solarize = at::tensor({1, 0, 1, 0, 0, 1}, at::kLong).to(at::kBool);
  auto out = sol.apply(x, q);
  CHECK(maxAbsDiff(out[1], xf[1]) < 1e-6);
  CHECK(maxAbsDiff(out[0], at::where(xf[0] >= 0.5, 1 - xf[0], xf[0])) < 1e-6);
}

MSSL_TEST(augment_single_channel) {
  AugmentConfig c;
  c.outSize = 28;
  c.scaleMin = 0.2;
  c.mean = {0.0};
  c.std = {1.0};
  c.grayscaleP = 1.0;  // skipped for 1 channel
  c.blurP = 0.5;
  BatchAugmenter aug(c, 2);
  auto x = randomImages(8, 1, 28, 28, 4);
  auto y = aug(x);
  CHECK((y.sizes() == at::IntArrayRef{8, 1, 28, 28}));
  CHECK(y.min().item<double>() >= 0 && y.max().item<double>() <= 1);
  // Saturation/hue are skipped, brightness applies.
  auto p = plainConfig(28);
  p.mean = {0};
  p.std = {1};
  p.jitterP = 1;
  p.brightness = 0;
  p.contrast = 0;
  p.saturation = 0.9;
  p.hue = 0.5;
  auto xf = x.to(at::kFloat) / 255;
  CHECK(maxAbsDiff(BatchAugmenter(p, 0)(x), xf) < 1e-5);
  // Default mean/std (0.5) for 1 channel.
  AugmentConfig d;
  d.outSize = 28;
  auto z = BatchAugmenter(d, 0)(x);
  CHECK(z.min().item<double>() >= -1 - 1e-6 && z.max().item<double>() <= 1 + 1e-6);
  // 3-channel mean on 1-channel data is an argument error.
  AugmentConfig bad;
  bad.mean = {0.4, 0.4, 0.4};
  BatchAugmenter b3(bad, 0);
  bool typed = false;
  try {
    b3(x);
  } catch (const std::invalid_argument& e) {
    typed = std::string(e.what()).find("mean") != std::string::npos;
  }
  CHECK(typed);
}

MSSL_TEST(augment_generator_state_round_trip) {
  auto x = randomImages(8, 3, 32, 32, 1);
  BatchAugmenter aug(AugmentConfig{}, 123);
  aug(x);
  auto state = aug.generatorState();
  CHECK(state.scalar_type() == at::kByte && state.dim() == 1);
  auto next1 = aug(x);
  auto next2 = aug(x);
  aug.setGeneratorState(state);
  CHECK(at::equal(aug(x), next1));
  // A fresh augmenter with another seed resumes the same stream from the state.
  BatchAugmenter other(AugmentConfig{}, 999);
  other.setGeneratorState(state);
  other(x);
  CHECK(at::equal(other(x), next2));
  // Changing the state tensor afterwards does not affect the generator.
  state.zero_();
  CHECK_THROWS(aug.setGeneratorState(at::zeros({3}, at::kFloat)));
  CHECK_THROWS(aug.setGeneratorState(at::zeros({3}, at::kByte)));
}

MSSL_TEST(augment_rejects_bad_inputs_and_config) {
  BatchAugmenter aug(AugmentConfig{}, 0);
  auto expectInvalid = [](auto fn, const char* needle) {
    try {
      fn();
    } catch (const std::invalid_argument& e) {
      if (std::string(e.what()).find(needle) == std::string::npos) throw ::mssl_test::Failure(std::string("message lacks '") + needle + "': " + e.what());
      return;
    }
    throw ::mssl_test::Failure(std::string("expected invalid_argument mentioning ") + needle);
  };
  auto expectRange = [](auto fn, const char* needle) {
    try {
      fn();
    } catch (const std::out_of_range& e) {
      if (std::string(e.what()).find(needle) == std::string::npos) throw ::mssl_test::Failure(std::string("message lacks '") + needle + "': " + e.what());
      return;
    }
    throw ::mssl_test::Failure(std::string("expected out_of_range mentioning ") + needle);
  };
  expectInvalid([&] { aug(at::zeros({2, 3, 8, 8}, at::kFloat)); }, "uint8");
  expectInvalid([&] { aug(at::zeros({3, 8, 8}, at::kByte)); }, "rank 4");
  expectInvalid([&] { aug(at::zeros({2, 2, 8, 8}, at::kByte)); }, "C = 1 or 3");
  auto cfg = [](auto edit) {
    AugmentConfig c;
    edit(c);
    return c;
  };
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.outSize = 0; }), 0); }, "outSize");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.flipP = 1.5; }), 0); }, "flipP");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.jitterP = -0.1; }), 0); }, "jitterP");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.grayscaleP = std::nan(""); }), 0); }, "grayscaleP");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.scaleMin = 0.9, c.scaleMax = 0.5; }), 0); }, "scale");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.scaleMin = 0; }), 0); }, "scale");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.scaleMax = 1.2; }), 0); }, "scale");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.ratioMin = 0; }), 0); }, "ratio");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.ratioMin = 2, c.ratioMax = 1; }), 0); }, "ratio");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.hue = 0.6; }), 0); }, "hue");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.brightness = -1; }), 0); }, "brightness");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.blurSigmaMin = 0; }), 0); }, "blurSigma");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.blurKernelSize = 4; }), 0); }, "blurKernelSize");
  expectRange([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.std = {0.5, 0, 0.5}; }), 0); }, "std");
  expectInvalid([&] { BatchAugmenter(cfg([](AugmentConfig& c) { c.mean = {0.5, 0.5}; }), 0); }, "mean");
  expectInvalid([&] { cfg([](AugmentConfig& c) { c.std = {0.5}; }).validate(3); }, "std");
}

// augment.perSample: a sample's views are a function of (seed, step, sample index, view) only.
MSSL_TEST(augment_per_sample_streams_do_not_depend_on_batch_position) {
  AugmentConfig cfg;
  cfg.outSize = 12;
  cfg.perSample = true;
  torch::manual_seed(4);
  torch::Tensor x = torch::randint(0, 256, {3, 3, 16, 16}, torch::kLong).to(torch::kByte);
  torch::Tensor keys = torch::tensor({5, 9, 2}, torch::kLong);
  BatchAugmenter a(cfg, 7), b(cfg, 7);
  auto va = a.views(x, 2, keys, 3);
  torch::Tensor perm = torch::tensor({2, 0, 1}, torch::kLong);
  auto vb = b.views(x.index_select(0, perm), 2, keys.index_select(0, perm), 3);
  for (int v = 0; v < 2; ++v) CHECK(va[v].index_select(0, perm).equal(vb[v]));
  // The two views of a sample differ, and so do the same view at another step.
  CHECK(!va[0].equal(va[1]));
  CHECK(!a.views(x, 2, keys, 4)[0].equal(va[0]));
  // The draws are uniform on [0, 1): mean and spread of many of them.
  torch::Tensor u = a.keyedDraws(torch::arange(4000, torch::kLong), 0, 0);
  CHECK(u.min().item<double>() >= 0 && u.max().item<double>() < 1);
  CHECK_CLOSE(u.mean().item<double>(), 0.5, 0.01);
  CHECK_CLOSE(u.var().item<double>(), 1.0 / 12, 0.005);
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { a.views(x, 2, torch::Tensor(), 0); }, "perSample"));
}
