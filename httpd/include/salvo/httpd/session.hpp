#pragma once
/// Pieces every salvo HTTP server session uses (the emulator's and
/// `salvo listen`'s): a read deadline that cancels instead of closing, so a
/// 408 can still be written, and a lingering close for answers that end a
/// connection while the client may still be sending. Header-only; each
/// object belongs to one session and runs on its strand.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>

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

}  // namespace salvo::httpd
