// momentumAt(), lrAt() and createFlatEma(): the JS surface of core/ema and core/schedules.
// createFlatEma flattens the given online tensors (they are re-pointed into one buffer per
// device/dtype, JS handles stay valid) and makes an fp32 EMA copy; every call that touches tensor
// data runs as a Job on the torch worker and returns a Promise.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/ema.h"
#include "core/schedules.h"
#include "napi/addon.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"
#include "napi/worker.h"

namespace mssl::napi {

namespace {

double numberArg(const Napi::CallbackInfo& cb, size_t i, const char* fn, const char* name) {
  if (cb.Length() <= i || !cb[i].IsNumber()) throwTypeError(cb.Env(), std::string(fn) + ": " + name + " must be a number");
  return cb[i].As<Napi::Number>().DoubleValue();
}

int64_t integerArg(const Napi::CallbackInfo& cb, size_t i, const char* fn, const char* name) {
  double v = numberArg(cb, i, fn, name);
  if (!std::isfinite(v) || v != std::trunc(v) || std::fabs(v) > 9007199254740991.0) {
    throwRangeError(cb.Env(), std::string(fn) + ": " + name + " must be a safe integer, got " + std::to_string(v));
  }
  return static_cast<int64_t>(v);
}

Napi::Value momentumAt(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "momentumAt";
    int64_t step = integerArg(cb, 0, fn, "step");
    int64_t total = integerArg(cb, 1, fn, "totalSteps");
    double base = numberArg(cb, 2, fn, "base");
    double fin = numberArg(cb, 3, fn, "final");
    return Napi::Number::New(cb.Env(), mssl::momentumAt(step, total, base, fin));
  });
}

Napi::Value lrAt(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    const char* fn = "lrAt";
    int64_t step = integerArg(cb, 0, fn, "step");
    int64_t total = integerArg(cb, 1, fn, "totalSteps");
    int64_t warmup = integerArg(cb, 2, fn, "warmupSteps");
    double baseLr = numberArg(cb, 3, fn, "baseLr");
    double finalLr = cb.Length() > 4 && !cb[4].IsUndefined() ? numberArg(cb, 4, fn, "finalLr") : 0.0;
    return Napi::Number::New(cb.Env(), mssl::warmupCosineLr(step, total, warmup, baseLr, finalLr));
  });
}

// A job from two lambdas: run on the worker, build the result on the JS thread.
class LambdaJob : public Job {
 public:
  LambdaJob(std::function<void()> run, std::function<Napi::Value(Napi::Env)> done)
      : run_(std::move(run)), done_(std::move(done)) {}
  void execute() override { run_(); }
  Napi::Value result(Napi::Env env) override { return done_(env); }

 private:
  std::function<void()> run_;
  std::function<Napi::Value(Napi::Env)> done_;
};

struct FlatEmaState {
  std::vector<at::Tensor> online;
  std::vector<at::Tensor> ema;
  std::unique_ptr<FusedEma> fused;
  int64_t numel = 0;
};

// What the JS object's methods hold; dispose() drops the state (a job in flight keeps its own).
struct FlatEmaHandle {
  std::shared_ptr<FlatEmaState> state;
  std::shared_ptr<FlatEmaState> get(Napi::Env env) const {
    if (!state) {
      auto err = Napi::Error::New(env, "FlatEma has been disposed");
      err.Set("code", Napi::String::New(env, "ERR_DISPOSED"));
      throw err;
    }
    return state;
  }
};

Napi::Value undefinedResult(Napi::Env env) { return env.Undefined(); }

Napi::Value submit(const Napi::CallbackInfo& cb, std::function<void()> run,
                   std::function<Napi::Value(Napi::Env)> done = undefinedResult) {
  auto job = std::make_unique<LambdaJob>(std::move(run), std::move(done));
  if (cb.This().IsObject()) job->keepAlive(cb.This().As<Napi::Object>());
  return addonData(cb.Env()).worker->submit(cb.Env(), std::move(job));
}

double momentumArg(const Napi::CallbackInfo& cb, const char* fn) {
  double m = numberArg(cb, 0, fn, "m");
  if (!(m >= 0.0 && m <= 1.0)) throwRangeError(cb.Env(), std::string(fn) + ": m (momentum) must be in [0, 1], got " + std::to_string(m));
  return m;
}

Napi::Array wrapAll(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); ++i) arr.Set(static_cast<uint32_t>(i), TensorWrap::wrap(env, ts[i]));
  return arr;
}

Napi::Object makeFlatEmaObject(Napi::Env env, std::shared_ptr<FlatEmaState> state) {
  auto h = std::make_shared<FlatEmaHandle>();
  h->state = std::move(state);
  auto obj = Napi::Object::New(env);
  obj.Set("numel", Napi::Number::New(env, static_cast<double>(h->state->numel)));
  obj.Set("update", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return guarded(cb.Env(), [&]() -> Napi::Value {
              auto s = h->get(cb.Env());
              double m = momentumArg(cb, "FlatEma.update");
              return submit(cb, [s, m] { s->fused->update(m); });
            });
          }, "update"));
  obj.Set("updateReference", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return guarded(cb.Env(), [&]() -> Napi::Value {
              auto s = h->get(cb.Env());
              double m = momentumArg(cb, "FlatEma.updateReference");
              return submit(cb, [s, m] { emaUpdateReference(s->online, s->ema, m); });
            });
          }, "updateReference"));
  obj.Set("copyOnlineToEma", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return guarded(cb.Env(), [&]() -> Napi::Value {
              auto s = h->get(cb.Env());
              return submit(cb, [s] { s->fused->copyOnlineToEma(); });
            });
          }, "copyOnlineToEma"));
  obj.Set("rebind", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return guarded(cb.Env(), [&]() -> Napi::Value {
              auto s = h->get(cb.Env());
              return submit(cb, [s] { s->fused->rebind(); });
            });
          }, "rebind"));
  obj.Set("info", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return guarded(cb.Env(), [&]() -> Napi::Value {
              auto s = h->get(cb.Env());
              auto out = std::make_shared<std::pair<bool, size_t>>();
              return submit(
                  cb, [s, out] { *out = {s->fused->isFlat(), s->fused->online().numGroups()}; },
                  [s, out](Napi::Env e) -> Napi::Value {
                    auto o = Napi::Object::New(e);
                    o.Set("numel", Napi::Number::New(e, static_cast<double>(s->numel)));
                    o.Set("numGroups", Napi::Number::New(e, static_cast<double>(out->second)));
                    o.Set("isFlat", Napi::Boolean::New(e, out->first));
                    return o;
                  });
            });
          }, "info"));
  obj.Set("ema", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return guarded(cb.Env(), [&]() -> Napi::Value { return wrapAll(cb.Env(), h->get(cb.Env())->ema); });
          }, "ema"));
  obj.Set("online", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return guarded(cb.Env(), [&]() -> Napi::Value { return wrapAll(cb.Env(), h->get(cb.Env())->online); });
          }, "online"));
  obj.Set("dispose", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            h->state.reset();
            return cb.Env().Undefined();
          }, "dispose"));
  obj.Set("disposed", Napi::Function::New(env, [h](const Napi::CallbackInfo& cb) -> Napi::Value {
            return Napi::Boolean::New(cb.Env(), !h->state);
          }, "disposed"));
  return obj;
}

std::vector<at::Tensor> tensorArray(const Napi::Value& v, const char* what, std::vector<Napi::Object>& holders) {
  if (!v.IsArray()) throwTypeError(v.Env(), std::string("createFlatEma: ") + what + " must be an array of Tensors");
  auto arr = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    std::string name = std::string("createFlatEma: ") + what + "[" + std::to_string(i) + "]";
    out.push_back(TensorWrap::arg(arr.Get(i), name.c_str()));
    holders.push_back(arr.Get(i).As<Napi::Object>());
  }
  return out;
}

// createFlatEma(online: NativeTensor[], initialEma?: NativeTensor[]) -> Promise<NativeFlatEma>
// The EMA starts as a copy of initialEma (default: of online); the caller's initialEma tensors
// are copied, never re-pointed.
Napi::Value createFlatEma(const Napi::CallbackInfo& cb) {
  return guarded(cb.Env(), [&]() -> Napi::Value {
    Napi::Env env = cb.Env();
    auto state = std::make_shared<FlatEmaState>();
    std::vector<Napi::Object> holders;
    state->online = tensorArray(cb.Length() > 0 ? cb[0] : env.Undefined(), "online", holders);
    bool haveInit = cb.Length() > 1 && !cb[1].IsUndefined() && !cb[1].IsNull();
    std::vector<at::Tensor> init = haveInit ? tensorArray(cb[1], "initialEma", holders) : state->online;
    auto job = std::make_unique<LambdaJob>(
        [state, init] {
          for (const auto& t : init) state->ema.push_back(t.detach().clone());
          state->fused = std::make_unique<FusedEma>(state->online, state->ema);
          state->numel = state->fused->numel();
        },
        [state](Napi::Env e) -> Napi::Value { return makeFlatEmaObject(e, state); });
    for (auto& o : holders) job->keepAlive(o);
    return addonData(env).worker->submit(env, std::move(job));
  });
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("momentumAt", Napi::Function::New<momentumAt>(env, "momentumAt"));
  exports.Set("lrAt", Napi::Function::New<lrAt>(env, "lrAt"));
  exports.Set("createFlatEma", Napi::Function::New<createFlatEma>(env, "createFlatEma"));
}

}  // namespace

MSSL_REGISTER_BINDING(ema, init);

}  // namespace mssl::napi
