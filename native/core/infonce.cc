#include "core/infonce.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "core/ntxent.h"

namespace mssl {

torch::Tensor infoNce(const torch::Tensor& q, const torch::Tensor& kPos, const InfoNceNegatives& negatives,
                      const torch::Tensor& queryIndex, bool inBatchNegatives, double temperature) {
  constexpr const char* fn = "infoNce";
  const double negInf = -std::numeric_limits<double>::infinity();
  losscheck::temperature(fn, temperature);
  losscheck::embeddings(fn, "q", q);
  losscheck::embeddings(fn, "kPos", kPos);
  losscheck::compatible(fn, "q", q, "kPos", kPos, true);
  if (!negatives.keys.defined() && !inBatchNegatives) {
    throw std::invalid_argument(std::string(fn) + ": no negatives: pass negatives.keys and/or set inBatchNegatives");
  }
  const int64_t n = q.size(0);
  if (queryIndex.defined()) losscheck::indexVector(fn, "queryIndex", queryIndex, n, q.device());

  torch::Tensor qn = l2Normalize(losscheck::computeDtype(q));
  torch::Tensor kn = l2Normalize(losscheck::computeDtype(kPos));
  std::vector<torch::Tensor> parts{(qn * kn).sum(1, /*keepdim=*/true) / temperature};

  if (inBatchNegatives) {
    // The diagonal is the positive, already in column 0.
    torch::Tensor mask = torch::eye(n, torch::TensorOptions().dtype(torch::kBool).device(q.device()));
    if (queryIndex.defined()) mask = mask.logical_or(queryIndex.unsqueeze(1).eq(queryIndex.unsqueeze(0)));
    parts.push_back((torch::matmul(qn, kn.t()) / temperature).masked_fill(mask, negInf));
  }

  if (negatives.keys.defined()) {
    // Zero-row keys are allowed (an empty queue), so no minRows.
    losscheck::embeddings(fn, "negatives.keys", negatives.keys, /*minRows=*/0);
    losscheck::compatible(fn, "q", q, "negatives.keys", negatives.keys, false);
    const int64_t k = negatives.keys.size(0);
    torch::Tensor mask;
    if (negatives.valid.defined()) {
      const auto& v = negatives.valid;
      if (v.scalar_type() != torch::kBool || v.dim() != 1 || v.size(0) != k || v.device() != q.device()) {
        throw std::invalid_argument(std::string(fn) + ": negatives.valid must be a bool tensor of shape [" +
                                    std::to_string(k) + "] on the device of q");
      }
      mask = v.logical_not().unsqueeze(0).expand({n, k});
    }
    if (negatives.sampleIndex.defined()) {
      losscheck::indexVector(fn, "negatives.sampleIndex", negatives.sampleIndex, k, q.device());
      if (queryIndex.defined()) {
        torch::Tensor same = queryIndex.unsqueeze(1).eq(negatives.sampleIndex.unsqueeze(0));
        mask = mask.defined() ? mask.logical_or(same) : same;
      }
    }
    // Queue keys are already unit length; normalising again is a no-op for them and makes the
    // contract ("normalised inside") hold for keys gathered from elsewhere.
    torch::Tensor negN = l2Normalize(losscheck::computeDtype(negatives.keys));
    torch::Tensor l = torch::matmul(qn, negN.t()) / temperature;
    if (mask.defined()) l = l.masked_fill(mask, negInf);
    parts.push_back(l);
  }

  torch::Tensor logits = torch::cat(parts, 1);
  return (torch::logsumexp(logits, {1}) - logits.select(1, 0)).mean();
}

}  // namespace mssl
