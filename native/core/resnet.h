// ResNet-18/34/50 backbones (design §1) whose parameter/buffer names equal torchvision's resnet
// state_dict keys without fc.*, split into named parts stem, layer1..layer4 for partial EMA.
//
// Stem design: conv1 and bn1 are registered directly on the ResNet (so the keys read conv1.*,
// bn1.* as in torchvision). The stem part is a StemImpl that holds the *same* conv1/bn1 module
// objects (plus relu and, for the imagenet stem, the max-pool) but is deliberately NOT registered
// as a child of the ResNet: registering it would list every stem parameter twice (conv1.weight
// and stem.conv1.weight). partModule(0) returns that StemImpl; its own named_parameters() read
// conv1.weight, bn1.weight, ... (the same relative names as at the ResNet's top level).
// ResNet clone() rebuilds a new stem around the copy's new conv1/bn1 objects, which Cloneable
// then fills in place, so a cloned ResNet's stem part is independent of the original's.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mssl {

struct ResNetConfig {
  int depth = 18;                  // 18, 34 (BasicBlock) or 50 (Bottleneck)
  std::string stem = "cifar";      // "cifar": 3x3 s1, no pool; "imagenet": 7x7 s2 + 3x3 max-pool s2
  int64_t inChannels = 3;          // 1 or 3
  double width = 1.0;              // stage widths round(64w), round(128w), round(256w), round(512w)
  bool zeroInitResidual = false;   // zero the last BN gamma of each residual branch
  // Throws std::out_of_range (depth, inChannels, width) or std::invalid_argument (stem).
  void validate() const;
  // Widths of layer1..layer4 (the stem has the layer1 width). Valid only after validate().
  std::vector<int64_t> stageWidths() const;
  int expansion() const { return depth == 50 ? 4 : 1; }
};

// conv1 → bn1 → relu [→ maxpool]. Holds the ResNet's own conv1/bn1 (see the header comment).
class StemImpl : public torch::nn::Cloneable<StemImpl> {
 public:
  StemImpl(const ResNetConfig& cfg, torch::nn::Conv2d conv1, torch::nn::BatchNorm2d bn1);
  // Builds fresh conv1/bn1 (a standalone clone of a stem part owns its modules).
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};

 private:
  ResNetConfig cfg_;
};
TORCH_MODULE(Stem);

class BasicBlockImpl : public torch::nn::Cloneable<BasicBlockImpl> {
 public:
  static constexpr int kExpansion = 1;
  BasicBlockImpl(int64_t inPlanes, int64_t planes, int64_t stride, bool zeroInitResidual);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t inPlanes_, planes_, stride_;
  bool zeroInit_;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  // "downsample.0" conv1x1, "downsample.1" BN
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public torch::nn::Cloneable<BottleneckImpl> {
 public:
  static constexpr int kExpansion = 4;
  BottleneckImpl(int64_t inPlanes, int64_t planes, int64_t stride, bool zeroInitResidual);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t inPlanes_, planes_, stride_;
  bool zeroInit_;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public torch::nn::Cloneable<ResNetImpl> {
 public:
  explicit ResNetImpl(const ResNetConfig& cfg);
  void reset() override;

  static const std::vector<std::string>& partNames();  // {"stem","layer1","layer2","layer3","layer4"}
  static constexpr int kNumParts = 5;
  // Runs part `part` (0..4) on x; part 4 (layer4) returns the feature map (not pooled).
  torch::Tensor forwardPart(int part, const torch::Tensor& x);
  // forwardPart that also appends each block's output to `blockOut` (the stem is one block,
  // layerN its residual blocks): the per-block gradient monitor hooks them (design §5).
  torch::Tensor forwardPartBlocks(int part, const torch::Tensor& x, std::vector<torch::Tensor>& blockOut);
  // Blocks of a part: 1 for the stem, the depth's residual block count for layer1..layer4.
  int numBlocks(int part) const;
  // Global average pool + flatten: [B, C, H, W] -> [B, featureDim].
  torch::Tensor pool(const torch::Tensor& featureMap);
  // All parts, then pool.
  torch::Tensor forward(const torch::Tensor& x);
  // The module holding the part's parameters: Stem for 0 (not a registered child, see above),
  // the Sequential layerN for 1..4.
  std::shared_ptr<torch::nn::Module> partModule(int part);
  std::vector<torch::Tensor> partParameters(int part);
  // Number of channels the part expects as input (inChannels for the stem).
  int64_t partInChannels(int part) const;
  int64_t partOutChannels(int part) const;
  int64_t featureDim() const;
  const ResNetConfig& config() const { return cfg_; }

 private:
  void checkPart(int part) const;
  ResNetConfig cfg_;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  Stem stem_{nullptr};  // not registered: view of conv1/bn1
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
};
TORCH_MODULE(ResNet);

// Stores every 4-D parameter and buffer of `m` (the convolution weights) in `format`
// (ChannelsLast = NHWC, Contiguous = NCHW) in place: Tensor::set_data keeps the tensor objects,
// so optimizers, hooks and parameter lists stay valid; defined gradients follow. Values are
// unchanged. LibTorch 1.13 C++ modules have no `.to(memory_format)`.
void setConvMemoryFormat(torch::nn::Module& m, c10::MemoryFormat format);
// `x` in the format the model's convolutions use (NHWC when channelsLast and x is 4-D).
torch::Tensor inConvFormat(const torch::Tensor& x, bool channelsLast);

}  // namespace mssl
