// `salvo listen`: Beast sessions on Asio coroutines, the routes, the
// secret checks, and the hand-over to the writer (durable before 200).
#include <salvo/receiver/server.hpp>

#include "handoff.hpp"
#include "inbound.hpp"
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
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <atomic>
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
    std::optional<asio::thread_pool> parse_pool;
    std::optional<detail::inbound_context> inbound;
    std::unique_ptr<detail::handoff> handoff;  // options::on_reply, forward_url
    std::optional<ssl::context> tls;
    std::optional<tcp::acceptor> acceptor;
    std::vector<std::thread> threads;
    std::uint16_t port = 0;
    std::mutex stop_mutex;
    bool stopped = false;
};

namespace {

using detail::reply;
using detail::same_secret;
using detail::text;

std::atomic<std::uint64_t> spool_counter{0};

std::string_view path_of(std::string_view target) noexcept {
    return target.substr(0, target.find('?'));
}

// The head of an answer: status line, Server, Content-Type, Content-Length
// and, where the version's default is not what happens, Connection. Written
// by hand with the body as a second buffer: Beast's serializer and field
// list cost more than the rest of a one-click POST's answer.
std::string response_head(const reply& r, unsigned version, bool keep_alive) {
    const auto reason = http::obsolete_reason(r.status);
    std::string head;
    head.reserve(160);
    head += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head += std::to_string(static_cast<unsigned>(r.status));
    head += ' ';
    head.append(reason.data(), reason.size());
    head += "\r\nServer: salvo-listen\r\nContent-Type: ";
    head += r.content_type;
    head += "\r\nContent-Length: ";
    head += std::to_string(r.body.size());
    if (version == 10 && keep_alive) head += "\r\nConnection: keep-alive";
    if (version != 10 && !keep_alive) head += "\r\nConnection: close";
    head += "\r\n\r\n";
    return head;
}

template <class Stream>
asio::awaitable<bool> send(server::impl& s, Stream& stream, httpd::deadline& timeout,
                           const reply& r, unsigned version, bool keep_alive) {
    const std::string head = response_head(r, version, keep_alive);
    s.m.answered(static_cast<unsigned>(r.status));
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(r.body)};
    timeout.arm(beast::get_lowest_layer(stream).socket(), s.opts.body_timeout);
    auto [ec, n] = co_await asio::async_write(stream, buffers, use_tuple);
    timeout.disarm();
    co_return !ec && !timeout.fired();
}

// Answers 413 or 408 and ends the connection (the reply is a local: g++ 12
// destroys temporaries in co_await arguments twice with a conditional).
template <class Stream>
asio::awaitable<void> fail_and_close(server::impl& s, Stream& stream, httpd::deadline& timeout,
                                     http::status status, std::size_t limit = 0) {
    if (limit == 0) limit = s.opts.max_body_bytes;
    const reply r = text(
        status, status == http::status::payload_too_large
                    ? "the body is larger than the limit of " + std::to_string(limit) + " bytes\n"
                    : std::string("the request took too long to arrive\n"));
    co_await send(s, stream, timeout, r, 11, false);
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
        detail::work w;
        w.events = std::move(events);
        auto [ec] = co_await s.writer->async_commit(std::move(w), ex, use_tuple);
        if (ec)
            co_return text(http::status::service_unavailable,
                           "the events could not be stored (" + ec.message() +
                               "); nothing was kept, send them again\n");
    }
    co_return text(http::status::ok, s.opts.validation_key);
}

// Reads the rest of an inbound body into a spool file (Beast's file_body:
// never all in memory); the file, or nullopt after answering the error.
template <class Stream>
asio::awaitable<std::optional<std::filesystem::path>> spool_body(
    server::impl& s, Stream& stream, beast::flat_buffer& buffer, httpd::deadline& timeout,
    http::request_parser<http::string_body>& header_parser) {
    auto& lowest = beast::get_lowest_layer(stream);
    const auto path =
        s.inbound->spool / ("body-" + std::to_string(spool_counter.fetch_add(1)) + ".json");
    http::request_parser<http::file_body> req(std::move(header_parser));
    req.body_limit(s.opts.max_inbound_bytes);
    beast::error_code ec;
    req.get().body().open(path.c_str(), beast::file_mode::write, ec);
    if (ec) {
        const reply r = text(http::status::service_unavailable,
                             "cannot spool the message (" + ec.message() + "); send it again\n");
        co_await send(s, stream, timeout, r, 11, false);
        co_await httpd::linger_close(stream);
        co_return std::nullopt;
    }
    timeout.arm(lowest.socket(), s.opts.body_timeout);
    auto [rec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
    timeout.disarm();
    req.get().body().close();
    if (timeout.fired()) rec = beast::error::timeout;
    if (rec) {
        std::error_code fec;
        std::filesystem::remove(path, fec);
        if (rec == http::error::body_limit || rec == beast::error::timeout)
            co_await fail_and_close(s, stream, timeout,
                                    rec == beast::error::timeout ? http::status::request_timeout
                                                                 : http::status::payload_too_large,
                                    s.opts.max_inbound_bytes);
        co_return std::nullopt;
    }
    co_return path;
}

template <class Stream>
asio::awaitable<void> serve(server::impl& s, Stream& stream) {
    beast::flat_buffer buffer;
    buffer.reserve(16 * 1024);
    platform::event_parser parser;
    auto& lowest = beast::get_lowest_layer(stream);
    httpd::deadline timeout(co_await asio::this_coro::executor);
    bool first = true;
    const bool inbound_on = s.inbound && !s.opts.inbound_dir.empty();
    const std::size_t header_limit = inbound_on
                                         ? std::max(s.opts.max_body_bytes, s.opts.max_inbound_bytes)
                                         : s.opts.max_body_bytes;
    for (;;) {
        http::request_parser<http::string_body> req;
        req.body_limit(header_limit);
        // Waiting for a request: the idle timeout, then the header deadline
        // once its first bytes are in (a new connection gets the header one).
        timeout.arm(lowest.socket(),
                    first || buffer.size() > 0 ? s.opts.header_timeout : s.opts.idle_timeout);
        first = false;
        auto [ec, n] = co_await http::async_read_header(stream, buffer, req, use_tuple);
        timeout.disarm();
        if (timeout.fired()) ec = beast::error::timeout;
        if (ec == http::error::body_limit) {
            co_await fail_and_close(s, stream, timeout, http::status::payload_too_large,
                                    header_limit);
            co_return;
        }
        if (ec) {
            if (ec == beast::error::timeout && (req.got_some() || buffer.size() > 0)) {
                co_await fail_and_close(s, stream, timeout, http::status::request_timeout);
            }
            co_return;
        }
        // Only /inbound may carry the larger bodies.
        const auto target = req.get().target();
        const std::string_view path = path_of(std::string_view(target.data(), target.size()));
        const bool inbound =
            inbound_on && path == "/inbound" && req.get().method() == http::verb::post;
        const std::size_t limit = inbound ? s.opts.max_inbound_bytes : s.opts.max_body_bytes;
        if (req.content_length() && *req.content_length() > limit) {
            co_await fail_and_close(s, stream, timeout, http::status::payload_too_large, limit);
            co_return;
        }
        std::optional<std::filesystem::path> spooled;
        if (inbound && !req.is_done() &&
            (!req.content_length() || *req.content_length() > s.opts.inbound_memory_bytes)) {
            const bool keep = req.get().keep_alive();
            const auto ct = req.get()[http::field::content_type];
            const std::string content_type(ct.data(), ct.size());
            const unsigned version = req.get().version();
            spooled = co_await spool_body(s, stream, buffer, timeout, req);
            if (!spooled) co_return;
            const reply answer =
                co_await detail::inbound_post(*s.inbound, content_type, {}, std::move(spooled));
            if (!co_await send(s, stream, timeout, answer, version, keep)) co_return;
            if (!keep) {
                boost::system::error_code sec;
                lowest.socket().shutdown(tcp::socket::shutdown_send, sec);
                co_return;
            }
            continue;
        }
        if (!req.is_done()) {
            req.body_limit(limit);
            timeout.arm(lowest.socket(), s.opts.body_timeout);
            std::tie(ec, n) = co_await http::async_read(stream, buffer, req, use_tuple);
            timeout.disarm();
            if (timeout.fired()) ec = beast::error::timeout;
            if (ec == http::error::body_limit || ec == beast::error::timeout) {
                co_await fail_and_close(s, stream, timeout,
                                        ec == beast::error::timeout
                                            ? http::status::request_timeout
                                            : http::status::payload_too_large,
                                        limit);
                co_return;
            }
            if (ec) co_return;
        }
        auto& r = req.get();
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
        } else if (path == "/inbound" && inbound_on) {
            if (r.method() == http::verb::post) {
                const auto ct = r[http::field::content_type];
                answer = co_await detail::inbound_post(*s.inbound,
                                                       std::string_view(ct.data(), ct.size()),
                                                       std::move(r.body()), std::nullopt);
            } else {
                answer = text(http::status::method_not_allowed, "POST inbound messages here\n");
            }
        } else if (path == "/unsubscribe" && !s.opts.unsubscribe_secret.empty()) {
            const std::string_view t(r.target().data(), r.target().size());
            if (r.method() == http::verb::post)
                answer = co_await detail::unsubscribe_post(*s.inbound, t);
            else if (r.method() == http::verb::get)
                answer = detail::unsubscribe_page(*s.inbound, t);
            else
                answer = text(http::status::method_not_allowed, "GET or POST /unsubscribe?t=…\n");
        } else if (path == "/healthz" && r.method() == http::verb::get) {
            answer = text(http::status::ok, "ok\n");
        } else if (path == "/metrics" && r.method() == http::verb::get) {
            answer = {http::status::ok, s.m.text(), "text/plain; version=0.0.4; charset=utf-8"};
        } else {
            answer = text(http::status::not_found,
                          "no such route; events go to POST /notifications, inbound mail to "
                          "POST /inbound, one-click unsubscribes to POST /unsubscribe?t=…\n");
        }
        if (!co_await send(s, stream, timeout, answer, r.version(), keep_alive)) co_return;
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
    // The inbound routes (and /unsubscribe, which shares their context).
    if (!o.inbound_dir.empty() || !o.unsubscribe_secret.empty()) {
        if (!o.inbound_dir.empty())
            if (auto ec = detail::prepare_inbound_dirs(o)) return ec;
        std::string why;
        p->handoff = detail::handoff::make(o, p->m, why);
        if (!why.empty()) return make_error_code(boost::system::errc::invalid_argument);
        p->parse_pool.emplace(o.inbound_parsers == 0 ? 1 : o.inbound_parsers);
        p->inbound.emplace(detail::inbound_context{
            p->opts, p->m, *p->writer, *p->parse_pool, o.inbound_dir / "spool",
            o.inbound_dir / "attachments", p->handoff.get()});
    }
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
    if (impl_->handoff) impl_->handoff->stop();
    impl_->ioc->stop();
    if (impl_->parse_pool) impl_->parse_pool->join();
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
    st.inbound_stored = impl_->m.inbound_stored.load();
    st.inbound_duplicates = impl_->m.inbound_duplicates.load();
    st.one_click = impl_->m.one_click.load();
    st.commits = impl_->m.commits.load();
    st.answered_200 = impl_->m.s200.load();
    st.answered_400 = impl_->m.s400.load();
    st.answered_401 = impl_->m.s401.load();
    st.answered_413 = impl_->m.s413.load();
    st.answered_503 = impl_->m.s503.load();
    const auto& m = impl_->m;
    st.command_ok = m.command_ok.load();
    st.command_retried = m.command_retried.load();
    st.command_failed = m.command_failed.load();
    st.forward_ok = m.forward_ok.load();
    st.forward_retried = m.forward_retried.load();
    st.forward_failed = m.forward_failed.load();
    st.handoff_dropped = m.handoff_dropped.load();
    st.last_handoff_error = m.last_handoff_error();
    return st;
}

}  // namespace salvo::receiver
