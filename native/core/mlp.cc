#include "core/mlp.h"

#include "core/sync_batch_norm.h"

#include <sstream>
#include <stdexcept>

namespace mssl {

namespace nn = torch::nn;

void MlpConfig::validate() const {
  auto need = [](const char* name, int64_t v) {
    if (v < 1) throw std::out_of_range(std::string(name) + " must be an integer >= 1; got " + std::to_string(v));
  };
  need("inDim", inDim);
  need("hiddenDim", hiddenDim);
  need("outDim", outDim);
  if (prototypes < 0) throw std::out_of_range("prototypes must be an integer >= 0 (0 = none); got " + std::to_string(prototypes));
}

MlpImpl::MlpImpl(const MlpConfig& c) : cfg_(c) {
  cfg_.validate();
  reset();
}

void MlpImpl::reset() {
  // Default PyTorch Linear/BN init (what torch.nn.Sequential heads in SimCLR/MoCo/BYOL use).
  fc1 = register_module("0", nn::Linear(nn::LinearOptions(cfg_.inDim, cfg_.hiddenDim)));
  bn1 = register_module("1", nn::BatchNorm1d(nn::BatchNorm1dOptions(cfg_.hiddenDim)));
  relu = register_module("2", nn::ReLU());
  fc2 = register_module("3", nn::Linear(nn::LinearOptions(cfg_.hiddenDim, cfg_.outDim).bias(!cfg_.lastBn)));
  bnOut = nullptr;
  if (cfg_.lastBn) bnOut = register_module("4", nn::BatchNorm1d(nn::BatchNorm1dOptions(cfg_.outDim).affine(false)));
  protos = nullptr;
  if (cfg_.prototypes > 0) protos = register_module("prototypes", nn::Linear(nn::LinearOptions(cfg_.outDim, cfg_.prototypes).bias(false)));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x, std::vector<torch::Tensor>* stageOut) {
  if (!x.defined() || x.dim() != 2 || x.size(1) != cfg_.inDim) {
    std::ostringstream os;
    os << "mlp input must be a 2-d tensor [B, " << cfg_.inDim << "]; got ";
    if (!x.defined()) os << "an undefined tensor";
    else os << x.sizes();
    throw std::invalid_argument(os.str());
  }
  if (is_training() && x.size(0) < 2) {
    throw std::invalid_argument("mlp input batch must have >= 2 rows in training mode (BatchNorm); got " +
                                std::to_string(x.size(0)));
  }
  auto h = relu->forward(batchNorm(bn1, fc1->forward(x)));
  if (stageOut) stageOut->push_back(h);
  h = fc2->forward(h);
  if (bnOut) h = batchNorm(bnOut, h);
  if (stageOut) stageOut->push_back(h);
  if (protos) {
    // Unit-length rows on both sides: the logits are cosines between bottleneck and prototypes.
    auto unit = [](const torch::Tensor& t) { return t / t.norm(2, 1, true).clamp_min(1e-12); };
    h = torch::nn::functional::linear(unit(h), unit(protos->weight));
    if (stageOut) stageOut->push_back(h);
  }
  return h;
}

}  // namespace mssl
