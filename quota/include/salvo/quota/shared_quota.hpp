#pragma once
/// One account quota shared by several processes through Redis: the
/// transport's admission hook, leasing small blocks of tokens from a GCRA
/// kept in Redis so that Redis stays off the per-request path.

#include "salvo/quota/redis_url.hpp"
#include "salvo/transport/admission.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace salvo::quota {

struct shared_quota_options {
    redis_endpoint endpoint;
    std::string key;                 ///< the quota's name in Redis; shared by the processes
    double emails_per_second = 0;    ///< 0: no emails limit
    double requests_per_second = 0;  ///< 0: no requests limit
    std::string password;            ///< AUTH when not empty; never printed
    /// Unreachable this long: on_gave_up, once, and nothing is admitted again.
    std::chrono::milliseconds give_up_after{600'000};
    /// A lease is this much of the rate (at least the request's emails).
    std::chrono::milliseconds lease_window{50};
    /// How far the shared TAT may run ahead of now, in lease windows: room
    /// for this many leases outstanding across all processes at once.
    double tolerance_windows = 2.0;
    /// Leased tokens not used within this many lease windows are dropped
    /// (they stay counted in Redis): a process that stalls with a lease in
    /// hand does not spend it later in a burst above the rate.
    double lease_lifetime_windows = 4.0;
    /// A connect or a command with no answer after this is a failure.
    std::chrono::milliseconds command_timeout{2'000};
    /// Reconnects wait a random time in [0, min(cap, base·2^(n−1))].
    std::chrono::milliseconds reconnect_base{100};
    std::chrono::milliseconds reconnect_cap{1'000};
    /// A throttle answer without Retry-After holds every process this long.
    std::chrono::milliseconds default_hold{1'000};
    std::uint64_t random_seed = 0x5a17'0c0d'e5eedULL;
};

/// The quota as seen from outside (for the progress line and errors).
struct quota_state {
    bool connected = false;    ///< a lease has been answered since the last failure
    bool unreachable = false;  ///< Redis failed and has not answered since
    bool gave_up = false;      ///< unreachable for give_up_after, or refused
    bool refused = false;  ///< refused for good (the password; another process's rates): no retry
    std::chrono::system_clock::time_point since{};       ///< when it became unreachable
    std::string last_error;                              ///< the last failure, for a person
    std::chrono::system_clock::time_point hold_until{};  ///< a published throttle hold
    std::uint64_t leases = 0;                            ///< leases granted
    std::uint64_t leased_emails = 0;                     ///< emails granted in them
    std::uint64_t returned_emails = 0;                   ///< given back at stop
};

/// The shared quota. Its own thread ("salvo-quota") owns an io_context and
/// the hiredis connection; the client's network thread calls the admission
/// methods, which only look at the local lease (one short mutex) and post
/// lease requests to that thread. Fail closed: while Redis does not answer
/// nothing is admitted (the local lease is dropped too); it reconnects with
/// capped, jittered backoff and after give_up_after calls `on_gave_up`; a
/// refused password (AUTH's error, NOAUTH, WRONGPASS) or a key leased at
/// other rates by another process calls it at once.
///
/// Thread safety: every public method may be called from any thread.
/// Errors: never thrown after construction; they show in state().
/// The destructor is stop(500 ms).
class shared_quota final : public transport::admission_hook {
  public:
    /// `on_gave_up` runs on the quota's thread, once; it must not block.
    explicit shared_quota(shared_quota_options options,
                          std::function<void(const quota_state&)> on_gave_up = {});
    ~shared_quota() override;
    shared_quota(const shared_quota&) = delete;
    shared_quota& operator=(const shared_quota&) = delete;

    /// Stops admitting, gives the unused part of the lease back to Redis
    /// (waiting for the answer up to `deadline`), disconnects, and joins the
    /// thread. Idempotent.
    void stop(std::chrono::milliseconds deadline);

    [[nodiscard]] quota_state state() const;

    // transport::admission_hook
    [[nodiscard]] transport::clock::duration try_acquire(std::uint32_t cost) noexcept override;
    void give_back(std::uint32_t cost) noexcept override;
    void on_throttle(std::chrono::milliseconds pause) noexcept override;
    void set_wake(std::function<void()> wake) override;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::quota
