// Minimal test harness for the native/core C++ tests (no Node: runs on a GPU box with only
// CMake and LibTorch). MSSL_TEST(name) { CHECK(...); CHECK_CLOSE(a, b, tol); }
#pragma once
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace mssl_test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& cases();
struct Reg {
  Reg(const char* name, std::function<void()> fn) { cases().push_back({name, std::move(fn)}); }
};
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// True iff f() throws an E whose message contains `mention` (empty: any message).
template <class E, class F>
bool throwsAs(F&& f, const std::string& mention = "") {
  try {
    f();
  } catch (const E& e) {
    return std::string(e.what()).find(mention) != std::string::npos;
  } catch (...) {
    return false;
  }
  return false;
}

}  // namespace mssl_test

// glog (pulled in by LibTorch) defines its own CHECK; ours replaces it in test files.
#ifdef CHECK
#undef CHECK
#endif

#define MSSL_TEST(name)                                              \
  static void name();                                                \
  static ::mssl_test::Reg mssl_test_reg_##name(#name, name);         \
  static void name()

#define CHECK(cond)                                                                                   \
  do {                                                                                                \
    if (!(cond)) {                                                                                    \
      std::ostringstream os_;                                                                         \
      os_ << __FILE__ << ":" << __LINE__ << ": CHECK(" #cond ") failed";                              \
      throw ::mssl_test::Failure(os_.str());                                                          \
    }                                                                                                 \
  } while (0)

#define CHECK_CLOSE(a, b, tol)                                                                        \
  do {                                                                                                \
    double a_ = (a), b_ = (b);                                                                        \
    if (!(std::fabs(a_ - b_) <= (tol))) {                                                             \
      std::ostringstream os_;                                                                         \
      os_ << __FILE__ << ":" << __LINE__ << ": " #a " = " << a_ << " vs " #b " = " << b_ << " (tol " << (tol) << ")"; \
      throw ::mssl_test::Failure(os_.str());                                                          \
    }                                                                                                 \
  } while (0)

#define CHECK_THROWS(expr)                                                                            \
  do {                                                                                                \
    bool threw_ = false;                                                                              \
    try {                                                                                             \
      (void)(expr);                                                                                   \
    } catch (const std::exception&) {                                                                 \
      threw_ = true;                                                                                  \
    }                                                                                                 \
    if (!threw_) throw ::mssl_test::Failure(std::string(__FILE__) + ": expected " #expr " to throw"); \
  } while (0)
