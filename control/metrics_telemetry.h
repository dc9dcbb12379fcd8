// metrics_telemetry.h — sluiced's DPDK telemetry commands (dpdk-telemetry.py -f PREFIX):
//   /sluice/stats    rx, tx, forwarded, dropped, drops by reason, ARP counters
//   /sluice/nodes    per graph node: packets, calls, cycles, cycles per packet
//   /sluice/ports    per port: rx/tx packets, bytes, errors, missed, no-mbuf
//   /sluice/metrics  without a parameter: the groups; /sluice/metrics,GROUP: every metric of
//                    the --metrics endpoint in that group, by its sample name
//   /sluice/fib, /sluice/neighbours, /sluice/nat, /sluice/bridges, /sluice/mempool,
//   /sluice/process  the same as /sluice/metrics,GROUP
// Telemetry runs its callbacks on DPDK's threads. They used to read the dataplane directly
// (a raw pointer the control thread cleared at shutdown, unsynchronized); now each call asks
// the control loop for a snapshot through MetricsExchange::process(), as the HTTP endpoint
// does, and answers -1 (an error to the client) when the loop does not serve within 3 s.
#pragma once

namespace sluice {

// Registers the commands once per process (DPDK cannot unregister them); after EAL init.
void register_telemetry();

}  // namespace sluice
