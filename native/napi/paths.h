// The one check every path-taking native entry point runs on its path argument, on the JS thread
// so a bad path is an immediate, clear rejection: a non-empty string, no NUL byte (C would cut the
// path there and write elsewhere), and, when the target exists, a regular file (never a device
// such as /dev/full, a folder or a FIFO).
#pragma once
#include <napi.h>

#include <string>

namespace mssl::napi {

std::string pathArg(const Napi::Value& v, const char* what);

}  // namespace mssl::napi
