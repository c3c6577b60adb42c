// ResNet backbone: torchvision key/shape parity (fixtures from scripts/make-resnet-fixtures.py),
// parameter counts, stems, parts, clone(), a deterministic-fill value check, validation.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "check.h"
#include "core/resnet.h"

namespace {

// ---- a minimal JSON reader: enough for the fixture files (objects, arrays, strings, numbers).
struct Json {
  enum Kind { Null, Num, Str, Arr, Obj, Bool } kind = Null;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::map<std::string, Json> obj;
  const Json& operator[](const std::string& k) const {
    auto it = obj.find(k);
    if (it == obj.end()) throw mssl_test::Failure("fixture has no key " + k);
    return it->second;
  }
};

struct JsonParser {
  const std::string& s;
  size_t i = 0;
  void ws() { while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i; }
  [[noreturn]] void fail() { throw mssl_test::Failure("bad fixture JSON at offset " + std::to_string(i)); }
  Json value() {
    ws();
    if (i >= s.size()) fail();
    Json v;
    char c = s[i];
    if (c == '{') {
      v.kind = Json::Obj;
      ++i; ws();
      if (s[i] == '}') { ++i; return v; }
      for (;;) {
        ws();
        std::string k = value().str;
        ws(); if (s[i++] != ':') fail();
        v.obj[k] = value();
        ws();
        if (s[i] == ',') { ++i; continue; }
        if (s[i++] != '}') fail();
        return v;
      }
    }
    if (c == '[') {
      v.kind = Json::Arr;
      ++i; ws();
      if (s[i] == ']') { ++i; return v; }
      for (;;) {
        v.arr.push_back(value());
        ws();
        if (s[i] == ',') { ++i; continue; }
        if (s[i++] != ']') fail();
        return v;
      }
    }
    if (c == '"') {
      v.kind = Json::Str;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\') ++i;  // fixture strings carry no escapes beyond \" and \\ .
        v.str += s[i++];
      }
      ++i;
      return v;
    }
    if (s.compare(i, 4, "true") == 0) { v.kind = Json::Bool; v.num = 1; i += 4; return v; }
    if (s.compare(i, 5, "false") == 0) { v.kind = Json::Bool; i += 5; return v; }
    if (s.compare(i, 4, "null") == 0) { i += 4; return v; }
    char* end = nullptr;
    v.kind = Json::Num;
    v.num = std::strtod(s.c_str() + i, &end);
    if (end == s.c_str() + i) fail();
    i = end - s.c_str();
    return v;
  }
};

std::string repoRoot() {
#ifdef MSSL_REPO_ROOT
  return MSSL_REPO_ROOT;  // set by CMakeLists.txt (ccache's base_dir makes __FILE__ relative)
#endif
  // __FILE__ is absolute in plain CMake builds; otherwise the tests run from the repo root.
  std::string f = __FILE__;
  const std::string tail = "test/native/core/resnet_test.cc";
  if (f.size() > tail.size() && f.compare(f.size() - tail.size(), tail.size(), tail) == 0) {
    return f.substr(0, f.size() - tail.size());
  }
  return "";
}

Json loadFixture(const std::string& name) {
  std::string path = repoRoot() + "test/fixtures/resnet/" + name;
  std::ifstream in(path);
  if (!in) throw mssl_test::Failure("cannot open fixture " + path + " (run scripts/make-resnet-fixtures.py)");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  JsonParser p{text};
  return p.value();
}

std::vector<int64_t> shapeOf(const Json& j) {
  std::vector<int64_t> v;
  for (auto& d : j.arr) v.push_back(static_cast<int64_t>(d.num));
  return v;
}

template <class E, class F>
bool throwsType(F&& f, const std::string& mustMention = "") {
  try {
    f();
  } catch (const E& e) {
    return mustMention.empty() || std::string(e.what()).find(mustMention) != std::string::npos;
  } catch (...) {
    return false;
  }
  return false;
}

mssl::ResNet makeNet(int depth, const std::string& stem, int64_t ch, double width, bool zero = false) {
  mssl::ResNetConfig c;
  c.depth = depth;
  c.stem = stem;
  c.inChannels = ch;
  c.width = width;
  c.zeroInitResidual = zero;
  return mssl::ResNet(c);
}

int64_t paramCount(torch::nn::Module& m) {
  int64_t n = 0;
  for (auto& p : m.parameters()) n += p.numel();
  return n;
}

void checkAgainstFixture(int depth) {
  Json fx = loadFixture("resnet" + std::to_string(depth) + ".json");
  auto net = makeNet(depth, "imagenet", 3, 1.0);
  // Parameters and buffers in torchvision's order (registration order matches), same shapes.
  auto params = net->named_parameters();
  const auto& want = fx["params"].arr;
  CHECK(params.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (params[i].key() != want[i].arr[0].str || params[i].value().sizes().vec() != shapeOf(want[i].arr[1])) {
      throw mssl_test::Failure("param " + std::to_string(i) + ": got " + params[i].key() + ", want " +
                               want[i].arr[0].str);
    }
  }
  auto buffers = net->named_buffers();
  const auto& wantB = fx["buffers"].arr;
  CHECK(buffers.size() == wantB.size());
  for (size_t i = 0; i < wantB.size(); ++i) {
    if (buffers[i].key() != wantB[i].arr[0].str || buffers[i].value().sizes().vec() != shapeOf(wantB[i].arr[1])) {
      throw mssl_test::Failure("buffer " + std::to_string(i) + ": got " + buffers[i].key() + ", want " +
                               wantB[i].arr[0].str);
    }
  }
  CHECK(paramCount(*net) == static_cast<int64_t>(fx["paramCount"].num));
  CHECK(net->featureDim() == static_cast<int64_t>(fx["featureDim"].num));
}

// Same formula as fill_value() in scripts/make-resnet-fixtures.py.
int keySeed(const std::string& name) {
  int64_t s = 0;
  for (size_t i = 0; i < name.size(); ++i) s += static_cast<int64_t>(i + 1) * static_cast<unsigned char>(name[i]);
  return static_cast<int>(s % 1009);
}

torch::Tensor fillValue(const std::string& name, const torch::Tensor& like) {
  auto shape = like.sizes().vec();
  auto j = torch::arange(like.numel(), torch::kFloat64);
  auto base = torch::sin(j * 0.731 + 0.0137 * keySeed(name) + 0.5);
  auto ends = [&](const std::string& suf) {
    return name.size() >= suf.size() && name.compare(name.size() - suf.size(), suf.size(), suf) == 0;
  };
  torch::Tensor v;
  if (ends("running_var")) v = 0.75 + 0.25 * base;
  else if (ends("running_mean")) v = 0.1 * base;
  else if (shape.size() == 4) v = base * std::sqrt(2.0 / static_cast<double>(shape[1] * shape[2] * shape[3]));
  else if (ends("weight")) v = 0.8 + 0.2 * base;
  else v = 0.1 * base;
  return v.to(torch::kFloat32).reshape(shape);
}

int64_t convOut(int64_t n, int64_t k, int64_t s, int64_t p) { return (n + 2 * p - k) / s + 1; }

}  // namespace

MSSL_TEST(resnet18_keys_match_torchvision) { checkAgainstFixture(18); }
MSSL_TEST(resnet34_keys_match_torchvision) { checkAgainstFixture(34); }
MSSL_TEST(resnet50_keys_match_torchvision) { checkAgainstFixture(50); }

MSSL_TEST(resnet_param_counts) {
  auto r18 = makeNet(18, "imagenet", 3, 1.0);
  CHECK(paramCount(*r18) == 11176512);
  // cifar stem: 7x7 -> 3x3 conv1 (64*3*(49-9) fewer weights).
  auto r18c = makeNet(18, "cifar", 3, 1.0);
  CHECK(paramCount(*r18c) == 11176512 - 64 * 3 * 40);
  auto r18g = makeNet(18, "cifar", 1, 1.0);
  CHECK(paramCount(*r18g) == 11176512 - 64 * 3 * 40 - 64 * 9 * 2);
}

MSSL_TEST(resnet_width_quarter) {
  auto net = makeNet(18, "cifar", 3, 0.25);
  CHECK((net->config().stageWidths() == std::vector<int64_t>{16, 32, 64, 128}));
  CHECK(net->named_parameters()["conv1.weight"].sizes().vec() == (std::vector<int64_t>{16, 3, 3, 3}));
  CHECK(net->named_parameters()["layer4.1.conv2.weight"].sizes().vec() == (std::vector<int64_t>{128, 128, 3, 3}));
  CHECK(net->featureDim() == 128);
  const int64_t outs[] = {16, 16, 32, 64, 128};
  for (int p = 0; p < 5; ++p) CHECK(net->partOutChannels(p) == outs[p]);
  // Hand count: stem 464, layer1 9344, layer2 33088, layer3 131712, layer4 525568.
  CHECK(paramCount(*net) == 700176);
  int64_t perPart[] = {464, 9344, 33088, 131712, 525568};
  for (int p = 0; p < 5; ++p) {
    int64_t n = 0;
    for (auto& t : net->partParameters(p)) n += t.numel();
    CHECK(n == perPart[p]);
  }
  auto r50 = makeNet(50, "cifar", 3, 0.25);
  CHECK(r50->featureDim() == 512);
  auto y = r50->forward(torch::randn({2, 3, 32, 32}));
  CHECK(y.sizes().vec() == (std::vector<int64_t>{2, 512}));
}

MSSL_TEST(resnet_stem_output_shapes) {
  torch::NoGradGuard ng;
  for (const std::string stem : {"cifar", "imagenet"}) {
    for (int64_t ch : {1, 3}) {
      for (int64_t hw : {32, 28}) {
        auto net = makeNet(18, stem, ch, 0.25);
        net->eval();
        int64_t s = stem == "imagenet" ? convOut(convOut(hw, 7, 2, 3), 3, 2, 1) : hw;
        auto h = net->forwardPart(0, torch::randn({2, ch, hw, hw}));
        CHECK(h.sizes().vec() == (std::vector<int64_t>{2, 16, s, s}));
        h = net->forwardPart(1, h);
        CHECK(h.sizes().vec() == (std::vector<int64_t>{2, 16, s, s}));
        int64_t widths[] = {32, 64, 128};
        for (int p = 2; p <= 4; ++p) {
          s = convOut(s, 3, 2, 1);
          h = net->forwardPart(p, h);
          CHECK(h.sizes().vec() == (std::vector<int64_t>{2, widths[p - 2], s, s}));
        }
        CHECK(net->pool(h).sizes().vec() == (std::vector<int64_t>{2, 128}));
      }
    }
  }
  // Concrete values: cifar 32 -> layer4 4x4; imagenet 32 -> stem 8x8, layer4 1x1; imagenet 28 -> 7x7, 1x1.
  auto n = makeNet(18, "imagenet", 3, 0.25);
  n->eval();
  CHECK(n->forwardPart(0, torch::randn({1, 3, 28, 28})).size(2) == 7);
}

MSSL_TEST(resnet_forward_part_chain_equals_forward) {
  torch::manual_seed(1);
  for (int depth : {18, 50}) {
    auto net = makeNet(depth, "cifar", 3, 0.25);
    net->eval();
    torch::NoGradGuard ng;
    auto x = torch::randn({3, 3, 32, 32});
    auto h = x;
    for (int p = 0; p < 5; ++p) h = net->forwardPart(p, h);
    CHECK(torch::equal(net->pool(h), net->forward(x)));
  }
}

MSSL_TEST(resnet_parts_cover_all_parameters) {
  auto net = makeNet(50, "imagenet", 3, 0.25);
  CHECK((mssl::ResNetImpl::partNames() == std::vector<std::string>{"stem", "layer1", "layer2", "layer3", "layer4"}));
  std::vector<const void*> fromParts;
  for (int p = 0; p < 5; ++p)
    for (auto& t : net->partParameters(p)) fromParts.push_back(t.data_ptr());
  std::vector<const void*> all;
  for (auto& t : net->parameters()) all.push_back(t.data_ptr());
  CHECK(fromParts == all);  // same tensors, same (forward) order, no duplicates
  // The stem part's relative names are the top-level torchvision names.
  auto stemNames = net->partModule(0)->named_parameters();
  CHECK(stemNames.size() == 3);
  CHECK(stemNames.contains("conv1.weight") && stemNames.contains("bn1.weight") && stemNames.contains("bn1.bias"));
  CHECK(net->partModule(0)->named_buffers().contains("bn1.running_mean"));
  CHECK(net->partModule(2)->named_parameters().contains("0.downsample.0.weight"));
  // Stem must not show up as a registered child (no duplicate "stem.*" keys).
  for (auto& kv : net->named_parameters()) CHECK(kv.key().rfind("stem.", 0) != 0);
  CHECK(throwsType<std::out_of_range>([&] { net->partModule(5); }, "part"));
  CHECK(throwsType<std::out_of_range>([&] { net->partParameters(-1); }, "part"));
}

MSSL_TEST(resnet_clone_equal_and_independent) {
  torch::manual_seed(2);
  auto net = makeNet(18, "imagenet", 3, 0.25);
  // Train a step's worth of BN stats so buffers are non-default and must be copied too.
  net->train();
  net->forward(torch::randn({4, 3, 32, 32}));
  auto copy = std::dynamic_pointer_cast<mssl::ResNetImpl>(net->clone());
  CHECK(copy != nullptr);
  net->eval();
  copy->eval();
  auto x = torch::randn({2, 3, 32, 32});
  {
    torch::NoGradGuard ng;
    CHECK(torch::equal(net->forward(x), copy->forward(x)));
  }
  auto a = net->named_parameters(), b = copy->named_parameters();
  CHECK(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].key() == b[i].key());
    CHECK(a[i].value().data_ptr() != b[i].value().data_ptr());
    CHECK(torch::equal(a[i].value(), b[i].value()));
  }
  auto ab = net->named_buffers(), bb = copy->named_buffers();
  for (size_t i = 0; i < ab.size(); ++i) {
    CHECK(ab[i].value().data_ptr() != bb[i].value().data_ptr());
    CHECK(torch::equal(ab[i].value(), bb[i].value()));
  }
  // The copy's parts point at the copy's tensors (stem included), not the original's.
  for (int p = 0; p < 5; ++p) {
    auto op = net->partParameters(p), cp = copy->partParameters(p);
    CHECK(op.size() == cp.size());
    for (size_t i = 0; i < op.size(); ++i) CHECK(op[i].data_ptr() != cp[i].data_ptr());
  }
  CHECK(copy->partParameters(0)[0].data_ptr() == b["conv1.weight"].data_ptr());
  // Changing the copy (through its stem part and a layer) leaves the original's output unchanged.
  auto before = net->forward(x).detach();
  {
    torch::NoGradGuard ng;
    for (auto& t : copy->partParameters(0)) t.add_(0.5);
    for (auto& t : copy->partParameters(3)) t.mul_(-1.0);
  }
  CHECK(torch::equal(net->forward(x).detach(), before));
  CHECK(!torch::equal(copy->forward(x).detach(), before));
  // A stem part cloned on its own is independent too.
  auto stemCopy = net->partModule(0)->clone();
  CHECK(stemCopy->parameters()[0].data_ptr() != net->partParameters(0)[0].data_ptr());
  CHECK(torch::equal(stemCopy->parameters()[0], net->partParameters(0)[0]));
}

MSSL_TEST(resnet_clone_to_device_cpu) {
  auto net = makeNet(18, "cifar", 1, 0.25);
  auto copy = std::dynamic_pointer_cast<mssl::ResNetImpl>(net->clone(torch::Device(torch::kCPU)));
  CHECK(copy->forward(torch::randn({2, 1, 16, 16})).sizes().vec() == (std::vector<int64_t>{2, 128}));
}

MSSL_TEST(resnet_matches_torchvision_values) {
  Json fx = loadFixture("resnet18.json");
  auto net = makeNet(18, "imagenet", 3, 1.0);
  {
    torch::NoGradGuard ng;
    for (auto& kv : net->named_parameters()) kv.value().copy_(fillValue(kv.key(), kv.value()));
    for (auto& kv : net->named_buffers()) {
      if (kv.key().find("num_batches_tracked") != std::string::npos) continue;
      kv.value().copy_(fillValue(kv.key(), kv.value()));
    }
  }
  net->eval();
  auto x = torch::sin(0.37 * torch::arange(3 * 32 * 32, torch::kFloat64)).to(torch::kFloat32).reshape({1, 3, 32, 32});
  torch::NoGradGuard ng;
  auto y = net->forward(x);
  const auto& want = fx["valueCheck"]["features"].arr;
  CHECK(y.sizes().vec() == (std::vector<int64_t>{1, static_cast<int64_t>(want.size())}));
  auto row = y[0].contiguous();
  auto acc = row.accessor<float, 1>();
  double maxErr = 0;
  for (size_t i = 0; i < want.size(); ++i) maxErr = std::max(maxErr, std::fabs(acc[i] - want[i].num));
  CHECK_CLOSE(maxErr, 0.0, 1e-4);
}

MSSL_TEST(resnet_zero_init_residual) {
  auto plain = makeNet(18, "cifar", 3, 0.25);
  auto p = plain->named_parameters();
  CHECK(torch::equal(p["layer1.0.bn2.weight"], torch::ones({16})));
  auto z = makeNet(18, "cifar", 3, 0.25, true);
  auto zp = z->named_parameters();
  CHECK(torch::equal(zp["layer1.0.bn2.weight"], torch::zeros({16})));
  CHECK(torch::equal(zp["layer4.1.bn2.weight"], torch::zeros({128})));
  CHECK(torch::equal(zp["layer2.0.bn1.weight"], torch::ones({32})));
  CHECK(torch::equal(zp["layer2.0.downsample.1.weight"], torch::ones({32})));
  auto z50 = makeNet(50, "cifar", 3, 0.25, true);
  auto z50p = z50->named_parameters();
  CHECK(torch::equal(z50p["layer3.2.bn3.weight"], torch::zeros({256})));
  CHECK(torch::equal(z50p["layer3.2.bn2.weight"], torch::ones({64})));
  // Kaiming fan_out init: std of a 3x3 conv weight ~ sqrt(2 / (out*9)).
  auto w = zp["layer4.1.conv1.weight"];
  CHECK_CLOSE(w.std().item<double>(), std::sqrt(2.0 / (128 * 9)), 0.003);
}

MSSL_TEST(resnet_backward_reaches_every_parameter) {
  auto net = makeNet(18, "cifar", 3, 0.25);
  net->train();
  auto y = net->forward(torch::randn({2, 3, 16, 16}));
  y.pow(2).sum().backward();
  for (auto& kv : net->named_parameters()) {
    if (!kv.value().grad().defined()) throw mssl_test::Failure("no grad for " + kv.key());
  }
}

MSSL_TEST(resnet_validation) {
  auto cfgWith = [](auto mutate) {
    mssl::ResNetConfig c;
    mutate(c);
    return c;
  };
  CHECK(throwsType<std::out_of_range>([&] { mssl::ResNet(cfgWith([](auto& c) { c.depth = 101; })); }, "depth"));
  CHECK(throwsType<std::invalid_argument>([&] { mssl::ResNet(cfgWith([](auto& c) { c.stem = "tiny"; })); }, "stem"));
  CHECK(throwsType<std::out_of_range>([&] { mssl::ResNet(cfgWith([](auto& c) { c.inChannels = 4; })); }, "inChannels"));
  CHECK(throwsType<std::out_of_range>([&] { mssl::ResNet(cfgWith([](auto& c) { c.width = 0; })); }, "width"));
  CHECK(throwsType<std::out_of_range>([&] { mssl::ResNet(cfgWith([](auto& c) { c.width = -1; })); }, "width"));
  CHECK(throwsType<std::out_of_range>([&] { mssl::ResNet(cfgWith([](auto& c) { c.width = NAN; })); }, "width"));
  CHECK(throwsType<std::out_of_range>([&] { mssl::ResNet(cfgWith([](auto& c) { c.width = 0.005; })); }, "zero-width"));
  mssl::ResNet(cfgWith([](auto& c) { c.width = 0.01; }));  // round(0.64) = 1: smallest allowed stage

  auto net = makeNet(18, "cifar", 3, 0.25);
  CHECK(throwsType<std::invalid_argument>([&] { net->forward(torch::randn({3, 32, 32})); }, "[B, 3, H, W]"));
  CHECK(throwsType<std::invalid_argument>([&] { net->forward(torch::randn({2, 1, 32, 32})); }, "[B, 3, H, W]"));
  CHECK(throwsType<std::invalid_argument>([&] { net->forwardPart(2, torch::randn({2, 3, 8, 8})); }, "layer2"));
  CHECK(throwsType<std::invalid_argument>([&] { net->forward(torch::Tensor()); }, "undefined"));
  CHECK(throwsType<std::out_of_range>([&] { net->forwardPart(5, torch::randn({2, 3, 8, 8})); }, "0..4"));
  CHECK(throwsType<std::invalid_argument>([&] { net->pool(torch::randn({2, 3})); }, "featureMap"));
}
