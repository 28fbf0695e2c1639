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
class deadline {
  public:
    using tcp = boost::asio::ip::tcp;
    explicit deadline(const boost::asio::any_io_executor& ex)
        : timer_(ex), state_(std::make_shared<state>()) {}
    void arm(tcp::socket& socket, std::chrono::milliseconds after) {
        state_->fired = false;
        state_->socket = &socket;
        const auto armed = ++state_->generation;
        timer_.expires_after(after);
        // The handler shares the state, not the session: a handler queued
        // just before disarm() may run after the session is gone, and then
        // sees a newer generation and does nothing.
        timer_.async_wait([st = state_, armed](boost::system::error_code ec) {
            if (ec || armed != st->generation) return;
            st->fired = true;
            boost::system::error_code ignored;
            st->socket->cancel(ignored);
        });
    }
    void disarm() {
        ++state_->generation;
        timer_.cancel();
    }
    [[nodiscard]] bool fired() const noexcept { return state_->fired; }

  private:
    struct state {
        std::uint64_t generation = 0;
        bool fired = false;
        tcp::socket* socket = nullptr;
    };
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
