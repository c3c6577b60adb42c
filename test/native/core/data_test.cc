// native/core/data: prepare, record unpacking, gather, deterministic permutation, EpochSampler.
#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "core/data.h"

namespace {

std::vector<int64_t> vec(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}
}  // namespace

MSSL_TEST(data_prepare_shapes_and_labels) {
  auto img = at::arange(2 * 3 * 4, at::kLong).to(at::kByte).view({2, 3, 4});
  auto p = mssl::data::prepare(img, at::tensor({1, 0}, at::kByte), 2);
  CHECK(p.images.sizes().vec() == (std::vector<int64_t>{2, 1, 3, 4}));
  CHECK(p.labels.scalar_type() == at::kLong);
  CHECK(vec(p.labels) == (std::vector<int64_t>{1, 0}));
  // NHWC: pixel (n, h, w, c) lands at (n, c, h, w).
  auto hwc = at::arange(2 * 2 * 2 * 3, at::kLong).to(at::kByte).view({2, 2, 2, 3});
  auto q = mssl::data::prepare(hwc, at::tensor({0, 0}, at::kLong), 0, mssl::data::Layout::NHWC);
  CHECK(q.images.sizes().vec() == (std::vector<int64_t>{2, 3, 2, 2}));
  CHECK(q.images.is_contiguous());
  CHECK(q.images[1][2][1][0].item<int64_t>() == hwc[1][1][0][2].item<int64_t>());
}

MSSL_TEST(data_prepare_rejects_bad_input) {
  using mssl::data::prepare;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { prepare(at::zeros({2, 1, 2, 2}), at::zeros({2}, at::kLong), 0); }, "uint8"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { prepare(at::zeros({2, 2}, at::kByte), at::zeros({2}, at::kLong), 0); }, "[N, C, H, W]"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { prepare(at::zeros({2, 1, 2, 2}, at::kByte), at::zeros({3}, at::kLong), 0); }, "3 entries but images has 2"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([] { prepare(at::zeros({2, 1, 2, 2}, at::kByte), at::zeros({2}), 0); }, "integer"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { prepare(at::zeros({3, 1, 2, 2}, at::kByte), at::tensor({0, 10, 2}, at::kLong), 10); }, "labels[1] = 10"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { prepare(at::zeros({2, 1, 2, 2}, at::kByte), at::tensor({0, -1}, at::kLong), 10); }, "labels[1] = -1"));
}

MSSL_TEST(data_unpack_records) {
  // Two CIFAR-100-like records: coarse, fine, then 2x2x2 CHW pixels.
  std::vector<uint8_t> bytes = {3, 7, 1, 2, 3, 4, 5, 6, 7, 8, 4, 9, 11, 12, 13, 14, 15, 16, 17, 18};
  auto raw = at::from_blob(bytes.data(), {20}, at::kByte).clone();
  mssl::data::RecordSpec s{10, 1, 2, 2, 2, 2};
  auto b = mssl::data::unpackRecords(raw, s);
  CHECK(b.images.sizes().vec() == (std::vector<int64_t>{2, 2, 2, 2}));
  CHECK(vec(b.labels) == (std::vector<int64_t>{7, 9}));
  CHECK(vec(b.images.flatten()) == (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18}));
  s.labelOffset = 0;
  CHECK(vec(mssl::data::unpackRecords(raw, s).labels) == (std::vector<int64_t>{3, 4}));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { mssl::data::unpackRecords(raw.narrow(0, 0, 19), s); }, "not a positive multiple"));
  s.pixelOffset = 3;
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { mssl::data::unpackRecords(raw, s); }, "does not fit"));
}

MSSL_TEST(data_gather_and_index_checks) {
  auto images = at::arange(5, at::kLong).to(at::kByte).view({5, 1, 1, 1}).repeat({1, 1, 2, 2}).contiguous();
  auto labels = at::tensor({10, 11, 12, 13, 14}, at::kLong);
  auto idx = at::tensor({4, 0, 4}, at::kInt);
  auto b = mssl::data::gather(images, labels, idx);
  CHECK(b.images.sizes().vec() == (std::vector<int64_t>{3, 1, 2, 2}));
  CHECK(vec(b.images.flatten(1).select(1, 3)) == (std::vector<int64_t>{4, 0, 4}));
  CHECK(vec(b.labels) == (std::vector<int64_t>{14, 10, 14}));
  CHECK(b.index.scalar_type() == at::kLong && vec(b.index) == (std::vector<int64_t>{4, 0, 4}));
  // int64 input: the returned index must not alias the caller's tensor.
  auto idx64 = at::tensor({1, 2}, at::kLong);
  auto c = mssl::data::gather(images, labels, idx64);
  idx64.fill_(0);
  CHECK(vec(c.index) == (std::vector<int64_t>{1, 2}));
  // The gathered batch is a copy: writing it leaves the dataset alone.
  c.images.fill_(99);
  CHECK(images.max().item<int64_t>() == 4);
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { mssl::data::gather(images, labels, at::tensor({0, 5}, at::kLong)); }, "indices[1] = 5 is out of range for a dataset of 5"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { mssl::data::gather(images, labels, at::tensor({-1}, at::kLong)); }, "indices[0] = -1"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { mssl::data::gather(images, labels, at::tensor({0.0f})); }, "int32 or int64"));
  CHECK(mssl_test::throwsAs<std::invalid_argument>([&] { mssl::data::gather(images, labels, at::zeros({1, 1}, at::kLong)); }, "1-D"));
  CHECK(mssl::data::gather(images, labels, at::empty({0}, at::kLong)).images.size(0) == 0);
}

MSSL_TEST(data_permutation_deterministic) {
  using mssl::data::permutation;
  auto a = permutation(1000, 42, 0);
  CHECK(at::equal(a, permutation(1000, 42, 0)));
  CHECK(!at::equal(a, permutation(1000, 42, 1)));
  CHECK(!at::equal(a, permutation(1000, 43, 0)));
  CHECK(at::equal(std::get<0>(a.sort()), at::arange(1000, at::kLong)));
  CHECK(at::equal(permutation(7, 1, 0, false), at::arange(7, at::kLong)));
  // Frozen output: the algorithm is part of the checkpoint format (resume must reproduce it).
  CHECK(vec(permutation(8, 0, 0)) == (std::vector<int64_t>{6, 3, 5, 4, 2, 1, 7, 0}));
  CHECK(vec(permutation(10, 12345, 3)) == (std::vector<int64_t>{8, 7, 9, 6, 0, 2, 5, 4, 3, 1}));
  // Reference xoshiro256** (Blackman & Vigna) from state {1, 2, 3, 4}.
  mssl::data::Xoshiro256 ref(std::array<uint64_t, 4>{1, 2, 3, 4});
  CHECK(ref.next() == 11520u);
  CHECK(ref.next() == 0u);
  CHECK(ref.next() == 1509978240u);
  CHECK(ref.next() == 1215971899390074240u);
  mssl::data::Xoshiro256 r(1, 2), r2(1, 2);
  for (int i = 0; i < 5; ++i) CHECK(r.next() == r2.next());
  // below() stays in range and hits every value.
  std::set<uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = r.below(7);
    CHECK(v < 7);
    seen.insert(v);
  }
  CHECK(seen.size() == 7);
}

MSSL_TEST(data_sampler_epochs_and_drop_last) {
  mssl::data::EpochSampler s({10, 4, false, true, 7});
  CHECK(s.batchesPerEpoch() == 3);
  std::vector<int64_t> all;
  for (int b = 0; b < 3; ++b) {
    auto x = vec(s.next());
    CHECK(x.size() == (b < 2 ? 4u : 2u));
    all.insert(all.end(), x.begin(), x.end());
  }
  CHECK(s.state().epoch == 1 && s.state().position == 0);
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 10; ++i) CHECK(all[i] == i);
  auto e1 = vec(s.next());
  CHECK(e1 != vec(mssl::data::permutation(10, 7, 0).narrow(0, 0, 4)));

  mssl::data::EpochSampler d({10, 4, true, true, 7});
  CHECK(d.batchesPerEpoch() == 2);
  CHECK(d.next().size(0) == 4 && d.next().size(0) == 4);
  CHECK(d.state().epoch == 1);
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::data::EpochSampler({3, 4, true, true, 0}); }, "leaves no batch"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::data::EpochSampler({3, 0, false, true, 0}); }, "batchSize"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([] { mssl::data::EpochSampler({0, 1, false, true, 0}); }, "empty"));
}

MSSL_TEST(data_sampler_state_resume) {
  mssl::data::SamplerConfig c{23, 5, false, true, 123};
  mssl::data::EpochSampler a(c);
  for (int i = 0; i < 7; ++i) a.next();  // into epoch 1
  auto saved = a.state();
  CHECK(saved.epoch == 1 && saved.position == 2);
  std::vector<std::vector<int64_t>> rest;
  for (int i = 0; i < 6; ++i) rest.push_back(vec(a.next()));
  mssl::data::EpochSampler b(c);
  b.setState(saved);
  for (int i = 0; i < 6; ++i) CHECK(vec(b.next()) == rest[i]);
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { b.setState({0, 5}); }, "position"));
  CHECK(mssl_test::throwsAs<std::out_of_range>([&] { b.setState({-1, 0}); }, "epoch"));
}
