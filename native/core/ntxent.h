// NT-Xent (SimCLR) and the helpers every contrastive loss shares: fp16-safe L2 normalisation and
// argument checks that throw std::invalid_argument (type/shape) or std::out_of_range (value).
#pragma once
#include <torch/torch.h>

#include <string>

namespace mssl {

// Rows (last dim) scaled to unit L2 norm. The norm is clamped at 1e-6 and, for fp16/bf16 inputs,
// computed in fp32: a half-precision sum of squares underflows/overflows long before 1e-6.
torch::Tensor l2Normalize(const torch::Tensor& x);

// General NT-Xent over a candidate set (negatives may be gathered from all ranks, design §9).
// anchors [M,D], candidates [C,D], positiveIndex [M] int64 in [0,C), selfIndex [M] int64 in
// [-1,C) (the anchor's own row in candidates, excluded from the denominator; -1 or an undefined
// tensor = none). loss = mean_i (logsumexp_j l_ij - l_i,pos(i)), l = cos/τ.
torch::Tensor ntXent(const torch::Tensor& anchors, const torch::Tensor& candidates, const torch::Tensor& positiveIndex,
                     const torch::Tensor& selfIndex, double temperature);

// SimCLR: the set [a; b] of 2N embeddings; a_i, b_i positives; mean over the 2N anchors.
torch::Tensor ntXentPair(const torch::Tensor& a, const torch::Tensor& b, double temperature);

// ntXentPair with the candidates gathered from every rank (design §9): a, b [n, D] are this rank's
// rows, allA, allB [N, D] every rank's in rank order, this rank's rows at [offset, offset + n).
// Anchors are the local [a; b], candidates [allA; allB]; the mean over local anchors, so the mean
// over ranks equals ntXentPair(allA, allB). Gradient reaches allA/allB as far as they carry it.
torch::Tensor ntXentPairGathered(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& allA, const torch::Tensor& allB,
                                 int64_t offset, double temperature);

// Momentum SimCLR (design §3): 0.5 * (ntXentPair(z2, k1) + ntXentPair(z1, k2)), keys detached.
torch::Tensor momentumNtXent(const torch::Tensor& z1, const torch::Tensor& z2, const torch::Tensor& k1,
                             const torch::Tensor& k2, double temperature);

namespace losscheck {
// `fn` and `arg` name the call and the argument in the message.
// Smallest temperature accepted: logits cos/τ reach 1/τ, and their gradients 1/τ² stay well
// inside float32 (reliability #13; 1e-300 used to return a NaN loss).
constexpr double kMinTemperature = 1e-4;
void temperature(const char* fn, double tau);
// Defined, 2-D [rows, D] (rows >= minRows), floating point, and (unless !finite) all finite.
void embeddings(const char* fn, const char* arg, const torch::Tensor& x, int64_t minRows = 1, bool finite = true);
// y has the dtype, device and feature dim of x (and rows when sameRows).
void compatible(const char* fn, const char* xArg, const torch::Tensor& x, const char* yArg, const torch::Tensor& y,
                bool sameRows);
// 1-D int64 of length n on x's device.
void indexVector(const char* fn, const char* arg, const torch::Tensor& idx, int64_t n, const torch::Device& device);
// Half/bfloat16 are computed in float32 (logits/τ at τ=0.05 would lose most digits in fp16).
torch::Tensor computeDtype(const torch::Tensor& x);
}  // namespace losscheck

}  // namespace mssl
