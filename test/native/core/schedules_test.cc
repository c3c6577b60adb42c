// Momentum and learning-rate schedules: closed-form values and validation.
#include <cmath>
#include <stdexcept>

#include "check.h"
#include "core/schedules.h"

namespace {
const double kPi = 3.14159265358979323846;
}  // namespace

MSSL_TEST(schedules_momentum_cosine_values) {
  CHECK_CLOSE(mssl::momentumAt(0, 1000, 0.99, 1.0), 0.99, 1e-15);
  CHECK_CLOSE(mssl::momentumAt(500, 1000, 0.99, 1.0), 0.995, 1e-15);
  CHECK_CLOSE(mssl::momentumAt(1000, 1000, 0.99, 1.0), 1.0, 1e-15);
  CHECK_CLOSE(mssl::momentumAt(250, 1000, 0.99, 1.0), 1.0 - 0.01 * (std::cos(kPi / 4) + 1) / 2, 1e-15);
  CHECK_CLOSE(mssl::momentumAt(1500, 1000, 0.99, 1.0), 1.0, 0);  // past T stays at final
  CHECK_CLOSE(mssl::momentumAt(3, 7, 0.996, 0.996), 0.996, 0);    // constant
  CHECK_CLOSE(mssl::momentumAt(0, 1, 0.9, 0.99), 0.9, 1e-15);
  CHECK_CLOSE(mssl::momentumAt(1, 1, 0.9, 0.99), 0.99, 1e-15);
  // Decreasing schedules are allowed and monotone too.
  CHECK(mssl::momentumAt(10, 100, 0.99, 0.9) > mssl::momentumAt(11, 100, 0.99, 0.9));
  double prev = 0;
  for (int t = 0; t <= 100; ++t) {
    double m = mssl::momentumAt(t, 100, 0.99, 1.0);
    CHECK(m >= prev && m >= 0.99 && m <= 1.0);
    prev = m;
  }
}

MSSL_TEST(schedules_momentum_validation) {
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::momentumAt(0, 0, 0.9, 0.99); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::momentumAt(-1, 10, 0.9, 0.99); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::momentumAt(0, 10, 1.1, 0.99); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::momentumAt(0, 10, 0.9, -0.5); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::momentumAt(0, 10, std::nan(""), 0.9); }));
  try {
    mssl::momentumAt(0, 0, 0.9, 0.99);
  } catch (const std::out_of_range& e) {
    CHECK(std::string(e.what()).find("totalSteps") != std::string::npos);
  }
}

MSSL_TEST(schedules_warmup_cosine_values) {
  // T = 110, W = 10, base 0.5, final 0.01.
  CHECK_CLOSE(mssl::warmupCosineLr(0, 110, 10, 0.5, 0.01), 0.05, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(4, 110, 10, 0.5, 0.01), 0.25, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(9, 110, 10, 0.5, 0.01), 0.5, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(10, 110, 10, 0.5, 0.01), 0.5, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(60, 110, 10, 0.5, 0.01), 0.255, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(35, 110, 10, 0.5, 0.01), 0.01 + 0.49 * (1 + std::cos(kPi / 4)) / 2, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(110, 110, 10, 0.5, 0.01), 0.01, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(500, 110, 10, 0.5, 0.01), 0.01, 0);
  // No warmup; default final 0.
  CHECK_CLOSE(mssl::warmupCosineLr(0, 100, 0, 0.3), 0.3, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(50, 100, 0, 0.3), 0.15, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(100, 100, 0, 0.3), 0.0, 1e-15);
  // All warmup.
  CHECK_CLOSE(mssl::warmupCosineLr(4, 5, 5, 1.0), 1.0, 1e-15);
  CHECK_CLOSE(mssl::warmupCosineLr(5, 5, 5, 1.0), 0.0, 0);
}

MSSL_TEST(schedules_warmup_cosine_validation) {
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::warmupCosineLr(0, 0, 0, 0.1); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::warmupCosineLr(0, 10, 11, 0.1); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::warmupCosineLr(0, 10, -1, 0.1); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::warmupCosineLr(-1, 10, 1, 0.1); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::warmupCosineLr(0, 10, 1, -0.1); }));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::warmupCosineLr(0, 10, 1, 0.1, INFINITY); }));
}
