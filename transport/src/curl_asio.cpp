#include "curl_asio.hpp"

#include <boost/asio/post.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace salvo::transport::detail {

curl_asio_bridge::curl_asio_bridge(boost::asio::io_context& io, done_handler on_done,
                                   counters& stats)
    : io_(io), on_done_(std::move(on_done)), stats_(stats), timer_(io) {
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
    curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &curl_asio_bridge::on_socket);
    curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &curl_asio_bridge::on_timer);
    curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

curl_asio_bridge::~curl_asio_bridge() {
    // Cleanup closes cached connections through on_close_socket and may call
    // on_socket / on_timer: the map and the timer are still alive here.
    curl_multi_cleanup(multi_);
    multi_ = nullptr;
    for (auto& [fd, st] : sockets_) {
        st->closed = true;
        (void)st->descriptor.release();
    }
    sockets_.clear();
    *alive_ = false;
    timer_.cancel();
}

void curl_asio_bridge::prepare_handle(CURL* easy) noexcept {
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &curl_asio_bridge::on_open_socket);
    // A connection outlives the transfer that opened it (keep-alive cache):
    // its close callback gets the bridge, never the transfer.
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &curl_asio_bridge::on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
}

void curl_asio_bridge::prepare(CURL* easy, open_guard* guard) noexcept {
    guard->bridge = this;
    curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, guard);
}

CURLMcode curl_asio_bridge::add(CURL* easy) noexcept {
    return curl_multi_add_handle(multi_, easy);
}

CURLMcode curl_asio_bridge::remove(CURL* easy) noexcept {
    return curl_multi_remove_handle(multi_, easy);
}

// --- curl callbacks: Asio calls only, never curl ---------------------------

int curl_asio_bridge::on_socket(CURL*, curl_socket_t s, int what, void* userp, void*) {
    auto* self = static_cast<curl_asio_bridge*>(userp);
    if (what == CURL_POLL_REMOVE) {
        self->rest(s);
        return 0;
    }
    return self->watch(s, what);
}

int curl_asio_bridge::on_timer(CURLM*, long timeout_ms, void* userp) {
    static_cast<curl_asio_bridge*>(userp)->set_deadline(timeout_ms);
    return 0;
}

void curl_asio_bridge::set_deadline(long timeout_ms) {
    if (timeout_ms < 0) {
        // No deadline. An armed wait stays: when it fires it finds nothing due,
        // which is cheaper than cancelling and re-arming the timerfd.
        deadline_.reset();
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    deadline_ = now + std::chrono::milliseconds(timeout_ms);
    if (timeout_ms == 0) {
        // "As soon as possible": a posted handler, never a direct
        // socket_action from inside this callback, and no timer at all.
        if (!run_posted_) {
            run_posted_ = true;
            boost::asio::post(io_, [this, alive = alive_] {
                if (!*alive) return;
                run_posted_ = false;
                on_deadline();
            });
        }
        return;
    }
    if (armed_at_ && *armed_at_ <= *deadline_) return;  // fires first, re-arms then
    arm_timer(*deadline_);
}

void curl_asio_bridge::arm_timer(std::chrono::steady_clock::time_point at) {
    armed_at_ = at;
    timer_.expires_at(at);  // cancels a pending wait: its handler sees operation_aborted
    // A wait that completed just before the bridge was destroyed is still
    // queued with no error: `alive` tells (cancel() cannot reach it then).
    timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
        if (ec || !*alive) return;  // re-armed, or the bridge is gone
        armed_at_.reset();
        on_deadline();
    });
}

void curl_asio_bridge::on_deadline() {
    if (!deadline_) return;
    if (std::chrono::steady_clock::now() < *deadline_) {
        if (!armed_at_ || *armed_at_ > *deadline_) arm_timer(*deadline_);
        return;
    }
    deadline_.reset();
    action(CURL_SOCKET_TIMEOUT, 0);
}

curl_socket_t curl_asio_bridge::on_open_socket(void* clientp, curlsocktype,
                                               struct curl_sockaddr* address) {
    const auto* guard = static_cast<const open_guard*>(clientp);
    if (!guard->may_open_socket()) return CURL_SOCKET_BAD;  // curl: CURLE_COULDNT_CONNECT
    curl_asio_bridge* self = guard->bridge;
    const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
    if (fd < 0) return CURL_SOCKET_BAD;
    self->stats_.connections_opened.fetch_add(1, std::memory_order_relaxed);
    try {
        self->forget(fd);  // nothing of an earlier socket with this number survives
        self->opened_.insert(fd);
    } catch (...) {
        // Out of memory: the socket is then treated like one curl opened.
    }
    return fd;
}

int curl_asio_bridge::on_close_socket(void* clientp, curl_socket_t s) {
    auto* self = static_cast<curl_asio_bridge*>(clientp);
    self->forget(s);
    self->opened_.erase(s);
    return ::close(s);
}

// --- socket bookkeeping -----------------------------------------------------

int curl_asio_bridge::watch(curl_socket_t s, int what) noexcept {
    try {
        auto it = sockets_.find(s);
        if (it == sockets_.end()) {
            auto st = std::make_shared<socket_state>(io_, s);
            boost::system::error_code ec;
            st->descriptor.assign(s, ec);
            if (ec) return -1;  // curl fails the transfer; nothing to undo
            it = sockets_.emplace(s, std::move(st)).first;
        }
        const state_ptr& st = it->second;
        const bool woke = st->idle;
        st->idle = false;
        st->want = what;
        if ((what & CURL_POLL_IN) != 0) arm(st, true);
        if ((what & CURL_POLL_OUT) != 0) arm(st, false);
        if (woke) catch_up(st);
        return 0;
    } catch (...) {
        return -1;  // out of memory: never let an exception cross into C
    }
}

// An idle connection's readiness may have come and gone (edge-triggered)
// while no wait was pending: ask the kernel once, and hand what is ready to
// curl from a posted handler (never from inside curl's callback).
void curl_asio_bridge::catch_up(const state_ptr& st) {
    pollfd p{};
    p.fd = st->fd;
    p.events = static_cast<short>(((st->want & CURL_POLL_IN) != 0 ? POLLIN : 0) |
                                  ((st->want & CURL_POLL_OUT) != 0 ? POLLOUT : 0));
    if (::poll(&p, 1, 0) <= 0) return;
    int events = 0;
    if ((p.revents & (POLLIN | POLLHUP)) != 0) events |= CURL_CSELECT_IN;
    if ((p.revents & POLLOUT) != 0) events |= CURL_CSELECT_OUT;
    if ((p.revents & (POLLERR | POLLNVAL)) != 0) events |= CURL_CSELECT_ERR;
    if (events == 0) return;
    boost::asio::post(io_, [this, st, events, alive = alive_] {
        if (!*alive || st->closed || st->idle) return;
        const int wanted = ((st->want & CURL_POLL_IN) != 0 ? CURL_CSELECT_IN : 0) |
                           ((st->want & CURL_POLL_OUT) != 0 ? CURL_CSELECT_OUT : 0);
        if ((events & (wanted | CURL_CSELECT_ERR)) == 0) return;
        action(st->fd, events & (wanted | CURL_CSELECT_ERR));
    });
}

void curl_asio_bridge::rest(curl_socket_t s) noexcept {
    if (opened_.count(s) == 0) {
        forget(s);
        return;
    }
    const auto it = sockets_.find(s);
    if (it == sockets_.end()) return;
    it->second->want = 0;  // pending waits end without calling curl
    it->second->idle = true;
}

void curl_asio_bridge::forget(curl_socket_t s) noexcept {
    const auto it = sockets_.find(s);
    if (it == sockets_.end()) return;
    it->second->closed = true;
    it->second->want = 0;
    // Cancels pending waits (they see `closed`) and hands the fd back to curl.
    (void)it->second->descriptor.release();
    sockets_.erase(it);
}

void curl_asio_bridge::arm(const state_ptr& st, bool read_direction) {
    bool& in_flight = read_direction ? st->reading : st->writing;
    if (in_flight) return;
    in_flight = true;
    st->descriptor.async_wait(read_direction ? boost::asio::posix::stream_descriptor::wait_read
                                             : boost::asio::posix::stream_descriptor::wait_write,
                              [this, st, read_direction](boost::system::error_code ec) {
                                  on_ready(st, read_direction, ec);
                              });
}

void curl_asio_bridge::on_ready(const state_ptr& st, bool read_direction,
                                boost::system::error_code ec) {
    (read_direction ? st->reading : st->writing) = false;
    if (st->closed || ec == boost::asio::error::operation_aborted) return;
    const int bit = read_direction ? CURL_POLL_IN : CURL_POLL_OUT;
    if ((st->want & bit) == 0) return;  // curl lost interest meanwhile
    int events = read_direction ? CURL_CSELECT_IN : CURL_CSELECT_OUT;
    if (ec) events |= CURL_CSELECT_ERR;
    action(st->fd, events);
    // socket_action may have removed the socket, changed what it wants, or
    // already re-armed this direction through on_socket.
    if (!st->closed && (st->want & bit) != 0) arm(st, read_direction);
}

void curl_asio_bridge::action(curl_socket_t s, int events) {
    int running = 0;
    (void)curl_multi_socket_action(multi_, s, events, &running);
    drain();
}

void curl_asio_bridge::drain() {
    finished_.clear();
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg == CURLMSG_DONE) finished_.emplace_back(msg->easy_handle, msg->data.result);
    }
    // msg is invalid once a handle is removed: hand them on only now. Move the
    // list out, as on_done_ may start transfers whose drain reuses finished_.
    auto done = std::move(finished_);
    finished_.clear();
    for (const auto& [easy, result] : done) on_done_(easy, result);
    if (finished_.empty()) {
        done.clear();
        finished_ = std::move(done);  // keep the capacity
    }
}

}  // namespace salvo::transport::detail
