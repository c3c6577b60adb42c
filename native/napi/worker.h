// The torch worker: one dedicated thread per Node environment that runs every heavy native job.
//
// Why not Napi::AsyncWorker on libuv's pool: LibTorch already parallelises each op over all
// cores with its own intra-op pool, so running two torch jobs at once only oversubscribes the
// cores; a training step can take seconds and would hold one of libuv's four threads that fs and
// dns share; and with OpenMP the thread count is per calling thread, so a fixed thread we
// configure once is the only place where setNumThreads() reliably applies. One FIFO thread also
// orders the jobs of one model without locks in the core.
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "napi/errors.h"

namespace mssl::napi {

class Job {
 public:
  virtual ~Job() = default;
  // Runs on the worker thread. May throw; the promise then rejects with the mapped error.
  virtual void execute() = 0;
  // Runs on the JS thread after a successful execute(); builds the resolved value.
  virtual Napi::Value result(Napi::Env env) = 0;

  // JS objects (tensor/model wrappers) kept alive until the job settles.
  void keepAlive(Napi::Object obj) { refs_.push_back(Napi::Persistent(obj)); }

 private:
  friend class TorchWorker;
  std::optional<Napi::Promise::Deferred> deferred_;
  std::optional<ErrorInfo> error_;
  std::vector<Napi::ObjectReference> refs_;
};

class TorchWorker {
 public:
  TorchWorker(Napi::Env env, int numThreads);
  ~TorchWorker();
  TorchWorker(const TorchWorker&) = delete;
  TorchWorker& operator=(const TorchWorker&) = delete;

  // JS thread. Queues the job and returns its promise.
  Napi::Promise submit(Napi::Env env, std::unique_ptr<Job> job);
  // Applied on the worker thread before the next job.
  void setNumThreads(int n) { wantThreads_.store(n); }
  int numThreads() const { return wantThreads_.load(); }
  // Finishes the job in flight, drops queued ones, joins. Called from the env cleanup hook
  // (worker_thread termination) and from shutdown() on process 'exit': Node's process.exit() on
  // the main thread runs no cleanup hooks, and LibTorch's static destructors (some registered
  // lazily, after ours could be) must not run under a thread still inside a LibTorch op.
  void stop();

 private:
  void loop();
  void settle(Napi::Env env, Job* job);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopping_ = false;
  std::atomic<int> wantThreads_;
  int appliedThreads_ = 0;  // worker thread only
  size_t pending_ = 0;      // JS thread only: submitted and not yet settled
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
};

}  // namespace mssl::napi
