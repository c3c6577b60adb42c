#include "core/linear_probe.h"

#include <stdexcept>

#include "core/knn.h"

namespace mssl {

void LinearProbeConfig::validate() const {
  if (maxIterations < 1) throw std::out_of_range("linearProbe: maxIterations must be >= 1");
  if (!(weightDecay >= 0) || !std::isfinite(weightDecay)) throw std::out_of_range("linearProbe: weightDecay must be a finite number >= 0");
  if (numClasses < 0) throw std::out_of_range("linearProbe: numClasses must be >= 0 (0 = infer)");
}

LinearProbeResult linearProbe(const torch::Tensor& trainFeatures, const torch::Tensor& trainLabels, const torch::Tensor& testFeatures,
                              const torch::Tensor& testLabels, const LinearProbeConfig& cfg) {
  cfg.validate();
  checkFeaturesAndLabels("linearProbe", "train", trainFeatures, trainLabels);
  checkFeaturesAndLabels("linearProbe", "test", testFeatures, testLabels);
  if (trainFeatures.size(1) != testFeatures.size(1)) throw std::invalid_argument("linearProbe: train and test features differ in width");
  const int64_t numClasses = inferNumClasses(trainLabels, testLabels, cfg.numClasses);
  torch::Tensor xTrain = trainFeatures.to(torch::kFloat);
  torch::Tensor xTest = testFeatures.to(torch::kFloat);
  if (cfg.standardize) {
    torch::Tensor mean = xTrain.mean(0, true);
    torch::Tensor std = xTrain.std(0, /*unbiased=*/false, true).clamp_min(1e-6);
    xTrain = (xTrain - mean) / std;
    xTest = (xTest - mean) / std;
  }
  const int64_t f = xTrain.size(1);
  torch::Tensor w = torch::zeros({f, numClasses}, torch::TensorOptions().dtype(torch::kFloat).requires_grad(true));
  torch::Tensor b = torch::zeros({numClasses}, torch::TensorOptions().dtype(torch::kFloat).requires_grad(true));
  torch::optim::LBFGS opt({w, b}, torch::optim::LBFGSOptions(1.0).max_iter(cfg.maxIterations).history_size(20).line_search_fn("strong_wolfe"));
  int64_t evals = 0;
  double lastLoss = 0;
  auto closure = [&]() -> torch::Tensor {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(xTrain.matmul(w) + b, trainLabels) + 0.5 * cfg.weightDecay * w.pow(2).sum();
    loss.backward();
    ++evals;
    lastLoss = loss.item<double>();
    return loss;
  };
  opt.step(closure);
  torch::NoGradGuard noGrad;
  auto accuracy = [&](const torch::Tensor& x, const torch::Tensor& y) {
    return (x.matmul(w) + b).argmax(1).eq(y).to(torch::kDouble).mean().item<double>();
  };
  return {accuracy(xTrain, trainLabels), accuracy(xTest, testLabels), lastLoss, evals};
}

}  // namespace mssl
