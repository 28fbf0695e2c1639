#pragma once
/// The HTTP client pool: libcurl's multi-socket interface driven by one
/// Boost.Asio thread, with a bounded in-flight window, rate limits, retry,
/// timeouts and TLS options.

#include "salvo/transport/adaptive_rate.hpp"
#include "salvo/transport/admission.hpp"
#include "salvo/transport/classify.hpp"
#include "salvo/transport/clock.hpp"
#include "salvo/transport/counters.hpp"
#include "salvo/transport/outcome.hpp"
#include "salvo/transport/rate_limiter.hpp"
#include "salvo/transport/request.hpp"
#include "salvo/transport/retry_policy.hpp"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace salvo::transport {

/// The CA bundle this libcurl reads when tls_options::ca_file is empty
/// (built in, e.g. /etc/ssl/certs/ca-certificates.crt on Debian), or a
/// description when curl does not say.
[[nodiscard]] std::string default_ca_bundle();

struct tls_options {
    bool verify = true;   ///< verify the peer certificate and host name.
    std::string ca_file;  ///< PEM bundle to trust instead of the system's; empty = system.
    /// Explicit switch for test servers: no verification at all. Overrides `verify`.
    bool insecure = false;
};

/// The circuit breaker: an outage is the client's state, not each request's
/// fate. A connection that cannot be made (refused, DNS, TLS handshake,
/// connect timeout) or a run of transient answers (5xx, 429, a throttling
/// hook verdict) across requests opens it: nothing new starts, one probe at
/// a time goes after a capped full-jitter backoff, and the requests that
/// fail meanwhile wait in the queue (their attempts do not count against
/// retry.max_attempts). Any real answer closes it.
struct circuit_options {
    bool enabled = true;
    /// Transient failures in a row, across requests, with no success between.
    unsigned failure_run = 10;
    /// Open this long: on_circuit(gave_up), once; the probes stop. The
    /// caller decides (the engine stops the job, exit 3).
    std::chrono::milliseconds give_up_after{600'000};
    /// The probes' backoff ceiling: probe n waits a random time in
    /// [0, min(probe_cap, retry.base · 2^(n-1))], so that the job notices
    /// within a few seconds that the endpoint is back. One probe at a time
    /// costs the server little.
    std::chrono::milliseconds probe_cap{5'000};
};

enum class circuit_event : std::uint8_t { opened, closed, gave_up };

/// The circuit as seen from outside.
struct circuit_state {
    bool open = false;
    bool gave_up = false;
    std::chrono::system_clock::time_point since{};  ///< when it opened (wall clock)
    std::string last_error;                         ///< the last failure, for a person
    std::uint64_t probes = 0;                       ///< probes sent in this outage
};

struct client_options {
    std::string version = "0.0.0";   ///< sent as `User-Agent: salvo/<version>`.
    std::size_t max_in_flight = 64;  ///< requests on the wire at once (curl transfers).
    /// Requests admitted beyond max_in_flight, waiting in the client's queue
    /// (for a transfer slot, a rate token or the gate). submit() blocks while
    /// max_in_flight + max_queued requests are admitted and not completed:
    /// that is the caller's backpressure. A queue lets the caller prepare the
    /// next requests while these are sent, instead of waiting for each slot.
    std::size_t max_queued = 0;
    /// Bytes of request bodies admitted and not completed beyond which
    /// submit() waits too (0: no bound). A request is always admitted when
    /// nothing else is, whatever its size.
    std::size_t max_queued_bytes = 0;
    /// Header lines sent with every request whose own `headers` are empty,
    /// built into curl's list once instead of once per request.
    std::vector<std::string> headers;
    long max_host_connections = 0;   ///< per host; 0 = no cap.
    long max_total_connections = 0;  ///< in all; 0 = no cap.
    bool http2 = true;               ///< HTTP/2 over TLS when ALPN offers it, multiplexed.
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds request_timeout{60'000};  ///< per attempt, whole transfer.
    /// Abort an attempt slower than `low_speed_bytes` per second for
    /// `low_speed_time`; 0 bytes disables.
    long low_speed_bytes = 1;
    std::chrono::seconds low_speed_time{30};
    tls_options tls;
    /// nullopt: curl's environment (`https_proxy`, `http_proxy`, `no_proxy`).
    /// "": no proxy, whatever the environment says. Otherwise the proxy URL.
    std::optional<std::string> proxy;
    std::optional<std::string> no_proxy;  ///< hosts that bypass the proxy option.
    rate_limits rate;
    retry_options retry;
    adaptive_rate_options adaptive;
    circuit_options circuit;
    /// Called on the network thread when the circuit opens, closes or gives
    /// up; must not block (same rules as a completion).
    std::function<void(circuit_event, const circuit_state&)> on_circuit;
    body_hook hook;  ///< optional; see classify.hpp.
    /// Optional: asked before each attempt starts (a shared quota); see
    /// admission.hpp. Told of each throttled answer.
    std::shared_ptr<admission_hook> admission;
    std::uint64_t random_seed = 0x5a17'0c0d'e5eedULL;  ///< backoff jitter.
};

/// Called once per submitted request with its final outcome and the request
/// itself (body included) handed back, so the caller may re-send it.
/// **Runs on the client's network thread.** It must not block and must not
/// call submit() or shutdown() (try_submit() is fine).
using completion = std::function<void(request&& req, outcome&& result)>;

/// The pool. One network thread (started by the constructor) owns every curl
/// handle and runs every curl call, timer and completion; other threads hand
/// requests over through submit()/try_submit(), which post to it.
///
/// Thread safety: submit, try_submit, in_flight, stats and shutdown may be
/// called from any thread except the network thread (try_submit and stats
/// from there too). Errors: submission returns errc::shut_down or
/// errc::window_full; every per-request failure goes to the completion as an
/// `outcome`. Ownership: the client owns requests from submission until it
/// hands them back to their completion. The clock, when given, is borrowed and
/// must outlive the client. The destructor is shutdown(0 ms).
class client {
  public:
    explicit client(client_options options);
    client(client_options options, const clock& clk);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    /// Waits for a free slot in the in-flight window (the engine's
    /// backpressure), then hands `req` to the network thread. errc::shut_down
    /// once shutdown has begun (the request is then not taken: the completion
    /// is never called).
    [[nodiscard]] boost::system::error_code submit(request req, completion done);

    /// As submit() without waiting: errc::window_full when the window is full.
    /// On failure `req` is left as it was.
    [[nodiscard]] boost::system::error_code try_submit(request& req, completion done);

    /// Requests admitted and not yet completed. A request's slot is freed
    /// just after its completion returns, so a thread that has just seen a
    /// completion may still count that request for a moment.
    [[nodiscard]] std::size_t in_flight() const noexcept;

    /// Opens the admission gate up to `position`: requests whose `gate` is at
    /// most `position` may start. Positions only grow (a smaller one is
    /// ignored). Any thread; cheap when nothing waits on the gate.
    void advance_gate(std::uint64_t position) noexcept;

    /// Stops admitting, lets requests in flight finish for up to `deadline`,
    /// then cancels what remains (each reported `cancelled`, body-sent flag
    /// set when the body may have gone). Requests still waiting for a rate
    /// token or a retry are cancelled at once. Returns when the network
    /// thread has ended: no completion runs after that. Idempotent.
    void shutdown(std::chrono::milliseconds deadline);

    /// Stops admitting new requests at once: submit() and try_submit() then
    /// fail with errc::shut_down, and a submit() waiting for a slot wakes and
    /// fails. Nothing more is started either: transfers already on the wire
    /// go on, while requests admitted but not started (queued, waiting for a
    /// rate token, the gate or a retry's backoff) stay until shutdown(), which
    /// cancels them as never sent. Callable from any thread, the network
    /// thread (a completion) included, so that a caller who learns from an
    /// answer that nothing more may be sent (a 401) can stop the next request
    /// before it starts. shutdown() is still needed.
    void stop_admitting() noexcept;

    [[nodiscard]] counters_snapshot stats() const noexcept;

    /// The circuit now. Any thread.
    [[nodiscard]] circuit_state circuit() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::transport
