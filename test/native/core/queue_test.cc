// One test per rule of the negative-key queue (design §4), plus checkpoint round trip.
#include <cmath>
#include <stdexcept>

#include "check.h"
#include "core/infonce.h"
#include "core/ntxent.h"
#include "core/queue.h"

namespace {
auto f64 = torch::TensorOptions().dtype(torch::kDouble);

torch::Tensor idx(std::initializer_list<int64_t> v) { return torch::tensor(std::vector<int64_t>(v), torch::kLong); }
torch::Tensor range(int64_t from, int64_t n) { return torch::arange(from, from + n, torch::kLong); }
// Row i is the unit vector along i, so the stored sampleIndex <-> key mapping is checkable.
torch::Tensor keysFor(const torch::Tensor& sampleIndex, int64_t dim) {
  return torch::one_hot(sampleIndex.remainder(dim), dim).to(torch::kDouble) * 3.0;  // not unit: normalised on enqueue
}
bool sameTensor(const torch::Tensor& a, const torch::Tensor& b) { return a.sizes() == b.sizes() && a.equal(b); }
}  // namespace

MSSL_TEST(queue_starts_empty_and_masks_everything) {
  mssl::NegativeQueue q(6, 4, f64);
  CHECK(q.size() == 6 && q.dim() == 4 && q.pointer() == 0 && q.numValid() == 0);
  auto neg = q.negatives();
  CHECK(!neg.valid.any().item<bool>());
  auto x = torch::randn({3, 4}, f64);
  // Nothing valid to contrast with: zero loss, not a loss against zero-filled or random slots.
  CHECK_CLOSE(mssl::infoNce(x, x, neg, {}, false, 0.2).item<double>(), 0.0, 0.0);
  CHECK_THROWS(mssl::NegativeQueue(0, 4));
  CHECK_THROWS(mssl::NegativeQueue(4, 0));
  CHECK_THROWS(mssl::NegativeQueue(4, 4, torch::TensorOptions().dtype(torch::kLong)));
}

MSSL_TEST(queue_own_key_is_never_a_negative_in_its_step) {
  torch::manual_seed(5);
  mssl::NegativeQueue q(16, 8, f64);
  q.enqueue(torch::randn({5, 8}, f64), range(100, 5));
  auto query = torch::randn({4, 8}, f64).requires_grad_();
  auto key = (query.detach() + 0.1 * torch::randn({4, 8}, f64));  // positives close to queries
  auto qi = range(0, 4);

  // The step as the trainer does it: loss from the snapshot, backward, then enqueue.
  auto loss = mssl::infoNce(query, key, q.negatives(), qi, false, 0.2);
  double beforeEnqueue = loss.item<double>();
  mssl::NegativeQueue first(16, 8, f64);  // same state, but enqueue before computing the loss
  first.loadState(q.state());
  q.enqueue(key, qi);
  loss.backward();  // the loss read the slots when computed: enqueue did not disturb it
  CHECK(torch::isfinite(query.grad()).all().item<bool>());
  CHECK(q.numValid() == 9);

  // Had the keys gone in first, each query would have seen its own positive as a negative...
  first.enqueue(key, qi);
  auto neg = first.negatives();
  double enqueuedFirst = mssl::infoNce(query, key, {neg.keys, neg.valid, {}}, {}, false, 0.2).item<double>();
  CHECK(enqueuedFirst > beforeEnqueue + 0.1);
  // ...and the loss computed before enqueue equals the loss against the old slots alone.
  auto old = first.negatives().keys.narrow(0, 0, 5);
  CHECK_CLOSE(mssl::infoNce(query, key, {old, {}, {}}, {}, false, 0.2).item<double>(), beforeEnqueue, 1e-12);
}

MSSL_TEST(queue_wraps_around_when_size_not_divisible_by_batch) {
  mssl::NegativeQueue q(10, 16, f64);
  for (int64_t s = 0; s < 3; ++s) q.enqueue(keysFor(range(4 * s, 4), 16), range(4 * s, 4));
  // 12 keys into 10 slots: 10, 11 overwrite slots 0, 1.
  CHECK(q.pointer() == 2 && q.numValid() == 10);
  auto neg = q.negatives();
  CHECK(sameTensor(neg.sampleIndex, idx({10, 11, 2, 3, 4, 5, 6, 7, 8, 9})));
  CHECK(sameTensor(neg.keys, keysFor(neg.sampleIndex, 16) / 3.0));  // stored normalised, in the matching slot
  CHECK(neg.valid.all().item<bool>());
}

MSSL_TEST(queue_accepts_partial_last_batch_and_oversized_batch) {
  mssl::NegativeQueue q(8, 16, f64);
  q.enqueue(keysFor(range(0, 3), 16), range(0, 3));
  q.enqueue(keysFor(range(3, 3), 16), range(3, 3));
  CHECK(q.pointer() == 6 && q.numValid() == 6);
  auto v = q.negatives().valid;
  CHECK(v.narrow(0, 0, 6).all().item<bool>() && !v.narrow(0, 6, 2).any().item<bool>());
  q.enqueue(keysFor(range(6, 2), 16), range(6, 2));  // partial last batch of the epoch
  CHECK(q.pointer() == 0 && q.numValid() == 8);
  q.enqueue(torch::zeros({0, 16}, f64), range(0, 0));  // empty batch is a no-op
  CHECK(q.pointer() == 0);

  // B > size: same result as B single-row enqueues.
  mssl::NegativeQueue big(5, 16, f64), oneByOne(5, 16, f64);
  big.enqueue(keysFor(range(0, 2), 16), range(0, 2));
  oneByOne.enqueue(keysFor(range(0, 2), 16), range(0, 2));
  big.enqueue(keysFor(range(20, 7), 16), range(20, 7));
  for (int64_t i = 0; i < 7; ++i) oneByOne.enqueue(keysFor(range(20 + i, 1), 16), range(20 + i, 1));
  CHECK(big.pointer() == oneByOne.pointer() && big.pointer() == 4);
  CHECK(sameTensor(big.negatives().sampleIndex, oneByOne.negatives().sampleIndex));
  CHECK(sameTensor(big.negatives().keys, oneByOne.negatives().keys));
  CHECK(sameTensor(std::get<0>(big.negatives().sampleIndex.sort()), range(22, 5)));
}

MSSL_TEST(queue_same_sample_index_negatives_are_masked) {
  // Queue larger than an epoch: sample 1 and 3 appear twice.
  mssl::NegativeQueue q(8, 4, f64);
  auto k = torch::ones({6, 4}, f64);
  q.enqueue(k, idx({0, 1, 2, 3, 1, 3}));
  auto query = torch::ones({2, 4}, f64);
  // All-equal embeddings: query 1 keeps 4 of 6 negatives, query 5 keeps all 6.
  double loss = mssl::infoNce(query, query, q.negatives(), idx({1, 5}), false, 0.2).item<double>();
  CHECK_CLOSE(loss, 0.5 * (std::log(5.0) + std::log(7.0)), 1e-12);
}

MSSL_TEST(queue_state_round_trip) {
  torch::manual_seed(6);
  mssl::NegativeQueue a(7, 5, f64);
  a.enqueue(torch::randn({4, 5}, f64), range(0, 4));
  a.enqueue(torch::randn({4, 5}, f64), range(4, 4));
  auto s = a.state();
  CHECK(s.size() == 4);
  mssl::NegativeQueue b(7, 5, f64);
  b.loadState(s);
  CHECK(b.pointer() == a.pointer() && b.numValid() == a.numValid());
  auto batch = torch::randn({3, 5}, f64);
  a.enqueue(batch, range(8, 3));
  b.enqueue(batch, range(8, 3));
  CHECK(a.pointer() == b.pointer());
  CHECK(sameTensor(a.negatives().keys, b.negatives().keys));
  CHECK(sameTensor(a.negatives().sampleIndex, b.negatives().sampleIndex));
  CHECK(sameTensor(a.negatives().valid, b.negatives().valid));
  // state() is a copy: later enqueues do not change a saved checkpoint.
  CHECK(!sameTensor(std::get<1>(s[0]), a.negatives().keys));

  // Validation: nothing changes on a rejected state.
  auto bad = a.state();
  bad[0].second = torch::zeros({7, 4}, f64);
  try {
    b.loadState(bad);
    CHECK(false);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("keys") != std::string::npos);
  }
  bad = a.state();
  bad[3].second = torch::tensor(int64_t{7});
  try {
    b.loadState(bad);
    CHECK(false);
  } catch (const std::out_of_range& e) {
    CHECK(std::string(e.what()).find("pointer") != std::string::npos);
  }
  bad = a.state();
  bad.pop_back();
  CHECK_THROWS(b.loadState(bad));
  CHECK(sameTensor(a.negatives().keys, b.negatives().keys) && a.pointer() == b.pointer());
}

MSSL_TEST(queue_enqueue_argument_errors) {
  mssl::NegativeQueue q(4, 3);
  try {
    q.enqueue(torch::randn({2, 5}), range(0, 2));
    CHECK(false);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("keys") != std::string::npos);
  }
  CHECK_THROWS(q.enqueue(torch::randn({2, 3}), range(0, 3)));
  CHECK_THROWS(q.enqueue(torch::randn({2, 3}), torch::zeros({2}, torch::kInt)));
  CHECK_THROWS(q.enqueue(torch::randn({2, 3}), idx({0, -2})));
  CHECK_THROWS(q.enqueue(torch::full({2, 3}, std::nan("")), range(0, 2)));
  CHECK(q.numValid() == 0);
  // -1 is an unknown sample: stored, and it never masks a query.
  q.enqueue(torch::randn({2, 3}), idx({0, mssl::NegativeQueue::kUnknownSample}));
  CHECK(q.numValid() == 2);
}
