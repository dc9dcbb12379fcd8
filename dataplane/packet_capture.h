// packet_capture.h — DPDK's packet capture framework (rte_pdump) in sluiced, so that
// `dpdk-dumpcap -i PORT`, a DPDK secondary process attaching by --file-prefix, can ask sluiced
// to copy what a port receives and sends into a ring of its own (docs/capture.md).
#pragma once

namespace sluice {

// Registers the capture server for the lifetime of the object; create it after rte_eal_init
// and destroy it after the workers have stopped. When capture is unavailable (no
// multi-process support, or no hugepages for a secondary process to share) it says so on
// stderr and sluiced runs on without it.
class PacketCapture {
 public:
  PacketCapture();
  ~PacketCapture();
  PacketCapture(const PacketCapture&) = delete;
  PacketCapture& operator=(const PacketCapture&) = delete;

  bool enabled() const { return enabled_; }

 private:
  bool enabled_ = false;
};

}  // namespace sluice
