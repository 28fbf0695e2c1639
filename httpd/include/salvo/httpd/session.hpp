#pragma once
/// Pieces every salvo HTTP server session uses (the emulator's and
/// `salvo listen`'s): a read deadline that cancels instead of closing, so a
/// 408 can still be written, and a lingering close for answers that end a
/// connection while the client may still be sending. Header-only; each
/// object belongs to one session and runs on its strand.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace salvo::httpd {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

/// A read deadline that cancels the socket's operations instead of closing
/// the socket (as Beast's own stream timeout does), so that a 408 can still
/// be written. The handler runs on the session's strand.
///
/// Arming is cheap because a session arms and disarms it around every read
/// and write: arm() only records the due time, and the timer is set again
/// only when the new due time is earlier than the wait in progress. A wait
/// that wakes before the due time (because it was armed again later, or
/// disarmed) waits for the rest, or stops.
class deadline {
  public:
    using tcp = boost::asio::ip::tcp;
    using clock = boost::asio::steady_timer::clock_type;
    explicit deadline(const boost::asio::any_io_executor& ex)
        : timer_(ex), state_(std::make_shared<state>()) {
        state_->timer = &timer_;
    }
    ~deadline() { state_->timer = nullptr; }  // a queued handler must not touch timer_
    deadline(const deadline&) = delete;
    deadline& operator=(const deadline&) = delete;

    void arm(tcp::socket& socket, std::chrono::milliseconds after) {
        state& st = *state_;
        st.fired = false;
        st.socket = &socket;
        st.due = clock::now() + after;
        if (st.waiting && timer_.expiry() <= st.due) return;  // it wakes in time
        timer_.expires_at(st.due);  // a later wait completes with operation_aborted
        wait(state_);
    }
    void disarm() noexcept { state_->due = clock::time_point::max(); }
    [[nodiscard]] bool fired() const noexcept { return state_->fired; }

  private:
    struct state {
        boost::asio::steady_timer* timer = nullptr;        ///< null once the deadline is gone
        clock::time_point due = clock::time_point::max();  ///< max: disarmed
        bool waiting = false;  ///< a wait is pending, or its handler queued
        bool fired = false;
        tcp::socket* socket = nullptr;
    };

    // The handler shares the state, not the session: it may run after the
    // session is gone, and then finds no timer and does nothing.
    static void wait(const std::shared_ptr<state>& sp) {
        sp->waiting = true;
        sp->timer->async_wait([sp](boost::system::error_code ec) {
            if (ec || sp->timer == nullptr) return;  // replaced by an earlier wait, or gone
            sp->waiting = false;
            if (sp->due == clock::time_point::max()) return;
            if (clock::now() < sp->due) {
                sp->timer->expires_at(sp->due);
                wait(sp);
                return;
            }
            sp->due = clock::time_point::max();
            sp->fired = true;
            boost::system::error_code ignored;
            sp->socket->cancel(ignored);
        });
    }

    boost::asio::steady_timer timer_;
    std::shared_ptr<state> state_;
};

/// After an answer that ends the connection while the client may still be
/// sending (413, 408): stop sending, read what is left for a moment, close.
template <class Stream>
boost::asio::awaitable<void> linger_close(Stream& stream) {
    auto& lowest = boost::beast::get_lowest_layer(stream);
    boost::system::error_code ec;
    lowest.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    std::array<char, 16384> sink{};
    lowest.expires_after(std::chrono::seconds(2));
    for (;;) {
        auto [rec, n] = co_await lowest.async_read_some(boost::asio::buffer(sink), use_tuple);
        if (rec) break;
    }
    lowest.socket().close(ec);
}

/// An acceptor listening on host:port (port 0: the kernel picks one),
/// with SO_REUSEADDR; the error of whichever step failed.
inline boost::system::result<boost::asio::ip::tcp::acceptor> listen_on(boost::asio::io_context& ioc,
                                                                       const std::string& host,
                                                                       std::uint16_t port) {
    using tcp = boost::asio::ip::tcp;
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(host, ec);
    if (ec) return ec;
    tcp::acceptor acc(ioc);
    const tcp::endpoint ep(address, port);
    if (acc.open(ep.protocol(), ec)) return ec;
    if (acc.set_option(tcp::acceptor::reuse_address(true), ec)) return ec;
    if (acc.bind(ep, ec)) return ec;
    if (acc.listen(boost::asio::socket_base::max_listen_connections, ec)) return ec;
    return acc;
}

/// Loads a PEM certificate chain and private key into a server context.
inline boost::system::error_code load_tls(boost::asio::ssl::context& ctx,
                                          const std::string& cert_chain_file,
                                          const std::string& private_key_file) {
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(cert_chain_file, ec);
    if (!ec) ctx.use_private_key_file(private_key_file, boost::asio::ssl::context::pem, ec);
    return ec;
}

/// "http://HOST:PORT" or "https://…", an IPv6 host in brackets.
inline std::string base_url(bool tls, std::string host, std::uint16_t port) {
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    return (tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

}  // namespace salvo::httpd
