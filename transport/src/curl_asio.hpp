#pragma once
// The curl <-> Asio bridge (STYLE rule 11): one CURLM driven by one
// io_context. Follows curl's hiperfifo.c / multi-uv.c and Asio's
// nonblocking/third_party_lib.cpp, avoiding the mistakes of the deleted
// asiohiper.cpp:
//  - the timer callback records curl's deadline (-1: none; 0: now) and never
//    calls curl; socket_action(TIMEOUT) runs from a posted handler (0) or the
//    Asio timer's handler once the deadline is due. The timer is re-armed
//    only when curl's deadline moves *earlier* than the armed expiry: a later
//    deadline is found when the timer fires early and re-arms. curl moves its
//    deadline on nearly every call, and each re-arm of an Asio timer is a
//    timerfd_settime, which in a VM costs a trap to the hypervisor: a quarter
//    of the network thread's time went there (see ARCHITECTURE.md);
//  - every fd curl announces is wrapped in a posix::stream_descriptor, with at
//    most one async_wait per direction in flight; each completion clears its
//    flag, calls socket_action with CURL_CSELECT_IN/OUT (ERR on error), and
//    re-arms while curl still wants that direction;
//  - a connection curl keeps alive between transfers stays registered with
//    Asio (CURL_POLL_REMOVE only marks it idle): deregistering and
//    registering it again cost an epoll_ctl DEL, ADD and MOD and a FIONBIO
//    ioctl per request. Asio's epoll registration is edge-triggered, so when
//    curl wants an idle connection again, one poll() finds readiness that
//    arrived while nobody waited. Only sockets the bridge opened itself are
//    kept (curl closes others, e.g. its resolver's socketpair, without the
//    close-socket callback, and their fd number could come back);
//  - in the close-socket callback (and on CURL_POLL_REMOVE of a socket the
//    bridge did not open) the descriptor is release()d, never closed by Asio;
//    per-socket state is a shared_ptr held by every pending handler, with a
//    `closed` flag checked first;
//  - curl_multi_info_read is drained to NULL after every socket_action, and
//    finished transfers are handed on only after the drain;
//  - no curl function is ever called from inside a curl callback.
// Everything here runs on the network thread (the one running the io_context).

#include "salvo/transport/counters.hpp"

#include <curl/curl.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace salvo::transport::detail {

class curl_asio_bridge;

/// Asked by the open-socket callback before curl opens a connection for an
/// easy handle. A transfer says no once its body has started to go: a new
/// connection then can only be curl's own silent retry, which would re-send
/// (or, without a rewind, mangle) the body behind the caller's back.
class open_guard {
  public:
    [[nodiscard]] virtual bool may_open_socket() const noexcept = 0;
    curl_asio_bridge* bridge = nullptr;  // set by curl_asio_bridge::prepare

  protected:
    ~open_guard() = default;
};

class curl_asio_bridge {
  public:
    /// Called once per finished transfer, after the drain, outside any curl
    /// callback: the handler may remove, clean up or add easy handles.
    using done_handler = std::function<void(CURL* easy, CURLcode result)>;

    /// Throws std::runtime_error when curl_multi_init fails (at startup only).
    curl_asio_bridge(boost::asio::io_context& io, done_handler on_done, counters& stats);
    /// curl_multi_cleanup; every easy handle must have been removed before.
    ~curl_asio_bridge();
    curl_asio_bridge(const curl_asio_bridge&) = delete;
    curl_asio_bridge& operator=(const curl_asio_bridge&) = delete;

    [[nodiscard]] CURLM* multi() const noexcept { return multi_; }

    /// Sets the open/close-socket callbacks on a new easy handle, so that
    /// the bridge sees every fd's end.
    void prepare_handle(CURL* easy) noexcept;
    /// Points the open-socket callback at `guard` for the next attempt.
    /// `guard` must stay alive while the handle is in the multi.
    void prepare(CURL* easy, open_guard* guard) noexcept;

    [[nodiscard]] CURLMcode add(CURL* easy) noexcept;
    [[nodiscard]] CURLMcode remove(CURL* easy) noexcept;

    [[nodiscard]] std::size_t watched_sockets() const noexcept { return sockets_.size(); }

  private:
    struct socket_state {
        socket_state(boost::asio::io_context& io, curl_socket_t s) : descriptor(io), fd(s) {}
        ~socket_state() {
            // Never let Asio close curl's fd.
            if (descriptor.is_open()) (void)descriptor.release();
        }
        boost::asio::posix::stream_descriptor descriptor;
        curl_socket_t fd;
        int want = 0;       // CURL_POLL_IN / OUT / INOUT
        bool idle = false;  // kept alive by curl, no transfer wants it
        bool reading = false;
        bool writing = false;
        bool closed = false;
    };
    using state_ptr = std::shared_ptr<socket_state>;

    static int on_socket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
    static int on_timer(CURLM* multi, long timeout_ms, void* userp);
    static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose,
                                        struct curl_sockaddr* address);
    static int on_close_socket(void* clientp, curl_socket_t s);

    int watch(curl_socket_t s, int what) noexcept;
    void rest(curl_socket_t s) noexcept;
    void forget(curl_socket_t s) noexcept;
    void catch_up(const state_ptr& st);
    void arm(const state_ptr& st, bool read_direction);
    void on_ready(const state_ptr& st, bool read_direction, boost::system::error_code ec);
    void action(curl_socket_t s, int events);
    void drain();
    void set_deadline(long timeout_ms);
    void arm_timer(std::chrono::steady_clock::time_point at);
    void on_deadline();

    boost::asio::io_context& io_;
    done_handler on_done_;
    counters& stats_;
    CURLM* multi_ = nullptr;
    boost::asio::steady_timer timer_;
    // curl's deadline, if it has one; the armed timer's expiry, if armed.
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::optional<std::chrono::steady_clock::time_point> armed_at_;
    bool run_posted_ = false;  // a handler for a 0 timeout is queued
    // Read by posted handlers, which may outlive the bridge.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::unordered_map<curl_socket_t, state_ptr> sockets_;
    std::unordered_set<curl_socket_t> opened_;          // fds on_open_socket made, until closed
    std::vector<std::pair<CURL*, CURLcode>> finished_;  // reused drain buffer
};

}  // namespace salvo::transport::detail
