// Per-step schedules of a run (design §2 momentum, §6 learning rate). Pure functions of the
// optimizer-step count, so a resumed run continues exactly where it stopped.
#pragma once
#include <cstdint>

namespace mssl {

// EMA momentum at optimizer step t of T (design §2):
//   m(t) = final − (final − base)·(cos(π·t/T) + 1)/2
// so m(0) = base, m(T/2) = (base+final)/2, m(T) = final; exactly `base` when base == final.
// base, final in [0, 1]; totalSteps ≥ 1; step ≥ 0 (steps past T stay at `final`).
// Throws std::out_of_range naming the argument.
double momentumAt(int64_t step, int64_t totalSteps, double base, double final);

// Learning rate at optimizer step t: linear warmup over the first `warmupSteps` steps
// (step s < W gives baseLr·(s+1)/W, so the first step already moves and step W−1 reaches baseLr),
// then cosine from baseLr at s = W to finalLr at s = T:
//   lr = finalLr + (baseLr − finalLr)·(1 + cos(π·(s−W)/(T−W)))/2
// Steps past T stay at finalLr; with W == T there is no cosine phase (finalLr after warmup).
// totalSteps ≥ 1, 0 ≤ warmupSteps ≤ totalSteps, baseLr ≥ 0, finalLr ≥ 0, step ≥ 0.
// Throws std::out_of_range naming the argument.
double warmupCosineLr(int64_t step, int64_t totalSteps, int64_t warmupSteps, double baseLr, double finalLr = 0);

}  // namespace mssl
