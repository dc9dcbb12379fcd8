// metrics_exchange.cpp — the hand-off of figures from the control thread to reader threads
// (metrics_exchange.h says why).
#include "control/metrics_exchange.h"

#include <exception>

namespace sluice {

MetricsExchange& MetricsExchange::process() {
  static MetricsExchange* const x = new MetricsExchange;  // outlives every telemetry call
  return *x;
}

std::shared_ptr<const StatsSnapshot> MetricsExchange::request(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(mu_);
  if (!open_) return nullptr;
  const uint64_t ticket = ++requested_;
  pending_.store(true, std::memory_order_release);
  cv_.wait_for(lk, timeout, [&] { return served_ >= ticket || !open_; });
  if (served_ < ticket) return nullptr;
  return last_;
}

void MetricsExchange::serve(const std::function<StatsSnapshot()>& collect) {
  if (!pending_.load(std::memory_order_acquire)) return;
  uint64_t ticket;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ticket = requested_;
    pending_.store(false, std::memory_order_relaxed);
  }
  // Outside the lock: readers arriving meanwhile take a later ticket, served next turn. A
  // collection that fails (out of memory) answers its readers with null, at once.
  std::shared_ptr<const StatsSnapshot> snap;
  try {
    snap = std::make_shared<const StatsSnapshot>(collect());
  } catch (const std::exception&) {
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    last_ = std::move(snap);
    served_ = ticket;
    ++collections_;
  }
  cv_.notify_all();
}

void MetricsExchange::open() {
  std::lock_guard<std::mutex> lk(mu_);
  open_ = true;
}

void MetricsExchange::close() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = false;
    last_.reset();
  }
  cv_.notify_all();
}

uint64_t MetricsExchange::served() const {
  std::lock_guard<std::mutex> lk(mu_);
  return collections_;
}

}  // namespace sluice
