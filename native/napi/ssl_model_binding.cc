// NativeSslModel: the core SslModel (networks + objective + optimizer + augmenter) behind JS.
// step() and embed() are async jobs on the torch worker; getters return the state as of the last
// settled job so they never race a running step.
#include <cmath>
#include <memory>

#include "core/checkpoint.h"
#include "core/ssl_model.h"
#include "napi/addon.h"
#include "napi/config_schema.h"
#include "napi/errors.h"
#include "napi/named_tensors_job.h"  // issue #12: weights for the ONNX exporter
#include "napi/paths.h"
#include "napi/process_group_wrap.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

// NaN (part not measured) becomes null so JSON logs stay valid.
Napi::Array partStats(Napi::Env env, const PartStats& a) {
  auto out = Napi::Array::New(env, a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), std::isnan(a[i]) ? env.Null() : Napi::Number::New(env, a[i]));
  }
  return out;
}

// Per-block figures in gradBlockNames() order (design §5); NaN becomes null like partStats.
Napi::Array blockValues(Napi::Env env, const std::vector<double>& a) {
  auto out = Napi::Array::New(env, a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), std::isnan(a[i]) ? env.Null() : Napi::Number::New(env, a[i]));
  }
  return out;
}

Napi::Array stringArray(Napi::Env env, const std::vector<std::string>& a) {
  auto out = Napi::Array::New(env, a.size());
  for (size_t i = 0; i < a.size(); ++i) out.Set(static_cast<uint32_t>(i), a[i]);
  return out;
}

Napi::Array toArray(Napi::Env env, const std::array<int64_t, kNumParts>& a) {
  auto out = Napi::Array::New(env, a.size());
  for (size_t i = 0; i < a.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(a[i])));
  return out;
}

}  // namespace

class SslModelWrap : public Napi::ObjectWrap<SslModelWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "NativeSslModel",
                       {
                           InstanceMethod<&SslModelWrap::step>("step"),
                           InstanceMethod<&SslModelWrap::embed>("embed"),
                           InstanceMethod<&SslModelWrap::probe>("probe"),
                           InstanceMethod<&SslModelWrap::summary>("summary"),
                           InstanceMethod<&SslModelWrap::forwardCounts>("forwardCounts"),
                           InstanceMethod<&SslModelWrap::resetForwardCounts>("resetForwardCounts"),
                           InstanceMethod<&SslModelWrap::save>("save"),
                           InstanceMethod<&SslModelWrap::load>("load"),
                           InstanceMethod<&SslModelWrap::exportStateDict>("exportStateDict"),
                           InstanceMethod<&SslModelWrap::signature>("signature"),
                           InstanceMethod<&SslModelWrap::namedTensors>("namedTensors"),
                           InstanceMethod<&SslModelWrap::setProcessGroup>("setProcessGroup"),
                           InstanceMethod<&SslModelWrap::dispose>("dispose"),
                           InstanceAccessor<&SslModelWrap::disposed>("disposed"),
                       });
  }

  explicit SslModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SslModelWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      runner_ = std::make_shared<SslModel>(sslConfigFromJs(info.Env(), info[0]));
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
    snap_.online = runner_->networks().onlineForwardCounts();
    snap_.key = runner_->networks().keyForwardCounts();
  }

  class StepJob : public Job {
   public:
    StepJob(SslModelWrap* owner, std::shared_ptr<SslModel> r, at::Tensor batch, at::Tensor index)
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
      if (result_.gradBlocks.sumsq.empty()) {
        o.Set("gradBlocks", env.Null());
      } else {
        auto blocks = Napi::Object::New(env);
        blocks.Set("names", stringArray(env, runner_->networks().gradBlockNames()));
        blocks.Set("sumsq", blockValues(env, result_.gradBlocks.sumsq));
        blocks.Set("numel", blockValues(env, std::vector<double>(result_.gradBlocks.numel.begin(), result_.gradBlocks.numel.end())));
        o.Set("gradBlocks", blocks);
      }
      auto metrics = Napi::Object::New(env);
      for (const auto& [k, val] : result_.objectiveMetrics) metrics.Set(k, std::isnan(val) ? env.Null() : Napi::Number::New(env, val));
      o.Set("objective", metrics);
      o.Set("communicationMs", result_.communicationMs);
      o.Set("allReduceBytes", static_cast<double>(result_.allReduceBytes));
      return o;
    }

   private:
    SslModelWrap* owner_;  // kept alive by keepAlive(this)
    std::shared_ptr<SslModel> runner_;
    at::Tensor batch_, index_;
    StepResult result_;
  };

  class EmbedJob : public Job {
   public:
    EmbedJob(std::shared_ptr<SslModel> r, at::Tensor batch) : runner_(std::move(r)), batch_(std::move(batch)) {}
    void execute() override { out_ = runner_->embed(batch_).to(at::kCPU).contiguous(); }
    Napi::Value result(Napi::Env env) override { return TensorWrap::wrap(env, out_); }

   private:
    std::shared_ptr<SslModel> runner_;
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
    ProbeJob(SslModelWrap* owner, std::shared_ptr<SslModel> r, at::Tensor batch) : owner_(owner), runner_(std::move(r)), batch_(std::move(batch)) {}
    void execute() override { r_ = runner_->probe(batch_); }
    Napi::Value result(Napi::Env env) override {
      owner_->snapshot();
      auto o = Napi::Object::New(env);
      o.Set("rms", partStats(env, r_.rms));
      o.Set("cosine", partStats(env, r_.cosine));
      auto blocks = Napi::Object::New(env);
      blocks.Set("names", stringArray(env, runner_->networks().gradBlockNames()));
      blocks.Set("rms", blockValues(env, r_.blockRms));
      blocks.Set("cosine", blockValues(env, r_.blockCosine));
      o.Set("blocks", blocks);
      return o;
    }

   private:
    SslModelWrap* owner_;
    std::shared_ptr<SslModel> runner_;
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
    const SslNetworks& model = live(env)->networks();
    auto o = Napi::Object::New(env);
    o.Set("step", static_cast<double>(snap_.step));
    o.Set("numParameters", static_cast<double>(model.numTrainableParameters()));
    o.Set("numEmaParameters", static_cast<double>(model.numEmaParameters()));
    auto parts = Napi::Array::New(env);
    uint32_t i = 0;
    for (const auto& p : model.emaPartNames()) parts.Set(i++, p);
    o.Set("emaParts", parts);
    o.Set("featureDim", static_cast<double>(model.featureDim()));
    o.Set("gradBlocks", stringArray(env, model.gradBlockNames()));
    o.Set("device", live(env)->config().device);
    o.Set("objective", live(env)->config().objective.name);
    o.Set("config", sslConfigToJs(env, live(env)->config()));
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
    ResetCountsJob(SslModelWrap* owner, std::shared_ptr<SslModel> r) : owner_(owner), runner_(std::move(r)) {}
    void execute() override { runner_->networks().resetForwardCounts(); }
    Napi::Value result(Napi::Env env) override {
      owner_->snapshot();
      return env.Undefined();
    }

   private:
    SslModelWrap* owner_;
    std::shared_ptr<SslModel> runner_;
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
    FileJob(SslModelWrap* owner, std::shared_ptr<SslModel> r, Kind kind, std::string path, std::string extra)
        : owner_(owner), runner_(std::move(r)), kind_(kind), path_(std::move(path)), extra_(std::move(extra)) {}
    void execute() override {
      switch (kind_) {
        case kSave: saveCheckpoint(*runner_, path_, extra_); break;
        case kLoad: extra_ = loadCheckpoint(*runner_, path_); break;
        case kExport: exportBackboneStateDict(runner_->networks(), path_, false); break;
        case kExportEma: exportBackboneStateDict(runner_->networks(), path_, true); break;
      }
    }
    Napi::Value result(Napi::Env env) override {
      owner_->snapshot();
      // save resolves to the path, load to the extra string stored with the checkpoint.
      return Napi::String::New(env, kind_ == kLoad ? extra_ : path_);
    }

   private:
    SslModelWrap* owner_;
    std::shared_ptr<SslModel> runner_;
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
      return Napi::String::New(info.Env(), modelSignature(*r));
    });
  }

  // Issue #12: the networks' weights for exporters in JS (native/napi/named_tensors_job.h).
  Napi::Value namedTensors(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const auto& r = live(info.Env());
      return submitNamedTensors(info, std::shared_ptr<SslNetworks>(r, &r->networks()));
    });
  }

  // Joining a group broadcasts rank 0's weights: a collective, so it runs on the torch worker.
  class ProcessGroupJob : public Job {
   public:
    ProcessGroupJob(std::shared_ptr<SslModel> r, std::shared_ptr<Collectives> g) : runner_(std::move(r)), g_(std::move(g)) {}
    void execute() override { runner_->setCollectives(g_); }
    Napi::Value result(Napi::Env env) override { return env.Undefined(); }

   private:
    std::shared_ptr<SslModel> runner_;
    std::shared_ptr<Collectives> g_;
  };

  Napi::Value setProcessGroup(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      std::shared_ptr<Collectives> g;
      if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) {
        g = processGroupArg(info[0], "processGroup");
      }
      auto job = std::make_unique<ProcessGroupJob>(live(info.Env()), g);
      job->keepAlive(info.This().As<Napi::Object>());
      if (!info[0].IsUndefined() && info[0].IsObject()) job->keepAlive(info[0].As<Napi::Object>());
      return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
    });
  }

  // Frees the model now; a job already queued keeps its own reference and still completes.
  Napi::Value dispose(const Napi::CallbackInfo& info) {
    runner_.reset();
    return info.Env().Undefined();
  }
  Napi::Value disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !runner_); }

  const std::shared_ptr<SslModel>& live(Napi::Env env) const {
    if (!runner_) {
      auto err = Napi::Error::New(env, "model has been disposed");
      err.Set("code", Napi::String::New(env, "ERR_DISPOSED"));
      throw err;
    }
    return runner_;
  }

  std::shared_ptr<SslModel> runner_;
  Snapshot snap_;
};

Napi::Value defaultConfig(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return sslConfigToJs(info.Env(), SslConfig{}); });
}

Napi::Value objectives(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return objectivesToJs(info.Env()); });
}

static void init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeSslModel", SslModelWrap::define(env));
  exports.Set("defaultConfig", Napi::Function::New<defaultConfig>(env, "defaultConfig"));
  exports.Set("objectives", Napi::Function::New<objectives>(env, "objectives"));
}
MSSL_REGISTER_BINDING(ssl_model, init);

}  // namespace mssl::napi
