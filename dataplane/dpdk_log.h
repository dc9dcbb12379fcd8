// dpdk_log.h — DPDK's own log lines (EAL, drivers, libraries) through sluiced's log, so they
// have its form (the journald priority, or "sluiced: LEVEL: ...") and go to stderr, not to
// DPDK's default of stdout plus syslog.
#pragma once

#include <cstdint>

#include "dataplane/log.h"

namespace sluice {

// The EAL --log-level value that shows what `level` shows (DPDK's levels are syslog's plus one).
uint32_t dpdk_log_level(log::Level level);

// Installs the stream; call before rte_eal_init so EAL's first lines take it too. DPDK filters
// by its own levels (--log-level, per component); the lines it lets through are all written.
// Each thread may write at most 1000 lines in 10 s (EAL's debug start-up fits; a driver
// complaining per packet does not); the rest are counted and summarised.
void route_dpdk_log();

}  // namespace sluice
