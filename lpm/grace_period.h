// grace_period.h — the hook through which lpm/ learns that readers have moved on.
//
// lpm/ never frees memory a reader may still be walking. After publishing a change it asks the
// hook for a token and keeps the replaced blocks on a retire list; they are recycled once
// check(token) says every reader has been through a quiescent state since. The semantics are
// exactly those of DPDK's rte_rcu_qsbr_start()/rte_rcu_qsbr_check(), which is what the
// dataplane plugs in; lpm/ itself stays free of DPDK. Called only from the writer thread.
#pragma once

#include <cstdint>

namespace sluice::lpm {

class GracePeriod {
 public:
  virtual ~GracePeriod() = default;
  // Marks "now": a later check(token) is true once all readers were quiescent after this call.
  virtual uint64_t start() = 0;
  // True when the grace period that began at `token` has ended. With `wait`, blocks until then.
  virtual bool check(uint64_t token, bool wait) = 0;
};

}  // namespace sluice::lpm
