// Data-parallel process groups on LibTorch's c10d (design §9): rendezvous over a TCPStore from
// torchrun's environment, then ProcessGroupGloo on CPU or ProcessGroupNCCL on CUDA (only when
// LibTorch was built with CUDA and NCCL's header was found at build time). The c10d headers stay
// in distributed.cc; callers see Collectives (collectives.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/collectives.h"

namespace mssl {

struct DistributedConfig {
  int rank = 0;
  int worldSize = 1;
  int localRank = 0;
  int localWorldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;  // torchrun's default
  // "auto": NCCL for a CUDA device when available, else Gloo.
  std::string backend = "auto";
  // Gloo's network interface (e.g. "eth0"); empty: the address that reaches the master.
  std::string interface;
  // Rendezvous (every rank reaching the store and each other) and each collective's timeout.
  int64_t connectTimeoutMs = 120000;
  int64_t timeoutMs = 300000;
  // std::out_of_range / std::invalid_argument naming the field and value.
  void validate() const;
};

// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT as torchrun sets them
// (missing ones take the defaults above; malformed values are an error naming the variable).
// `found` says whether WORLD_SIZE was set at all.
DistributedConfig distributedConfigFromEnv(bool* found = nullptr);

// Whether this build has a backend at all (Gloo headers at build time), and NCCL.
bool glooAvailable();
bool ncclAvailable();

// Joins the group: rank 0 serves the TCPStore on masterPort; every rank checks the world size
// against rank 0's (a mismatch is an error naming both on every rank that sees it), then the
// process group is created. `device` selects the backend under "auto" ("cpu" or "cuda[:N]").
// Errors name the master address and port: unreachable within connectTimeoutMs, port in use.
std::shared_ptr<Collectives> connectProcessGroup(const DistributedConfig& cfg, const std::string& device = "cpu");

// Ends the group: a barrier (bounded by the timeout) so no rank tears down mid-collective, then the
// store and backend are released. Safe to call twice.
void shutdownProcessGroup(Collectives& c);

}  // namespace mssl
