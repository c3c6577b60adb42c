// InfoNCE (MoCo): one positive key per query against in-batch and/or queued negatives.
#pragma once
#include <torch/torch.h>

namespace mssl {

// Negatives from outside the batch (the queue, or keys gathered from other ranks).
struct InfoNceNegatives {
  torch::Tensor keys;         // [K,D] or undefined (none)
  torch::Tensor valid;        // [K] bool or undefined = all valid
  torch::Tensor sampleIndex;  // [K] int64 or undefined = never matches a query
};

// q, kPos [N,D] (normalised inside; the caller detaches kPos). Logits per query i:
// [q_i·k+_i, q_i·k_j (j != i, if inBatchNegatives), q_i·keys]/τ, positive at index 0; mean over N.
// Masked (-inf before logsumexp, never filled): invalid queue slots, and negatives whose sample
// index equals queryIndex[i] (queue keys by sampleIndex; in-batch keys by queryIndex[j]).
torch::Tensor infoNce(const torch::Tensor& q, const torch::Tensor& kPos, const InfoNceNegatives& negatives,
                      const torch::Tensor& queryIndex, bool inBatchNegatives, double temperature);

}  // namespace mssl
