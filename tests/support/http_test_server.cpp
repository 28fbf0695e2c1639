#include "support/http_test_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>

namespace salvo::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::string received_request::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (k.size() == name.size() &&
            std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
                return std::tolower(static_cast<unsigned char>(a)) ==
                       std::tolower(static_cast<unsigned char>(b));
            }))
            return v;
    }
    return {};
}

struct http_test_server::impl {
    impl(http_script s, http_test_server_options o)
        : script(std::move(s)), options(o), ssl(asio::ssl::context::tls_server), acceptor(io) {
        if (options.tls != nullptr) {
            ssl.use_certificate_chain(asio::buffer(options.tls->cert_pem));
            ssl.use_private_key(asio::buffer(options.tls->key_pem), asio::ssl::context::pem);
            SSL_CTX_set_alpn_select_cb(ssl.native_handle(), &impl::on_alpn, this);
        }
        tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen(asio::socket_base::max_listen_connections);
        port = acceptor.local_endpoint().port();
        asio::co_spawn(io, accept_loop(), asio::detached);
        thread = std::thread([this] { io.run(); });
    }

    ~impl() {
        io.stop();
        thread.join();
    }

    // Records what the client offers and selects nothing: HTTP/1.1 it is.
    static int on_alpn(SSL*, const unsigned char**, unsigned char*, const unsigned char* in,
                       unsigned int inlen, void* arg) {
        auto* self = static_cast<impl*>(arg);
        std::string offer;
        for (unsigned int i = 0; i < inlen;) {
            const unsigned int n = in[i++];
            if (!offer.empty()) offer += ',';
            offer.append(reinterpret_cast<const char*>(in + i), std::min(n, inlen - i));
            i += n;
        }
        std::lock_guard lock(self->mutex);
        self->alpn = std::move(offer);
        return SSL_TLSEXT_ERR_NOACK;
    }

    asio::awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            tcp::socket s =
                co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            std::size_t id = 0;
            {
                std::lock_guard lock(mutex);
                id = connections++;
            }
            if (options.close_on_accept) {
                s.close(ec);
                note_closed();
                continue;
            }
            if (options.tls != nullptr) {
                asio::co_spawn(io, tls_session(std::move(s), id), asio::detached);
            } else {
                asio::co_spawn(io, session(std::move(s), id), asio::detached);
            }
        }
    }

    void note_closed() {
        {
            std::lock_guard lock(mutex);
            ++closed;
        }
        changed.notify_all();
    }

    asio::awaitable<void> tls_session(tcp::socket s, std::size_t id) {
        asio::ssl::stream<tcp::socket> stream(std::move(s), ssl);
        boost::system::error_code ec;
        co_await stream.async_handshake(asio::ssl::stream_base::server,
                                        asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) co_await serve(stream, id);
        note_closed();
    }

    asio::awaitable<void> session(tcp::socket s, std::size_t id) {
        co_await serve(s, id);
        boost::system::error_code ec;
        s.shutdown(tcp::socket::shutdown_both, ec);
        s.close(ec);
        note_closed();
    }

    asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
        asio::steady_timer t(io, d);
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    template <class Stream>
    asio::awaitable<void> serve(Stream& stream, std::size_t id) {
        boost::system::error_code ec;
        if (options.never_read) {
            co_await sleep_for(std::chrono::hours(24));
            co_return;
        }
        boost::beast::flat_buffer buffer;
        if (options.answer_before_body != 0) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(boost::none);
            co_await http::async_read_header(stream, buffer, parser,
                                             asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            http::response<http::string_body> res{
                static_cast<http::status>(options.answer_before_body), 11};
            res.body() = R"({"ErrorCode":"InvalidData"})";
            res.keep_alive(false);
            res.prepare_payload();
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
            if constexpr (std::is_same_v<Stream, tcp::socket>) {
                // Lingering close, as real servers do: closing with the body
                // unread would reset the connection before the client reads
                // the answer.
                stream.shutdown(tcp::socket::shutdown_send, ec);
                std::array<char, 64 * 1024> sink{};
                for (std::size_t total = 0; !ec && total < (256u << 20);) {
                    total += co_await stream.async_read_some(
                        asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
                }
            }
            co_return;
        }
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(256u << 20);
            co_await http::async_read(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            auto req = parser.release();
            received_request r;
            r.method = std::string(req.method_string());
            r.target = std::string(req.target());
            r.body = std::move(req.body());
            for (const auto& f : req) r.headers.emplace_back(f.name_string(), f.value());
            r.connection = id;
            r.at = std::chrono::steady_clock::now();
            std::size_t index = 0;
            {
                std::lock_guard lock(mutex);
                index = log.size();
                log.push_back(r);
            }
            changed.notify_all();
            http_action a = script ? script(index, r) : http_action{};
            if (a.delay.count() > 0) co_await sleep_for(a.delay);
            switch (a.what) {
                case http_action::kind::close_without_answer:
                    co_return;
                case http_action::kind::hang:
                    co_await sleep_for(std::chrono::hours(24));
                    co_return;
                case http_action::kind::stall_mid_body: {
                    std::string head = "HTTP/1.1 " + std::to_string(a.status) +
                                       " OK\r\nContent-Length: " + std::to_string(a.body.size()) +
                                       "\r\n\r\n";
                    head.append(a.body, 0, a.body.size() / 2);
                    co_await asio::async_write(stream, asio::buffer(head),
                                               asio::redirect_error(asio::use_awaitable, ec));
                    co_await sleep_for(std::chrono::hours(24));
                    co_return;
                }
                case http_action::kind::respond:
                    break;
            }
            http::response<http::string_body> res{static_cast<http::status>(a.status),
                                                  req.version()};
            for (const auto& [k, v] : a.headers) res.set(k, v);
            res.body() = std::move(a.body);
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
            if (ec || a.close_after || !req.keep_alive()) co_return;
        }
    }

    http_script script;
    http_test_server_options options;
    asio::io_context io;
    asio::ssl::context ssl;
    tcp::acceptor acceptor;
    unsigned short port = 0;
    mutable std::mutex mutex;
    mutable std::condition_variable changed;
    std::vector<received_request> log;
    std::size_t connections = 0;
    std::size_t closed = 0;
    std::string alpn;
    std::thread thread;
};

http_test_server::http_test_server(http_script script, http_test_server_options options)
    : impl_(std::make_unique<impl>(std::move(script), options)) {}

http_test_server::~http_test_server() = default;

unsigned short http_test_server::port() const noexcept {
    return impl_->port;
}

std::string http_test_server::url(std::string_view path) const {
    return std::string(impl_->options.tls != nullptr ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(impl_->port) + std::string(path);
}

std::size_t http_test_server::arrivals() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->log.size();
}

std::size_t http_test_server::connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->connections;
}

std::size_t http_test_server::closed_connections() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->closed;
}

std::vector<received_request> http_test_server::received() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->log;
}

std::string http_test_server::last_alpn_offer() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->alpn;
}

bool http_test_server::wait_until(const std::function<bool()>& pred,
                                  std::chrono::milliseconds limit) const {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= end) return false;
        std::unique_lock lock(impl_->mutex);
        impl_->changed.wait_for(lock, std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace salvo::test
