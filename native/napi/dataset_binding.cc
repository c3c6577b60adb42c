// Dataset binding: validates/converts JS arguments and calls native/core/data. All ops here are
// cheap (index_select of one batch, one-off load transforms), so they run synchronously on the
// JS thread rather than queueing behind a training step on the torch worker.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "core/data.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/tensor_wrap.h"

namespace mssl::napi {

namespace {

constexpr double kMaxSafe = 9007199254740991.0;  // 2^53 - 1

// A JS number that must be an integer in [lo, hi]; `name` is quoted in the error.
int64_t intArg(Napi::Env env, const Napi::Value& v, const std::string& name, double lo, double hi) {
  if (!v.IsNumber()) throwTypeError(env, name + " must be an integer, got " + (v.IsUndefined() ? "undefined" : v.ToString().Utf8Value()));
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d)) throwTypeError(env, name + " must be an integer, got " + v.ToString().Utf8Value());
  if (d < lo || d > hi) {
    throwRangeError(env, name + " must be in [" + std::to_string(static_cast<int64_t>(lo)) + ", " + std::to_string(static_cast<int64_t>(hi)) + "], got " +
                             v.ToString().Utf8Value());
  }
  return static_cast<int64_t>(d);
}

Napi::Value field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& owner) {
  if (!o.Has(key)) throwTypeError(env, owner + "." + key + " is required");
  return o.Get(key);
}

bool boolOpt(Napi::Env env, const Napi::Object& o, const char* key, bool dflt, const std::string& owner) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return dflt;
  if (!o.Get(key).IsBoolean()) throwTypeError(env, owner + "." + key + " must be a boolean");
  return o.Get(key).As<Napi::Boolean>().Value();
}

// Seed: a non-negative safe integer or a BigInt (uint64).
uint64_t seedArg(Napi::Env env, const Napi::Value& v, const std::string& name) {
  if (v.IsBigInt()) {
    bool lossless = false;
    uint64_t s = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throwRangeError(env, name + " must fit in 64 unsigned bits");
    return s;
  }
  return static_cast<uint64_t>(intArg(env, v, name, 0, kMaxSafe));
}

Napi::Object pair(Napi::Env env, const data::ImageBatch& b) {
  auto o = Napi::Object::New(env);
  o.Set("images", TensorWrap::wrap(env, b.images));
  o.Set("labels", TensorWrap::wrap(env, b.labels));
  if (b.index.defined()) o.Set("index", TensorWrap::wrap(env, b.index));
  return o;
}

// Indices from a Tensor, Int32Array, BigInt64Array or array of integers (copied).
at::Tensor indicesArg(Napi::Env env, const Napi::Value& v) {
  const char* kinds = "indices must be a Tensor (int32/int64), an Int32Array, a BigInt64Array or an array of integers";
  if (TensorWrap::isTensor(v)) return TensorWrap::arg(v, "indices");
  if (v.IsTypedArray()) {
    auto a = v.As<Napi::TypedArray>();
    at::ScalarType s;
    if (a.TypedArrayType() == napi_int32_array) s = at::kInt;
    else if (a.TypedArrayType() == napi_bigint64_array) s = at::kLong;
    else throwTypeError(env, kinds);
    at::Tensor t = at::empty({static_cast<int64_t>(a.ElementLength())}, at::TensorOptions().dtype(s));
    if (a.ByteLength()) std::memcpy(t.data_ptr(), static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(), a.ByteLength());
    return t;
  }
  if (v.IsArray()) {
    auto arr = v.As<Napi::Array>();
    at::Tensor t = at::empty({static_cast<int64_t>(arr.Length())}, at::kLong);
    int64_t* d = t.data_ptr<int64_t>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      d[i] = intArg(env, arr.Get(i), "indices[" + std::to_string(i) + "]", -kMaxSafe, kMaxSafe);
    }
    return t;
  }
  throwTypeError(env, kinds);
}

// dataPrepare(images, labels, numClasses, layout) -> { images, labels }
Napi::Value dataPrepare(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    at::Tensor images = TensorWrap::arg(info[0], "images");
    at::Tensor labels = TensorWrap::arg(info[1], "labels");
    int64_t numClasses = info[2].IsUndefined() ? 0 : intArg(env, info[2], "numClasses", 0, kMaxSafe);
    data::Layout layout = data::Layout::NCHW;
    if (!info[3].IsUndefined()) {
      std::string l = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : "";
      if (l == "nhwc") layout = data::Layout::NHWC;
      else if (l != "nchw") throwTypeError(env, "layout must be 'nchw' or 'nhwc'");
    }
    return pair(env, data::prepare(images, labels, numClasses, layout));
  });
}

// dataUnpackRecords(raw, { recordSize, labelOffset, pixelOffset, channels, height, width })
Napi::Value dataUnpackRecords(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    at::Tensor raw = TensorWrap::arg(info[0], "records");
    if (!info[1].IsObject()) throwTypeError(env, "spec must be an object");
    auto o = info[1].As<Napi::Object>();
    data::RecordSpec s;
    s.recordSize = intArg(env, field(env, o, "recordSize", "spec"), "spec.recordSize", 1, kMaxSafe);
    s.labelOffset = intArg(env, field(env, o, "labelOffset", "spec"), "spec.labelOffset", 0, kMaxSafe);
    s.pixelOffset = intArg(env, field(env, o, "pixelOffset", "spec"), "spec.pixelOffset", 0, kMaxSafe);
    s.channels = intArg(env, field(env, o, "channels", "spec"), "spec.channels", 1, kMaxSafe);
    s.height = intArg(env, field(env, o, "height", "spec"), "spec.height", 1, kMaxSafe);
    s.width = intArg(env, field(env, o, "width", "spec"), "spec.width", 1, kMaxSafe);
    return pair(env, data::unpackRecords(raw, s));
  });
}

// dataGather(images, labels, indices) -> { images, labels, index }
Napi::Value dataGather(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    at::Tensor images = TensorWrap::arg(info[0], "images");
    at::Tensor labels = TensorWrap::arg(info[1], "labels");
    if (images.dim() < 1 || labels.dim() != 1 || labels.size(0) != images.size(0)) {
      throwTypeError(env, "images and labels must have the same number of samples");
    }
    return pair(env, data::gather(images, labels, indicesArg(env, info[2])));
  });
}

// Wraps data::EpochSampler; next() hands out index batches as Int32Array (JS-owned, no dispose).
class SamplerWrap : public Napi::ObjectWrap<SamplerWrap> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "DataSampler",
                       {
                           InstanceMethod<&SamplerWrap::next>("next"),
                           InstanceMethod<&SamplerWrap::state>("state"),
                           InstanceMethod<&SamplerWrap::setState>("setState"),
                           InstanceAccessor<&SamplerWrap::batchesPerEpoch>("batchesPerEpoch"),
                       });
  }

  explicit SamplerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SamplerWrap>(info) {
    guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      if (!info[0].IsObject()) throwTypeError(env, "sampler options must be an object");
      auto o = info[0].As<Napi::Object>();
      data::SamplerConfig c;
      // Batches go out as Int32Array.
      c.size = intArg(env, field(env, o, "size", "options"), "size", 0, std::numeric_limits<int32_t>::max());
      c.batchSize = intArg(env, field(env, o, "batchSize", "options"), "batchSize", 1, kMaxSafe);
      c.dropLast = boolOpt(env, o, "dropLast", false, "options");
      c.shuffle = boolOpt(env, o, "shuffle", true, "options");
      c.seed = o.Has("seed") && !o.Get("seed").IsUndefined() ? seedArg(env, o.Get("seed"), "seed") : 0;
      if (o.Has("worldSize") && !o.Get("worldSize").IsUndefined()) c.worldSize = intArg(env, o.Get("worldSize"), "worldSize", 1, 1 << 20);
      if (o.Has("rank") && !o.Get("rank").IsUndefined()) c.rank = intArg(env, o.Get("rank"), "rank", 0, 1 << 20);
      sampler_ = std::make_unique<data::EpochSampler>(c);
      return env.Undefined();
    });
  }

 private:
  Napi::Value next(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      at::Tensor b = sampler_->next().to(at::kInt);
      auto out = Napi::Int32Array::New(info.Env(), static_cast<size_t>(b.numel()));
      if (b.numel()) std::memcpy(out.Data(), b.data_ptr<int32_t>(), static_cast<size_t>(b.numel()) * sizeof(int32_t));
      return out;
    });
  }

  Napi::Value state(const Napi::CallbackInfo& info) {
    auto s = sampler_->state();
    auto o = Napi::Object::New(info.Env());
    o.Set("epoch", Napi::Number::New(info.Env(), static_cast<double>(s.epoch)));
    o.Set("position", Napi::Number::New(info.Env(), static_cast<double>(s.position)));
    return o;
  }

  Napi::Value setState(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      if (!info[0].IsObject()) throwTypeError(env, "state must be an object { epoch, position }");
      auto o = info[0].As<Napi::Object>();
      data::SamplerState s;
      s.epoch = intArg(env, field(env, o, "epoch", "state"), "state.epoch", 0, kMaxSafe);
      s.position = intArg(env, field(env, o, "position", "state"), "state.position", 0, kMaxSafe);
      sampler_->setState(s);
      return env.Undefined();
    });
  }

  Napi::Value batchesPerEpoch(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(sampler_->batchesPerEpoch()));
  }

  std::unique_ptr<data::EpochSampler> sampler_;
};

void init(Napi::Env env, Napi::Object exports) {
  exports.Set("dataPrepare", Napi::Function::New<dataPrepare>(env, "dataPrepare"));
  exports.Set("dataUnpackRecords", Napi::Function::New<dataUnpackRecords>(env, "dataUnpackRecords"));
  exports.Set("dataGather", Napi::Function::New<dataGather>(env, "dataGather"));
  exports.Set("DataSampler", SamplerWrap::define(env));
}

}  // namespace

MSSL_REGISTER_BINDING(dataset, init);

}  // namespace mssl::napi
