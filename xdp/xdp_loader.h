// xdp_loader.h — the C++ side of sluice's XDP program (xdp/sluice_xdp.bpf.c): where the built
// object is, removing an instance a killed sluiced left attached, and the maps of the instance
// DPDK's af_xdp driver attached (host addresses and bridge MACs in, decision counters out).
// Loading and attaching themselves are the driver's job (devargs xdp_prog=). NAT's port bitmap
// is mapped into the process (NatPortsMap) for the workers to claim ports without system calls.
// Errors throw std::runtime_error naming the interface.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "xdp/sluice_xdp.h"

namespace sluice::xdp {

inline constexpr std::size_t kStatCount = SLUICE_XDP_STAT_COUNT;
using Stats = std::array<uint64_t, kStatCount>;  // indexed by enum sluice_xdp_stat

// The object to hand the driver: $SLUICE_XDP_OBJECT if set and not empty, else
// object_path_for(the running executable).
std::string object_path();
// For a program at exe: the object the build wrote when exe lies in the build tree (a
// developer's sluiced, the tests), else the installed one (libdir/sluice/sluice_xdp.bpf.o),
// so an installed sluiced never depends on a build tree that may be gone or another version.
std::string object_path_for(const std::string& exe);

// If the program attached to ifindex (any mode) is sluice's own (named SLUICE_XDP_PROG_NAME),
// detach it so the driver can attach a fresh one (it refuses to replace a program). A sluiced
// killed with -9 leaves its program behind; harmless meanwhile since with no socket bound it
// passes everything to the kernel. Returns true if it detached something; leaves foreign
// programs alone and returns false.
bool detach_stale(int ifindex);

// A file descriptor owned by exactly one object.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// sluice's program taken off an interface and kept, to be put back later: meanwhile every frame
// arriving there is the kernel's, though the AF_XDP sockets stay open (closing and re-opening
// the port instead would cost mbufs: ports.h kAfXdpFillMbufs). set_aside throws if sluice's
// program is not attached.
struct SetAside {
  int ifindex = 0;
  uint32_t mode_flag = 0;
  Fd prog;
};
SetAside set_aside(int ifindex);
// Attaches it again in the mode it had; throws if another program took the interface meanwhile.
void put_back(const SetAside& s);

// sluice_nat_ports mapped into this process (read and write, shared with the program): the
// SLUICE_XDP_NAT_WORDS words of the bitmap (sluice_xdp.h). A bit set here is seen by the
// program's next packet. Movable, not copyable; unmaps when destroyed. The mapping keeps the
// map alive by itself, so it may outlive the fd it came from and the program.
class NatPortsMap {
 public:
  static constexpr std::size_t kWords = SLUICE_XDP_NAT_WORDS;
  static constexpr std::size_t kBytes = kWords * sizeof(uint64_t);

  NatPortsMap() = default;  // maps nothing; words() is null
  // Maps the array behind map_fd, after checking it is a sluice_nat_ports (ARRAY,
  // BPF_F_MMAPABLE, __u32 -> __u64, SLUICE_XDP_NAT_WORDS entries). The fd is not kept.
  // Errors name `what`.
  static NatPortsMap from_fd(int map_fd, const std::string& what);

  NatPortsMap(NatPortsMap&& o) noexcept : words_(o.words_) { o.words_ = nullptr; }
  NatPortsMap& operator=(NatPortsMap&& o) noexcept;
  NatPortsMap(const NatPortsMap&) = delete;
  NatPortsMap& operator=(const NatPortsMap&) = delete;
  ~NatPortsMap() { reset(); }

  uint64_t* words() const { return words_; }
  explicit operator bool() const { return words_ != nullptr; }

  // Puts `fresh`'s map behind this mapping's address (mremap), after copying this one's words
  // into it, so that the pointers the workers hold (words()) reach the new map from then on.
  // For a port whose interface was re-created: its new program comes with a new, empty
  // bitmap, and the sessions already open must keep their claims. A claim or release a worker
  // makes between the copy and the move is lost (a window of microseconds; a lost claim sends
  // that session's replies on this port to the kernel). `fresh` is empty afterwards. Both
  // must map something; throws std::runtime_error naming `what`, leaving this one unchanged.
  void take_over(NatPortsMap&& fresh, const std::string& what);

  // Claiming and releasing one port or identifier, atomically (other bits of the word may be
  // changed by other threads meanwhile). block: SLUICE_XDP_NAT_TCP, _UDP or _ICMP; port in
  // host order. The mapping must not be empty.
  void claim(unsigned block, uint16_t port) const;
  void release(unsigned block, uint16_t port) const;
  bool claimed(unsigned block, uint16_t port) const;

 private:
  explicit NatPortsMap(uint64_t* words) : words_(words) {}
  void reset();

  uint64_t* words_ = nullptr;
};

// The maps of the sluice_xdp program attached to an interface, found through the program's map
// ids. Holds fds, not the attachment: the program may be detached meanwhile (the maps then
// outlive it while this object lives, harmlessly).
class AttachedProgram {
 public:
  // Throws if no program, or a program that is not sluice's, is attached to ifindex.
  explicit AttachedProgram(int ifindex);

  // Replaces the whole set of host-owned addresses (network byte order; duplicates are fine,
  // at most SLUICE_XDP_LOCAL_MAX distinct). An address in both the old and the new set is never
  // missing meanwhile. nat_addrs_be are the NAT outside addresses, host-owned too: they get
  // SLUICE_XDP_LOCAL_PRESENT | SLUICE_XDP_LOCAL_NAT, whether or not also in addrs_be.
  void set_local_addresses(std::span<const uint32_t> addrs_be,
                           std::span<const uint32_t> nat_addrs_be);
  // No NAT addresses.
  void set_local_addresses(std::span<const uint32_t> addrs_be);
  // Replaces the whole set of the bridge's local MACs (sluice_br_local: the bridge device's and
  // its members' MACs; used with SLUICE_XDP_CONFIG_BRIDGED). A MAC is packed into the low bytes
  // of a uint64_t in wire order: `uint64_t v = 0; std::memcpy(&v, mac, 6)`; the other two bytes
  // must be zero. Duplicates are fine, at most SLUICE_XDP_BRIDGE_LOCAL_MAX distinct. A MAC in
  // both the old and the new set is never missing meanwhile.
  void set_bridge_local(std::span<const uint64_t> macs);
  // The program's NAT port bitmap, mapped (see NatPortsMap); each call maps it anew.
  NatPortsMap nat_ports() const;
  // The program's SLUICE_XDP_CONFIG_* flags.
  void set_config(uint32_t flags);
  // The decision counters, summed over CPUs.
  Stats stats() const;

  int ifindex() const { return ifindex_; }
  uint32_t prog_id() const { return prog_id_; }

 private:
  int ifindex_;
  std::string what_;  // "interface NAME (ifindex N)", for messages
  uint32_t prog_id_ = 0;
  Fd prog_;
  Fd local_;
  Fd stats_;
  Fd config_;
  Fd nat_ports_;
  Fd bridge_local_;
};

// The same map operations on fds the caller holds (the unit test loads the object without
// attaching it). Errors name `what`.
void replace_local_addresses(int local_map_fd, std::span<const uint32_t> addrs_be,
                             std::span<const uint32_t> nat_addrs_be, const std::string& what);
void replace_local_addresses(int local_map_fd, std::span<const uint32_t> addrs_be,
                             const std::string& what);
void replace_bridge_local(int bridge_local_map_fd, std::span<const uint64_t> macs,
                          const std::string& what);
Stats read_stats(int stats_map_fd, const std::string& what);

// A name for each stats index ("to_fastpath_ipv4", ...), for printing; "unknown" past the end.
const char* stat_name(unsigned index);

}  // namespace sluice::xdp
