// tsan_ring_order.h — force-included (-include) in every translation unit of scripts/test's
// ThreadSanitizer build, before DPDK's headers, so that the rte_ring code DPDK inlines into
// sluice synchronizes in ways TSan can see. Nothing else includes it.
//
// 1. RTE_USE_C11_MEM_MODEL: x86 DPDK builds use the "generic" ring, whose ordering is volatile
//    accesses and compiler barriers (enough on x86, invisible to TSan). The C11 variant is the
//    same algorithm with __atomic acquire/release, which TSan follows.
// 2. The C11 ring's multi-producer enqueue waits for earlier producers with a relaxed load of the
//    tail before storing its own tail with release (rte_ring_c11_pvt.h, DPDK 22.11). The
//    consumer's acquire then synchronizes with the last producer only: the earlier producer's
//    slot and mbuf writes are ordered before it on x86 (and on ARMv8 in practice) but not by the
//    C11 model, so TSan reports them as races with the consumer (seen: packets two workers punt
//    to the control thread). An acquire there adds exactly that order.
// lpm/ and nat/ are built without DPDK's include path: there this file does nothing.
#pragma once

#if __has_include(<rte_pause.h>)
#define RTE_USE_C11_MEM_MODEL 1

#include <rte_config.h>
#include <rte_pause.h>

// Every call after this point (rte_ring_c11_pvt.h's included) waits with acquire.
#define rte_wait_until_equal_32(addr, expected, memorder) \
  rte_wait_until_equal_32((addr), (expected), __ATOMIC_ACQUIRE)
#endif
