/* sluice_xdp.h — the contract between the XDP program of sluice's AF_XDP ports
 * (sluice_xdp.bpf.c) and the C++ that loads it, fills its maps and reads its counters.
 * Plain C, included by both sides: change a layout here and both follow.
 *
 * Maps (the names are the identifiers in sluice_xdp.bpf.c; C++ finds the maps by these):
 *   xsks_map      XSKMAP        key __u32 rx queue index, value: AF_XDP socket (DPDK's af_xdp
 *                               driver fills it and needs this exact name)
 *   sluice_local  HASH          key __u32 IPv4 address (network byte order),
 *                               value __u32 flags (SLUICE_XDP_LOCAL_PRESENT)
 *   sluice_stats  PERCPU_ARRAY  key __u32 enum sluice_xdp_stat, value __u64 per CPU
 *   sluice_config ARRAY         one entry (key 0), value __u32 SLUICE_XDP_CONFIG_* flags
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

#define SLUICE_XDP_XSKS_MAX 64    /* rx queues an AF_XDP port may use */
#define SLUICE_XDP_LOCAL_MAX 1024 /* host-owned addresses, subnet broadcasts included */

/* sluice_local: key is the IPv4 address, network byte order; value is a flags word. */
typedef __u32 sluice_xdp_local_key;
typedef __u32 sluice_xdp_local_value;
#define SLUICE_XDP_LOCAL_PRESENT 1u

/* sluice_config flags. ARP_TO_KERNEL: in mirror mode the kernel owns ARP (it answers for its
 * addresses and resolves neighbours sluice asks about), so ARP is passed, not redirected. */
#define SLUICE_XDP_CONFIG_ARP_TO_KERNEL 1u

/* sluice_stats: one __u64 per CPU and reason, indexed by this enum. These are decision
 * counters: "to_fastpath" is counted before bpf_redirect_map(), so it also counts frames that
 * went to the kernel because no socket was bound on that queue (the fail-open fallback). */
enum sluice_xdp_stat {
  SLUICE_XDP_TO_FASTPATH_IPV4 = 0,   /* IPv4 to forward (transit, VLAN-tagged included) */
  SLUICE_XDP_TO_FASTPATH_ARP,        /* untagged ARP: sluice answers and resolves it */
  SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO, /* ICMP echo request to a host address, unfragmented */
  SLUICE_XDP_TO_FASTPATH_MALFORMED,  /* IPv4 truncated or bad header: the fast path drops
                                        and counts it */
  SLUICE_XDP_TO_KERNEL_LOCAL,        /* other IPv4 to a host address (ssh, BGP, ...) */
  SLUICE_XDP_TO_KERNEL_MULTICAST,    /* IPv4 to 224.0.0.0/4 */
  SLUICE_XDP_TO_KERNEL_BROADCAST,    /* IPv4 to 255.255.255.255 */
  SLUICE_XDP_TO_KERNEL_NON_IPV4,     /* any other EtherType (IPv6, LLDP, tagged ARP, ...) */
  SLUICE_XDP_TO_KERNEL_RUNT,         /* frame ends inside its Ethernet or VLAN header */
  SLUICE_XDP_TO_KERNEL_VLAN,         /* 802.1Q/802.1ad tagged: the fast path has no VLANs yet */
  SLUICE_XDP_TO_KERNEL_ARP,          /* ARP with SLUICE_XDP_CONFIG_ARP_TO_KERNEL set */
  SLUICE_XDP_STAT_COUNT
};

#endif /* SLUICE_XDP_SLUICE_XDP_H */
