// Each binding file registers its exports with one line, MSSL_REGISTER_BINDING(name, init), so
// adding a binding never edits a shared file.
#pragma once
#include <napi.h>

namespace mssl::napi {

using BindingInit = void (*)(Napi::Env env, Napi::Object exports);

struct BindingRegistrar {
  BindingRegistrar(const char* name, BindingInit init);
};

void initAllBindings(Napi::Env env, Napi::Object exports);

}  // namespace mssl::napi

#define MSSL_REGISTER_BINDING(name, init) \
  static ::mssl::napi::BindingRegistrar mssl_binding_registrar_##name(#name, init)
