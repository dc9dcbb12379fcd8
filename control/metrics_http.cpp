// metrics_http.cpp — the --metrics HTTP endpoint on cpp-httplib.
#include "control/metrics_http.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice {

MetricsHttpServer::MetricsHttpServer(const std::string& host, uint16_t port,
                                     MetricsExchange& exchange)
    : server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  // httplib's default also sets SO_REUSEPORT, with which a second sluiced on the same port
  // would bind too and take half the scrapes; SO_REUSEADDR alone lets a restart rebind while
  // old connections linger, and a port really in use still fails.
  s.set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // Scrapes are rare and small: two threads (the default is at least eight), short timeouts,
  // no request body.
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  s.set_keep_alive_timeout(10);
  s.set_payload_max_length(4096);
  s.Get("/metrics", [&exchange](const httplib::Request& req, httplib::Response& res) {
    const MetricsFormat fmt = negotiate_format(req.get_header_value("Accept"));
    const std::shared_ptr<const StatsSnapshot> snap = exchange.request(kTimeout);
    if (!snap) {
      res.status = 503;
      res.set_content("sluiced: the control loop did not answer in time\n", "text/plain");
      return;
    }
    res.set_content(render_metrics(metric_families(*snap), fmt), content_type(fmt));
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404)
      res.set_content("not found: sluiced serves GET /metrics\n", "text/plain");
  });
  errno = 0;
  if (!s.bind_to_port(host, port)) {
    const int e = errno;
    throw std::runtime_error(
        "--metrics " + host + ":" + std::to_string(port) +
        ": cannot listen: " + (e ? std::string(strerror(e)) : std::string("bind failed")) +
        (e == EADDRINUSE ? " (another program has the port)" : ""));
  }
}

void MetricsHttpServer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_.store(true);
  });
}

MetricsHttpServer::~MetricsHttpServer() {
  start();  // never started: listen and stop at once, which closes the bound socket
  // httplib's stop() does nothing before its listen loop has begun, which would then never
  // end: wait for it to begin (or to have failed).
  while (!server_->is_running() && !listen_returned_.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice
