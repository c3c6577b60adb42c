#include "core/resnet.h"

#include "core/sync_batch_norm.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace mssl {

namespace nn = torch::nn;

namespace {

nn::Conv2d makeConv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  nn::Conv2d c(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
  // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") for every conv.
  torch::NoGradGuard ng;
  nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  return c;
}

nn::BatchNorm2d makeBn(int64_t ch, bool zeroGamma = false) {
  nn::BatchNorm2d b{nn::BatchNorm2dOptions(ch)};  // weight 1, bias 0 by default, as torchvision
  if (zeroGamma) {
    torch::NoGradGuard ng;
    b->weight.zero_();
  }
  return b;
}

nn::Sequential makeDownsample(int64_t in, int64_t out, int64_t stride) {
  // Registered as "downsample" with children "0" (1x1 conv) and "1" (BN), as torchvision.
  return nn::Sequential(makeConv(in, out, 1, stride, 0), makeBn(out));
}

// The downsample's conv and BN called one by one, so its BN goes through batchNorm() (SyncBN).
torch::Tensor runDownsample(nn::Sequential& d, const torch::Tensor& x) {
  auto bn = nn::BatchNorm2d(std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(d->ptr(1)));
  return batchNorm(bn, std::dynamic_pointer_cast<nn::Conv2dImpl>(d->ptr(0))->forward(x));
}

}  // namespace

// ---------------------------------------------------------------------------------- config

void ResNetConfig::validate() const {
  if (depth != 18 && depth != 34 && depth != 50) {
    throw std::out_of_range("depth must be one of 18, 34, 50; got " + std::to_string(depth));
  }
  if (stem != "cifar" && stem != "imagenet") {
    throw std::invalid_argument("stem must be 'cifar' or 'imagenet'; got '" + stem + "'");
  }
  if (inChannels != 1 && inChannels != 3) {
    throw std::out_of_range("inChannels must be 1 or 3; got " + std::to_string(inChannels));
  }
  // reliability #13: an upper bound too — width 1e300 used to overflow into a "zero-width stage".
  constexpr double kMaxWidth = 8;  // 8x the channels of the paper's ResNets: wider is no longer a ResNet-18/50
  if (!std::isfinite(width) || width <= 0 || width > kMaxWidth) {
    std::ostringstream os;
    os << "width must be a finite number in (0, " << kMaxWidth << "]; got " << width;
    throw std::out_of_range(os.str());
  }
  for (int64_t base : {64, 128, 256, 512}) {
    if (std::llround(base * width) < 1) {
      std::ostringstream os;
      os << "width " << width << " gives a zero-width stage (round(" << base << " * width) = 0); "
         << "width must be >= " << 0.5 / 64;
      throw std::out_of_range(os.str());
    }
  }
}

std::vector<int64_t> ResNetConfig::stageWidths() const {
  std::vector<int64_t> w;
  for (int64_t base : {64, 128, 256, 512}) w.push_back(static_cast<int64_t>(std::llround(base * width)));
  return w;
}

// ------------------------------------------------------------------------------------ stem

StemImpl::StemImpl(const ResNetConfig& cfg, nn::Conv2d c1, nn::BatchNorm2d b1)
    : conv1(std::move(c1)), bn1(std::move(b1)), cfg_(cfg) {
  // Shares the given modules (the ResNet's own conv1/bn1); no reset() here on purpose.
  register_module("conv1", conv1);
  register_module("bn1", bn1);
}

void StemImpl::reset() {
  // Only reached through clone(): a cloned stem part owns fresh modules, then Cloneable copies
  // the values in.
  const bool imagenet = cfg_.stem == "imagenet";
  const int64_t w0 = cfg_.stageWidths()[0];
  conv1 = register_module("conv1", makeConv(cfg_.inChannels, w0, imagenet ? 7 : 3, imagenet ? 2 : 1,
                                            imagenet ? 3 : 1));
  bn1 = register_module("bn1", makeBn(w0));
}

torch::Tensor StemImpl::forward(const torch::Tensor& x) {
  auto y = torch::relu(batchNorm(bn1, conv1->forward(x)));
  if (cfg_.stem == "imagenet") y = torch::max_pool2d(y, /*kernel_size=*/{3, 3}, /*stride=*/{2, 2}, /*padding=*/{1, 1});
  return y;
}

// ---------------------------------------------------------------------------------- blocks

BasicBlockImpl::BasicBlockImpl(int64_t inPlanes, int64_t planes, int64_t stride, bool zeroInitResidual)
    : inPlanes_(inPlanes), planes_(planes), stride_(stride), zeroInit_(zeroInitResidual) {
  reset();
}

void BasicBlockImpl::reset() {
  // Registration order = torchvision's, so state_dict key order matches too.
  conv1 = register_module("conv1", makeConv(inPlanes_, planes_, 3, stride_, 1));
  bn1 = register_module("bn1", makeBn(planes_));
  conv2 = register_module("conv2", makeConv(planes_, planes_, 3, 1, 1));
  bn2 = register_module("bn2", makeBn(planes_, zeroInit_));
  downsample = nullptr;
  if (stride_ != 1 || inPlanes_ != planes_ * kExpansion) {
    downsample = register_module("downsample", makeDownsample(inPlanes_, planes_ * kExpansion, stride_));
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  auto out = torch::relu(batchNorm(bn1, conv1->forward(x)));
  out = batchNorm(bn2, conv2->forward(out));
  auto identity = downsample ? runDownsample(downsample, x) : x;
  return torch::relu(out + identity);
}

BottleneckImpl::BottleneckImpl(int64_t inPlanes, int64_t planes, int64_t stride, bool zeroInitResidual)
    : inPlanes_(inPlanes), planes_(planes), stride_(stride), zeroInit_(zeroInitResidual) {
  reset();
}

void BottleneckImpl::reset() {
  // torchvision v1.5: the stride sits on the 3x3 conv.
  conv1 = register_module("conv1", makeConv(inPlanes_, planes_, 1, 1, 0));
  bn1 = register_module("bn1", makeBn(planes_));
  conv2 = register_module("conv2", makeConv(planes_, planes_, 3, stride_, 1));
  bn2 = register_module("bn2", makeBn(planes_));
  conv3 = register_module("conv3", makeConv(planes_, planes_ * kExpansion, 1, 1, 0));
  bn3 = register_module("bn3", makeBn(planes_ * kExpansion, zeroInit_));
  downsample = nullptr;
  if (stride_ != 1 || inPlanes_ != planes_ * kExpansion) {
    downsample = register_module("downsample", makeDownsample(inPlanes_, planes_ * kExpansion, stride_));
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto out = torch::relu(batchNorm(bn1, conv1->forward(x)));
  out = torch::relu(batchNorm(bn2, conv2->forward(out)));
  out = batchNorm(bn3, conv3->forward(out));
  auto identity = downsample ? runDownsample(downsample, x) : x;
  return torch::relu(out + identity);
}

// ---------------------------------------------------------------------------------- resnet

ResNetImpl::ResNetImpl(const ResNetConfig& cfg) : cfg_(cfg) {
  cfg_.validate();
  reset();
}

void ResNetImpl::reset() {
  const bool imagenet = cfg_.stem == "imagenet";
  const auto widths = cfg_.stageWidths();
  conv1 = register_module("conv1", makeConv(cfg_.inChannels, widths[0], imagenet ? 7 : 3, imagenet ? 2 : 1,
                                            imagenet ? 3 : 1));
  bn1 = register_module("bn1", makeBn(widths[0]));
  stem_ = Stem(cfg_, conv1, bn1);  // a view, deliberately not registered

  static const int kBlocks18[] = {2, 2, 2, 2}, kBlocks34[] = {3, 4, 6, 3};
  const int* blocks = cfg_.depth == 18 ? kBlocks18 : kBlocks34;  // 50 uses 3-4-6-3 too
  const int64_t exp = cfg_.expansion();
  int64_t inPlanes = widths[0];
  nn::Sequential* layers[] = {&layer1, &layer2, &layer3, &layer4};
  for (int s = 0; s < 4; ++s) {
    nn::Sequential layer;
    for (int b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      if (cfg_.depth == 50) {
        layer->push_back(Bottleneck(inPlanes, widths[s], stride, cfg_.zeroInitResidual));
      } else {
        layer->push_back(BasicBlock(inPlanes, widths[s], stride, cfg_.zeroInitResidual));
      }
      inPlanes = widths[s] * exp;
    }
    *layers[s] = register_module("layer" + std::to_string(s + 1), layer);
  }
}

const std::vector<std::string>& ResNetImpl::partNames() {
  static const std::vector<std::string> names{"stem", "layer1", "layer2", "layer3", "layer4"};
  return names;
}

void ResNetImpl::checkPart(int part) const {
  if (part < 0 || part >= kNumParts) {
    throw std::out_of_range("part must be an integer in 0..4 (stem, layer1..layer4); got " +
                            std::to_string(part));
  }
}

int64_t ResNetImpl::partInChannels(int part) const {
  checkPart(part);
  if (part == 0) return cfg_.inChannels;
  const auto w = cfg_.stageWidths();
  return part == 1 ? w[0] : w[part - 2] * cfg_.expansion();
}

int64_t ResNetImpl::partOutChannels(int part) const {
  checkPart(part);
  const auto w = cfg_.stageWidths();
  return part == 0 ? w[0] : w[part - 1] * cfg_.expansion();
}

int64_t ResNetImpl::featureDim() const { return cfg_.stageWidths()[3] * cfg_.expansion(); }

torch::Tensor ResNetImpl::forwardPart(int part, const torch::Tensor& x) {
  checkPart(part);
  const int64_t c = partInChannels(part);
  if (!x.defined() || x.dim() != 4 || x.size(1) != c) {
    std::ostringstream os;
    os << "input of part '" << partNames()[part] << "' must be a 4-d tensor [B, " << c << ", H, W]; got ";
    if (!x.defined()) os << "an undefined tensor";
    else os << x.sizes();
    throw std::invalid_argument(os.str());
  }
  switch (part) {
    case 0: return stem_->forward(x);
    case 1: return layer1->forward(x);
    case 2: return layer2->forward(x);
    case 3: return layer3->forward(x);
    default: return layer4->forward(x);
  }
}

torch::Tensor ResNetImpl::forwardPartBlocks(int part, const torch::Tensor& x, std::vector<torch::Tensor>& blockOut) {
  if (part == 0) {
    blockOut.push_back(forwardPart(0, x));
    return blockOut.back();
  }
  auto layer = std::dynamic_pointer_cast<nn::SequentialImpl>(partModule(part));
  if (!x.defined() || x.dim() != 4 || x.size(1) != partInChannels(part)) return forwardPart(part, x);  // throws its message
  torch::Tensor h = x;
  for (auto& block : *layer) {
    h = block.forward(h);
    blockOut.push_back(h);
  }
  return h;
}

int ResNetImpl::numBlocks(int part) const {
  checkPart(part);
  const nn::Sequential* layers[] = {&layer1, &layer2, &layer3, &layer4};
  return part == 0 ? 1 : static_cast<int>((*layers[part - 1])->size());
}

torch::Tensor ResNetImpl::pool(const torch::Tensor& featureMap) {
  if (!featureMap.defined() || featureMap.dim() != 4) {
    throw std::invalid_argument("pool: featureMap must be a 4-d tensor [B, C, H, W]");
  }
  // Same op as torchvision's avgpool + flatten, so values match it bit for bit.
  return torch::adaptive_avg_pool2d(featureMap, {1, 1}).flatten(1);
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  auto h = x;
  for (int p = 0; p < kNumParts; ++p) h = forwardPart(p, h);
  return pool(h);
}

std::shared_ptr<nn::Module> ResNetImpl::partModule(int part) {
  checkPart(part);
  switch (part) {
    case 0: return stem_.ptr();
    case 1: return layer1.ptr();
    case 2: return layer2.ptr();
    case 3: return layer3.ptr();
    default: return layer4.ptr();
  }
}

std::vector<torch::Tensor> ResNetImpl::partParameters(int part) { return partModule(part)->parameters(); }

// ------------------------------------------------------------------------- memory format

void setConvMemoryFormat(nn::Module& m, c10::MemoryFormat format) {
  torch::NoGradGuard ng;
  // The canonical strides of `format`, not merely is_contiguous(format): a 1×1 conv weight
  // [O, I, 1, 1] is "contiguous" in both formats, and left with NCHW strides beside NHWC inputs
  // its backward came out 1e-3 off (fp64 reference) where canonical NHWC strides match to 1e-5,
  // as Python's module.to(memory_format=...) does.
  auto canonical = [format](const torch::Tensor& t) {
    return at::empty(t.sizes(), t.options().memory_format(format)).copy_(t);
  };
  auto convert = [&](torch::Tensor& t) {
    if (!t.defined() || t.dim() != 4) return;
    if (t.strides() == at::empty(t.sizes(), t.options().memory_format(format)).strides()) return;
    t.set_data(canonical(t));
    if (t.grad().defined()) t.mutable_grad() = canonical(t.grad());
  };
  for (auto& p : m.parameters()) convert(p);
  for (auto& b : m.buffers()) convert(b);
}

torch::Tensor inConvFormat(const torch::Tensor& x, bool channelsLast) {
  if (!channelsLast || !x.defined() || x.dim() != 4) return x;
  return x.contiguous(c10::MemoryFormat::ChannelsLast);
}

}  // namespace mssl
