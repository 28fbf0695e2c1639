#pragma once
/// A narrow admission hook: something outside the client (a quota shared
/// with other processes) that the client consults before it starts each
/// request, next to its own rate limiter.

#include "salvo/transport/clock.hpp"

#include <chrono>
#include <cstdint>
#include <functional>

namespace salvo::transport {

/// Consulted by the client on its network thread, after the gate and before
/// the local rate limiter. Implementations must answer from local state
/// (never block, never do I/O on the caller's thread): they fetch permission
/// elsewhere and call the wake function when there is news.
///
/// Thread safety: try_acquire, give_back and on_throttle are called on the
/// client's network thread only; set_wake from the client's constructor and
/// shutdown. Ownership: the client holds a shared_ptr; the hook never holds
/// the client, only the wake function, which the client clears (set_wake({}))
/// before its network thread's io_context goes away.
class admission_hook {
  public:
    virtual ~admission_hook() = default;

    /// Takes one request and `cost` emails and returns zero, or takes
    /// nothing and returns the longest the client should wait before asking
    /// again (the hook may wake it earlier).
    [[nodiscard]] virtual clock::duration try_acquire(std::uint32_t cost) noexcept = 0;
    /// Gives back what a granted try_acquire(cost) took, when the request did
    /// not start after all (the local rate limiter said wait).
    virtual void give_back(std::uint32_t cost) noexcept = 0;
    /// The server asked to slow down (HTTP 429, or a throttling body such as
    /// OverQuota): `pause` from its Retry-After, zero when it gave none.
    virtual void on_throttle(std::chrono::milliseconds pause) noexcept = 0;
    /// Installs (or, with an empty function, removes) what wakes the client:
    /// callable from any thread; it makes the client look at its queue again.
    virtual void set_wake(std::function<void()> wake) = 0;
};

}  // namespace salvo::transport
