// `salvo listen`: Beast sessions on Asio coroutines, the routes, the
// secret checks, and the hand-over to the writer (durable before 200).
#include <salvo/receiver/server.hpp>

#include "metrics.hpp"
#include "writer.hpp"

#include <salvo/httpd/session.hpp>
#include <salvo/platform/event.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <mutex>
#include <optional>
#include <thread>

namespace salvo::receiver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using detail::bump;
using httpd::use_tuple;

struct server::impl {
    options opts;
    detail::metrics m;
    std::optional<detail::writer> writer;
    std::optional<asio::io_context> ioc;
    std::optional<ssl::context> tls;
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    std::uint16_t port = 0;
    std::mutex stop_mutex;
    bool stopped = false;
};

namespace {

struct reply {
    http::status status = http::status::ok;
    std::string body;
    const char* content_type = "text/plain; charset=utf-8";
};

std::string_view path_of(std::string_view target) noexcept {
    return target.substr(0, target.find('?'));
}

// Compares secrets in time that does not depend on where they differ.
bool same_secret(std::string_view a, std::string_view b) noexcept {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
    return diff == 0;
}

reply text(http::status status, std::string body) {
    return {status, std::move(body), "text/plain; charset=utf-8"};
}

template <class Stream>
asio::awaitable<bool> send(server::impl& s, Stream& stream, const reply& r, unsigned version,
                           bool keep_alive) {
    http::response<http::string_body> res{r.status, version};
    res.set(http::field::server, "salvo-listen");
    res.set(http::field::content_type, r.content_type);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    s.m.answered(static_cast<unsigned>(r.status));
    beast::get_lowest_layer(stream).expires_after(s.opts.body_timeout);
    auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
    beast::get_lowest_layer(stream).expires_never();
    co_return !ec;
}

// Answers 413 or 408 and ends the connection (the reply is a local: g++ 12
// destroys temporaries in co_await arguments twice with a conditional).
template <class Stream>
asio::awaitable<void> fail_and_close(server::impl& s, Stream& stream, http::status status) {
    const reply r = text(status, status == http::status::payload_too_large
                                     ? "the notification body is larger than the limit of " +
                                           std::to_string(s.opts.max_body_bytes) + " bytes\n"
                                     : std::string("the request took too long to arrive\n"));
    co_await send(s, stream, r, 11, false);
    co_await httpd::linger_close(stream);
}

// Checks and stores one notification post.
asio::awaitable<reply> notification(server::impl& s, platform::event_parser& parser,
                                    std::string_view content_type, std::string_view body) {
    bump(s.m.posts);
    auto format = platform::format_of(content_type);
    if (!format) {
        // Not declared: the shape decides (JSON starts with { or [).
        const auto first = body.find_first_not_of(" \t\r\n");
        format = first != std::string_view::npos && (body[first] == '{' || body[first] == '[')
                     ? platform::body_format::json
                     : platform::body_format::form;
    }
    std::vector<platform::event> events;
    std::string reason;
    if (parser.parse(body, *format, events, &reason))
        co_return text(http::status::bad_request, "bad notification: " + reason + "\n");
    for (const auto& e : events) {
        if (!same_secret(e.secret_key, s.opts.secret_key))
            co_return text(http::status::unauthorized,
                           "the SecretKey does not match this endpoint's\n");
        if (s.opts.server_id && e.server_id != *s.opts.server_id)
            co_return text(http::status::unauthorized,
                           "the ServerId is not the one this endpoint serves\n");
    }
    std::erase_if(events, [](const platform::event& e) {
        return e.type == platform::event_type::validation;
    });
    if (!events.empty()) {
        auto ex = co_await asio::this_coro::executor;
        auto [ec] = co_await s.writer->async_commit(std::move(events), ex, use_tuple);
        if (ec)
            co_return text(http::status::service_unavailable,
                           "the events could not be stored (" + ec.message() +
                               "); nothing was kept, send them again\n");
    }
    co_return text(http::status::ok, s.opts.validation_key);
}

template <class Stream>
asio::awaitable<void> serve(server::impl& s, Stream& stream) {
    beast::flat_buffer buffer;
    buffer.reserve(16 * 1024);
    platform::event_parser parser;
    auto& lowest = beast::get_lowest_layer(stream);
    httpd::deadline timeout(co_await asio::this_coro::executor);
    bool first = true;
    for (;;) {
        http::request_parser<http::string_body> req;
        req.body_limit(s.opts.max_body_bytes);
        lowest.expires_never();
        // Waiting for a request: the idle timeout, then the header deadline
        // once its first bytes are in (a new connection gets the header one).
        timeout.arm(lowest.socket(),
                    first || buffer.size() > 0 ? s.opts.header_timeout : s.opts.idle_timeout);
        first = false;
        auto [ec, n] = co_await http::async_read_header(stream, buffer, req, use_tuple);
        timeout.disarm();
        if (timeout.fired()) ec = beast::error::timeout;
        if (ec == http::error::body_limit) {
            co_await fail_and_close(s, stream, http::status::payload_too_large);
            co_return;
        }
        if (ec) {
            if (ec == beast::error::timeout && (req.got_some() || buffer.size() > 0)) {
                co_await fail_and_close(s, stream, http::status::request_timeout);
            }
            co_return;
        }
        if (!req.is_done()) {
            timeout.arm(lowest.socket(), s.opts.body_timeout);
            std::tie(ec, n) = co_await http::async_read(stream, buffer, req, use_tuple);
            timeout.disarm();
            if (timeout.fired()) ec = beast::error::timeout;
            if (ec == http::error::body_limit || ec == beast::error::timeout) {
                co_await fail_and_close(s, stream,
                                        ec == beast::error::timeout
                                            ? http::status::request_timeout
                                            : http::status::payload_too_large);
                co_return;
            }
            if (ec) co_return;
        }
        const auto& r = req.get();
        const auto path = path_of(r.target());
        const bool keep_alive = r.keep_alive();
        reply answer;
        if (path == "/notifications") {
            if (r.method() == http::verb::post) {
                const auto ct = r[http::field::content_type];
                answer = co_await notification(s, parser, std::string_view(ct.data(), ct.size()),
                                               r.body());
            } else {
                answer = text(http::status::method_not_allowed, "POST events here\n");
            }
        } else if (path == "/healthz" && r.method() == http::verb::get) {
            answer = text(http::status::ok, "ok\n");
        } else if (path == "/metrics" && r.method() == http::verb::get) {
            answer = {http::status::ok, s.m.text(), "text/plain; version=0.0.4; charset=utf-8"};
        } else {
            // `/inbound` and `/unsubscribe` come next (DESIGN.md).
            answer =
                text(http::status::not_found, "no such route; events go to POST /notifications\n");
        }
        if (!co_await send(s, stream, answer, r.version(), keep_alive)) co_return;
        if (!keep_alive) {
            boost::system::error_code sec;
            lowest.socket().shutdown(tcp::socket::shutdown_send, sec);
            co_return;
        }
    }
}

// Counts the connection for as long as the session lives.
struct connection_slot {
    std::atomic<std::int64_t>& n;
    ~connection_slot() { n.fetch_sub(1, std::memory_order_relaxed); }
};

asio::awaitable<void> plain_session(server::impl& s, tcp::socket socket) {
    connection_slot slot{s.m.connections};
    beast::tcp_stream stream(std::move(socket));
    co_await serve(s, stream);
}

asio::awaitable<void> tls_session(server::impl& s, tcp::socket socket) {
    connection_slot slot{s.m.connections};
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *s.tls);
    beast::get_lowest_layer(stream).expires_after(s.opts.header_timeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;
    beast::get_lowest_layer(stream).expires_never();
    co_await serve(s, stream);
}

asio::awaitable<void> accept_loop(server::impl& s) {
    for (;;) {
        tcp::socket socket(asio::make_strand(*s.ioc));
        auto [ec] = co_await s.acceptor->async_accept(socket, use_tuple);
        if (ec == asio::error::operation_aborted || !s.acceptor->is_open()) co_return;
        if (ec) continue;
        // Bounded connections: one over the limit is closed at once (the
        // platform retries).
        if (s.m.connections.fetch_add(1, std::memory_order_relaxed) >=
            static_cast<std::int64_t>(s.opts.max_connections)) {
            s.m.connections.fetch_sub(1, std::memory_order_relaxed);
            boost::system::error_code cec;
            socket.close(cec);
            continue;
        }
        boost::system::error_code oec;
        socket.set_option(tcp::no_delay(true), oec);
        auto ex = socket.get_executor();
        if (s.tls)
            asio::co_spawn(ex, tls_session(s, std::move(socket)), asio::detached);
        else
            asio::co_spawn(ex, plain_session(s, std::move(socket)), asio::detached);
    }
}

}  // namespace

boost::system::result<std::unique_ptr<server>> server::start(
    options opts, std::unique_ptr<store::event_store> store) {
    if (opts.threads == 0 || opts.secret_key.empty() || opts.validation_key.empty() || !store)
        return make_error_code(boost::system::errc::invalid_argument);
    auto p = std::make_unique<impl>();
    p->opts = std::move(opts);
    const auto& o = p->opts;
    if (o.tls) {
        p->tls.emplace(ssl::context::tls_server);
        if (httpd::load_tls(*p->tls, o.tls->cert_chain_file, o.tls->private_key_file))
            return make_error_code(boost::system::errc::no_such_file_or_directory);
    }
    p->ioc.emplace(static_cast<int>(o.threads));
    auto acc = httpd::listen_on(*p->ioc, o.host, o.port);
    if (!acc) return acc.error();
    p->port = acc->local_endpoint().port();
    p->acceptor.emplace(std::move(*acc));
    p->writer.emplace(std::move(store), o.max_batch_events, p->m);
    asio::co_spawn(asio::make_strand(*p->ioc), accept_loop(*p), asio::detached);
    for (std::size_t i = 0; i < o.threads; ++i)
        p->threads.emplace_back([ctx = &*p->ioc] { ctx->run(); });
    return std::unique_ptr<server>(new server(std::move(p)));
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() {
    stop();
}

void server::stop() {
    const std::lock_guard lock(impl_->stop_mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    // Stop accepting; let the writer commit and answer what is queued while
    // the I/O threads still run; then end the sessions and join.
    asio::post(impl_->acceptor->get_executor(), [a = &*impl_->acceptor] {
        boost::system::error_code ec;
        a->close(ec);
    });
    impl_->writer->stop();
    impl_->ioc->stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->acceptor.reset();
    impl_->ioc.reset();
}

std::uint16_t server::port() const noexcept {
    return impl_->port;
}

std::string server::base_url() const {
    return httpd::base_url(impl_->tls.has_value(), impl_->opts.host, impl_->port);
}

std::string server::metrics_text() const {
    return impl_->m.text();
}

stats server::counters() const {
    stats st;
    for (const auto& c : impl_->m.stored_by_type) st.events_stored += c.load();
    st.duplicates = impl_->m.duplicates.load();
    st.commits = impl_->m.commits.load();
    st.answered_200 = impl_->m.s200.load();
    st.answered_400 = impl_->m.s400.load();
    st.answered_401 = impl_->m.s401.load();
    st.answered_413 = impl_->m.s413.load();
    st.answered_503 = impl_->m.s503.load();
    return st;
}

}  // namespace salvo::receiver
