// lossValueAndGrad(name, inputs, options) -> { loss, grads }: value and gradient of one loss on
// small inputs, synchronously (tests, fixtures, analysis). Training computes losses natively.
// grads[i] is d loss / d inputs[i] for floating inputs (zeros where the loss detaches it), null
// for index/mask inputs and absent optional inputs.
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/byol_loss.h"
#include "core/infonce.h"
#include "core/ntxent.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

struct LossSpec {
  const char* name;
  std::vector<const char*> args;
  std::vector<bool> optional;
};

const std::vector<LossSpec>& specs() {
  static const std::vector<LossSpec> all = {
      {"ntXentPair", {"a", "b"}, {false, false}},
      {"momentumNtXent", {"z1", "z2", "k1", "k2"}, {false, false, false, false}},
      {"ntXent", {"anchors", "candidates", "positiveIndex", "selfIndex"}, {false, false, false, true}},
      {"infoNce", {"q", "kPos", "keys", "valid", "sampleIndex", "queryIndex"}, {false, false, true, true, true, true}},
      {"byolLoss", {"p", "k"}, {false, false}},
  };
  return all;
}

double temperatureOption(Napi::Env env, const Napi::Object& o) {
  Napi::Value v = o.Get("temperature");
  if (v.IsUndefined()) return 0.2;  // design §3 default
  if (!v.IsNumber()) throwTypeError(env, "temperature must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

Napi::Value lossValueAndGrad(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsArray()) {
      throwTypeError(env, "lossValueAndGrad(name, inputs, options?): name must be a string and inputs an array");
    }
    const std::string name = info[0].As<Napi::String>();
    const LossSpec* spec = nullptr;
    for (const auto& s : specs()) {
      if (name == s.name) spec = &s;
    }
    if (!spec) throwTypeError(env, "loss must be one of ntXentPair, momentumNtXent, ntXent, infoNce, byolLoss; got '" + name + "'");
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
    // JS has no bool typed array; uint8 masks are accepted.
    if (name == "infoNce" && in[3].defined() && in[3].scalar_type() == at::kByte) in[3] = in[3].to(at::kBool);

    at::Tensor loss;
    if (name == "ntXentPair") {
      loss = ntXentPair(in[0], in[1], temperatureOption(env, options));
    } else if (name == "momentumNtXent") {
      loss = momentumNtXent(in[0], in[1], in[2], in[3], temperatureOption(env, options));
    } else if (name == "ntXent") {
      loss = ntXent(in[0], in[1], in[2], in[3], temperatureOption(env, options));
    } else if (name == "infoNce") {
      Napi::Value ib = options.Get("inBatchNegatives");
      if (!ib.IsUndefined() && !ib.IsBoolean()) throwTypeError(env, "inBatchNegatives must be a boolean");
      bool inBatch = ib.IsBoolean() && ib.As<Napi::Boolean>().Value();
      loss = infoNce(in[0], in[1], InfoNceNegatives{in[2], in[3], in[4]}, in[5], inBatch, temperatureOption(env, options));
    } else {
      loss = byolLoss(in[0], in[1]);
    }

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
