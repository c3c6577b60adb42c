// NativeTrainer: a StepRunner (model + optimizer + augmenter + queue) behind JS. step() and
// embed() are async jobs on the torch worker; getters return the state as of the last settled job
// so they never race a running step.
#include <cmath>
#include <memory>

#include "core/checkpoint.h"
#include "core/ssl_model.h"
#include "core/step_runner.h"
#include "napi/addon.h"
#include "napi/augment_config.h"
#include "napi/config_reader.h"
#include "napi/errors.h"
#include "napi/paths.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

void readConfig(const ConfigReader& r, SslModelConfig& m, StepConfig& s) {
  ConfigReader bb = r.child("backbone");
  bb.integer("depth", m.backbone.depth);
  bb.string("stem", m.backbone.stem);
  bb.integer("inChannels", m.backbone.inChannels);
  bb.number("width", m.backbone.width);
  bb.boolean("zeroInitResidual", m.backbone.zeroInitResidual);
  ConfigReader proj = r.child("projector");
  proj.integer("hiddenDim", m.projectorHidden, 1, 1 << 20);
  proj.integer("outDim", m.projectorOut, 1, 1 << 20);
  r.child("predictor").integer("hiddenDim", m.predictorHidden, 0, 1 << 20);
  ConfigReader ema = r.child("ema");
  ema.stringList("parts", m.emaParts);
  ema.number("base", s.momentumBase);
  ema.number("final", s.momentumFinal);
  ConfigReader loss = r.child("loss");
  loss.string("name", s.loss);
  loss.number("temperature", s.temperature);
  loss.integer("queueSize", s.queueSize, 0, int64_t(1) << 31);
  loss.boolean("inBatchNegatives", s.inBatchNegatives);
  ConfigReader opt = r.child("optimizer");
  opt.string("name", s.optim.name);
  opt.number("lr", s.lr);
  opt.number("finalLr", s.finalLr);
  opt.integer("warmupSteps", s.warmupSteps, 0);
  opt.number("momentum", s.optim.momentum);
  opt.number("weightDecay", s.optim.weightDecay);
  opt.boolean("nesterov", s.optim.nesterov);
  opt.number("eta", s.optim.eta);
  opt.boolean("excludeBiasAndNorm", s.optim.excludeBiasAndNorm);
  opt.number("beta1", s.optim.beta1);
  opt.number("beta2", s.optim.beta2);
  opt.number("eps", s.optim.eps);
  s.augment = augmentConfigFromJs(r.env(), r.raw("augment"));
  r.integer("totalSteps", s.totalSteps, 1);
  r.seed("seed", s.seed);
  r.string("device", s.device);
  r.child("gradMonitor").boolean("enabled", s.gradMonitor);
}

// NaN (part not measured) becomes null so JSON logs stay valid.
Napi::Array partStats(Napi::Env env, const PartStats& a) {
  auto out = Napi::Array::New(env, a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), std::isnan(a[i]) ? env.Null() : Napi::Number::New(env, a[i]));
  }
  return out;
}

Napi::Array toArray(Napi::Env env, const std::array<int64_t, kNumParts>& a) {
  auto out = Napi::Array::New(env, a.size());
  for (size_t i = 0; i < a.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(a[i])));
  return out;
}

}  // namespace

class TrainerWrap : public Napi::ObjectWrap<TrainerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeTrainer",
                       {
                           InstanceMethod<&TrainerWrap::step>("step"),
                           InstanceMethod<&TrainerWrap::embed>("embed"),
                           InstanceMethod<&TrainerWrap::probe>("probe"),
                           InstanceMethod<&TrainerWrap::summary>("summary"),
                           InstanceMethod<&TrainerWrap::forwardCounts>("forwardCounts"),
                           InstanceMethod<&TrainerWrap::resetForwardCounts>("resetForwardCounts"),
                           InstanceMethod<&TrainerWrap::save>("save"),
                           InstanceMethod<&TrainerWrap::load>("load"),
                           InstanceMethod<&TrainerWrap::exportStateDict>("exportStateDict"),
                           InstanceMethod<&TrainerWrap::signature>("signature"),
                           InstanceMethod<&TrainerWrap::dispose>("dispose"),
                           InstanceAccessor<&TrainerWrap::disposed>("disposed"),
                       });
  }

  explicit TrainerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrainerWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      SslModelConfig m;
      StepConfig s;
      readConfig(ConfigReader(info.Env(), info[0], ""), m, s);
      runner_ = std::make_shared<StepRunner>(m, s);
      snapshot();
      return info.Env().Undefined();
    });
  }

 private:
  struct Snapshot {
    int64_t step = 0;
    std::array<int64_t, kNumParts> online{}, key{};
  };
  void snapshot() {
    if (!runner_) return;
    snap_.step = runner_->stepCount();
    snap_.online = runner_->model().onlineForwardCounts();
    snap_.key = runner_->model().keyForwardCounts();
  }

  class StepJob : public Job {
   public:
    StepJob(TrainerWrap* owner, std::shared_ptr<StepRunner> r, at::Tensor batch, at::Tensor index)
        : owner_(owner), runner_(std::move(r)), batch_(std::move(batch)), index_(std::move(index)) {}
    void execute() override { result_ = runner_->step(batch_, index_); }
    Napi::Value result(Napi::Env env) override {
      owner_->snapshot();
      auto o = Napi::Object::New(env);
      o.Set("loss", result_.loss);
      o.Set("lr", result_.lr);
      o.Set("momentum", result_.momentum);
      o.Set("step", static_cast<double>(result_.step));
      auto ms = Napi::Object::New(env);
      for (int p = 0; p < kNumPhases; ++p) ms.Set(phaseNames()[p], result_.ms[p]);
      o.Set("ms", ms);
      o.Set("gradRms", partStats(env, result_.gradRms));
      return o;
    }

   private:
    TrainerWrap* owner_;  // kept alive by keepAlive(this)
    std::shared_ptr<StepRunner> runner_;
    at::Tensor batch_, index_;
    StepResult result_;
  };

  class EmbedJob : public Job {
   public:
    EmbedJob(std::shared_ptr<StepRunner> r, at::Tensor batch) : runner_(std::move(r)), batch_(std::move(batch)) {}
    void execute() override { out_ = runner_->embed(batch_).to(at::kCPU).contiguous(); }
    Napi::Value result(Napi::Env env) override { return TensorWrap::wrap(env, out_); }

   private:
    std::shared_ptr<StepRunner> runner_;
    at::Tensor batch_, out_;
  };

  Napi::Value step(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      at::Tensor batch = TensorWrap::arg(info[0], "batch");
      at::Tensor index;
      if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) index = TensorWrap::arg(info[1], "sampleIndex");
      auto job = std::make_unique<StepJob>(this, live(info.Env()), batch, index);
      job->keepAlive(info.This().As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }

  class ProbeJob : public Job {
   public:
    ProbeJob(TrainerWrap* owner, std::shared_ptr<StepRunner> r, at::Tensor batch) : owner_(owner), runner_(std::move(r)), batch_(std::move(batch)) {}
    void execute() override { r_ = runner_->probe(batch_); }
    Napi::Value result(Napi::Env env) override {
      owner_->snapshot();
      auto o = Napi::Object::New(env);
      o.Set("rms", partStats(env, r_.rms));
      o.Set("cosine", partStats(env, r_.cosine));
      return o;
    }

   private:
    TrainerWrap* owner_;
    std::shared_ptr<StepRunner> runner_;
    at::Tensor batch_;
    ProbeResult r_;
  };

  Napi::Value probe(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      auto job = std::make_unique<ProbeJob>(this, live(info.Env()), TensorWrap::arg(info[0], "probeImages"));
      job->keepAlive(info.This().As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }

  Napi::Value embed(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      at::Tensor batch = TensorWrap::arg(info[0], "images");
      auto job = std::make_unique<EmbedJob>(live(info.Env()), batch);
      job->keepAlive(info.This().As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }

  Napi::Value summary(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    // Immutable after construction except the step count, which comes from the snapshot.
    const SslModel& model = live(env)->model();
    auto o = Napi::Object::New(env);
    o.Set("step", static_cast<double>(snap_.step));
    o.Set("numParameters", static_cast<double>(model.numTrainableParameters()));
    o.Set("numEmaParameters", static_cast<double>(model.numEmaParameters()));
    auto parts = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& p : model.emaPartNames()) parts.Set(i++, p);
    o.Set("emaParts", parts);
    o.Set("featureDim", static_cast<double>(model.featureDim()));
    o.Set("device", live(env)->config().device);
    return o;
  }

  Napi::Value forwardCounts(const Napi::CallbackInfo& info) {
    auto o = Napi::Object::New(info.Env());
    o.Set("online", toArray(info.Env(), snap_.online));
    o.Set("key", toArray(info.Env(), snap_.key));
    return o;
  }

  // Queued behind any running step, like every job, so the counts stay consistent.
  class ResetCountsJob : public Job {
   public:
    ResetCountsJob(TrainerWrap* owner, std::shared_ptr<StepRunner> r) : owner_(owner), runner_(std::move(r)) {}
    void execute() override { runner_->model().resetForwardCounts(); }
    Napi::Value result(Napi::Env env) override {
      owner_->snapshot();
      return env.Undefined();
    }

   private:
    TrainerWrap* owner_;
    std::shared_ptr<StepRunner> runner_;
  };

  Napi::Value resetForwardCounts(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      auto job = std::make_unique<ResetCountsJob>(this, live(info.Env()));
      job->keepAlive(info.This().As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }

  // save / load / exportStateDict: file I/O plus tensor copies, so they queue behind steps.
  class FileJob : public Job {
   public:
    enum Kind { kSave, kLoad, kExport, kExportEma };
    FileJob(TrainerWrap* owner, std::shared_ptr<StepRunner> r, Kind kind, std::string path, std::string extra)
        : owner_(owner), runner_(std::move(r)), kind_(kind), path_(std::move(path)), extra_(std::move(extra)) {}
    void execute() override {
      switch (kind_) {
        case kSave: saveCheckpoint(*runner_, path_, extra_); break;
        case kLoad: extra_ = loadCheckpoint(*runner_, path_); break;
        case kExport: exportBackboneStateDict(runner_->model(), path_, false); break;
        case kExportEma: exportBackboneStateDict(runner_->model(), path_, true); break;
      }
    }
    Napi::Value result(Napi::Env env) override {
      owner_->snapshot();
      // save resolves to the path, load to the extra string stored with the checkpoint.
      return Napi::String::New(env, kind_ == kLoad ? extra_ : path_);
    }

   private:
    TrainerWrap* owner_;
    std::shared_ptr<StepRunner> runner_;
    Kind kind_;
    std::string path_;
    std::string extra_;
  };

  Napi::Value submitFileJob(const Napi::CallbackInfo& info, FileJob::Kind kind) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      std::string path = pathArg(info[0], "path");  // reliability #13: NUL bytes, devices, folders
      std::string extra;
      if (kind == FileJob::kSave && info.Length() > 1 && !info[1].IsUndefined()) {
        if (!info[1].IsString()) throwTypeError(info.Env(), "extra must be a string");
        extra = info[1].As<Napi::String>().Utf8Value();
      }
      auto job = std::make_unique<FileJob>(this, live(info.Env()), kind, path, extra);
      job->keepAlive(info.This().As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }
  Napi::Value save(const Napi::CallbackInfo& info) { return submitFileJob(info, FileJob::kSave); }
  Napi::Value load(const Napi::CallbackInfo& info) { return submitFileJob(info, FileJob::kLoad); }
  Napi::Value exportStateDict(const Napi::CallbackInfo& info) {
    bool ema = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
    return submitFileJob(info, ema ? FileJob::kExportEma : FileJob::kExport);
  }
  Napi::Value signature(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const auto& r = live(info.Env());
      return Napi::String::New(info.Env(), modelSignature(r->model().config(), r->config()));
    });
  }

  // Frees the model now; a job already queued keeps its own reference and still completes.
  Napi::Value dispose(const Napi::CallbackInfo& info) {
    runner_.reset();
    return info.Env().Undefined();
  }
  Napi::Value disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !runner_); }

  const std::shared_ptr<StepRunner>& live(Napi::Env env) const {
    if (!runner_) {
      auto err = Napi::Error::New(env, "trainer has been disposed");
      err.Set("code", Napi::String::New(env, "ERR_DISPOSED"));
      throw err;
    }
    return runner_;
  }

  std::shared_ptr<StepRunner> runner_;
  Snapshot snap_;
};

static void init(Napi::Env env, Napi::Object exports) { exports.Set("NativeTrainer", TrainerWrap::define(env)); }
MSSL_REGISTER_BINDING(trainer, init);

}  // namespace mssl::napi
