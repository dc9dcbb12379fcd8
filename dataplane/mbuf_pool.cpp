// mbuf_pool.cpp — the mbuf pool (moved out of dataplane.cpp so that the line-rate tester makes
// its pool the same way).
#include "dataplane/mbuf_pool.h"

#include <rte_lcore.h>
#include <rte_mbuf_pool_ops.h>

#include "dataplane/packet_meta.h"

namespace sluice {

// Why `packed`: DPDK 22.11's af_xdp driver registers the pool as the AF_XDP UMEM from its first
// object over populated_size x object size bytes (xdp_umem_configure). By default the mempool keeps
// each object inside one page, and with 4 KiB pages (--no-huge) a 2.5 KiB mbuf then takes a page of
// its own: the objects span ~1.6 times that length, so the last ~40% of the mbufs lie outside the
// UMEM, and the kernel silently drops every frame sent from one of them (and every fill-ring
// entry). Seen as flooded copies (fresh allocations) that never reached the wire. IOVA contiguity
// within an object only matters to a NIC doing DMA with physical addresses, so packing is skipped
// only for PCI ports in IOVA-as-PA mode.
rte_mempool* create_mbuf_pool(const std::string& name, unsigned n, bool packed,
                              uint16_t data_room) {
  if (!packed)
    return rte_pktmbuf_pool_create(name.c_str(), n, 256, kPacketMetaSize, data_room,
                                   static_cast<int>(rte_socket_id()));
  const unsigned elt = sizeof(rte_mbuf) + kPacketMetaSize + data_room;
  rte_mempool* mp =
      rte_mempool_create_empty(name.c_str(), n, elt, 256, sizeof(rte_pktmbuf_pool_private),
                               static_cast<int>(rte_socket_id()), RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (mp == nullptr) return nullptr;
  if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr) != 0) {
    rte_mempool_free(mp);
    return nullptr;
  }
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = data_room;
  priv.mbuf_priv_size = kPacketMetaSize;
  rte_pktmbuf_pool_init(mp, &priv);
  if (rte_mempool_populate_default(mp) < 0) {
    rte_mempool_free(mp);
    return nullptr;
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
  return mp;
}

}  // namespace sluice
