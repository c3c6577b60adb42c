// The divergence guard: before an optimizer step, the loss, every gradient and every parameter and
// buffer must be finite. A non-finite value stops training with an error that names the step, the
// learning rate and the first offending tensor, before the poisoned update reaches any weight.
// The header stays light (forward declarations) so errors.cc can map DivergedError cheaply.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace at {
class Tensor;
}
namespace torch::nn {
class Module;
}

namespace mssl {

// Training produced a non-finite value; the step that found it changed no weights.
class DivergedError : public std::runtime_error {
 public:
  DivergedError(int64_t step, double lr, const std::string& what);
  int64_t step() const { return step_; }
  double lr() const { return lr_; }

 private:
  int64_t step_;
  double lr_;
};

// Modules to check, by name (a null pointer is skipped).
using NamedModules = std::initializer_list<std::pair<const char*, const torch::nn::Module*>>;

// Throws DivergedError at `step` (optimizer steps done before it) when the loss, a gradient or a
// parameter of `modules`, or a floating-point buffer (BatchNorm statistics), is NaN or Inf. One
// reduction per tensor and a single sync, then a per-tensor look only to name the culprit.
void checkFinite(int64_t step, double lr, const at::Tensor& loss, NamedModules modules);

// The same for forward outputs (embeddings) before the loss sees them: a network whose weights
// or statistics already overflow is named as diverged, not as a bad loss input.
void checkFiniteOutputs(int64_t step, double lr, std::initializer_list<const at::Tensor*> outputs);
// The same over any number of outputs (every view of a multi-crop step), still one sync.
void checkFiniteOutputs(int64_t step, double lr, const std::vector<at::Tensor>& outputs);

}  // namespace mssl
