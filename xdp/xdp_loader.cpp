// xdp_loader.cpp — finding sluice's XDP program on an interface and talking to its maps, all
// through libbpf's low-level calls (netlink query, object ids); see xdp_loader.h.
#include "xdp/xdp_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#if !defined(SLUICE_XDP_OBJECT_DEFAULT) || !defined(SLUICE_XDP_OBJECT_INSTALLED) || \
    !defined(SLUICE_BUILD_ROOT)
#error "SLUICE_XDP_OBJECT_DEFAULT, _INSTALLED and SLUICE_BUILD_ROOT must come from xdp/meson.build"
#endif

namespace sluice::xdp {
namespace {

// libbpf 1.x returns -errno.
std::string err_text(int err) {
  return std::strerror(err < 0 ? -err : err);
}

std::string describe(int ifindex) {
  char name[IF_NAMESIZE] = {};
  std::string out = "interface ";
  out += if_indextoname(static_cast<unsigned>(ifindex), name) ? name : "?";
  return out + " (ifindex " + std::to_string(ifindex) + ")";
}

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw std::runtime_error(what + ": " + msg);
}

// One program attached to an interface, with the mode flag that addresses it for detaching.
struct Attached {
  uint32_t id;
  uint32_t mode_flag;
};

std::vector<Attached> attached_programs(int ifindex, const std::string& what) {
  bpf_xdp_query_opts q{};
  q.sz = sizeof q;
  if (const int err = bpf_xdp_query(ifindex, 0, &q); err != 0)
    fail(what, "cannot query its XDP program: " + err_text(err));
  // Per mode: a netdev can hold a native and a generic program at once (XDP_ATTACHED_MULTI).
  std::vector<Attached> out;
  if (q.drv_prog_id != 0) out.push_back({q.drv_prog_id, XDP_FLAGS_DRV_MODE});
  if (q.skb_prog_id != 0) out.push_back({q.skb_prog_id, XDP_FLAGS_SKB_MODE});
  if (q.hw_prog_id != 0) out.push_back({q.hw_prog_id, XDP_FLAGS_HW_MODE});
  return out;
}

bpf_prog_info prog_info(int fd, const std::string& what) {
  bpf_prog_info info{};
  uint32_t len = sizeof info;
  if (const int err = bpf_obj_get_info_by_fd(fd, &info, &len); err != 0)
    fail(what, "cannot read its XDP program's info: " + err_text(err));
  return info;
}

// The attached program with sluice's name, opened; an empty Fd if it is gone (detached
// between the query and the open) or is someone else's (its name in *foreign).
Fd open_if_sluice(uint32_t id, const std::string& what, std::string* foreign) {
  Fd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) {
    if (errno == ENOENT) return {};
    fail(what, "cannot open its XDP program (id " + std::to_string(id) + "): " + err_text(errno));
  }
  const bpf_prog_info info = prog_info(fd.get(), what);
  if (std::strncmp(info.name, SLUICE_XDP_PROG_NAME, sizeof info.name) != 0) {
    if (foreign) *foreign = info.name;
    return {};
  }
  return fd;
}

// Whether an object name as the kernel reports it (NUL-terminated, at most BPF_OBJ_NAME_LEN - 1
// characters: it cuts longer ones, "sluice_nat_ports" is "sluice_nat_port") is `want`.
bool kernel_name_is(const char (&name)[BPF_OBJ_NAME_LEN], std::string_view want) {
  return std::string_view(name, strnlen(name, sizeof name)) == want.substr(0, BPF_OBJ_NAME_LEN - 1);
}

// The checks NatPortsMap::from_fd and AttachedProgram make of a sluice_nat_ports map.
bool is_nat_ports_layout(const bpf_map_info& mi) {
  return mi.type == BPF_MAP_TYPE_ARRAY && (mi.map_flags & BPF_F_MMAPABLE) != 0 &&
         mi.key_size == sizeof(uint32_t) && mi.value_size == sizeof(uint64_t) &&
         mi.max_entries == SLUICE_XDP_NAT_WORDS;
}

// Workers call these per allocation: a precondition, not a check.
std::atomic_ref<uint64_t> nat_word(uint64_t* words, unsigned block, uint16_t port) {
  assert(words != nullptr && block < SLUICE_XDP_NAT_PROTOS);
  return std::atomic_ref<uint64_t>(words[SLUICE_XDP_NAT_WORD(block, port)]);
}

}  // namespace

NatPortsMap NatPortsMap::from_fd(int map_fd, const std::string& what) {
  bpf_map_info mi{};
  uint32_t len = sizeof mi;
  if (const int err = bpf_obj_get_info_by_fd(map_fd, &mi, &len); err != 0)
    fail(what, "cannot read map " SLUICE_XDP_NAT_PORTS_MAP ": " + err_text(err));
  if (!is_nat_ports_layout(mi))
    fail(what, "map " SLUICE_XDP_NAT_PORTS_MAP " has an unexpected layout (stale object?)");
  void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
  if (p == MAP_FAILED) fail(what, "cannot map " SLUICE_XDP_NAT_PORTS_MAP ": " + err_text(errno));
  return NatPortsMap(static_cast<uint64_t*>(p));
}

NatPortsMap& NatPortsMap::operator=(NatPortsMap&& o) noexcept {
  if (this != &o) {
    reset();
    words_ = std::exchange(o.words_, nullptr);
  }
  return *this;
}

void NatPortsMap::reset() {
  if (words_ != nullptr) ::munmap(words_, kBytes);
  words_ = nullptr;
}

void NatPortsMap::take_over(NatPortsMap&& fresh, const std::string& what) {
  if (words_ == nullptr || fresh.words_ == nullptr)
    fail(what, "no " SLUICE_XDP_NAT_PORTS_MAP " mapping to take over");
  for (std::size_t i = 0; i < kWords; ++i)
    std::atomic_ref<uint64_t>(fresh.words_[i])
        .store(std::atomic_ref<uint64_t>(words_[i]).load(std::memory_order_relaxed),
               std::memory_order_relaxed);
  // MREMAP_FIXED unmaps what was at words_ (the old map) in the same step, so the address is
  // never unmapped in between: a worker's claim lands in the old map or in the new one.
  void* p = ::mremap(fresh.words_, kBytes, kBytes, MREMAP_MAYMOVE | MREMAP_FIXED, words_);
  if (p == MAP_FAILED) fail(what, "cannot move " SLUICE_XDP_NAT_PORTS_MAP ": " + err_text(errno));
  fresh.words_ = nullptr;
}

void NatPortsMap::claim(unsigned block, uint16_t port) const {
  nat_word(words_, block, port).fetch_or(SLUICE_XDP_NAT_BIT(port), std::memory_order_relaxed);
}

void NatPortsMap::release(unsigned block, uint16_t port) const {
  nat_word(words_, block, port).fetch_and(~SLUICE_XDP_NAT_BIT(port), std::memory_order_relaxed);
}

bool NatPortsMap::claimed(unsigned block, uint16_t port) const {
  return (nat_word(words_, block, port).load(std::memory_order_relaxed) &
          SLUICE_XDP_NAT_BIT(port)) != 0;
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string object_path_for(const std::string& exe) {
  const std::string_view build_root = SLUICE_BUILD_ROOT "/";
  if (exe.starts_with(build_root)) return SLUICE_XDP_OBJECT_DEFAULT;
  return SLUICE_XDP_OBJECT_INSTALLED;
}

std::string object_path() {
  if (const char* env = std::getenv("SLUICE_XDP_OBJECT"); env && *env) return env;
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe);
  return object_path_for(n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string());
}

bool detach_stale(int ifindex) {
  const std::string what = describe(ifindex);
  bool detached = false;
  for (const Attached& a : attached_programs(ifindex, what)) {
    const Fd prog = open_if_sluice(a.id, what, nullptr);
    if (!prog) continue;
    // old_prog_fd makes it a compare-and-swap (XDP_FLAGS_REPLACE): if another program took
    // its place since the query, that one stays.
    bpf_xdp_attach_opts opts{};
    opts.sz = sizeof opts;
    opts.old_prog_fd = prog.get();
    if (const int err = bpf_xdp_detach(ifindex, a.mode_flag, &opts); err != 0)
      fail(what, "cannot detach the XDP program a previous sluiced left (id " +
                     std::to_string(a.id) + "): " + err_text(err));
    detached = true;
  }
  return detached;
}

SetAside set_aside(int ifindex) {
  const std::string what = describe(ifindex);
  for (const Attached& a : attached_programs(ifindex, what)) {
    Fd prog = open_if_sluice(a.id, what, nullptr);
    if (!prog) continue;
    bpf_xdp_attach_opts opts{};
    opts.sz = sizeof opts;
    opts.old_prog_fd = prog.get();
    if (const int err = bpf_xdp_detach(ifindex, a.mode_flag, &opts); err != 0)
      fail(what, "cannot detach sluice's XDP program: " + err_text(err));
    return SetAside{ifindex, a.mode_flag, std::move(prog)};
  }
  fail(what, "sluice's XDP program is not attached");
}

void put_back(const SetAside& s) {
  // UPDATE_IF_NOEXIST: a program someone attached meanwhile stays.
  if (const int err = bpf_xdp_attach(s.ifindex, s.prog.get(),
                                     s.mode_flag | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
      err != 0)
    fail(describe(s.ifindex), "cannot attach sluice's XDP program again: " + err_text(err));
}

AttachedProgram::AttachedProgram(int ifindex) : ifindex_(ifindex), what_(describe(ifindex)) {
  const std::vector<Attached> attached = attached_programs(ifindex, what_);
  if (attached.empty()) fail(what_, "no XDP program attached (is its AF_XDP port open?)");
  std::string foreign;
  for (const Attached& a : attached) {
    prog_ = open_if_sluice(a.id, what_, &foreign);
    if (prog_) {
      prog_id_ = a.id;
      break;
    }
  }
  if (!prog_) {
    if (foreign.empty()) fail(what_, "its XDP program went away");
    fail(what_, "the attached XDP program is '" + foreign + "', not " SLUICE_XDP_PROG_NAME);
  }

  // Two passes: the count first, then the ids.
  const uint32_t nr_maps = prog_info(prog_.get(), what_).nr_map_ids;
  std::vector<uint32_t> map_ids(nr_maps);
  bpf_prog_info info{};
  info.nr_map_ids = nr_maps;
  info.map_ids = reinterpret_cast<uintptr_t>(map_ids.data());
  uint32_t len = sizeof info;
  if (const int err = bpf_obj_get_info_by_fd(prog_.get(), &info, &len); err != 0)
    fail(what_, "cannot list the maps of its XDP program: " + err_text(err));
  map_ids.resize(std::min(nr_maps, info.nr_map_ids));

  for (const uint32_t id : map_ids) {
    Fd fd(bpf_map_get_fd_by_id(id));
    if (!fd) fail(what_, "cannot open map id " + std::to_string(id) + ": " + err_text(errno));
    bpf_map_info mi{};
    uint32_t mlen = sizeof mi;
    if (const int err = bpf_obj_get_info_by_fd(fd.get(), &mi, &mlen); err != 0)
      fail(what_, "cannot read map id " + std::to_string(id) + ": " + err_text(err));
    if (kernel_name_is(mi.name, SLUICE_XDP_LOCAL_MAP)) {
      if (mi.type != BPF_MAP_TYPE_HASH || mi.key_size != sizeof(sluice_xdp_local_key) ||
          mi.value_size != sizeof(sluice_xdp_local_value))
        fail(what_, "map " SLUICE_XDP_LOCAL_MAP " has an unexpected layout (stale object?)");
      local_ = std::move(fd);
    } else if (kernel_name_is(mi.name, SLUICE_XDP_STATS_MAP)) {
      if (mi.type != BPF_MAP_TYPE_PERCPU_ARRAY || mi.key_size != sizeof(uint32_t) ||
          mi.value_size != sizeof(uint64_t))
        fail(what_, "map " SLUICE_XDP_STATS_MAP " has an unexpected layout (stale object?)");
      stats_ = std::move(fd);
    } else if (kernel_name_is(mi.name, SLUICE_XDP_CONFIG_MAP)) {
      if (mi.type != BPF_MAP_TYPE_ARRAY || mi.key_size != sizeof(uint32_t) ||
          mi.value_size != sizeof(uint32_t))
        fail(what_, "map " SLUICE_XDP_CONFIG_MAP " has an unexpected layout (stale object?)");
      config_ = std::move(fd);
    } else if (kernel_name_is(mi.name, SLUICE_XDP_NAT_PORTS_MAP)) {
      if (!is_nat_ports_layout(mi))
        fail(what_, "map " SLUICE_XDP_NAT_PORTS_MAP " has an unexpected layout (stale object?)");
      nat_ports_ = std::move(fd);
    } else if (kernel_name_is(mi.name, SLUICE_XDP_BRIDGE_LOCAL_MAP)) {
      if (mi.type != BPF_MAP_TYPE_HASH ||
          mi.key_size != sizeof(struct sluice_xdp_bridge_local_key) ||
          mi.value_size != sizeof(sluice_xdp_bridge_local_value))
        fail(what_, "map " SLUICE_XDP_BRIDGE_LOCAL_MAP " has an unexpected layout (stale object?)");
      bridge_local_ = std::move(fd);
    }
  }
  if (!local_ || !stats_ || !config_ || !nat_ports_ || !bridge_local_)
    fail(what_, "its " SLUICE_XDP_PROG_NAME " program lacks the " SLUICE_XDP_LOCAL_MAP
                ", " SLUICE_XDP_STATS_MAP ", " SLUICE_XDP_CONFIG_MAP ", " SLUICE_XDP_NAT_PORTS_MAP
                " or " SLUICE_XDP_BRIDGE_LOCAL_MAP " map (stale object?)");
}

void AttachedProgram::set_local_addresses(std::span<const uint32_t> addrs_be,
                                          std::span<const uint32_t> nat_addrs_be) {
  replace_local_addresses(local_.get(), addrs_be, nat_addrs_be, what_);
}

void AttachedProgram::set_local_addresses(std::span<const uint32_t> addrs_be) {
  replace_local_addresses(local_.get(), addrs_be, {}, what_);
}

void AttachedProgram::set_bridge_local(std::span<const uint64_t> macs) {
  replace_bridge_local(bridge_local_.get(), macs, what_);
}

NatPortsMap AttachedProgram::nat_ports() const {
  return NatPortsMap::from_fd(nat_ports_.get(), what_);
}

void AttachedProgram::set_config(uint32_t flags) {
  const uint32_t zero = 0;
  if (const int err = bpf_map_update_elem(config_.get(), &zero, &flags, BPF_ANY); err != 0)
    fail(what_, "cannot write " SLUICE_XDP_CONFIG_MAP ": " + err_text(err));
}

Stats AttachedProgram::stats() const {
  return read_stats(stats_.get(), what_);
}

void replace_local_addresses(int fd, std::span<const uint32_t> addrs_be,
                             std::span<const uint32_t> nat_addrs_be, const std::string& what) {
  // (address, flags), one per address, the flags of all its mentions together.
  std::vector<std::pair<uint32_t, sluice_xdp_local_value>> want;
  want.reserve(addrs_be.size() + nat_addrs_be.size());
  for (const uint32_t a : addrs_be) want.emplace_back(a, SLUICE_XDP_LOCAL_PRESENT);
  for (const uint32_t a : nat_addrs_be)
    want.emplace_back(a, SLUICE_XDP_LOCAL_PRESENT | SLUICE_XDP_LOCAL_NAT);
  std::sort(want.begin(), want.end());
  std::size_t n = 0;
  for (const auto& [a, flags] : want) {
    if (n > 0 && want[n - 1].first == a)
      want[n - 1].second |= flags;
    else
      want[n++] = {a, flags};
  }
  want.resize(n);
  if (want.size() > SLUICE_XDP_LOCAL_MAX)
    fail(what, std::to_string(want.size()) +
                   " host addresses, the XDP map " SLUICE_XDP_LOCAL_MAP " holds at most " +
                   std::to_string(SLUICE_XDP_LOCAL_MAX));

  std::vector<uint32_t> have;
  uint32_t key = 0;
  const uint32_t* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &key) == 0) {
    have.push_back(key);
    prev = &have.back();
  }
  // Stale entries out first (so the map never overflows mid-change), then the new set in;
  // an address in both is never missing (an update replaces its flags in one step).
  const auto wanted = [&](uint32_t a) {
    const auto it = std::lower_bound(want.begin(), want.end(), a,
                                     [](const auto& w, uint32_t key) { return w.first < key; });
    return it != want.end() && it->first == a;
  };
  for (const uint32_t a : have) {
    if (wanted(a)) continue;
    if (const int err = bpf_map_delete_elem(fd, &a); err != 0 && err != -ENOENT)
      fail(what, "cannot remove a host address from " SLUICE_XDP_LOCAL_MAP ": " + err_text(err));
  }
  for (const auto& [a, flags] : want)
    if (const int err = bpf_map_update_elem(fd, &a, &flags, BPF_ANY); err != 0)
      fail(what, "cannot add a host address to " SLUICE_XDP_LOCAL_MAP ": " + err_text(err));
}

void replace_local_addresses(int fd, std::span<const uint32_t> addrs_be, const std::string& what) {
  replace_local_addresses(fd, addrs_be, {}, what);
}

void replace_bridge_local(int fd, std::span<const uint64_t> macs, const std::string& what) {
  std::vector<uint64_t> want(macs.begin(), macs.end());
  for (const uint64_t m : want) {
    uint64_t packed = 0;
    std::memcpy(&packed, &m, 6);
    if (packed != m)
      fail(what, "a bridge MAC for " SLUICE_XDP_BRIDGE_LOCAL_MAP
                 " has bytes set past its sixth (not packed with memcpy of 6 bytes?)");
  }
  std::sort(want.begin(), want.end());
  want.erase(std::unique(want.begin(), want.end()), want.end());
  if (want.size() > SLUICE_XDP_BRIDGE_LOCAL_MAX)
    fail(what, std::to_string(want.size()) +
                   " bridge MACs, the XDP map " SLUICE_XDP_BRIDGE_LOCAL_MAP " holds at most " +
                   std::to_string(SLUICE_XDP_BRIDGE_LOCAL_MAX));
  const auto key_of = [](uint64_t m) {
    sluice_xdp_bridge_local_key key{};  // the padding zero, as the program builds its keys
    std::memcpy(key.mac, &m, sizeof key.mac);
    return key;
  };

  std::vector<uint64_t> have;
  sluice_xdp_bridge_local_key key{};
  const sluice_xdp_bridge_local_key* prev = nullptr;
  sluice_xdp_bridge_local_key cur{};
  while (bpf_map_get_next_key(fd, prev, &key) == 0) {
    uint64_t m = 0;
    std::memcpy(&m, key.mac, sizeof key.mac);
    have.push_back(m);
    cur = key;
    prev = &cur;
  }
  // As replace_local_addresses: stale entries out first (so the map never overflows
  // mid-change), then the new set in; a MAC in both is never missing.
  const sluice_xdp_bridge_local_value present = SLUICE_XDP_BRIDGE_LOCAL_PRESENT;
  for (const uint64_t m : have) {
    if (std::binary_search(want.begin(), want.end(), m)) continue;
    const sluice_xdp_bridge_local_key k = key_of(m);
    if (const int err = bpf_map_delete_elem(fd, &k); err != 0 && err != -ENOENT)
      fail(what, "cannot remove a MAC from " SLUICE_XDP_BRIDGE_LOCAL_MAP ": " + err_text(err));
  }
  for (const uint64_t m : want) {
    const sluice_xdp_bridge_local_key k = key_of(m);
    if (const int err = bpf_map_update_elem(fd, &k, &present, BPF_ANY); err != 0)
      fail(what, "cannot add a MAC to " SLUICE_XDP_BRIDGE_LOCAL_MAP ": " + err_text(err));
  }
}

Stats read_stats(int fd, const std::string& what) {
  const int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) fail(what, "cannot count the possible CPUs: " + err_text(ncpus));
  std::vector<uint64_t> per_cpu(static_cast<std::size_t>(ncpus));
  Stats out{};
  for (uint32_t i = 0; i < kStatCount; ++i) {
    if (const int err = bpf_map_lookup_elem(fd, &i, per_cpu.data()); err != 0) {
      if (err == -ENOENT) continue;  // an older object with fewer counters
      fail(what, "cannot read " SLUICE_XDP_STATS_MAP ": " + err_text(err));
    }
    for (const uint64_t v : per_cpu) out[i] += v;
  }
  return out;
}

const char* stat_name(unsigned index) {
  switch (index) {
    case SLUICE_XDP_TO_FASTPATH_IPV4: return "to_fastpath_ipv4";
    case SLUICE_XDP_TO_FASTPATH_ARP: return "to_fastpath_arp";
    case SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO: return "to_fastpath_local_echo";
    case SLUICE_XDP_TO_FASTPATH_MALFORMED: return "to_fastpath_malformed";
    case SLUICE_XDP_TO_KERNEL_LOCAL: return "to_kernel_local";
    case SLUICE_XDP_TO_KERNEL_MULTICAST: return "to_kernel_multicast";
    case SLUICE_XDP_TO_KERNEL_BROADCAST: return "to_kernel_broadcast";
    case SLUICE_XDP_TO_KERNEL_NON_IPV4: return "to_kernel_non_ipv4";
    case SLUICE_XDP_TO_KERNEL_RUNT: return "to_kernel_runt";
    case SLUICE_XDP_TO_KERNEL_VLAN: return "to_kernel_vlan";
    case SLUICE_XDP_TO_KERNEL_ARP: return "to_kernel_arp";
    case SLUICE_XDP_TO_FASTPATH_NAT: return "to_fastpath_nat";
    case SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR: return "to_fastpath_nat_icmp_error";
    case SLUICE_XDP_TO_FASTPATH_NAT_FRAGMENT: return "to_fastpath_nat_fragment";
    case SLUICE_XDP_TO_FASTPATH_BRIDGED: return "to_fastpath_bridged";
    case SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP: return "to_fastpath_bridge_group";
    case SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP: return "to_kernel_bridge_group";
    case SLUICE_XDP_TO_KERNEL_BRIDGED: return "to_kernel_bridged";
    default: return "unknown";
  }
}

}  // namespace sluice::xdp
