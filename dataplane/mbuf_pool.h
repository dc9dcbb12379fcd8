// mbuf_pool.h — the mbuf pool of sluice's programs (sluiced's dataplane, the line-rate tester):
// one place for the layout AF_XDP ports need.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>

namespace sluice {

// The mbuf pool, as rte_pktmbuf_pool_create makes it (private area of kPacketMetaSize bytes),
// except that with `packed` its objects are laid out back to back
// (RTE_MEMPOOL_F_NO_IOVA_CONTIG); see mbuf_pool.cpp for why. `data_room` is the buffer size
// behind each mbuf, headroom included. nullptr on failure (rte_errno set).
rte_mempool* create_mbuf_pool(const std::string& name, unsigned n, bool packed,
                              uint16_t data_room = RTE_MBUF_DEFAULT_BUF_SIZE);

}  // namespace sluice
