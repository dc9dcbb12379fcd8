// sink_drop.bpf.c — XDP program for the benchmark's sink (s0): drops IPv4 frames as soon as
// they arrive and passes everything else (ARP above all, so every gateway still answers).
// Without it the sink's kernel would run each frame through ip_rcv and a failing route lookup,
// except in testpmd io mode, whose frames keep r0's MAC and die early as PACKET_OTHERHOST;
// that cost would be charged to whichever router transmits, and unequally. veth counts the
// frame in s0's rx_packets before the program runs, so "delivered" is unchanged.
// The kernel's types first: libbpf's helper headers use them, so no include sorting here.
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
// clang-format on

SEC("xdp")
int sink_drop(struct xdp_md* ctx) {
  const void* data = (const void*)(long)ctx->data;
  const void* end = (const void*)(long)ctx->data_end;
  const struct ethhdr* eth = data;
  if ((const void*)(eth + 1) > end) return XDP_PASS;
  return eth->h_proto == bpf_htons(ETH_P_IP) ? XDP_DROP : XDP_PASS;
}

char _license[] SEC("license") = "GPL";
