// SPDX-License-Identifier: GPL-2.0
/* sluice_xdp.bpf.c — the XDP program of sluice's AF_XDP ports. It splits a port's traffic
 * between the fast path (the AF_XDP socket of the rx queue) and the host's kernel stack:
 * what sluice forwards or answers itself goes to the socket, what the host owns (its own
 * addresses, multicast, broadcast, every other protocol) is passed to the kernel.
 *
 * Every redirect is bpf_redirect_map(..., XDP_PASS): with no socket bound on the queue (sluiced
 * stopped or killed) the frame goes to the kernel instead, so the router fails open to kernel
 * forwarding, never to a black hole. Each decision bumps one sluice_stats counter. */
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

/* One 802.1Q / 802.1ad tag, after the source MAC (no uapi header has it). */
struct sluice_vlan_hdr {
  __be16 tci;
  __be16 encapsulated_proto;
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
#define SLUICE_ICMP_ECHO_REQUEST 8

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

SEC("xdp")
int sluice_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  __be16 type;
  void* l3;

  if ((void*)(eth + 1) > end) return to_kernel(SLUICE_XDP_TO_KERNEL_RUNT);
  type = eth->h_proto;
  l3 = eth + 1;

  /* ARP only untagged: the fast path does not handle VLANs for ARP. In mirror mode the
   * kernel owns ARP (sluice imports its neighbour table). */
  if (type == bpf_htons(ETH_P_ARP)) {
    const __u32 zero = 0;
    const __u32* flags = bpf_map_lookup_elem(&sluice_config, &zero);

    if (flags && (*flags & SLUICE_XDP_CONFIG_ARP_TO_KERNEL))
      return to_kernel(SLUICE_XDP_TO_KERNEL_ARP);
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

  if (bpf_map_lookup_elem(&sluice_local, &daddr)) {
    /* Fragments go to the kernel: sluice answers only what it can see whole. */
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
