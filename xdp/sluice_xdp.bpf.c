// SPDX-License-Identifier: GPL-2.0
/* sluice_xdp.bpf.c — the XDP program of sluice's AF_XDP ports. It splits a port's traffic
 * between the fast path (the AF_XDP socket of the rx queue) and the host's kernel stack:
 * what sluice forwards or answers itself goes to the socket, what the host owns (its own
 * addresses, multicast, broadcast, every other protocol) is passed to the kernel.
 *
 * Every redirect is bpf_redirect_map(..., XDP_PASS): with no socket bound on the queue (sluiced
 * stopped or killed) the frame goes to the kernel instead, so the router fails open to kernel
 * forwarding, never to a black hole. Each decision bumps one sluice_stats counter.
 *
 * NAT. A NAT outside address (sluice_local flag SLUICE_XDP_LOCAL_NAT) is also a host address:
 * the kernel's sockets on it (ssh, a DNS resolver, ...) must keep working. So the rules split
 * it by port, the only thing that tells a reply to a masqueraded connection, or a connection
 * to a forwarded port, from the kernel's own traffic. sluice_nat_ports is the set of ports and
 * ICMP identifiers NAT has claimed, kept by sluiced's workers as they allocate and free them;
 * to a NAT address,
 *   - TCP/UDP (unfragmented or a first fragment) to a claimed destination port,
 *   - an ICMP echo reply with a claimed identifier,
 *   - an ICMP error (unreachable, time exceeded, parameter problem) quoting an IPv4 header and
 *     the first 8 bytes after it, from a claimed source port (TCP/UDP) or an echo request with
 *     a claimed identifier: the error is about a packet NAT sent,
 *   - and every non-first fragment (it has no ports; sluice follows the fragments of NAT
 *     sessions from their first fragment)
 * go to the fast path; everything else follows the host-address rules, so the kernel keeps
 * every port sluice has not claimed. A kernel socket bound to a port NAT claims (say an
 * outgoing connection whose ephemeral port NAT allocated too) loses the packets to that port
 * while the claim lasts: they go to sluice. Keeping NAT's port range apart from the kernel's
 * (net.ipv4.ip_local_port_range) avoids it. The other cost: non-first fragments of the kernel's
 * own datagrams to a NAT address reach sluice, not the kernel.
 *
 * Bridge members (sluice_config SLUICE_XDP_CONFIG_BRIDGED; without it none of this applies).
 * A port in a sluice bridge carries bridged traffic besides the host's; sluice_br_local holds
 * the bridge's "local" MACs (the bridge device's and its members'). In order:
 *   1. a frame too short for its Ethernet header goes to the kernel, as on any port;
 *   2. unicast to a MAC not in sluice_br_local, whatever its EtherType, tagged or not, is
 *      bridged traffic: the fast path switches it, the kernel never sees it;
 *   3. unicast to a local MAC is the host's, to route or deliver: the rules below as on an
 *      unbridged port (host address -> kernel unless NAT claims it, transit IPv4 -> fast path,
 *      ARP per ARP_TO_KERNEL, tagged -> kernel, everything else -> kernel);
 *   4. a group destination (multicast or broadcast) on a static sluice bridge (no
 *      BRIDGE_KERNEL: no kernel bridge exists to flood anything) goes to the fast path, which
 *      floods it and delivers the host's copy itself;
 *   5. a group destination on a bridge that mirrors a Linux bridge (BRIDGE_KERNEL): ARP,
 *      untagged or under one 802.1Q tag, whose target is a host address (sluice_local) goes to
 *      the kernel, whose bridge answers and floods it exactly as Linux does; other such ARP
 *      goes to the fast path, which floods it;
 *      everything else (IPv4 multicast and broadcast, IPv6, STP, LLDP, DHCP, ...) goes to the
 *      kernel: its bridge floods it and the host gets its own copy, so a DHCP server or IPv6
 *      on the bridge device keep working. sluice cannot hand the kernel a copy as if received
 *      on the bridge, and flooding in both places would duplicate frames: each frame has
 *      exactly one owner.
 * Fail-open holds here too: with no socket bound, every redirect above becomes XDP_PASS and
 * the kernel bridge forwards everything.
 *
 * A member of a Linux bridge that sluice does not mirror (SLUICE_XDP_CONFIG_KERNEL_BRIDGE_PORT)
 * hands the kernel every unicast frame to a MAC not in sluice_br_local: the kernel bridge
 * forwards it; frames to the bridge's own MACs follow the router rules. */
#include "sluice_xdp.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>

/* The map identifiers below must match the SLUICE_XDP_*_MAP names in sluice_xdp.h. */
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, SLUICE_XDP_XSKS_MAX);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLUICE_XDP_LOCAL_MAX);
  __type(key, sluice_xdp_local_key);
  __type(value, sluice_xdp_local_value);
} sluice_local SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SLUICE_XDP_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} sluice_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} sluice_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, SLUICE_XDP_NAT_WORDS);
  __type(key, __u32);
  __type(value, __u64);
} sluice_nat_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLUICE_XDP_BRIDGE_LOCAL_MAX);
  __type(key, struct sluice_xdp_bridge_local_key);
  __type(value, sluice_xdp_bridge_local_value);
} sluice_br_local SEC(".maps");

/* One 802.1Q / 802.1ad tag, after the source MAC (no uapi header has it). */
struct sluice_vlan_hdr {
  __be16 tci;
  __be16 encapsulated_proto;
};

/* ARP for IPv4 over Ethernet (RFC 826), 28 bytes; the addresses are bytes, the protocol ones
 * unaligned. <linux/if_arp.h> stops at the fixed part. */
struct sluice_arp_ipv4 {
  __be16 htype;
  __be16 ptype;
  __u8 hlen;
  __u8 plen;
  __be16 oper;
  __u8 sha[6];
  __u8 spa[4];
  __u8 tha[6];
  __u8 tpa[4];
};

/* The ICMP echo header (RFC 792). <linux/icmp.h> pulls in libc's <sys/socket.h>, which does
 * not build for -target bpf. */
struct sluice_icmp_echo {
  __u8 type;
  __u8 code;
  __sum16 checksum;
  __be16 id;
  __be16 sequence;
};
#define SLUICE_ICMP_ECHO_REPLY 0
#define SLUICE_ICMP_DEST_UNREACH 3
#define SLUICE_ICMP_ECHO_REQUEST 8
#define SLUICE_ICMP_TIME_EXCEEDED 11
#define SLUICE_ICMP_PARAMETER_PROB 12

/* iphdr.frag_off bits (host order), kernel-internal in <net/ip.h>. */
#define SLUICE_IP_MF 0x2000
#define SLUICE_IP_OFFSET 0x1fff

static __always_inline void count(__u32 reason) {
  __u64* c = bpf_map_lookup_elem(&sluice_stats, &reason);

  if (c) /* per-CPU slot: no atomic needed */
    *c += 1;
}

static __always_inline int to_kernel(__u32 reason) {
  count(reason);
  return XDP_PASS;
}

/* Counted before the call, as a decision: the redirect itself falls back to XDP_PASS when
 * the queue has no socket. */
static __always_inline int to_fastpath(struct xdp_md* ctx, __u32 reason) {
  count(reason);
  return (int)bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

/* Whether NAT claims port or identifier `p` (network order) of protocol block `block`. The
 * word is read once: sluiced's workers change it concurrently, with atomic OR/AND. */
static __always_inline int nat_claimed(__u32 block, __be16 p) {
  const __u16 port = bpf_ntohs(p);
  const __u32 key = SLUICE_XDP_NAT_WORD(block, port);
  const __u64* word = bpf_map_lookup_elem(&sluice_nat_ports, &key);

  return word && (*(const volatile __u64*)word & SLUICE_XDP_NAT_BIT(port)) != 0;
}

/* The NAT rules (see the top) for a packet to a NAT address whose IPv4 header checked out:
 * the fast-path counter to use, or -1 when the packet is not NAT's. l4 is where the header
 * ends (l3 + hlen). Lengths are checked both against the frame (for the verifier) and
 * against tot_len (Ethernet padding is no payload). */
static __always_inline int nat_reason(const struct iphdr* ip, void* l4, void* end, __u32 hlen,
                                      __u32 tot_len) {
  if (ip->frag_off & bpf_htons(SLUICE_IP_OFFSET)) return SLUICE_XDP_TO_FASTPATH_NAT_FRAGMENT;

  if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
    const __be16* ports = l4; /* source, destination */

    if ((void*)(ports + 2) > end || hlen + 4 > tot_len) return -1;
    return nat_claimed(ip->protocol == IPPROTO_TCP ? SLUICE_XDP_NAT_TCP : SLUICE_XDP_NAT_UDP,
                       ports[1])
               ? SLUICE_XDP_TO_FASTPATH_NAT
               : -1;
  }
  if (ip->protocol != IPPROTO_ICMP) return -1;

  const struct sluice_icmp_echo* icmp = l4;

  if ((void*)(icmp + 1) > end || hlen + sizeof(*icmp) > tot_len) return -1;
  if (icmp->type == SLUICE_ICMP_ECHO_REPLY)
    return nat_claimed(SLUICE_XDP_NAT_ICMP, icmp->id) ? SLUICE_XDP_TO_FASTPATH_NAT : -1;
  if (icmp->type != SLUICE_ICMP_DEST_UNREACH && icmp->type != SLUICE_ICMP_TIME_EXCEEDED &&
      icmp->type != SLUICE_ICMP_PARAMETER_PROB)
    return -1;

  /* The quote: the header of the packet the error is about, as NAT sent it, and at least the
   * 8 bytes after it that hold its ports (RFC 792). A quoted later fragment has no ports
   * there. */
  const struct iphdr* q = (const void*)(icmp + 1);

  if ((void*)(q + 1) > end || q->version != 4 || q->ihl < 5 ||
      (q->frag_off & bpf_htons(SLUICE_IP_OFFSET)))
    return -1;
  const __u32 qhlen = (__u32)q->ihl * 4;
  const void* ql4 = (const void*)q + qhlen;

  if (ql4 + 8 > end || hlen + sizeof(*icmp) + qhlen + 8 > tot_len) return -1;
  if (q->protocol == IPPROTO_TCP || q->protocol == IPPROTO_UDP) {
    const __be16* qports = ql4; /* source (NAT's outside port), destination */

    return nat_claimed(q->protocol == IPPROTO_TCP ? SLUICE_XDP_NAT_TCP : SLUICE_XDP_NAT_UDP,
                       qports[0])
               ? SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR
               : -1;
  }
  if (q->protocol == IPPROTO_ICMP) {
    const struct sluice_icmp_echo* qecho = ql4;

    if (qecho->type == SLUICE_ICMP_ECHO_REQUEST && nat_claimed(SLUICE_XDP_NAT_ICMP, qecho->id))
      return SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR;
  }
  return -1;
}

/* Whether l3 holds ARP for IPv4 whose target protocol address is a host address. ARP cut
 * short or for another protocol is not: sluice's ARP handling has the last word on it. */
static __always_inline int arp_for_host(const void* l3, const void* end) {
  const struct sluice_arp_ipv4* arp = l3;
  __be32 target;

  if ((const void*)(arp + 1) > end || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != ETH_ALEN ||
      arp->plen != 4)
    return 0;
  __builtin_memcpy(&target, arp->tpa, sizeof(target));
  return bpf_map_lookup_elem(&sluice_local, &target) != 0;
}

/* The bridge rules 2, 4 and 5 (see the top) for a member port: the verdict, or -1 for a
 * unicast frame to a local MAC, which the router rules decide (rule 3). */
static __always_inline int bridge_verdict(struct xdp_md* ctx, const struct ethhdr* eth,
                                          const void* end, __u32 config) {
  if (!(eth->h_dest[0] & 1)) {
    struct sluice_xdp_bridge_local_key key = {};

    __builtin_memcpy(key.mac, eth->h_dest, ETH_ALEN);
    if (bpf_map_lookup_elem(&sluice_br_local, &key)) return -1;
    return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_BRIDGED);
  }
  if (!(config & SLUICE_XDP_CONFIG_BRIDGE_KERNEL))
    return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);

  /* ARP is looked for untagged and under one 802.1Q tag (the bridge's VLANs); a frame ending
   * inside that tag is a runt as on any port. */
  __be16 type = eth->h_proto;
  const void* l3 = eth + 1;

  if (type == bpf_htons(ETH_P_8021Q)) {
    const struct sluice_vlan_hdr* vlan = l3;

    if ((const void*)(vlan + 1) > end) return to_kernel(SLUICE_XDP_TO_KERNEL_RUNT);
    type = vlan->encapsulated_proto;
    l3 = vlan + 1;
  }
  if (type == bpf_htons(ETH_P_ARP) && !arp_for_host(l3, end))
    return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  return to_kernel(SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
}

SEC("xdp")
int sluice_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  __be16 type;
  void* l3;

  if ((void*)(eth + 1) > end) return to_kernel(SLUICE_XDP_TO_KERNEL_RUNT);

  const __u32 zero = 0;
  const __u32* config_entry = bpf_map_lookup_elem(&sluice_config, &zero);
  const __u32 config = config_entry ? *config_entry : 0;

  if ((config & SLUICE_XDP_CONFIG_KERNEL_BRIDGE_PORT) && !(eth->h_dest[0] & 1)) {
    struct sluice_xdp_bridge_local_key key = {};

    __builtin_memcpy(key.mac, eth->h_dest, ETH_ALEN);
    if (!bpf_map_lookup_elem(&sluice_br_local, &key))
      return to_kernel(SLUICE_XDP_TO_KERNEL_BRIDGED);
  }
  if (config & SLUICE_XDP_CONFIG_BRIDGED) {
    const int verdict = bridge_verdict(ctx, eth, end, config);

    if (verdict >= 0) return verdict;
  }
  type = eth->h_proto;
  l3 = eth + 1;

  /* ARP only untagged: the fast path does not handle VLANs for ARP. In mirror mode the
   * kernel owns ARP (sluice imports its neighbour table). */
  if (type == bpf_htons(ETH_P_ARP)) {
    if (config & SLUICE_XDP_CONFIG_ARP_TO_KERNEL) return to_kernel(SLUICE_XDP_TO_KERNEL_ARP);
    return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_ARP);
  }

  if (type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD)) {
    struct sluice_vlan_hdr* vlan = l3;

    if ((void*)(vlan + 1) > end) return to_kernel(SLUICE_XDP_TO_KERNEL_RUNT);
    /* Tagged traffic stays the kernel's (its VLAN interfaces keep working) until the fast
     * path learns VLANs with bridging; eth-input would only drop it. */
    return to_kernel(SLUICE_XDP_TO_KERNEL_VLAN);
  }
  if (type != bpf_htons(ETH_P_IP)) return to_kernel(SLUICE_XDP_TO_KERNEL_NON_IPV4);

  struct iphdr* ip = l3;

  /* A bad header goes to the fast path, which drops it and counts why, even to a host
   * address: the kernel would drop it too, but sluice's counters are where to look. */
  if ((void*)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
    return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_MALFORMED);
  const __u32 hlen = (__u32)ip->ihl * 4;

  if (l3 + hlen > end) return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_MALFORMED);
  const __u32 tot_len = bpf_ntohs(ip->tot_len);

  /* The frame may be longer (Ethernet padding), never shorter. Both sides are scalars:
   * the verifier need not bound tot_len for pointer arithmetic. */
  if (tot_len < hlen || tot_len > (__u64)((long)end - (long)l3))
    return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_MALFORMED);

  const __be32 daddr = ip->daddr;

  const sluice_xdp_local_value* local = bpf_map_lookup_elem(&sluice_local, &daddr);

  if (local) {
    if (*local & SLUICE_XDP_LOCAL_NAT) {
      const int reason = nat_reason(ip, l3 + hlen, end, hlen, tot_len);

      if (reason >= 0) return to_fastpath(ctx, (__u32)reason);
    }
    /* Fragmented echo requests go to the kernel: sluice answers only what it can see whole
     * (later fragments to a NAT address went to sluice above, for NAT to follow). */
    if (ip->protocol == IPPROTO_ICMP &&
        !(ip->frag_off & bpf_htons(SLUICE_IP_MF | SLUICE_IP_OFFSET))) {
      struct sluice_icmp_echo* icmp = l3 + hlen;

      if ((void*)(icmp + 1) <= end && icmp->type == SLUICE_ICMP_ECHO_REQUEST)
        return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
    }
    return to_kernel(SLUICE_XDP_TO_KERNEL_LOCAL);
  }
  if ((daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000))
    return to_kernel(SLUICE_XDP_TO_KERNEL_MULTICAST);
  if (daddr == 0xffffffff) return to_kernel(SLUICE_XDP_TO_KERNEL_BROADCAST);
  return to_fastpath(ctx, SLUICE_XDP_TO_FASTPATH_IPV4);
}

char LICENSE[] SEC("license") = "GPL";
