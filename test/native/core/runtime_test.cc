#include "check.h"
#include "core/runtime.h"

MSSL_TEST(runtime_reports_version_and_threads) {
  mssl::applyNumThreads(2);
  auto r = mssl::runtimeInfo();
  CHECK(!r.torchVersion.empty());
  CHECK(r.numThreads == 2);
  CHECK_THROWS(mssl::applyNumThreads(0));
}
