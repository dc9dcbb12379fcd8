// metrics_exchange.h — how the HTTP server's and DPDK telemetry's threads get sluiced's
// figures without touching the tables the control thread writes.
//
// The control thread is the single writer of every control-side table (routes, neighbours,
// NAT rules, bridges) and nothing locks them, so no other thread may read them. A reader
// thread calls request(): it raises a flag and sleeps on a condition variable. The control
// loop calls serve() every turn (it wakes at least once a millisecond, as for the control
// socket); when the flag is up it runs collect_stats() itself, between two other jobs, and
// publishes the result as an immutable snapshot that every waiting reader then shares. The
// mutex here guards only the hand-off (request counters and the snapshot pointer), never a
// table, and the control thread takes it only when a request is pending. Readers that arrive
// while a collection runs are served by the next one, so a snapshot is never older than the
// request. The workers' own counters (ports, graph nodes) are read by collect_stats() as
// `sluice stats` reads them: relaxed loads, no lock, nothing added to the hot path.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "control/metrics.h"

namespace sluice {

class MetricsExchange {
 public:
  // The process's exchange, for DPDK telemetry: its commands cannot be unregistered, so what
  // they use lives as long as the process (never destroyed).
  static MetricsExchange& process();

  // ---- reader threads ----
  // A snapshot collected after this call began, or null if the control loop did not serve
  // within `timeout`, or the exchange is closed (no control loop, or shutting down).
  std::shared_ptr<const StatsSnapshot> request(std::chrono::milliseconds timeout);

  // ---- the control thread ----
  // Serves the pending requests, if any, with one collect() call. Cheap when none is pending:
  // one relaxed atomic load.
  void serve(const std::function<StatsSnapshot()>& collect);
  // open(): the control loop is running and will serve. close(): it will not any more; every
  // waiting and future request returns null at once.
  void open();
  void close();

  uint64_t served() const;  // collections made (tests)

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> pending_{false};
  bool open_ = false;
  uint64_t requested_ = 0;  // ticket of the latest request
  uint64_t served_ = 0;     // every ticket up to this one has its snapshot
  uint64_t collections_ = 0;
  std::shared_ptr<const StatsSnapshot> last_;
};

}  // namespace sluice
