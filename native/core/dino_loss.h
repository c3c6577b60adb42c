// DINO's loss (Caron et al., 2021, design §3.5): cross-entropy between the centred, sharpened
// teacher distribution of each global view and the student distribution of every other view.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace mssl {

// student: V views of logits [N,K] (global views first), teacher: G <= V global-view logits
// [N,K] (detached here, like the centre), center [K] or [1,K]. With P_t = softmax((t_i − c)/τ_t) and
// log P_s = log_softmax(s_j/τ_s):
//   loss = mean over pairs (i < G, j < V, j != i) of mean_n ( −Σ_k P_t[n,k] · log P_s[n,k] ).
torch::Tensor dinoLoss(const std::vector<torch::Tensor>& student, const std::vector<torch::Tensor>& teacher, const torch::Tensor& center,
                       double studentTemperature, double teacherTemperature);

// Teacher probabilities softmax((t − c)/τ_t) (what dinoLoss uses), for monitoring collapse.
torch::Tensor dinoTeacherProbs(const torch::Tensor& teacher, const torch::Tensor& center, double teacherTemperature);

}  // namespace mssl
