// packet_capture.cpp — rte_pdump's server in sluiced (see packet_capture.h). The capture
// itself is DPDK's: ethdev RX/TX callbacks that rte_pdump installs on request of a secondary
// process run inside rte_eth_rx_burst/rte_eth_tx_burst, which sluice's port-rx and port-tx
// nodes call; nothing in sluice's hot path knows about capture.
#include "dataplane/packet_capture.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>

#include "dataplane/log.h"

namespace sluice {

PacketCapture::PacketCapture() {
  if (rte_pdump_init() != 0) {
    log::warning("packet capture (dpdk-dumpcap) is unavailable: rte_pdump_init: %s",
                 rte_strerror(rte_errno));
    return;
  }
  enabled_ = true;
  // A secondary process maps the primary's hugepage files; memory without them cannot be
  // shared, so dpdk-dumpcap would fail to attach with a cryptic EAL error.
  if (!rte_eal_has_hugepages())
    log::info("packet capture (dpdk-dumpcap) needs hugepages; unavailable with --no-huge");
}

PacketCapture::~PacketCapture() {
  if (enabled_) rte_pdump_uninit();
}

}  // namespace sluice
