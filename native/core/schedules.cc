#include "core/schedules.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace mssl {

namespace {

constexpr double kPi = 3.14159265358979323846;

std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void checkSteps(const char* fn, int64_t step, int64_t totalSteps) {
  if (totalSteps < 1) {
    throw std::out_of_range(std::string(fn) + ": totalSteps must be an integer >= 1, got " + std::to_string(totalSteps));
  }
  if (step < 0) throw std::out_of_range(std::string(fn) + ": step must be an integer >= 0, got " + std::to_string(step));
}

}  // namespace

double momentumAt(int64_t step, int64_t totalSteps, double base, double final) {
  checkSteps("momentumAt", step, totalSteps);
  if (!(base >= 0.0 && base <= 1.0)) throw std::out_of_range("momentumAt: base must be in [0, 1], got " + num(base));
  if (!(final >= 0.0 && final <= 1.0)) throw std::out_of_range("momentumAt: final must be in [0, 1], got " + num(final));
  if (base == final) return base;
  if (step >= totalSteps) return final;
  const double t = static_cast<double>(step) / static_cast<double>(totalSteps);
  const double m = final - (final - base) * (std::cos(kPi * t) + 1.0) / 2.0;
  // Rounding must not leave [min(base, final), max(base, final)].
  const double lo = base < final ? base : final, hi = base < final ? final : base;
  return m < lo ? lo : (m > hi ? hi : m);
}

double warmupCosineLr(int64_t step, int64_t totalSteps, int64_t warmupSteps, double baseLr, double finalLr) {
  checkSteps("warmupCosineLr", step, totalSteps);
  if (warmupSteps < 0 || warmupSteps > totalSteps) {
    throw std::out_of_range("warmupCosineLr: warmupSteps must be in [0, totalSteps=" + std::to_string(totalSteps) +
                            "], got " + std::to_string(warmupSteps));
  }
  if (!(baseLr >= 0.0 && std::isfinite(baseLr))) {
    throw std::out_of_range("warmupCosineLr: baseLr must be a finite number >= 0, got " + num(baseLr));
  }
  if (!(finalLr >= 0.0 && std::isfinite(finalLr))) {
    throw std::out_of_range("warmupCosineLr: finalLr must be a finite number >= 0, got " + num(finalLr));
  }
  if (step < warmupSteps) return baseLr * static_cast<double>(step + 1) / static_cast<double>(warmupSteps);
  if (step >= totalSteps) return finalLr;
  const double p = static_cast<double>(step - warmupSteps) / static_cast<double>(totalSteps - warmupSteps);
  return finalLr + (baseLr - finalLr) * (1.0 + std::cos(kPi * p)) / 2.0;
}

}  // namespace mssl
