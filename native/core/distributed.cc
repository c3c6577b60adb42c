#include "core/distributed.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef MSSL_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef MSSL_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace mssl {

namespace {

std::string where(const DistributedConfig& cfg) { return cfg.masterAddr + ":" + std::to_string(cfg.masterPort); }

std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::vector<uint8_t> bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

int envInt(const char* name, int fallback, bool* found = nullptr) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  if (found) *found = true;
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || x < 0 || x > 1 << 30) {
    throw std::invalid_argument(std::string("environment variable ") + name + " must be a non-negative integer, got '" + v + "'");
  }
  return static_cast<int>(x);
}

// The local address that routes to the master: Gloo binds there so peers on other hosts can reach
// it (a UDP "connect" sends nothing; it only asks the kernel for the route).
std::string localAddressTowards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) {
    throw std::invalid_argument("MASTER_ADDR '" + host + "' does not resolve to an address");
  }
  std::string out;
  int fd = socket(res->ai_family, SOCK_DGRAM, 0);
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      char buf[INET6_ADDRSTRLEN] = {0};
      const void* a = local.ss_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
                                                 : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (inet_ntop(local.ss_family, a, buf, sizeof(buf))) out = buf;
    }
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  if (out.empty()) throw std::runtime_error("no network route from this host to the master " + host + ":" + std::to_string(port));
  return out;
}

std::string rethrowMessage(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

// One implementation for both backends and both LibTorch lines: in 1.13 the backends derive from
// ProcessGroup, in 2.x from Backend, with the same collective signatures (the shim the issue asks
// for is this template over the concrete class).
template <class PG>
class C10dCollectives : public Collectives {
 public:
  C10dCollectives(DistributedConfig cfg, c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<PG> pg)
      : cfg_(std::move(cfg)), store_(std::move(store)), pg_(std::move(pg)) {}

  int rank() const override { return cfg_.rank; }
  int worldSize() const override { return cfg_.worldSize; }
  double busyMs() const override { return busyMs_; }

  void allReduceSum(std::vector<torch::Tensor>& tensors) override {
    for (auto& t : tensors) {
      std::vector<torch::Tensor> one{t};
      run("allreduce", [&] { return group()->allreduce(one); });
    }
  }

  torch::Tensor allGather(const torch::Tensor& t) override {
    std::vector<torch::Tensor> in{t.contiguous()};
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < cfg_.worldSize; ++r) out[0].push_back(torch::empty_like(in[0]));
    run("allgather", [&] { return group()->allgather(out, in); });
    return torch::cat(out[0], 0);
  }

  void broadcast(std::vector<torch::Tensor>& tensors, int root) override {
    for (auto& t : tensors) {
      std::vector<torch::Tensor> one{t};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      run("broadcast", [&] { return group()->broadcast(one, o); });
    }
  }

  void barrier() override {
    run("barrier", [&] { return group()->barrier(); });
  }

  std::vector<std::string> allGatherStrings(const std::string& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!store_) throw std::runtime_error("distributed: the process group was shut down");
    const std::string prefix = "mssl/strings/" + std::to_string(seq_++) + "/";
    std::vector<std::string> keys;
    for (int r = 0; r < cfg_.worldSize; ++r) keys.push_back(prefix + std::to_string(r));
    try {
      store_->set(keys[cfg_.rank], bytes(s));
      store_->wait(keys, std::chrono::milliseconds(cfg_.timeoutMs));
      std::vector<std::string> out;
      for (const auto& k : keys) out.push_back(str(store_->get(k)));
      return out;
    } catch (const std::exception& e) {
      throw std::runtime_error("distributed: rank " + std::to_string(cfg_.rank) + " could not exchange its configuration with the other ranks via " +
                               where(cfg_) + " (a peer died or did not arrive within " + std::to_string(cfg_.timeoutMs / 1000) + " s): " + rethrowMessage(e));
    }
  }

  void shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pg_) return;
    try {
      pg_->barrier()->wait(std::chrono::milliseconds(cfg_.timeoutMs));
    } catch (...) {
      // A peer already gone: nothing left to synchronise with.
    }
    pg_.reset();
    store_.reset();
  }

 private:
  PG* group() {
    if (!pg_) throw std::runtime_error("distributed: the process group was shut down");
    return pg_.get();
  }

  template <class F>
  void run(const char* op, F&& start) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      auto work = start();
      work->wait(std::chrono::milliseconds(cfg_.timeoutMs));
      busyMs_ += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("distributed: ") + op + " failed on rank " + std::to_string(cfg_.rank) + " of " +
                               std::to_string(cfg_.worldSize) + " (a peer process died, or did not reach this collective within " +
                               std::to_string(cfg_.timeoutMs / 1000) + " s): " + rethrowMessage(e));
    }
  }

  DistributedConfig cfg_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<PG> pg_;
  std::mutex mu_;
  int64_t seq_ = 0;
  double busyMs_ = 0;
};

// Rank 0 publishes its world size; every rank says hello with its own; rank 0 checks them all
// and publishes the verdict, so a mismatch fails every rank that joined, not just one.
void agreeOnWorld(c10d::Store& store, const DistributedConfig& cfg) {
  const auto timeout = std::chrono::milliseconds(cfg.connectTimeoutMs);
  const std::string ws = std::to_string(cfg.worldSize);
  if (cfg.rank == 0) store.set("mssl/world", bytes(ws));
  store.wait({"mssl/world"}, timeout);
  const std::string rootWs = str(store.get("mssl/world"));
  if (rootWs != ws) {
    store.set("mssl/hello/" + std::to_string(cfg.rank), bytes(ws));
    throw std::invalid_argument("distributed: WORLD_SIZE differs between workers: rank " + std::to_string(cfg.rank) + " has " + ws + ", rank 0 has " + rootWs);
  }
  store.set("mssl/hello/" + std::to_string(cfg.rank), bytes(ws));
  if (cfg.rank == 0) {
    std::vector<std::string> keys;
    for (int r = 1; r < cfg.worldSize; ++r) keys.push_back("mssl/hello/" + std::to_string(r));
    try {
      if (!keys.empty()) store.wait(keys, timeout);
    } catch (const std::exception&) {
      std::string missing;
      for (int r = 1; r < cfg.worldSize; ++r) {
        if (!store.check({"mssl/hello/" + std::to_string(r)})) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      }
      std::string msg = "distributed: rendezvous at " + where(cfg) + " timed out after " + std::to_string(cfg.connectTimeoutMs / 1000) +
                        " s: rank(s) " + missing + " of " + ws + " never joined";
      store.set("mssl/verdict", bytes(msg));
      throw std::runtime_error(msg);
    }
    std::string verdict = "ok";
    for (int r = 1; r < cfg.worldSize; ++r) {
      const std::string other = str(store.get("mssl/hello/" + std::to_string(r)));
      if (other != ws) {
        verdict = "distributed: WORLD_SIZE differs between workers: rank " + std::to_string(r) + " has " + other + ", rank 0 has " + ws;
        break;
      }
    }
    store.set("mssl/verdict", bytes(verdict));
    if (verdict != "ok") throw std::invalid_argument(verdict);
  } else {
    store.wait({"mssl/verdict"}, timeout);
    const std::string verdict = str(store.get("mssl/verdict"));
    if (verdict != "ok") throw std::invalid_argument(verdict);
  }
}

}  // namespace

void DistributedConfig::validate() const {
  if (worldSize < 1) throw std::out_of_range("distributed: WORLD_SIZE must be >= 1, got " + std::to_string(worldSize));
  if (rank < 0 || rank >= worldSize) {
    throw std::out_of_range("distributed: RANK must be in [0, WORLD_SIZE = " + std::to_string(worldSize) + "), got " + std::to_string(rank));
  }
  if (localWorldSize < 1 || localRank < 0 || localRank >= localWorldSize) {
    throw std::out_of_range("distributed: LOCAL_RANK must be in [0, LOCAL_WORLD_SIZE = " + std::to_string(localWorldSize) + "), got " + std::to_string(localRank));
  }
  if (masterPort < 1 || masterPort > 65535) throw std::out_of_range("distributed: MASTER_PORT must be in [1, 65535], got " + std::to_string(masterPort));
  if (masterAddr.empty()) throw std::invalid_argument("distributed: MASTER_ADDR is empty");
  if (backend != "auto" && backend != "gloo" && backend != "nccl") throw std::invalid_argument("distributed.backend must be 'auto', 'gloo' or 'nccl', got '" + backend + "'");
  if (connectTimeoutMs < 1 || timeoutMs < 1) throw std::out_of_range("distributed: timeouts must be >= 1 ms");
}

DistributedConfig distributedConfigFromEnv(bool* found) {
  DistributedConfig c;
  bool any = false;
  c.worldSize = envInt("WORLD_SIZE", 1, &any);
  c.rank = envInt("RANK", 0);
  c.localRank = envInt("LOCAL_RANK", 0);
  c.localWorldSize = envInt("LOCAL_WORLD_SIZE", any ? c.worldSize : 1);
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) c.masterAddr = a;
  c.masterPort = envInt("MASTER_PORT", c.masterPort);
  if (const char* i = std::getenv("GLOO_SOCKET_IFNAME"); i && *i) c.interface = i;
  // `momentum-ssl launch --rdzv-timeout S`.
  if (const char* t = std::getenv("MOMENTUM_SSL_RDZV_TIMEOUT"); t && *t) {
    char* end = nullptr;
    const double s = std::strtod(t, &end);
    if (*end != '\0' || !(s > 0 && s < 1e9)) throw std::invalid_argument(std::string("MOMENTUM_SSL_RDZV_TIMEOUT must be a positive number of seconds, got '") + t + "'");
    c.connectTimeoutMs = std::max<int64_t>(1, static_cast<int64_t>(s * 1000));
  }
  if (found) *found = any;
  return c;
}

bool glooAvailable() {
#ifdef MSSL_WITH_GLOO
  return true;
#else
  return false;
#endif
}

bool ncclAvailable() {
#ifdef MSSL_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<Collectives> connectProcessGroup(const DistributedConfig& cfg, const std::string& device) {
  cfg.validate();
  const bool cuda = device.rfind("cuda", 0) == 0;
  std::string backend = cfg.backend == "auto" ? (cuda && ncclAvailable() ? "nccl" : "gloo") : cfg.backend;
  if (backend == "nccl" && !ncclAvailable()) throw std::invalid_argument("distributed: backend 'nccl' needs a CUDA LibTorch with NCCL (this build has none); use 'gloo'");
  if (backend == "gloo" && !glooAvailable()) throw std::invalid_argument("distributed: this build has no Gloo (gloo headers were not found when the addon was built; on Debian: apt-get install libgloo-dev, then rebuild)");

  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(cfg.masterPort);
  so.isServer = cfg.rank == 0;
  so.waitWorkers = false;
  so.timeout = std::chrono::milliseconds(cfg.connectTimeoutMs);
  c10::intrusive_ptr<c10d::Store> tcp;
  try {
    tcp = c10::make_intrusive<c10d::TCPStore>(cfg.masterAddr, so);
  } catch (const std::exception& e) {
    if (cfg.rank == 0) {
      throw std::runtime_error("distributed: rank 0 cannot serve the rendezvous on " + where(cfg) + " (port in use, or not an address of this host?): " + rethrowMessage(e));
    }
    throw std::runtime_error("distributed: rank " + std::to_string(cfg.rank) + " cannot reach the master at " + where(cfg) + " within " +
                             std::to_string(cfg.connectTimeoutMs / 1000) + " s: " + rethrowMessage(e));
  }
  try {
    agreeOnWorld(*tcp, cfg);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).rfind("distributed:", 0) == 0) throw;
    throw std::runtime_error("distributed: rendezvous at " + where(cfg) + " failed on rank " + std::to_string(cfg.rank) + ": " + rethrowMessage(e));
  }
  auto pgStore = c10::make_intrusive<c10d::PrefixStore>("mssl/pg", tcp);
  const auto timeout = std::chrono::milliseconds(cfg.timeoutMs);
  try {
#ifdef MSSL_WITH_NCCL
    if (backend == "nccl") {
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(pgStore, cfg.rank, cfg.worldSize, opts);
      return std::make_shared<C10dCollectives<c10d::ProcessGroupNCCL>>(cfg, tcp, pg);
    }
#endif
#ifdef MSSL_WITH_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
    if (!cfg.interface.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(cfg.interface));
    else opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(localAddressTowards(cfg.masterAddr, cfg.masterPort)));
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(pgStore, cfg.rank, cfg.worldSize, opts);
    return std::make_shared<C10dCollectives<c10d::ProcessGroupGloo>>(cfg, tcp, pg);
#endif
  } catch (const std::exception& e) {
    throw std::runtime_error("distributed: rank " + std::to_string(cfg.rank) + " could not connect the " + backend + " process group (master " + where(cfg) +
                             "): " + rethrowMessage(e));
  }
  throw std::logic_error("distributed: no backend");
}

void shutdownProcessGroup(Collectives& c) {
#ifdef MSSL_WITH_GLOO
  if (auto* g = dynamic_cast<C10dCollectives<c10d::ProcessGroupGloo>*>(&c)) g->shutdown();
#endif
#ifdef MSSL_WITH_NCCL
  if (auto* n = dynamic_cast<C10dCollectives<c10d::ProcessGroupNCCL>*>(&c)) n->shutdown();
#endif
}

}  // namespace mssl
