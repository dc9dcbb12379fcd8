// metrics_http.h — sluiced's Prometheus endpoint (--metrics ADDR:PORT): GET /metrics in the
// Prometheus text format 0.0.4, or OpenMetrics 1.0.0 when the scraper's Accept header prefers
// it; any other path is 404. cpp-httplib (Debian's libcpp-httplib-dev) serves it on threads of
// its own, which never read sluiced's tables: each scrape is a request to the control loop
// through MetricsExchange (metrics_exchange.h), rendered on the HTTP thread from the snapshot.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "control/metrics_exchange.h"

namespace httplib {
class Server;
}

namespace sluice {

class MetricsHttpServer {
 public:
  // How long a scrape waits for the control loop before answering 503.
  static constexpr std::chrono::milliseconds kTimeout{3000};

  // Binds host:port (an IPv4 address) at once. Throws std::runtime_error with a one-line
  // message naming the address and the reason (e.g. the port is in use).
  MetricsHttpServer(const std::string& host, uint16_t port, MetricsExchange& exchange);
  // Serves from threads of its own, which take the calling thread's CPU affinity: sluiced
  // binds before DPDK's EAL starts (a port in use is then one line, before anything else) and
  // starts after, from the control thread, so the server never runs on a worker's CPU.
  void start();
  ~MetricsHttpServer();  // stops serving and joins the threads
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> listen_returned_{false};
  std::thread thread_;
};

}  // namespace sluice
