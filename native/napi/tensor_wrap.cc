#include "napi/tensor_wrap.h"

#include <ATen/ATen.h>

#include <atomic>
#include <cstring>
#include <optional>
#include <vector>

#include "napi/addon.h"
#include "napi/errors.h"
#include "napi/registry.h"
#include "napi/worker.h"

namespace mssl::napi {

namespace {
// Process-wide, across environments: what JS holds natively.
std::atomic<int64_t> gLiveTensors{0};
std::atomic<int64_t> gLiveBytes{0};

int64_t hostBytes(const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0; }

struct DtypeOfArray {
  napi_typedarray_type array;
  at::ScalarType scalar;
};
constexpr DtypeOfArray kArrayTypes[] = {
    {napi_float32_array, at::kFloat}, {napi_float64_array, at::kDouble}, {napi_int32_array, at::kInt},
    {napi_bigint64_array, at::kLong}, {napi_uint8_array, at::kByte},
};
}  // namespace

std::string dtypeName(at::ScalarType s) {
  switch (s) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(s);
  }
}

Napi::Function TensorWrap::define(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceAccessor<&TensorWrap::shape>("shape"),
                         InstanceAccessor<&TensorWrap::dtype>("dtype"),
                         InstanceAccessor<&TensorWrap::device>("device"),
                         InstanceAccessor<&TensorWrap::nbytes>("nbytes"),
                         InstanceAccessor<&TensorWrap::disposed>("disposed"),
                         InstanceMethod<&TensorWrap::toTypedArray>("toTypedArray"),
                         InstanceMethod<&TensorWrap::dispose>("dispose"),
                         InstanceMethod<&TensorWrap::matmul>("matmul"),
                     });
}

TensorWrap::TensorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorWrap>(info), env_(info.Env()) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throwTypeError(info.Env(), "NativeTensor cannot be constructed directly; use tensor() or Tensor.from()");
  }
  at::Tensor* src = info[0].As<Napi::External<at::Tensor>>().Data();
  t_ = *src;
  bytes_ = hostBytes(*t_);
  gLiveTensors.fetch_add(1);
  gLiveBytes.fetch_add(bytes_);
  if (t_->device().is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), bytes_);
}

TensorWrap::~TensorWrap() { release(); }

void TensorWrap::release() {
  if (!t_) return;
  if (t_->device().is_cpu()) Napi::MemoryManagement::AdjustExternalMemory(Napi::Env(env_), -bytes_);
  gLiveTensors.fetch_sub(1);
  gLiveBytes.fetch_sub(bytes_);
  t_.reset();
}

Napi::Object TensorWrap::wrap(Napi::Env env, at::Tensor t) {
  return addonData(env).tensorCtor.New({Napi::External<at::Tensor>::New(env, &t)});
}

bool TensorWrap::isTensor(const Napi::Value& v) {
  if (!v.IsObject()) return false;
  return v.As<Napi::Object>().InstanceOf(addonData(v.Env()).tensorCtor.Value());
}

at::Tensor TensorWrap::arg(const Napi::Value& v, const char* name) {
  if (!isTensor(v)) throwTypeError(v.Env(), std::string(name) + " must be a Tensor");
  return Unwrap(v.As<Napi::Object>())->tensor(name);
}

const at::Tensor& TensorWrap::tensor(const char* name) const {
  if (!t_) {
    auto err = Napi::Error::New(Napi::Env(env_), std::string(name) + ": tensor has been disposed");
    err.Set("code", Napi::String::New(Napi::Env(env_), "ERR_DISPOSED"));
    throw err;
  }
  return *t_;
}

Napi::Value TensorWrap::shape(const Napi::CallbackInfo& info) {
  const auto& t = tensor("tensor");
  auto arr = Napi::Array::New(info.Env(), t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) arr.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(t.size(i))));
  return arr;
}

Napi::Value TensorWrap::dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtypeName(tensor("tensor").scalar_type()));
}

Napi::Value TensorWrap::device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), tensor("tensor").device().is_cuda() ? "cuda" : "cpu");
}

Napi::Value TensorWrap::nbytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(hostBytes(tensor("tensor"))));
}

Napi::Value TensorWrap::disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !t_); }

Napi::Value TensorWrap::toTypedArray(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    at::Tensor t = tensor("tensor").to(at::kCPU).contiguous();
    napi_typedarray_type kind{};
    bool found = false;
    for (const auto& m : kArrayTypes) {
      if (m.scalar == t.scalar_type()) {
        kind = m.array;
        found = true;
      }
    }
    if (!found) throwTypeError(info.Env(), "toTypedArray: dtype " + dtypeName(t.scalar_type()) + " has no typed array; cast it first");
    size_t bytes = static_cast<size_t>(hostBytes(t));
    auto buf = Napi::ArrayBuffer::New(info.Env(), bytes);
    if (bytes) std::memcpy(buf.Data(), t.data_ptr(), bytes);
    napi_value out;
    NAPI_THROW_IF_FAILED(info.Env(), napi_create_typedarray(info.Env(), kind, static_cast<size_t>(t.numel()), buf, 0, &out), Napi::Value());
    return Napi::Value(info.Env(), out);
  });
}

Napi::Value TensorWrap::dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

namespace {
class MatmulJob : public Job {
 public:
  MatmulJob(at::Tensor a, at::Tensor b) : a_(std::move(a)), b_(std::move(b)) {}
  void execute() override { out_ = at::matmul(a_, b_); }
  Napi::Value result(Napi::Env env) override { return TensorWrap::wrap(env, out_); }

 private:
  at::Tensor a_, b_, out_;
};
}  // namespace

Napi::Value TensorWrap::matmul(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    at::Tensor a = tensor("this");
    at::Tensor b = arg(info[0], "other");
    auto job = std::make_unique<MatmulJob>(a, b);
    job->keepAlive(info.This().As<Napi::Object>());
    job->keepAlive(info[0].As<Napi::Object>());
    return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
  });
}

// The validated source of a copy: the typed array's bytes, dtype and shape.
struct ArraySource {
  const void* data = nullptr;
  size_t bytes = 0;
  at::ScalarType scalar = at::kFloat;
  std::vector<int64_t> shape;
};

static ArraySource arraySource(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr const char* kTypes = "data must be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array";
  if (info.Length() < 2 || !info[0].IsTypedArray()) throwTypeError(env, kTypes);
  auto arr = info[0].As<Napi::TypedArray>();
  ArraySource src;
  std::optional<at::ScalarType> scalar;
  for (const auto& m : kArrayTypes) {
    if (m.array == arr.TypedArrayType()) scalar = m.scalar;
  }
  if (!scalar) throwTypeError(env, kTypes);
  src.scalar = *scalar;
  if (!info[1].IsArray()) throwTypeError(env, "shape must be an array of non-negative integers");
  auto shapeArr = info[1].As<Napi::Array>();
  int64_t numel = 1;
  for (uint32_t i = 0; i < shapeArr.Length(); ++i) {
    Napi::Value d = shapeArr.Get(i);
    double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0) || v != static_cast<double>(static_cast<int64_t>(v)) || v > 9.0e15) {
      throwTypeError(env, "shape must be an array of non-negative integers; shape[" + std::to_string(i) + "] is invalid");
    }
    src.shape.push_back(static_cast<int64_t>(v));
    // Checked before multiplying: a product past 2^53 cannot equal any array's length anyway.
    if (static_cast<double>(numel) * v > 9.0e15) throwRangeError(env, "shape [" + c10::Join(", ", src.shape) + ", ...] has more elements than any array can hold");
    numel *= src.shape.back();
  }
  if (static_cast<size_t>(numel) != arr.ElementLength()) {
    throwRangeError(env, "shape [" + c10::Join(", ", src.shape) + "] needs " + std::to_string(numel) + " elements but data has " +
                             std::to_string(arr.ElementLength()));
  }
  // The raw call, not arr.ArrayBuffer(): that one refuses arrays over a SharedArrayBuffer
  // ("Invalid argument"), whose bytes are just as readable.
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_status st = napi_get_typedarray_info(env, arr, &type, &length, &data, nullptr, nullptr);
  if (st != napi_ok) throwTypeError(env, "data: cannot read the typed array's memory (detached buffer?)");
  src.data = data;
  src.bytes = arr.ByteLength();
  return src;
}

static at::Tensor copyOf(const ArraySource& src) {
  at::Tensor t = at::empty(src.shape, at::TensorOptions().dtype(src.scalar));
  if (src.bytes) std::memcpy(t.data_ptr(), src.data, src.bytes);
  return t;
}

// tensorFromTypedArray(array, shape) -> NativeTensor (copies: the JS buffer may change later).
static Napi::Value tensorFromTypedArray(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value { return TensorWrap::wrap(info.Env(), copyOf(arraySource(info))); });
}

// The same copy on the torch worker, for big arrays: the event loop goes on meanwhile. The array
// is kept alive until the copy is done; the caller must not change it before the promise settles.
class CopyJob : public Job {
 public:
  explicit CopyJob(ArraySource src) : src_(std::move(src)) {}
  void execute() override { out_ = copyOf(src_); }
  Napi::Value result(Napi::Env env) override { return TensorWrap::wrap(env, out_); }

 private:
  ArraySource src_;
  at::Tensor out_;
};

static Napi::Value tensorFromTypedArrayAsync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    auto job = std::make_unique<CopyJob>(arraySource(info));
    job->keepAlive(info[0].As<Napi::Object>());
    return addonData(info.Env()).worker->submit(info.Env(), std::move(job));
  });
}

static Napi::Value memory(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("numTensors", Napi::Number::New(info.Env(), static_cast<double>(gLiveTensors.load())));
  o.Set("numBytes", Napi::Number::New(info.Env(), static_cast<double>(gLiveBytes.load())));
  return o;
}

static void init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = TensorWrap::define(env);
  addonData(env).tensorCtor = Napi::Persistent(ctor);
  exports.Set("NativeTensor", ctor);
  exports.Set("tensorFromTypedArray", Napi::Function::New<tensorFromTypedArray>(env, "tensorFromTypedArray"));
  exports.Set("tensorFromTypedArrayAsync", Napi::Function::New<tensorFromTypedArrayAsync>(env, "tensorFromTypedArrayAsync"));
  exports.Set("memory", Napi::Function::New<memory>(env, "memory"));
}
MSSL_REGISTER_BINDING(tensor, init);

}  // namespace mssl::napi
