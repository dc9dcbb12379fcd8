// metrics_test.cpp — the Prometheus / OpenMetrics rendering of sluiced's figures (control/
// metrics.h), on a real router (ring ports, the packet tests' topology) that forwarded and
// dropped real frames: the format rules a scraper relies on (HELP and TYPE once per family and
// before its samples, valid names, escaped label values, _total counters, # EOF), content
// negotiation, agreement with `sluice stats --json`, and the hand-off to the control thread.
#include "control/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "control/commands.h"
#include "control/metrics_exchange.h"
#include "dataplane/packet_graph.h"
#include "tests/packet/ring_router.h"

namespace sluice::pkt {
namespace {

// What a scraper would read from one exposition: samples by series, and per family its HELP,
// TYPE and the line numbers, with every violation of the format written to `errors`.
struct Parsed {
  std::map<std::string, double> series;  // name{labels} as written -> value
  std::map<std::string, std::string> type;
  std::vector<std::string> errors;
  bool eof = false;
};

// Prometheus' name rules, [a-zA-Z_:][a-zA-Z0-9_:]* for metrics and the same without ':' for
// labels, checked by hand: GCC 12's -Wmaybe-uninitialized trips over std::regex's internals
// under ASan, which fails the -Werror build.
bool name_ok(std::string_view n, bool colon) {
  auto first = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
  };
  if (n.empty() || !first(n[0])) return false;
  for (char c : n.substr(1))
    if (!first(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

// A deliberately independent reader of the text formats (Prometheus exposition formats 0.0.4
// and OpenMetrics 1.0.0): it checks the rules rather than trusting the renderer's structure.
Parsed parse(const std::string& text, bool openmetrics) {
  Parsed p;
  std::map<std::string, int> help_count, type_count;
  std::set<std::string> families_with_samples;
  std::string current;  // the family whose block we are in
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string at = " (line " + std::to_string(n) + ": " + line + ")";
    if (p.eof) p.errors.push_back("text after # EOF" + at);
    if (line == "# EOF") {
      if (!openmetrics) p.errors.push_back("# EOF in the 0.0.4 format" + at);
      p.eof = true;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::istringstream w(line.substr(7));
      std::string name, rest;
      w >> name;
      std::getline(w, rest);
      if (!name_ok(name, true)) p.errors.push_back("bad family name" + at);
      if (families_with_samples.count(name))
        p.errors.push_back("HELP/TYPE after the family's samples" + at);
      current = name;
      if (line[2] == 'H') {
        ++help_count[name];
        if (rest.size() < 2) p.errors.push_back("empty HELP" + at);
      } else {
        ++type_count[name];
        const std::string t = rest.empty() ? "" : rest.substr(1);
        p.type[name] = t;
        const std::set<std::string> ok = openmetrics
                                             ? std::set<std::string>{"counter", "gauge", "info"}
                                             : std::set<std::string>{"counter", "gauge"};
        if (!ok.count(t)) p.errors.push_back("unknown type '" + t + "'" + at);
        if (t == "counter" && openmetrics && name.size() > 6 &&
            name.compare(name.size() - 6, 6, "_total") == 0)
          p.errors.push_back("OpenMetrics counter family named with _total" + at);
        if (t == "counter" && !openmetrics &&
            (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0))
          p.errors.push_back("counter without _total" + at);
      }
      continue;
    }
    if (line.empty() || line[0] == '#') {
      p.errors.push_back("stray line" + at);
      continue;
    }
    // A sample: name[{l="v",...}] value
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    if (!name_ok(name, true)) p.errors.push_back("bad sample name" + at);
    std::string labels;
    if (i < line.size() && line[i] == '{') {
      const size_t start = i;
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          p.errors.push_back("bad label" + at);
          break;
        }
        if (!name_ok(std::string_view(line).substr(i, eq - i), false))
          p.errors.push_back("bad label name" + at);
        i = eq + 2;
        // A label value: only \\, \" and \n escapes, no raw quote or newline.
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            if (i + 1 >= line.size() || std::string("\\\"n").find(line[i + 1]) == std::string::npos)
              p.errors.push_back("bad escape in a label value" + at);
            i += 2;
          } else {
            ++i;
          }
        }
        ++i;  // the closing quote
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) {
        p.errors.push_back("unterminated labels" + at);
        continue;
      }
      labels = line.substr(start, i - start + 1);
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      p.errors.push_back("no value" + at);
      continue;
    }
    const std::string v = line.substr(i + 1);
    char* end = nullptr;
    const double value = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0') p.errors.push_back("bad value" + at);
    // The family this sample belongs to: the block it sits in, whose name it must extend
    // (OpenMetrics: counter -> _total, info -> _info) or equal (0.0.4).
    std::string expect = current;
    const std::string& t = p.type[current];
    if (openmetrics && t == "counter") expect = current + "_total";
    if (openmetrics && t == "info") expect = current + "_info";
    if (name != expect)
      p.errors.push_back("sample outside its family's block (family " + current + ")" + at);
    families_with_samples.insert(current);
    const std::string key = name + labels;
    if (p.series.count(key)) p.errors.push_back("duplicate series" + at);
    p.series[key] = value;
  }
  for (const auto& [f, c] : type_count)
    if (c != 1 || help_count[f] != 1)
      p.errors.push_back(f + ": " + std::to_string(help_count[f]) + " HELP, " + std::to_string(c) +
                         " TYPE lines");
  for (const auto& [f, c] : help_count)
    if (!type_count.count(f)) p.errors.push_back(f + ": HELP without TYPE");
  if (openmetrics && !p.eof) p.errors.push_back("no # EOF at the end");
  return p;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < 20; ++i) s += v[i] + "\n";
  return s;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    init_eal();
    r_ = std::make_unique<Router>();
    // Forwarded: three UDP packets h0 -> h1. Dropped: one with a bad IP header checksum.
    for (int i = 0; i < 3; ++i)
      r_->send(
          kP0,
          Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").udp(40000, 53).payload(32));
    r_->send(kP0, Frame()
                      .eth(kH0, kRouterMac[0])
                      .ip4("10.1.0.2", "10.2.0.2")
                      .udp(40000, 53)
                      .payload(32)
                      .bad_ip_checksum());
    r_->run();
    r_->received_all();
  }
  void TearDown() override { r_.reset(); }

  StatsSnapshot snapshot() { return collect_stats(r_->dp(), nullptr, nat::EngineConfig{}); }

  std::unique_ptr<Router> r_;
};

TEST_F(MetricsTest, BothFormatsFollowTheRules) {
  const std::vector<MetricFamily> fams = metric_families(snapshot());
  ASSERT_GT(fams.size(), 40u);
  for (const bool om : {false, true}) {
    const std::string text =
        render_metrics(fams, om ? MetricsFormat::kOpenMetrics100 : MetricsFormat::kPrometheus004);
    const Parsed p = parse(text, om);
    EXPECT_TRUE(p.errors.empty()) << (om ? "OpenMetrics" : "0.0.4") << ":\n" << joined(p.errors);
    EXPECT_EQ(om, text.size() >= 6 && text.compare(text.size() - 6, 6, "# EOF\n") == 0);
    // Every family shows, counters as _total samples in both formats.
    for (const MetricFamily& f : fams) {
      const std::string type_name = om ? f.name : sample_name(f);
      EXPECT_TRUE(p.type.count(type_name)) << type_name;
      if (f.type == MetricType::kCounter) {
        EXPECT_EQ(sample_name(f), f.name + "_total");
        EXPECT_EQ(p.type.at(type_name), "counter");
      }
      EXPECT_EQ(f.name.rfind("sluice_", 0), 0u) << f.name;
    }
    EXPECT_EQ(p.series.at("sluice_forwarded_packets_total"), 3);
    EXPECT_EQ(p.series.at("sluice_dropped_packets_total{reason=\"ip4-bad-checksum\"}"), 1);
    EXPECT_EQ(
        p.series.at("sluice_port_rx_packets_total{port=\"" + r_->dp().ports()[0].name + "\"}"), 4);
    EXPECT_EQ(p.series.at("sluice_node_packets_total{node=\"ip4-forward\"}"), 3);
    EXPECT_EQ(p.series.count("sluice_build_info{version=\"" SLUICE_TEST_VERSION "\"}"), 1u);
    EXPECT_EQ(p.type.at(om ? "sluice_build" : "sluice_build_info"), om ? "info" : "gauge");
  }
}

TEST_F(MetricsTest, EveryDropReasonExistsFromTheStart) {
  const std::vector<MetricFamily> fams = metric_families(snapshot());
  std::set<std::string> reasons;
  for (const MetricFamily& f : fams)
    if (f.name == "sluice_dropped_packets")
      for (const MetricSample& s : f.samples) reasons.insert(s.labels.at(0).second);
  std::set<std::string> nodes;
  for (const std::string& n : PacketGraph::node_names())
    if (n.rfind("drop-", 0) == 0) nodes.insert(n.substr(5));
  EXPECT_GT(nodes.size(), 30u);
  EXPECT_EQ(reasons, nodes);
}

TEST_F(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricFamily f{"test",
                 "sluice_test",
                 MetricType::kCounter,
                 "a \\ back\nslash and \"quotes\"",
                 {{{{"port", "a\"b\\c\nd"}}, 7}}};
  const std::string t = render_metrics({f}, MetricsFormat::kPrometheus004);
  EXPECT_EQ(t,
            "# HELP sluice_test_total a \\\\ back\\nslash and \"quotes\"\n"
            "# TYPE sluice_test_total counter\n"
            "sluice_test_total{port=\"a\\\"b\\\\c\\nd\"} 7\n");
  const std::string o = render_metrics({f}, MetricsFormat::kOpenMetrics100);
  EXPECT_EQ(o,
            "# HELP sluice_test a \\\\ back\\nslash and \\\"quotes\\\"\n"
            "# TYPE sluice_test counter\n"
            "sluice_test_total{port=\"a\\\"b\\\\c\\nd\"} 7\n"
            "# EOF\n");
  EXPECT_TRUE(parse(t, false).errors.empty()) << joined(parse(t, false).errors);
  EXPECT_TRUE(parse(o, true).errors.empty()) << joined(parse(o, true).errors);
}

TEST_F(MetricsTest, AgreesWithStatsJson) {
  Commands commands(r_->dp(), nullptr);
  const CommandReply reply = commands.run({"stats", "--json"});
  ASSERT_EQ(reply.status, 0) << reply.body;
  const nlohmann::json j = nlohmann::json::parse(reply.body);
  const Parsed p =
      parse(render_metrics(metric_families(snapshot()), MetricsFormat::kOpenMetrics100), true);
  ASSERT_TRUE(p.errors.empty()) << joined(p.errors);
  EXPECT_EQ(p.series.at("sluice_forwarded_packets_total"), j["forwarded"].get<double>());
  for (const auto& [reason, v] : j["drops"].items())
    EXPECT_EQ(p.series.at("sluice_dropped_packets_total{reason=\"" + reason + "\"}"),
              v.get<double>())
        << reason;
  for (const nlohmann::json& port : j["ports"]) {
    const std::string l = "{port=\"" + port["name"].get<std::string>() + "\"}";
    EXPECT_EQ(p.series.at("sluice_port_rx_packets_total" + l), port["rx_packets"].get<double>());
    EXPECT_EQ(p.series.at("sluice_port_tx_bytes_total" + l), port["tx_bytes"].get<double>());
  }
  EXPECT_EQ(p.series.at("sluice_fib_routes"), j["fib"]["routes"].get<double>());
  EXPECT_EQ(p.series.at("sluice_nat_sessions_capacity"), j["nat"]["capacity"].get<double>());
  EXPECT_EQ(p.series.at("sluice_neighbour_entries"), j["neighbours"]["entries"].get<double>());
  EXPECT_GE(p.series.at("sluice_neighbour_entries"), 5);  // the topology's static neighbours
  EXPECT_EQ(
      p.series.at("sluice_mempool_mbufs{pool=\"" + j["mempool"]["name"].get<std::string>() + "\"}"),
      j["mempool"]["size"].get<double>());
}

TEST(MetricsFormat, Negotiation) {
  // What Prometheus 2.x sends when it may scrape OpenMetrics.
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=1.0.0,application/"
                             "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,"
                             "*/*;q=0.1"),
            MetricsFormat::kOpenMetrics100);
  EXPECT_EQ(negotiate_format("application/openmetrics-text; version=1.0.0"),
            MetricsFormat::kOpenMetrics100);
  EXPECT_EQ(negotiate_format(""), MetricsFormat::kPrometheus004);
  EXPECT_EQ(negotiate_format("*/*"), MetricsFormat::kPrometheus004);
  EXPECT_EQ(negotiate_format("text/plain;version=0.0.4"), MetricsFormat::kPrometheus004);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0.2,text/plain"),
            MetricsFormat::kPrometheus004);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=2.0.0"),
            MetricsFormat::kPrometheus004);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0"), MetricsFormat::kPrometheus004);
  EXPECT_EQ(negotiate_format("garbage;;;q=,=,"), MetricsFormat::kPrometheus004);
}

TEST(MetricsExchangeTest, ReadersGetWhatTheControlThreadCollects) {
  MetricsExchange x;
  EXPECT_EQ(x.request(std::chrono::milliseconds(50)), nullptr);  // closed: at once
  x.open();
  // Nobody serves: the reader gives up after its timeout.
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(x.request(std::chrono::milliseconds(100)), nullptr);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(90));
  // Four readers at once, one "control thread" serving in a loop: every reader gets a
  // snapshot collected after it asked, and the collections are shared.
  std::atomic<bool> stop{false};
  std::atomic<int> collected{0};
  std::thread control([&] {
    while (!stop) {
      x.serve([&] {
        StatsSnapshot s;
        s.forwarded = static_cast<uint64_t>(++collected);
        return s;
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  std::vector<std::thread> readers;
  std::atomic<int> answered{0};
  for (int i = 0; i < 4; ++i)
    readers.emplace_back([&] {
      const int before = collected.load();
      const auto s = x.request(std::chrono::seconds(5));
      if (s && static_cast<int>(s->forwarded) > before) ++answered;
    });
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(answered.load(), 4);
  EXPECT_LE(x.served(), 4u);
  x.close();
  EXPECT_EQ(x.request(std::chrono::seconds(5)), nullptr);  // closed again: at once
  stop = true;
  control.join();
}

}  // namespace
}  // namespace sluice::pkt
