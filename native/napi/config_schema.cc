#include "napi/config_schema.h"

#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/objective.h"
#include "napi/errors.h"

namespace mssl::napi {

namespace {

// Reads one JS object level; remembers the keys it visited so that finish() can name unknown ones.
class Reader {
 public:
  Reader(Napi::Env env, Napi::Value v, std::string path) : env_(env), path_(std::move(path)) {
    if (v.IsUndefined() || v.IsNull()) return;
    if (!v.IsObject() || v.IsArray()) throwTypeError(env, path_ + " must be an object");
    obj_ = v.As<Napi::Object>();
    present_ = true;
  }

  template <typename F>
  void section(const char* key, F&& visit) {
    Reader child(env_, get(key), where(key));
    visit(child);
    child.finish();
  }
  void number(const char* key, double& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    if (!v.IsNumber()) throwTypeError(env_, where(key) + " must be a number, got " + typeOf(v));
    out = v.As<Napi::Number>().DoubleValue();
  }
  template <typename Int>
  void integer(const char* key, Int& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
    if (!(std::fabs(d) <= 9.0e15) || d != std::floor(d)) throwTypeError(env_, where(key) + " must be an integer, got " + describe(v));
    const double lo = static_cast<double>(std::numeric_limits<Int>::min()), hi = static_cast<double>(std::numeric_limits<Int>::max());
    if (d < lo || d > hi) throwRangeError(env_, where(key) + " is out of range, got " + describe(v));
    out = static_cast<Int>(d);
  }
  void seed(const char* key, uint64_t& out) {
    int64_t s = static_cast<int64_t>(out);
    integer(key, s);
    if (s < 0 || s > (int64_t(1) << 53) - 1) throwRangeError(env_, where(key) + " must be an integer in [0, 2^53 - 1], got " + std::to_string(s));
    out = static_cast<uint64_t>(s);
  }
  void boolean(const char* key, bool& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    if (!v.IsBoolean()) throwTypeError(env_, where(key) + " must be a boolean, got " + typeOf(v));
    out = v.As<Napi::Boolean>().Value();
  }
  void string(const char* key, std::string& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    if (!v.IsString()) throwTypeError(env_, where(key) + " must be a string, got " + typeOf(v));
    out = v.As<Napi::String>().Utf8Value();
  }
  // [min, max] in JS, two members in C++.
  void pair(const char* key, double& lo, double& hi) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 2 || !v.As<Napi::Array>().Get(0u).IsNumber() || !v.As<Napi::Array>().Get(1u).IsNumber()) {
      throwTypeError(env_, where(key) + " must be a [min, max] pair of numbers");
    }
    lo = v.As<Napi::Array>().Get(0u).As<Napi::Number>().DoubleValue();
    hi = v.As<Napi::Array>().Get(1u).As<Napi::Number>().DoubleValue();
  }
  // An array of numbers, or null for "empty" (the core's default).
  void numbersOrNull(const char* key, std::vector<double>& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    if (v.IsNull()) {
      out.clear();
      return;
    }
    if (!v.IsArray()) throwTypeError(env_, where(key) + " must be an array of numbers (one per channel) or null");
    auto a = v.As<Napi::Array>();
    std::vector<double> vals;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber()) throwTypeError(env_, where(key) + "[" + std::to_string(i) + "] must be a number");
      vals.push_back(e.As<Napi::Number>().DoubleValue());
    }
    out = std::move(vals);
  }
  // 'none' | 'full' | 'projector' | an array of part names.
  void emaParts(const char* key, std::vector<std::string>& out) {
    Napi::Value v = get(key);
    if (v.IsUndefined()) return;
    if (v.IsString()) {
      out = emaPartsFromAlias(v.As<Napi::String>().Utf8Value());
      return;
    }
    if (!v.IsArray()) throwTypeError(env_, where(key) + " must be 'none', 'full', 'projector' or an array of part names");
    auto a = v.As<Napi::Array>();
    out.clear();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsString()) throwTypeError(env_, where(key) + "[" + std::to_string(i) + "] must be a part name (string)");
      out.push_back(e.As<Napi::String>().Utf8Value());
    }
  }
  // { name, ...options }: the options are those the objective declares (checked by the core).
  void objective(const char* key, ObjectiveConfig& out) {
    Reader r(env_, get(key), where(key));
    if (!r.present_) return;
    std::string name = out.name;
    r.string("name", name);
    if (name != out.name) out.options.clear();  // another objective: its own defaults
    out.name = name;
    auto keys = r.obj_.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString().Utf8Value();
      Napi::Value v = r.obj_.Get(k);
      if (k == "name" || v.IsUndefined()) continue;
      if (v.IsBoolean()) out.options[k] = v.As<Napi::Boolean>().Value() ? 1.0 : 0.0;
      else if (v.IsNumber()) out.options[k] = v.As<Napi::Number>().DoubleValue();
      else throwTypeError(env_, r.where(k.c_str()) + " must be a number or a boolean, got " + typeOf(v));
    }
  }

  // Unknown keys are errors: a typo must not silently train the default.
  void finish() const {
    if (!present_) return;
    auto keys = obj_.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string k = keys.Get(i).ToString().Utf8Value();
      if (visited_.count(k) || obj_.Get(k).IsUndefined()) continue;
      std::string known;
      for (const auto& v : order_) known += (known.empty() ? "" : ", ") + v;
      throwTypeError(env_, where(k.c_str()) + " is not a known option (known: " + known + ")");
    }
  }

 private:
  Napi::Value get(const char* key) {
    if (!visited_.count(key)) order_.push_back(key);
    visited_.insert(key);
    return present_ ? obj_.Get(key) : env_.Undefined();
  }
  std::string where(const char* key) const { return path_ + "." + key; }
  static std::string typeOf(const Napi::Value& v) {
    if (v.IsNull()) return "null";
    if (v.IsArray()) return "an array";
    if (v.IsString()) return "a string";
    if (v.IsNumber()) return "a number";
    if (v.IsBoolean()) return "a boolean";
    if (v.IsBigInt()) return "a bigint";
    return "an object";
  }
  static std::string describe(const Napi::Value& v) {
    if (v.IsNumber()) {
      std::ostringstream os;
      os << v.As<Napi::Number>().DoubleValue();
      return os.str();
    }
    return typeOf(v);
  }

  Napi::Env env_;
  Napi::Object obj_;
  bool present_ = false;
  std::string path_;
  std::set<std::string> visited_;
  std::vector<std::string> order_;
};

// Builds one JS object level from the C++ values.
class Writer {
 public:
  explicit Writer(Napi::Env env) : env_(env), obj_(Napi::Object::New(env)) {}
  Napi::Object object() const { return obj_; }

  template <typename F>
  void section(const char* key, F&& visit) {
    Writer child(env_);
    visit(child);
    obj_.Set(key, child.obj_);
  }
  void number(const char* key, double& v) { obj_.Set(key, Napi::Number::New(env_, v)); }
  template <typename Int>
  void integer(const char* key, Int& v) { obj_.Set(key, Napi::Number::New(env_, static_cast<double>(v))); }
  void seed(const char* key, uint64_t& v) { obj_.Set(key, Napi::Number::New(env_, static_cast<double>(v))); }
  void boolean(const char* key, bool& v) { obj_.Set(key, Napi::Boolean::New(env_, v)); }
  void string(const char* key, std::string& v) { obj_.Set(key, Napi::String::New(env_, v)); }
  void pair(const char* key, double& lo, double& hi) {
    auto a = Napi::Array::New(env_, 2);
    a.Set(0u, Napi::Number::New(env_, lo));
    a.Set(1u, Napi::Number::New(env_, hi));
    obj_.Set(key, a);
  }
  void numbersOrNull(const char* key, std::vector<double>& v) {
    if (v.empty()) {
      obj_.Set(key, env_.Null());
      return;
    }
    auto a = Napi::Array::New(env_, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env_, v[i]));
    obj_.Set(key, a);
  }
  void emaParts(const char* key, std::vector<std::string>& v) {
    if (v.empty()) {
      obj_.Set(key, Napi::String::New(env_, "none"));
      return;
    }
    auto a = Napi::Array::New(env_, v.size());
    for (size_t i = 0; i < v.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::String::New(env_, v[i]));
    obj_.Set(key, a);
  }
  void objective(const char* key, ObjectiveConfig& c) {
    auto o = Napi::Object::New(env_);
    o.Set("name", c.name);
    for (const auto& opt : objectiveSpec(c.name).options) {
      const double value = c.get(opt.name);
      if (opt.kind == ObjectiveOption::kBoolean) o.Set(opt.name, Napi::Boolean::New(env_, value != 0));
      else o.Set(opt.name, Napi::Number::New(env_, value));
    }
    obj_.Set(key, o);
  }

 private:
  Napi::Env env_;
  Napi::Object obj_;
};

// The augment section: JS field names on the left, C++ members on the right.
template <typename V>
void visitAugment(V& v, AugmentConfig& a) {
  v.integer("outSize", a.outSize);
  v.pair("scale", a.scaleMin, a.scaleMax);
  v.pair("ratio", a.ratioMin, a.ratioMax);
  v.number("flipP", a.flipP);
  v.number("jitterP", a.jitterP);
  v.number("brightness", a.brightness);
  v.number("contrast", a.contrast);
  v.number("saturation", a.saturation);
  v.number("hue", a.hue);
  v.number("grayscaleP", a.grayscaleP);
  v.number("blurP", a.blurP);
  v.pair("blurSigma", a.blurSigmaMin, a.blurSigmaMax);
  v.integer("blurKernelSize", a.blurKernelSize);
  v.number("solarizeP", a.solarizeP);
  v.numbersOrNull("mean", a.mean);
  v.numbersOrNull("std", a.std);
  v.integer("localCrops", a.localCrops);
  v.integer("localSize", a.localSize);
  v.pair("localScale", a.localScaleMin, a.localScaleMax);
  v.boolean("perSample", a.perSample);
}

// The whole SslConfig, in the order the TS interface declares it.
template <typename V>
void visitSslConfig(V& v, SslConfig& c) {
  SslNetworksConfig& n = c.networks;
  v.section("backbone", [&](auto& s) {
    s.integer("depth", n.backbone.depth);
    s.string("stem", n.backbone.stem);
    s.integer("inChannels", n.backbone.inChannels);
    s.number("width", n.backbone.width);
    s.boolean("zeroInitResidual", n.backbone.zeroInitResidual);
  });
  v.section("projector", [&](auto& s) {
    s.integer("hiddenDim", n.projectorHidden);
    s.integer("outDim", n.projectorOut);
    s.boolean("lastBn", n.projectorLastBn);
    s.integer("prototypes", n.prototypes);
  });
  v.section("predictor", [&](auto& s) { s.integer("hiddenDim", n.predictorHidden); });
  v.section("ema", [&](auto& s) {
    s.emaParts("parts", n.emaParts);
    s.number("base", c.momentumBase);
    s.number("final", c.momentumFinal);
  });
  v.objective("objective", c.objective);
  v.section("optimizer", [&](auto& s) {
    s.string("name", c.optim.name);
    s.number("lr", c.lr);
    s.number("finalLr", c.finalLr);
    s.integer("warmupSteps", c.warmupSteps);
    s.number("momentum", c.optim.momentum);
    s.number("weightDecay", c.optim.weightDecay);
    s.boolean("nesterov", c.optim.nesterov);
    s.number("eta", c.optim.eta);
    s.boolean("excludeBiasAndNorm", c.optim.excludeBiasAndNorm);
    s.number("beta1", c.optim.beta1);
    s.number("beta2", c.optim.beta2);
    s.number("eps", c.optim.eps);
  });
  v.section("augment", [&](auto& s) { visitAugment(s, c.augment); });
  v.integer("totalSteps", c.totalSteps);
  v.seed("seed", c.seed);
  v.string("device", c.device);
  v.section("gradMonitor", [&](auto& s) { s.boolean("enabled", c.gradMonitor); });
  v.boolean("channelsLast", c.channelsLast);
  v.string("dtype", c.dtype);
  v.section("dataParallel", [&](auto& s) {
    s.boolean("syncBatchNorm", c.dataParallel.syncBatchNorm);
    s.integer("bucketBytes", c.dataParallel.bucketBytes);
  });
}

const char* keyUseName(KeyUse k) { return k == KeyUse::kAlways ? "always" : "ifEma"; }
const char* predictorUseName(PredictorUse p) {
  return p == PredictorUse::kRequired ? "required" : p == PredictorUse::kForbidden ? "forbidden" : "optional";
}
const char* optionKindName(ObjectiveOption::Kind k) {
  return k == ObjectiveOption::kBoolean ? "boolean" : k == ObjectiveOption::kInteger ? "integer" : "number";
}

}  // namespace

SslConfig sslConfigFromJs(Napi::Env env, const Napi::Value& v) {
  SslConfig c;
  Reader r(env, v, "config");
  visitSslConfig(r, c);
  r.finish();
  return c;
}

Napi::Object sslConfigToJs(Napi::Env env, const SslConfig& cfg) {
  SslConfig c = cfg;
  Writer w(env);
  visitSslConfig(w, c);
  return w.object();
}

AugmentConfig augmentConfigFromJs(Napi::Env env, const Napi::Value& v, const AugmentConfig& base) {
  AugmentConfig a = base;
  Reader r(env, v, "augment");
  visitAugment(r, a);
  r.finish();
  return a;
}

Napi::Object augmentConfigToJs(Napi::Env env, const AugmentConfig& cfg) {
  AugmentConfig a = cfg;
  Writer w(env);
  visitAugment(w, a);
  return w.object();
}

Napi::Array objectivesToJs(Napi::Env env) {
  const auto& reg = objectiveRegistry();
  auto out = Napi::Array::New(env, reg.size());
  for (size_t i = 0; i < reg.size(); ++i) {
    const ObjectiveSpec& s = reg[i].spec();
    auto o = Napi::Object::New(env);
    o.Set("name", s.name);
    o.Set("summary", s.summary);
    o.Set("keys", keyUseName(s.keys));
    o.Set("predictor", predictorUseName(s.predictor));
    o.Set("prototypes", s.prototypes);
    o.Set("localCrops", s.localCrops);
    auto opts = Napi::Array::New(env, s.options.size());
    for (size_t j = 0; j < s.options.size(); ++j) {
      const ObjectiveOption& d = s.options[j];
      auto od = Napi::Object::New(env);
      od.Set("name", d.name);
      od.Set("kind", optionKindName(d.kind));
      if (d.kind == ObjectiveOption::kBoolean) od.Set("default", d.defaultValue != 0);
      else od.Set("default", d.defaultValue);
      od.Set("min", d.min);
      od.Set("max", d.max);
      od.Set("minExclusive", d.minExclusive);
      od.Set("doc", d.doc);
      opts.Set(static_cast<uint32_t>(j), od);
    }
    o.Set("options", opts);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace mssl::napi
