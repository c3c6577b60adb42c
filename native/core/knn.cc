#include "core/knn.h"

#include <algorithm>
#include <stdexcept>

namespace mssl {

void KnnConfig::validate() const {
  if (k < 1) throw std::out_of_range("knn: k must be >= 1, got " + std::to_string(k));
  if (!(temperature > 0) || !std::isfinite(temperature)) throw std::out_of_range("knn: temperature must be a finite number > 0");
  if (numClasses < 0) throw std::out_of_range("knn: numClasses must be >= 0 (0 = infer)");
  if (chunkSize < 1) throw std::out_of_range("knn: chunkSize must be >= 1");
}

void checkFeaturesAndLabels(const char* fn, const char* which, const torch::Tensor& features, const torch::Tensor& labels) {
  const std::string f = std::string(fn) + ": " + which;
  if (!features.defined() || !features.is_floating_point() || features.dim() != 2) {
    throw std::invalid_argument(f + "Features must be a float tensor [N,F]");
  }
  if (!labels.defined() || labels.scalar_type() != torch::kLong || labels.dim() != 1 || labels.size(0) != features.size(0)) {
    throw std::invalid_argument(f + "Labels must be an int64 tensor [N] matching " + which + "Features");
  }
  if (features.size(0) < 1) throw std::out_of_range(f + "Features must have at least one row");
  if (!torch::isfinite(features).all().item<bool>()) throw std::invalid_argument(f + "Features contain NaN or Inf");
  if (labels.min().item<int64_t>() < 0) throw std::out_of_range(f + "Labels must be >= 0");
}

int64_t inferNumClasses(const torch::Tensor& trainLabels, const torch::Tensor& testLabels, int64_t given) {
  int64_t maxLabel = std::max(trainLabels.max().item<int64_t>(), testLabels.max().item<int64_t>());
  if (given == 0) return maxLabel + 1;
  if (maxLabel >= given) throw std::out_of_range("numClasses is " + std::to_string(given) + " but a label is " + std::to_string(maxLabel));
  return given;
}

KnnResult knnClassify(const torch::Tensor& trainFeatures, const torch::Tensor& trainLabels, const torch::Tensor& testFeatures,
                      const torch::Tensor& testLabels, const KnnConfig& cfg) {
  cfg.validate();
  checkFeaturesAndLabels("knn", "train", trainFeatures, trainLabels);
  checkFeaturesAndLabels("knn", "test", testFeatures, testLabels);
  if (trainFeatures.size(1) != testFeatures.size(1)) throw std::invalid_argument("knn: train and test features differ in width");
  torch::NoGradGuard noGrad;
  const int64_t numClasses = inferNumClasses(trainLabels, testLabels, cfg.numClasses);
  const int64_t k = std::min<int64_t>(cfg.k, trainFeatures.size(0));
  auto norm = [](const torch::Tensor& x) { return x.to(torch::kFloat) / x.to(torch::kFloat).norm(2, 1, true).clamp_min(1e-12); };
  torch::Tensor train = norm(trainFeatures);
  torch::Tensor test = norm(testFeatures);
  const int64_t m = test.size(0);
  torch::Tensor predictions = torch::empty({m}, torch::kLong);
  int64_t correct1 = 0, correct5 = 0;
  for (int64_t start = 0; start < m; start += cfg.chunkSize) {
    const int64_t end = std::min(m, start + cfg.chunkSize);
    torch::Tensor sim = test.slice(0, start, end).matmul(train.t());
    auto [topSim, topIdx] = sim.topk(k, 1);
    torch::Tensor weights = (topSim / cfg.temperature).exp();
    torch::Tensor votes = torch::zeros({end - start, numClasses}, torch::kFloat);
    votes.scatter_add_(1, trainLabels.index_select(0, topIdx.reshape(-1)).reshape(topIdx.sizes()), weights);
    torch::Tensor ranked = votes.argsort(1, /*descending=*/true);
    torch::Tensor truth = testLabels.slice(0, start, end).unsqueeze(1);
    torch::Tensor hits = ranked.slice(1, 0, std::min<int64_t>(5, numClasses)).eq(truth);
    correct1 += hits.select(1, 0).sum().item<int64_t>();
    correct5 += hits.any(1).sum().item<int64_t>();
    predictions.slice(0, start, end).copy_(ranked.select(1, 0));
  }
  return {static_cast<double>(correct1) / m, static_cast<double>(correct5) / m, predictions};
}

}  // namespace mssl
