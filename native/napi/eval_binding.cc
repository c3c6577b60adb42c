// Evaluators as async jobs: knnClassify, linearProbe, pixelFeatures.
#include "core/knn.h"
#include "core/linear_probe.h"
#include "core/pixel_features.h"
#include "napi/addon.h"
#include "napi/config_reader.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

struct SplitArgs {
  at::Tensor trainF, trainL, testF, testL;
};

SplitArgs splitArgs(const Napi::CallbackInfo& info) {
  return {TensorWrap::arg(info[0], "trainFeatures"), TensorWrap::arg(info[1], "trainLabels"), TensorWrap::arg(info[2], "testFeatures"),
          TensorWrap::arg(info[3], "testLabels")};
}

class KnnJob : public Job {
 public:
  KnnJob(SplitArgs a, KnnConfig c) : a_(std::move(a)), c_(c) {}
  void execute() override { r_ = knnClassify(a_.trainF, a_.trainL, a_.testF, a_.testL, c_); }
  Napi::Value result(Napi::Env env) override {
    auto o = Napi::Object::New(env);
    o.Set("top1", r_.top1);
    o.Set("top5", r_.top5);
    o.Set("predictions", TensorWrap::wrap(env, r_.predictions));
    return o;
  }

 private:
  SplitArgs a_;
  KnnConfig c_;
  KnnResult r_;
};

class ProbeJob : public Job {
 public:
  ProbeJob(SplitArgs a, LinearProbeConfig c) : a_(std::move(a)), c_(c) {}
  void execute() override { r_ = linearProbe(a_.trainF, a_.trainL, a_.testF, a_.testL, c_); }
  Napi::Value result(Napi::Env env) override {
    auto o = Napi::Object::New(env);
    o.Set("trainAccuracy", r_.trainAccuracy);
    o.Set("testAccuracy", r_.testAccuracy);
    o.Set("trainLoss", r_.trainLoss);
    o.Set("evaluations", static_cast<double>(r_.evaluations));
    return o;
  }

 private:
  SplitArgs a_;
  LinearProbeConfig c_;
  LinearProbeResult r_;
};

class PixelJob : public Job {
 public:
  explicit PixelJob(at::Tensor x) : x_(std::move(x)) {}
  void execute() override { out_ = pixelFeatures(x_); }
  Napi::Value result(Napi::Env env) override { return TensorWrap::wrap(env, out_); }

 private:
  at::Tensor x_, out_;
};

Napi::Value knn(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    KnnConfig c;
    ConfigReader r(info.Env(), info[4], "knn");
    r.integer("k", c.k, 1);
    r.number("temperature", c.temperature);
    r.integer("numClasses", c.numClasses, 0);
    r.integer("chunkSize", c.chunkSize, 1);
    c.validate();
    return addonData(info.Env()).worker->submit(info.Env(), std::make_unique<KnnJob>(splitArgs(info), c));
  });
}

Napi::Value probe(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    LinearProbeConfig c;
    ConfigReader r(info.Env(), info[4], "linearProbe");
    r.integer("maxIterations", c.maxIterations, 1);
    r.number("weightDecay", c.weightDecay);
    r.integer("numClasses", c.numClasses, 0);
    r.boolean("standardize", c.standardize);
    c.validate();
    return addonData(info.Env()).worker->submit(info.Env(), std::make_unique<ProbeJob>(splitArgs(info), c));
  });
}

Napi::Value pixels(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    return addonData(info.Env()).worker->submit(info.Env(), std::make_unique<PixelJob>(TensorWrap::arg(info[0], "images")));
  });
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("knnClassify", Napi::Function::New<knn>(env, "knnClassify"));
  exports.Set("linearProbe", Napi::Function::New<probe>(env, "linearProbe"));
  exports.Set("pixelFeatures", Napi::Function::New<pixels>(env, "pixelFeatures"));
}

}  // namespace

MSSL_REGISTER_BINDING(eval, init);

}  // namespace mssl::napi
