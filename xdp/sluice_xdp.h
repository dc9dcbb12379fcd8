/* sluice_xdp.h — the contract between the XDP program of sluice's AF_XDP ports
 * (sluice_xdp.bpf.c) and the C++ that loads it, fills its maps and reads its counters.
 * Plain C, included by both sides: change a layout here and both follow.
 *
 * Maps (the names are the identifiers in sluice_xdp.bpf.c; C++ finds the maps by these):
 *   xsks_map      XSKMAP        key __u32 rx queue index, value: AF_XDP socket (DPDK's af_xdp
 *                               driver fills it and needs this exact name)
 *   sluice_local  HASH          key __u32 IPv4 address (network byte order),
 *                               value __u32 flags (SLUICE_XDP_LOCAL_PRESENT, _NAT)
 *   sluice_stats  PERCPU_ARRAY  key __u32 enum sluice_xdp_stat, value __u64 per CPU
 *   sluice_config ARRAY         one entry (key 0), value __u32 SLUICE_XDP_CONFIG_* flags
 *   sluice_nat_ports ARRAY, BPF_F_MMAPABLE  key __u32 word index, value __u64: the bitmap of
 *                               ports and ICMP identifiers NAT has claimed (below)
 *   sluice_br_local HASH        key struct sluice_xdp_bridge_local_key (a MAC), value __u32
 *                               flags (SLUICE_XDP_BRIDGE_LOCAL_PRESENT): on a bridge member,
 *                               the MACs that are the host's rather than bridged (below)
 * The kernel keeps 15 characters of a map name (BPF_OBJ_NAME_LEN - 1): bpftool and map info
 * show sluice_nat_ports as "sluice_nat_port", and xdp_loader matches names so cut. New maps get
 * names that fit (sluice_br_local).
 */
#ifndef SLUICE_XDP_SLUICE_XDP_H
#define SLUICE_XDP_SLUICE_XDP_H

#include <linux/types.h>

/* The program's function name; sluiced recognizes an instance a killed sluiced left attached
 * by it. The kernel keeps the first 15 characters (BPF_OBJ_NAME_LEN - 1). */
#define SLUICE_XDP_PROG_NAME "sluice_xdp"

#define SLUICE_XDP_XSKS_MAP "xsks_map"
#define SLUICE_XDP_LOCAL_MAP "sluice_local"
#define SLUICE_XDP_STATS_MAP "sluice_stats"
#define SLUICE_XDP_CONFIG_MAP "sluice_config"
#define SLUICE_XDP_NAT_PORTS_MAP "sluice_nat_ports"
#define SLUICE_XDP_BRIDGE_LOCAL_MAP "sluice_br_local"

#define SLUICE_XDP_XSKS_MAX 64          /* rx queues an AF_XDP port may use */
#define SLUICE_XDP_LOCAL_MAX 1024       /* host-owned addresses, subnet broadcasts included */
#define SLUICE_XDP_BRIDGE_LOCAL_MAX 256 /* local MACs of the bridge a port is a member of */

/* sluice_local: key is the IPv4 address, network byte order; value is a flags word. */
typedef __u32 sluice_xdp_local_key;
typedef __u32 sluice_xdp_local_value;
#define SLUICE_XDP_LOCAL_PRESENT 1u
/* The address is also a NAT outside address (masquerade source, port-forward destination):
 * besides the host-address rules, traffic to it that sluice_nat_ports claims goes to the fast
 * path. Always together with PRESENT. */
#define SLUICE_XDP_LOCAL_NAT 2u

/* sluice_nat_ports: which ports and ICMP echo identifiers of the NAT outside addresses belong
 * to sluice's NAT (allocated masquerade ports, forwarded ports) rather than to the kernel.
 * One block of SLUICE_XDP_NAT_WORDS_PER_PROTO words per protocol, in the order of the
 * SLUICE_XDP_NAT_* block indexes; bit (p % 64) of word block * WORDS_PER_PROTO + p / 64 set
 * means port or identifier p (host byte order) is NAT's. The same bits hold for every NAT
 * address. sluiced maps the array into its memory (BPF_F_MMAPABLE) and its workers set and
 * clear bits with atomic OR/AND as they allocate and free ports: the program sees a change
 * on the next packet, with no system call. */
#define SLUICE_XDP_NAT_WORDS_PER_PROTO 1024 /* 65536 bits */
#define SLUICE_XDP_NAT_TCP 0                /* destination port of TCP */
#define SLUICE_XDP_NAT_UDP 1                /* destination port of UDP */
#define SLUICE_XDP_NAT_ICMP 2               /* identifier of ICMP echo replies */
#define SLUICE_XDP_NAT_PROTOS 3
#define SLUICE_XDP_NAT_WORDS (SLUICE_XDP_NAT_PROTOS * SLUICE_XDP_NAT_WORDS_PER_PROTO)
/* The word and the bit of port or identifier `p` (host order) in protocol block `block`. */
#define SLUICE_XDP_NAT_WORD(block, p) ((block)*SLUICE_XDP_NAT_WORDS_PER_PROTO + (p) / 64)
#define SLUICE_XDP_NAT_BIT(p) (1ull << ((p) % 64))

/* sluice_br_local: the "local" MACs of the bridge the port is a member of (the bridge
 * device's MAC and its members' MACs): frames to them are the host's, to route or to deliver,
 * frames to any other unicast MAC are bridged. The MAC in network order (as on the wire), the
 * padding zero. */
struct sluice_xdp_bridge_local_key {
  __u8 mac[6];
  __u16 pad;
};
typedef __u32 sluice_xdp_bridge_local_value;
#define SLUICE_XDP_BRIDGE_LOCAL_PRESENT 1u

/* sluice_config flags. ARP_TO_KERNEL: in mirror mode the kernel owns ARP (it answers for its
 * addresses and resolves neighbours sluice asks about), so ARP is passed, not redirected.
 * BRIDGED: the port is a member of a sluice bridge; the bridge rules of sluice_xdp.bpf.c
 * apply, with sluice_br_local. BRIDGE_KERNEL (only meaningful with BRIDGED): that bridge
 * mirrors a Linux bridge, a kernel bridge device whose members these ports are, which keeps
 * the group traffic other than ARP. */
#define SLUICE_XDP_CONFIG_ARP_TO_KERNEL 1u
#define SLUICE_XDP_CONFIG_BRIDGED 2u
#define SLUICE_XDP_CONFIG_BRIDGE_KERNEL 4u
/* The port is a member of a Linux bridge that sluice does not mirror (a member is not a sluice
 * port, or uses a feature sluice lacks): unicast to a MAC not in sluice_br_local (the bridge's
 * and its members' MACs) is the kernel bridge's to forward, whatever it carries. Without this
 * the router rules would take transit IPv4 between two hosts on that bridge. Never together
 * with BRIDGED. */
#define SLUICE_XDP_CONFIG_KERNEL_BRIDGE_PORT 8u

/* sluice_stats: one __u64 per CPU and reason, indexed by this enum. These are decision
 * counters: "to_fastpath" is counted before bpf_redirect_map(), so it also counts frames that
 * went to the kernel because no socket was bound on that queue (the fail-open fallback). */
enum sluice_xdp_stat {
  SLUICE_XDP_TO_FASTPATH_IPV4 = 0,       /* IPv4 to forward (transit, VLAN-tagged included) */
  SLUICE_XDP_TO_FASTPATH_ARP,            /* untagged ARP: sluice answers and resolves it */
  SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO,     /* ICMP echo request to a host address, unfragmented */
  SLUICE_XDP_TO_FASTPATH_MALFORMED,      /* IPv4 truncated or bad header: the fast path drops
                                            and counts it */
  SLUICE_XDP_TO_KERNEL_LOCAL,            /* other IPv4 to a host address (ssh, BGP, ...) */
  SLUICE_XDP_TO_KERNEL_MULTICAST,        /* IPv4 to 224.0.0.0/4 */
  SLUICE_XDP_TO_KERNEL_BROADCAST,        /* IPv4 to 255.255.255.255 */
  SLUICE_XDP_TO_KERNEL_NON_IPV4,         /* any other EtherType (IPv6, LLDP, tagged ARP, ...) */
  SLUICE_XDP_TO_KERNEL_RUNT,             /* frame ends inside its Ethernet or VLAN header */
  SLUICE_XDP_TO_KERNEL_VLAN,             /* 802.1Q/802.1ad tagged: the fast path has no VLANs yet */
  SLUICE_XDP_TO_KERNEL_ARP,              /* ARP with SLUICE_XDP_CONFIG_ARP_TO_KERNEL set */
  SLUICE_XDP_TO_FASTPATH_NAT,            /* TCP/UDP to a NAT address on a claimed port, or an
                                            ICMP echo reply with a claimed identifier */
  SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR, /* ICMP error to a NAT address quoting a packet
                                            sent from a claimed port or identifier */
  SLUICE_XDP_TO_FASTPATH_NAT_FRAGMENT,   /* a non-first fragment to a NAT address */
  SLUICE_XDP_TO_FASTPATH_BRIDGED,        /* bridge member: unicast to a MAC not in
                                            sluice_br_local, any EtherType, tagged or not */
  SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP,   /* bridge member: group frame sluice floods (all of
                                            them without BRIDGE_KERNEL, else ARP not for a
                                            host address) */
  SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP,     /* bridge member with BRIDGE_KERNEL: group frame the
                                            kernel bridge floods (ARP for a host address,
                                            IPv4 multicast/broadcast, IPv6, STP, LLDP, ...) */
  SLUICE_XDP_TO_KERNEL_BRIDGED,          /* KERNEL_BRIDGE_PORT: unicast to a MAC not in
                                            sluice_br_local, for the kernel's bridge */
  SLUICE_XDP_STAT_COUNT
};

#endif /* SLUICE_XDP_SLUICE_XDP_H */
