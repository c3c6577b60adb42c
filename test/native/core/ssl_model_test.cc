// The training step over every objective: checkpoint resume, the loss falling over 30 steps on
// synthetic data, the key-branch reuse and forward counts per EMA wiring, DINO's centre and
// collapse monitor, and checks before any state change.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "check.h"
#include "core/checkpoint.h"
#include "core/ssl_model.h"
#include "tiny_config.h"

using namespace mssl;

namespace {

// A tiny model and a fixed synthetic dataset: 16 images of 4 classes (a bright square whose
// position is the class) with noise, so that views of one image share structure to learn.
SslConfig tiny(const std::string& objective, std::vector<std::string> ema) {
  SslConfig c = mssl_test::tinyNetworks(objective, std::move(ema), 32);
  c.augment.outSize = 16;
  c.augment.scaleMin = 0.5;
  c.totalSteps = 30;
  c.lr = 0.05;
  c.seed = 3;
  if (objective == "dino") {
    c.networks.prototypes = 64;
    c.augment.localCrops = 2;
    c.augment.localSize = 8;
  }
  return c;
}

torch::Tensor syntheticImages(int64_t n) {
  torch::manual_seed(11);
  torch::Tensor x = torch::randint(0, 60, {n, 3, 16, 16}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t cls = i % 4;
    x.index_put_({i, torch::indexing::Slice(), torch::indexing::Slice((cls / 2) * 8, (cls / 2) * 8 + 8),
                  torch::indexing::Slice((cls % 2) * 8, (cls % 2) * 8 + 8)},
                 200);
  }
  return x.to(torch::kByte);
}

double mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / static_cast<double>(to - from);
}

const std::vector<std::string> kObjectives = {"ntxent", "infonce", "byol", "simsiam", "dino"};

}  // namespace

MSSL_TEST(ssl_model_checkpoint_resume_continues_identically_per_objective) {
  torch::Tensor data = syntheticImages(8);
  torch::Tensor idx = torch::arange(8, torch::kLong);
  for (const auto& name : kObjectives) {
    const std::string path = "/tmp/mssl_ssl_model_test_" + name + ".ckpt";
    SslConfig cfg = tiny(name, name == "ntxent" ? std::vector<std::string>{"projector"} : std::vector<std::string>{"layer4", "projector"});
    cfg.totalSteps = 6;
    SslModel a(cfg);
    for (int s = 0; s < 3; ++s) a.step(data, idx);
    saveCheckpoint(a, path, "{\"sampler\":1}");
    std::vector<double> expected;
    for (int s = 0; s < 3; ++s) expected.push_back(a.step(data, idx).loss);

    SslConfig other = cfg;
    other.seed = 99;  // different init and RNG: everything must come from the checkpoint
    SslModel b(other);
    CHECK(loadCheckpoint(b, path) == "{\"sampler\":1}");
    CHECK(b.stepCount() == 3);
    for (int s = 0; s < 3; ++s) CHECK_CLOSE(b.step(data, idx).loss, expected[s], 1e-6);

    SslConfig wrong = cfg;
    wrong.networks.emaParts = {"stem", "projector"};
    SslModel c(wrong);
    CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { loadCheckpoint(c, path); }, "another model"));
    CHECK(c.stepCount() == 0);
    std::remove(path.c_str());
  }
}

MSSL_TEST(ssl_model_every_objective_learns_in_30_steps) {
  torch::Tensor data = syntheticImages(16);
  torch::Tensor idx = torch::arange(16, torch::kLong);
  for (const auto& name : kObjectives) {
    // The momentum methods with their usual wiring; SimSiam and SimCLR momentum-free.
    std::vector<std::string> ema;
    if (name == "infonce" || name == "byol" || name == "dino") ema = sslPartNames();
    SslModel m(tiny(name, ema));
    std::vector<double> losses;
    for (int s = 0; s < 30; ++s) losses.push_back(m.step(data, idx).loss);
    for (double l : losses) CHECK(std::isfinite(l));
    // The same 16 images every step: the last steps must be below the early ones. Steps 0-1 are
    // left out: the queue (32 slots, 32 keys a step) starts empty, so InfoNCE's first loss has no
    // negatives at all.
    const double first = mean(losses, 2, 7), last = mean(losses, 25, 30);
    if (!(last < first)) throw mssl_test::Failure(name + ": loss did not fall (" + std::to_string(first) + " -> " + std::to_string(last) + ")");
  }
}

MSSL_TEST(ssl_model_dino_teacher_does_not_collapse) {
  // Collapse is either one prototype taking all mass (entropy → 0) or a uniform teacher
  // (entropy → log K). Centring prevents the first, sharpening the second; with 64 prototypes
  // (log K = 4.16) a healthy teacher keeps a spread-out but peaked distribution. The floor 0.5
  // nats is 12 % of log K: far above a one-hot teacher, which is what collapse would show first
  // at this sharpening (τ_t 0.04 → 0.07).
  torch::Tensor data = syntheticImages(16);
  SslModel m(tiny("dino", sslPartNames()));
  double entropy = 0, tau = 0;
  for (int s = 0; s < 30; ++s) {
    StepResult r = m.step(data, torch::Tensor());
    for (const auto& [k, v] : r.objectiveMetrics) {
      if (k == "teacherEntropy") entropy = v;
      if (k == "teacherTemperature") tau = v;
    }
    CHECK(entropy > 0.5);
    CHECK(entropy < std::log(64.0) - 1e-3);
  }
  // Warmup over 30 % of the 30 steps: τ_t has reached its final value.
  CHECK_CLOSE(tau, 0.07, 1e-12);
  // The centre moved off zero and is the objective's checkpointed state.
  auto st = m.objective().state();
  CHECK(st.size() == 1 && st[0].first == "center");
  CHECK(st[0].second.abs().sum().item<double>() > 0);
}

MSSL_TEST(ssl_model_key_branch_forward_counts_per_objective_and_ema) {
  torch::Tensor data = syntheticImages(8);
  struct Case {
    std::vector<std::string> ema;
    std::array<int64_t, kNumParts> key;  // key-branch calls of each part after one step (2 global views)
  };
  const std::vector<Case> cases = {
      {{"projector"}, {0, 0, 0, 0, 0, 2}},                 // projector-only: backbone reused
      {{"layer4", "projector"}, {0, 0, 0, 0, 2, 2}},       // last-k
      {{"stem"}, {2, 2, 2, 2, 2, 2}},                      // from the input: everything again
      {sslPartNames(), {2, 2, 2, 2, 2, 2}},
  };
  for (const auto& name : {"ntxent", "infonce", "byol", "simsiam", "dino"}) {
    for (const auto& c : cases) {
      SslModel m(tiny(name, c.ema));
      m.step(data, torch::Tensor());
      const auto& key = m.networks().keyForwardCounts();
      const auto& online = m.networks().onlineForwardCounts();
      const int64_t views = std::string(name) == "dino" ? 4 : 2;  // DINO: 2 global + 2 local
      for (int b = 0; b < kNumParts; ++b) {
        CHECK(key[b] == c.key[b]);
        CHECK(online[b] == views);
      }
    }
    // No EMA: the objectives that always need keys use the detached online outputs, NT-Xent none.
    SslModel plain(tiny(name, {}));
    plain.step(data, torch::Tensor());
    for (int b = 0; b < kNumParts; ++b) CHECK(plain.networks().keyForwardCounts()[b] == 0);
  }
}

MSSL_TEST(ssl_model_checks_before_any_state_change) {
  torch::Tensor data = syntheticImages(8);
  SslModel m(tiny("infonce", sslPartNames()));
  torch::Tensor before = m.networks().trainableParameters()[0].clone();
  torch::Tensor bad = torch::full({8}, -5, torch::kLong);
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { m.step(data, bad); }, "sampleIndex"));
  CHECK(m.stepCount() == 0);
  CHECK(torch::equal(before, m.networks().trainableParameters()[0]));
  // Without sample indices a queue objective still trains (keys enqueued as unknown samples).
  m.step(data, torch::Tensor());
  CHECK(m.stepCount() == 1);
}

MSSL_TEST(ssl_model_objective_needs_are_checked) {
  SslConfig c = tiny("byol", {});
  c.networks.predictorHidden = 0;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { SslModel m(c); }, "needs a predictor"));
  c = tiny("ntxent", {});
  c.networks.predictorHidden = 8;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { SslModel m(c); }, "does not use a predictor"));
  c = tiny("dino", {});
  c.networks.prototypes = 0;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { SslModel m(c); }, "prototype"));
  c = tiny("ntxent", {});
  c.augment.localCrops = 2;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { SslModel m(c); }, "localCrops"));
  c = tiny("infonce", {});
  c.objective.options["queueSize"] = 0;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { SslModel m(c); }, "needs negatives"));
  c = tiny("ntxent", {});
  c.objective.options["temperature"] = 0;
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { SslModel m(c); }, "objective.temperature"));
  c.objective.options.clear();
  c.objective.options["queueSize"] = 3;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { SslModel m(c); }, "not an option of objective 'ntxent'"));
  c.objective = ObjectiveConfig{"swav", {}};
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { SslModel m(c); }, "ntxent, infonce, byol, simsiam, dino"));
}
