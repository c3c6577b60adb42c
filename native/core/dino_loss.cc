#include "core/dino_loss.h"

#include <stdexcept>
#include <string>

#include "core/ntxent.h"

namespace mssl {

torch::Tensor dinoTeacherProbs(const torch::Tensor& teacher, const torch::Tensor& center, double teacherTemperature) {
  // The teacher is a target: no gradient flows into it or the centre.
  torch::Tensor t = losscheck::computeDtype(teacher.detach());
  return torch::softmax((t - center.detach().reshape({1, -1}).to(t.scalar_type())) / teacherTemperature, 1);
}

torch::Tensor dinoLoss(const std::vector<torch::Tensor>& student, const std::vector<torch::Tensor>& teacher, const torch::Tensor& center,
                       double studentTemperature, double teacherTemperature) {
  constexpr const char* fn = "dinoLoss";
  losscheck::temperature(fn, studentTemperature);
  losscheck::temperature(fn, teacherTemperature);
  if (teacher.empty() || student.size() < 2) throw std::invalid_argument("dinoLoss: needs >= 1 teacher view and >= 2 student views");
  if (teacher.size() > student.size()) throw std::invalid_argument("dinoLoss: more teacher views than student views");
  for (size_t j = 0; j < student.size(); ++j) losscheck::embeddings(fn, "student", student[j]);
  for (size_t i = 0; i < teacher.size(); ++i) {
    losscheck::embeddings(fn, "teacher", teacher[i]);
    losscheck::compatible(fn, "student", student[0], "teacher", teacher[i], true);
  }
  const int64_t k = student[0].size(1);
  if (!center.defined() || center.numel() != k) {
    throw std::invalid_argument("dinoLoss: center must have " + std::to_string(k) + " elements (one per prototype)");
  }
  std::vector<torch::Tensor> logStudent;
  for (const auto& s : student) logStudent.push_back(torch::log_softmax(losscheck::computeDtype(s) / studentTemperature, 1));
  torch::Tensor total;
  int64_t terms = 0;
  for (size_t i = 0; i < teacher.size(); ++i) {
    torch::Tensor pt = dinoTeacherProbs(teacher[i], center, teacherTemperature);
    for (size_t j = 0; j < student.size(); ++j) {
      if (j == i) continue;  // a view is never its own target
      torch::Tensor term = -(pt * logStudent[j]).sum(1).mean();
      total = total.defined() ? total + term : term;
      ++terms;
    }
  }
  return total / static_cast<double>(terms);
}

}  // namespace mssl
