// Weighted kNN classifier on L2-normalised features (design §7): the evaluator of the MoCo
// CIFAR demo and lightly's benchmarks (k = 200, T = 0.1, cosine similarity).
#pragma once
#include <torch/torch.h>

namespace mssl {

struct KnnConfig {
  int64_t k = 200;
  double temperature = 0.1;
  int64_t numClasses = 0;   // 0: 1 + max label
  int64_t chunkSize = 1024; // test rows per similarity block (bounds memory at chunk × N_train)
  void validate() const;
};

struct KnnResult {
  double top1 = 0;  // accuracy in [0, 1]
  double top5 = 0;
  torch::Tensor predictions;  // int64 [N_test]
};

// trainFeatures [N,F] float, trainLabels [N] int64, testFeatures [M,F], testLabels [M] int64.
// Each test row votes with its k most similar train rows weighted by exp(sim / T).
KnnResult knnClassify(const torch::Tensor& trainFeatures, const torch::Tensor& trainLabels, const torch::Tensor& testFeatures,
                      const torch::Tensor& testLabels, const KnnConfig& cfg);

// Shared checks of the evaluators: features float [N,F] finite, labels int64 [N] in range.
void checkFeaturesAndLabels(const char* fn, const char* which, const torch::Tensor& features, const torch::Tensor& labels);
int64_t inferNumClasses(const torch::Tensor& trainLabels, const torch::Tensor& testLabels, int64_t given);

}  // namespace mssl
