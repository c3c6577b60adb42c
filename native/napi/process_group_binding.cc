// NativeProcessGroup: connect (the rendezvous blocks, so it runs on the torch worker), agreement
// checks before training (allGatherStrings), barrier, shutdown. The training step's collectives
// run inside SslModel::step on the same worker thread.
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/distributed.h"
#include "napi/addon.h"
#include "napi/config_reader.h"
#include "napi/errors.h"
#include "napi/process_group_wrap.h"
#include "napi/registry.h"
#include "napi/worker.h"

namespace mssl::napi {

namespace {

// What connect() and shutdown() share with their jobs: the group appears only when the job ends.
struct GroupSlot {
  std::shared_ptr<Collectives> group;
  DistributedConfig cfg;
};

DistributedConfig configFromJs(Napi::Env env, const Napi::Value& v) {
  DistributedConfig c;
  ConfigReader r(env, v, "distributed");
  r.integer("rank", c.rank);
  r.integer("worldSize", c.worldSize);
  r.integer("localRank", c.localRank);
  r.integer("localWorldSize", c.localWorldSize);
  r.string("masterAddr", c.masterAddr);
  r.integer("masterPort", c.masterPort);
  r.string("backend", c.backend);
  r.string("interface", c.interface);
  r.integer("connectTimeoutMs", c.connectTimeoutMs, 1, int64_t{1} << 40);
  r.integer("timeoutMs", c.timeoutMs, 1, int64_t{1} << 40);
  c.validate();
  return c;
}

Napi::Object configToJs(Napi::Env env, const DistributedConfig& c) {
  auto o = Napi::Object::New(env);
  o.Set("rank", c.rank);
  o.Set("worldSize", c.worldSize);
  o.Set("localRank", c.localRank);
  o.Set("localWorldSize", c.localWorldSize);
  o.Set("masterAddr", c.masterAddr);
  o.Set("masterPort", c.masterPort);
  o.Set("backend", c.backend);
  o.Set("interface", c.interface);
  o.Set("connectTimeoutMs", static_cast<double>(c.connectTimeoutMs));
  o.Set("timeoutMs", static_cast<double>(c.timeoutMs));
  return o;
}

class ConnectJob : public Job {
 public:
  ConnectJob(std::shared_ptr<GroupSlot> slot, std::string device) : slot_(std::move(slot)), device_(std::move(device)) {}
  void execute() override { group_ = connectProcessGroup(slot_->cfg, device_); }
  Napi::Value result(Napi::Env env) override {
    slot_->group = group_;
    return env.Undefined();
  }

 private:
  std::shared_ptr<GroupSlot> slot_;
  std::string device_;
  std::shared_ptr<Collectives> group_;
};

class StringsJob : public Job {
 public:
  StringsJob(std::shared_ptr<Collectives> g, std::string s) : g_(std::move(g)), s_(std::move(s)) {}
  void execute() override { out_ = g_->allGatherStrings(s_); }
  Napi::Value result(Napi::Env env) override {
    auto a = Napi::Array::New(env, out_.size());
    for (size_t i = 0; i < out_.size(); ++i) a.Set(static_cast<uint32_t>(i), out_[i]);
    return a;
  }

 private:
  std::shared_ptr<Collectives> g_;
  std::string s_;
  std::vector<std::string> out_;
};

// Whether any rank passed true: one all-reduce, so all ranks take the same decision (stop now).
class AnyJob : public Job {
 public:
  AnyJob(std::shared_ptr<Collectives> g, bool flag) : g_(std::move(g)), flag_(flag) {}
  void execute() override {
    std::vector<torch::Tensor> t{torch::full({1}, flag_ ? 1 : 0, torch::kLong)};
    g_->allReduceSum(t);
    any_ = t[0].item<int64_t>() > 0;
  }
  Napi::Value result(Napi::Env env) override { return Napi::Boolean::New(env, any_); }

 private:
  std::shared_ptr<Collectives> g_;
  bool flag_, any_ = false;
};

class VoidJob : public Job {
 public:
  enum Kind { kBarrier, kShutdown };
  VoidJob(std::shared_ptr<Collectives> g, Kind k) : g_(std::move(g)), kind_(k) {}
  void execute() override {
    if (kind_ == kBarrier) g_->barrier();
    else shutdownProcessGroup(*g_);
  }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<Collectives> g_;
  Kind kind_;
};

}  // namespace

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    Napi::Function f = DefineClass(env, "NativeProcessGroup",
                                   {
                                       InstanceMethod<&ProcessGroupWrap::connect>("connect"),
                                       InstanceMethod<&ProcessGroupWrap::allGatherStrings>("allGatherStrings"),
                                       InstanceMethod<&ProcessGroupWrap::barrier>("barrier"),
                                       InstanceMethod<&ProcessGroupWrap::anyTrue>("anyTrue"),
                                       InstanceMethod<&ProcessGroupWrap::shutdown>("shutdown"),
                                       InstanceAccessor<&ProcessGroupWrap::connected>("connected"),
                                       InstanceAccessor<&ProcessGroupWrap::busyMs>("busyMs"),
                                       InstanceAccessor<&ProcessGroupWrap::config>("config"),
                                   });
    addonData(env).processGroupCtor = Napi::Persistent(f);
    return f;
  }

  // new NativeProcessGroup(config): validates; connect(device) joins.
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info), slot_(std::make_shared<GroupSlot>()) {
    guarded(info.Env(), [&]() -> Napi::Value {
      slot_->cfg = configFromJs(info.Env(), info[0]);
      return info.Env().Undefined();
    });
  }

  std::shared_ptr<Collectives> group(Napi::Env env) const {
    if (!slot_->group) {
      auto err = Napi::Error::New(env, "the process group is not connected (await connect() first) or was shut down");
      err.Set("code", Napi::String::New(env, "ERR_NOT_CONNECTED"));
      throw err;
    }
    return slot_->group;
  }

 private:
  // Every call holds this object alive until its job settles.
  static Napi::Value submit(const Napi::CallbackInfo& info, std::unique_ptr<Job> job) {
    job->keepAlive(info.This().As<Napi::Object>());
    return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
  }

  Napi::Value connect(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (slot_->group) throwTypeError(info.Env(), "the process group is already connected");
      std::string device = "cpu";
      if (info.Length() > 0 && !info[0].IsUndefined()) {
        if (!info[0].IsString()) throwTypeError(info.Env(), "device must be a string");
        device = info[0].As<Napi::String>().Utf8Value();
      }
      auto job = std::make_unique<ConnectJob>(slot_, device);
      return submit(info, std::move(job));
    });
  }

  Napi::Value allGatherStrings(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!info[0].IsString()) throwTypeError(info.Env(), "allGatherStrings: expected a string");
      auto job = std::make_unique<StringsJob>(group(info.Env()), info[0].As<Napi::String>().Utf8Value());
      return submit(info, std::move(job));
    });
  }

  Napi::Value barrier(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      auto job = std::make_unique<VoidJob>(group(info.Env()), VoidJob::kBarrier);
      return submit(info, std::move(job));
    });
  }

  Napi::Value anyTrue(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!info[0].IsBoolean()) throwTypeError(info.Env(), "anyTrue: expected a boolean");
      auto job = std::make_unique<AnyJob>(group(info.Env()), info[0].As<Napi::Boolean>().Value());
      return submit(info, std::move(job));
    });
  }

  // Resolves once the group is released; a second call (or one before connect) resolves at once.
  Napi::Value shutdown(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!slot_->group) {
        auto d = Napi::Promise::Deferred::New(info.Env());
        d.Resolve(info.Env().Undefined());
        return d.Promise();
      }
      auto g = std::move(slot_->group);
      slot_->group.reset();
      auto job = std::make_unique<VoidJob>(g, VoidJob::kShutdown);
      return submit(info, std::move(job));
    });
  }

  Napi::Value connected(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), static_cast<bool>(slot_->group)); }
  Napi::Value busyMs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), slot_->group ? slot_->group->busyMs() : 0.0); }
  Napi::Value config(const Napi::CallbackInfo& info) { return configToJs(info.Env(), slot_->cfg); }

  std::shared_ptr<GroupSlot> slot_;
};

std::shared_ptr<Collectives> processGroupArg(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  auto& ctor = addonData(env).processGroupCtor;
  if (!v.IsObject() || ctor.IsEmpty() || !v.As<Napi::Object>().InstanceOf(ctor.Value())) {
    throwTypeError(env, std::string(name) + " must be a NativeProcessGroup");
  }
  return ProcessGroupWrap::Unwrap(v.As<Napi::Object>())->group(env);
}

namespace {

Napi::Value distributedEnv(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    bool found = false;
    DistributedConfig c = distributedConfigFromEnv(&found);
    Napi::Object o = configToJs(info.Env(), c);
    o.Set("found", found);
    return o;
  });
}

Napi::Value distributedBackends(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("gloo", glooAvailable());
  o.Set("nccl", ncclAvailable());
  o.Set("defaults", configToJs(info.Env(), DistributedConfig{}));
  return o;
}

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeProcessGroup", ProcessGroupWrap::define(env));
  exports.Set("distributedEnv", Napi::Function::New<distributedEnv>(env, "distributedEnv"));
  exports.Set("distributedBackends", Napi::Function::New<distributedBackends>(env, "distributedBackends"));
}

}  // namespace

MSSL_REGISTER_BINDING(process_group, init);

}  // namespace mssl::napi
