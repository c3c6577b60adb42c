// lossValueAndGrad(name, inputs, options) -> { loss, grads }: value and gradient of one loss on
// small inputs, synchronously (tests, fixtures, analysis). Training computes losses natively.
// grads[i] is d loss / d inputs[i] for floating inputs (zeros where the loss detaches it), null
// for index/mask inputs and absent optional inputs.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/byol_loss.h"
#include "core/dino_loss.h"
#include "core/objective.h"
#include "core/simsiam_loss.h"
#include "core/infonce.h"
#include "core/ntxent.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

// Option `key` of `options`, or the default the objective `objective` declares for `option`.
double optionOr(Napi::Env env, const Napi::Object& options, const char* key, const char* objective, const char* option) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return ObjectiveConfig{objective, {}}.get(option);
  if (!v.IsNumber()) throwTypeError(env, std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

double temperatureOption(Napi::Env env, const Napi::Object& o) { return optionOr(env, o, "temperature", "ntxent", "temperature"); }

using Inputs = std::vector<at::Tensor>;

struct LossSpec {
  const char* name;
  std::vector<const char*> args;
  std::vector<bool> optional;
  at::Tensor (*compute)(Napi::Env env, Inputs& in, const Napi::Object& options);
};

const std::vector<LossSpec>& specs() {
  static const std::vector<LossSpec> all = {
      {"ntXentPair", {"a", "b"}, {false, false},
       [](Napi::Env env, Inputs& in, const Napi::Object& o) { return ntXentPair(in[0], in[1], temperatureOption(env, o)); }},
      {"momentumNtXent", {"z1", "z2", "k1", "k2"}, {false, false, false, false},
       [](Napi::Env env, Inputs& in, const Napi::Object& o) { return momentumNtXent(in[0], in[1], in[2], in[3], temperatureOption(env, o)); }},
      {"ntXent", {"anchors", "candidates", "positiveIndex", "selfIndex"}, {false, false, false, true},
       [](Napi::Env env, Inputs& in, const Napi::Object& o) { return ntXent(in[0], in[1], in[2], in[3], temperatureOption(env, o)); }},
      {"infoNce", {"q", "kPos", "keys", "valid", "sampleIndex", "queryIndex"}, {false, false, true, true, true, true},
       [](Napi::Env env, Inputs& in, const Napi::Object& o) {
         Napi::Value ib = o.Get("inBatchNegatives");
         if (!ib.IsUndefined() && !ib.IsBoolean()) throwTypeError(env, "inBatchNegatives must be a boolean");
         const bool inBatch = ib.IsBoolean() && ib.As<Napi::Boolean>().Value();
         // JS has no bool typed array; uint8 masks are accepted.
         if (in[3].defined() && in[3].scalar_type() == at::kByte) in[3] = in[3].to(at::kBool);
         return infoNce(in[0], in[1], InfoNceNegatives{in[2], in[3], in[4]}, in[5], inBatch, optionOr(env, o, "temperature", "infonce", "temperature"));
       }},
      {"byolLoss", {"p", "k"}, {false, false}, [](Napi::Env, Inputs& in, const Napi::Object&) { return byolLoss(in[0], in[1]); }},
      {"negativeCosine", {"p", "z"}, {false, false}, [](Napi::Env, Inputs& in, const Napi::Object&) { return negativeCosine(in[0], in[1]); }},
      // Two global student views, up to two local ones, the two teacher views, the centre.
      {"dinoLoss", {"student1", "student2", "student3", "student4", "teacher1", "teacher2", "center"}, {false, false, true, true, false, false, false},
       [](Napi::Env env, Inputs& in, const Napi::Object& o) {
         std::vector<at::Tensor> student;
         for (int i = 0; i < 4; ++i) {
           if (in[i].defined()) student.push_back(in[i]);
         }
         return dinoLoss(student, {in[4], in[5]}, in[6], optionOr(env, o, "studentTemperature", "dino", "studentTemperature"),
                         optionOr(env, o, "teacherTemperature", "dino", "teacherTemperature"));
       }},
  };
  return all;
}

Napi::Value lossValueAndGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
      throwTypeError(env, "lossValueAndGrad(name, inputs, options?): name must be a string and inputs an array");
    }
    const std::string name = info[0].As<Napi::String>();
    const LossSpec* spec = nullptr;
    std::string known;
    for (const auto& s : specs()) {
      if (name == s.name) spec = &s;
      known += (known.empty() ? "" : ", ") + std::string(s.name);
    }
    if (!spec) throwTypeError(env, "loss must be one of " + known + "; got '" + name + "'");
    auto arr = info[1].As<Napi::Array>();
    if (arr.Length() != spec->args.size()) {
      throwTypeError(env, name + ": inputs must have " + std::to_string(spec->args.size()) + " entries, got " +
                              std::to_string(arr.Length()));
    }
    Napi::Object options = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);

    torch::AutoGradMode gradOn(true);
    std::vector<at::Tensor> in(spec->args.size());
    std::vector<at::Tensor> leaves;
    std::vector<int> leafOf(spec->args.size(), -1);
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Value v = arr.Get(i);
      if ((v.IsNull() || v.IsUndefined()) && spec->optional[i]) continue;
      at::Tensor t = TensorWrap::arg(v, spec->args[i]);
      if (t.is_floating_point()) {
        // Fresh leaves: the caller's tensors stay untouched and gradients are ours alone.
        t = t.detach().requires_grad_(true);
        leafOf[i] = static_cast<int>(leaves.size());
        leaves.push_back(t);
      }
      in[i] = t;
    }

    at::Tensor loss = spec->compute(env, in, options);

    std::vector<at::Tensor> grads;
    if (!leaves.empty() && loss.requires_grad()) {
      grads = torch::autograd::grad({loss}, leaves, {}, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    }
    auto out = Napi::Object::New(env);
    out.Set("loss", Napi::Number::New(env, loss.item<double>()));
    auto g = Napi::Array::New(env, in.size());
    for (uint32_t i = 0; i < in.size(); ++i) {
      if (leafOf[i] < 0) {
        g.Set(i, env.Null());
        continue;
      }
      at::Tensor gi = grads.empty() ? at::Tensor() : grads[leafOf[i]];
      g.Set(i, TensorWrap::wrap(env, gi.defined() ? gi : at::zeros_like(leaves[leafOf[i]].detach())));
    }
    out.Set("grads", g);
    return out;
  });
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("lossValueAndGrad", Napi::Function::New<lossValueAndGrad>(env, "lossValueAndGrad"));
}

}  // namespace

MSSL_REGISTER_BINDING(losses, init);

}  // namespace mssl::napi
