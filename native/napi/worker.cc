#include "napi/worker.h"

#include "core/runtime.h"

namespace mssl::napi {

TorchWorker::TorchWorker(Napi::Env env, int numThreads) : wantThreads_(numThreads) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                        "momentum-ssl torch worker", 0, 1);
  // Unreferenced while idle so an idle addon never keeps Node alive; referenced while jobs pend.
  tsfn_.Unref(env);
  thread_ = std::thread([this] { loop(); });
}

TorchWorker::~TorchWorker() { stop(); }

Napi::Promise TorchWorker::submit(Napi::Env env, std::unique_ptr<Job> job) {
  job->deferred_.emplace(Napi::Promise::Deferred::New(env));
  Napi::Promise promise = job->deferred_->Promise();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      auto err = Napi::Error::New(env, "momentum-ssl: the torch worker has stopped (environment is shutting down)");
      job->deferred_->Reject(err.Value());
      return promise;
    }
    queue_.push_back(std::move(job));
  }
  if (pending_++ == 0) tsfn_.Ref(env);
  cv_.notify_one();
  return promise;
}

void TorchWorker::loop() {
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      int want = wantThreads_.load();
      if (want != appliedThreads_) {
        applyNumThreads(want);
        appliedThreads_ = want;
      }
      job->execute();
    } catch (...) {
      job->error_ = captureCurrentException();
    }
    Job* raw = job.release();
    napi_status st = tsfn_.BlockingCall(raw, [this](Napi::Env env, Napi::Function, Job* j) { settle(env, j); });
    if (st != napi_ok) {
      // The environment is closing; nobody is left to see the result.
      for (auto& r : raw->refs_) r.SuppressDestruct();
      raw->deferred_.reset();
      delete raw;
    }
  }
}

void TorchWorker::settle(Napi::Env env, Job* raw) {
  std::unique_ptr<Job> job(raw);
  if (env == nullptr) {  // torn down with the environment
    for (auto& r : job->refs_) r.SuppressDestruct();
    return;
  }
  Napi::HandleScope scope(env);
  if (job->error_) {
    job->deferred_->Reject(toJsError(env, *job->error_).Value());
  } else {
    try {
      job->deferred_->Resolve(job->result(env));
    } catch (const Napi::Error& e) {
      job->deferred_->Reject(e.Value());
    } catch (...) {
      job->deferred_->Reject(toJsError(env, captureCurrentException()).Value());
    }
  }
  if (--pending_ == 0) tsfn_.Unref(env);
}

void TorchWorker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& j : queue_) {
      for (auto& r : j->refs_) r.SuppressDestruct();
    }
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  tsfn_.Release();
}

}  // namespace mssl::napi
