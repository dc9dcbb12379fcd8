// sd_notify.h — telling systemd (Type=notify units) that sluiced is ready or stopping: one
// datagram to the socket named by $NOTIFY_SOCKET, as sd_notify(3) describes the protocol, so
// sluiced needs no libsystemd. Outside systemd ($NOTIFY_SOCKET unset) it does nothing.
#pragma once

#include <string>

namespace sluice {

// Sends state (e.g. "READY=1", "STOPPING=1", "STATUS=...", newline-separated) to
// $NOTIFY_SOCKET. Returns "" when sent or when there is no $NOTIFY_SOCKET, else why it failed
// (a one-line message for the log; the caller goes on: readiness is a courtesy, not a reason
// to stop routing).
std::string sd_notify(const std::string& state);

// sd_notify, with a failure reported on stderr as one "sluiced: ..." line.
void notify_systemd(const std::string& state);

}  // namespace sluice
