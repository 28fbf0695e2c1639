#include <salvo/emulator/server.hpp>
#include <salvo/httpd/session.hpp>
#include <salvo/merge/escape.hpp>

#include "events.hpp"
#include "faults.hpp"
#include "processor.hpp"
#include "siblings.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace salvo::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using injection::api_code;

namespace {
using httpd::deadline;
using httpd::linger_close;
using httpd::use_tuple;
constexpr std::size_t code_count = static_cast<std::size_t>(api_code::unknown) + 1;
constexpr std::size_t status_count = 600;

using counter = std::atomic<std::uint64_t>;
void bump(counter& c, std::uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

struct server::impl {
    options opts;
    std::unique_ptr<detail::fault_plan> faults;
    std::unique_ptr<detail::poster> events, inbound;
    // The Marketing and Reporting APIs, with their own request numbering
    // for the same fault rules.
    std::unique_ptr<detail::siblings> siblings;
    std::unique_ptr<detail::fault_plan> sibling_faults;
    counter sibling_requests{0};
    std::optional<asio::io_context> ioc;
    std::optional<ssl::context> tls;
    std::optional<tcp::acceptor> acceptor;
    std::optional<asio::strand<asio::io_context::executor_type>> accept_strand;
    std::vector<std::thread> threads;
    // The pause (options::pause_for): open sessions' sockets, to close them.
    std::atomic<bool> paused{false};
    std::mutex sessions_mutex;
    std::uint64_t next_session = 0;
    struct open_session {
        tcp::socket* socket;
        asio::any_io_executor executor;
    };
    std::unordered_map<std::uint64_t, open_session> sessions;
    std::uint16_t port = 0;
    std::mutex stop_mutex;
    bool stopped = false;

    counter requests{0}, messages{0}, emails{0}, rejected{0}, missing{0};
    std::array<counter, code_count> by_code{};
    std::array<counter, code_count> message_codes{};
    std::array<counter, status_count> by_status{};
    std::array<counter, fault_kind_count> fault_hits{};

    std::mutex record_mutex;
    std::FILE* record_file = nullptr;
    std::vector<recorded_email> memory;

    std::string success_body = injection::response_body(api_code::success);

    void record(const std::vector<recorded_email>& list) {
        if (list.empty() || (!record_file && !opts.record_in_memory)) return;
        std::string lines;
        if (record_file)
            for (const auto& e : list) {
                lines += to_ndjson(e);
                lines += '\n';
            }
        const std::lock_guard lock(record_mutex);
        if (record_file) {
            std::fwrite(lines.data(), 1, lines.size(), record_file);
            std::fflush(record_file);
        }
        if (opts.record_in_memory) memory.insert(memory.end(), list.begin(), list.end());
    }

    stats snapshot() const;
    std::string stats_json() const;
};

namespace {

enum class after_reply { none, reset, never, close };

struct reply {
    http::status status = http::status::ok;
    std::string body;
    unsigned retry_after = 0;
    after_reply then = after_reply::none;
    std::chrono::milliseconds delay{0};
};

template <class Stream>
void reset(Stream& stream) {
    auto& sock = beast::get_lowest_layer(stream).socket();
    boost::system::error_code ec;
    sock.set_option(tcp::socket::linger(true, 0), ec);
    sock.close(ec);
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) {
                   return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
               };
               return lower(x) == lower(y);
           });
}

std::string_view path_of(std::string_view target) noexcept {
    return target.substr(0, target.find('?'));
}

reply error_reply(http::status status, api_code code) {
    return {status, injection::response_body(code), 0, after_reply::none, {}};
}

// What the fault `rule` does: the whole answer (returned), or a change to
// the normal one (set in `r`). `answer(status, code)` builds an error in the
// route's format; over_quota and api_code apply to the injection route only.
template <class Answer>
std::optional<reply> apply_fault(server::impl& s, const fault_rule& rule, reply& r,
                                 const Answer& answer, bool injection_route) {
    bump(s.fault_hits[static_cast<std::size_t>(rule.kind)]);
    switch (rule.kind) {
        case fault_kind::http_500:
            return answer(http::status::internal_server_error, api_code::internal_error);
        case fault_kind::http_502:
            return answer(http::status::bad_gateway, api_code::internal_error);
        case fault_kind::http_503:
            return answer(http::status::service_unavailable, api_code::internal_error);
        case fault_kind::http_504:
            return answer(http::status::gateway_timeout, api_code::internal_error);
        case fault_kind::throttle: {
            reply t = answer(http::status::too_many_requests, api_code::over_quota);
            t.retry_after = rule.retry_after_seconds;
            return t;
        }
        case fault_kind::over_quota:
            if (!injection_route) break;
            return answer(http::status::ok, api_code::over_quota);
        case fault_kind::invalid_authentication:
            return answer(http::status::unauthorized, api_code::invalid_authentication);
        case fault_kind::api_code:
            if (!injection_route) break;
            return answer(rule.code == api_code::invalid_authentication ? http::status::unauthorized
                                                                        : http::status::ok,
                          rule.code);
        case fault_kind::reset_after_body:
            r.then = after_reply::reset;
            break;
        case fault_kind::no_response:
            r.then = after_reply::never;
            break;
        case fault_kind::delay:
            r.delay = rule.delay;
            break;
        case fault_kind::reset_before_body:
        case fault_kind::reject_address:
            break;
    }
    return std::nullopt;
}

// Answers one `POST /api/v1/email` whose body has been read.
reply handle_email(server::impl& s, injection::request_reader& reader, std::string_view body,
                   std::string_view authorization, const detail::fault_plan::decision& d,
                   std::uint64_t number) {
    reply r;
    if (d.rule)
        if (auto f = apply_fault(s, *d.rule, r, error_reply, true)) return std::move(*f);
    for (std::size_t i = 0; i < d.rejects.size(); ++i)
        bump(s.fault_hits[static_cast<std::size_t>(fault_kind::reject_address)]);
    if (s.opts.discard) {
        r.body = s.success_body;
        return r;
    }
    auto o = detail::process(s.opts, d.rejects, reader, body, authorization, number);
    bump(s.messages, o.messages);
    bump(s.missing, o.missing_fields);
    for (const auto& m : o.response.messages) {
        bump(s.message_codes[static_cast<std::size_t>(m.code)]);
        bump(s.rejected, m.addresses.size());
    }
    if (o.status == 200) {
        std::optional<detail::post_batch> inbound;
        if (s.inbound) inbound = detail::make_inbound(*s.opts.inbound, o.emails);
        s.record(o.emails);
        s.siblings->record(o.emails, o.refused);
        if (s.events) {
            auto events = detail::make_events(*s.opts.events, o.emails);
            s.siblings->record_opens_clicks(o.emails, events.opens_clicks);
            s.events->add(std::move(events));
        }
        if (inbound) s.inbound->add(std::move(*inbound));
        bump(s.emails, o.emails.size());
    }
    r.status = static_cast<http::status>(o.status);
    injection::write_response(o.response, r.body);
    return r;
}

// Answers one Marketing or Reporting API request whose body has been read:
// the fault that hit it, if any, else the API itself.
reply handle_sibling(server::impl& s, std::string_view method, std::string_view target,
                     std::string_view body, std::string_view authorization,
                     const detail::fault_plan::decision& d) {
    reply r;
    const auto fail = [](http::status status, api_code) {
        return reply{status,
                     R"({"error":"ServiceError","message":"injected fault"})",
                     0,
                     after_reply::none,
                     {}};
    };
    if (d.rule)
        if (auto f = apply_fault(s, *d.rule, r, fail, false)) return std::move(*f);
    auto answer = s.siblings->handle(method, target, body, authorization);
    r.status = static_cast<http::status>(answer.status);
    r.body = std::move(answer.body);
    return r;
}

template <class Stream>
asio::awaitable<void> send(server::impl& s, Stream& stream, const reply& r, unsigned version,
                           bool keep_alive, boost::system::error_code& ec) {
    http::response<http::string_body> res{r.status, version};
    res.set(http::field::server, "salvo-emulator");
    res.set(http::field::content_type, "application/json; charset=utf-8");
    if (r.retry_after) res.set(http::field::retry_after, std::to_string(r.retry_after));
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    const auto status = static_cast<std::size_t>(r.status);
    if (status < status_count) bump(s.by_status[status]);
    std::size_t n = 0;
    beast::get_lowest_layer(stream).expires_after(s.opts.read_timeout);
    std::tie(ec, n) = co_await http::async_write(stream, res, use_tuple);
}

// Answers 413 or 408 and ends the connection. The reply is built here, as
// a local: g++ 12 destroys temporaries in co_await arguments twice when a
// conditional operator is involved.
template <class Stream>
asio::awaitable<void> fail_and_close(server::impl& s, Stream& stream, http::status status) {
    const reply r = error_reply(status, api_code::invalid_data);
    boost::system::error_code ec;
    co_await send(s, stream, r, 11, false, ec);
    co_await linger_close(stream);
}

// A body that is counted by the parser and dropped: discard mode never
// copies or keeps the request body.
struct discard_body {
    struct value_type {};
    class reader {
      public:
        template <bool isRequest, class Fields>
        reader(http::header<isRequest, Fields>&, value_type&) {}
        void init(const boost::optional<std::uint64_t>&, boost::system::error_code& ec) { ec = {}; }
        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
            ec = {};
            return asio::buffer_size(buffers);
        }
        void finish(boost::system::error_code& ec) { ec = {}; }
    };
};

template <class Stream, class Parser>
asio::awaitable<boost::system::error_code> read_body(server::impl& s, Stream& stream,
                                                     beast::flat_buffer& buffer, Parser& parser,
                                                     deadline& timeout) {
    timeout.arm(beast::get_lowest_layer(stream).socket(), s.opts.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    timeout.disarm();
    if (timeout.fired()) ec = beast::error::timeout;
    co_return ec;
}

asio::awaitable<void> accept_loop(server::impl& s);

// Listed while a session runs, so that a pause can close its connection.
class session_entry {
  public:
    session_entry(server::impl& s, tcp::socket& socket) : s_(s) {
        if (s_.opts.pause_for.count() == 0) return;
        std::lock_guard lock(s_.sessions_mutex);
        id_ = ++s_.next_session;
        s_.sessions.emplace(id_, server::impl::open_session{&socket, socket.get_executor()});
    }
    ~session_entry() {
        if (id_ == 0) return;
        std::lock_guard lock(s_.sessions_mutex);
        s_.sessions.erase(id_);
    }
    session_entry(const session_entry&) = delete;
    session_entry& operator=(const session_entry&) = delete;

  private:
    server::impl& s_;
    std::uint64_t id_ = 0;
};

// The endpoint goes down: no listener, every connection closed; after
// pause_for it listens again on the same port.
void begin_pause(server::impl& s) {
    asio::post(*s.accept_strand, [&s] {
        boost::system::error_code ec;
        if (s.acceptor) s.acceptor->close(ec);
        {
            std::lock_guard lock(s.sessions_mutex);
            for (const auto& [id, open] : s.sessions) {
                // On the session's own strand, and only if it is still open.
                asio::post(open.executor, [&s, id = id] {
                    std::lock_guard inner(s.sessions_mutex);
                    const auto it = s.sessions.find(id);
                    if (it == s.sessions.end()) return;
                    boost::system::error_code cec;
                    it->second.socket->close(cec);
                });
            }
        }
        auto timer = std::make_shared<asio::steady_timer>(*s.accept_strand, s.opts.pause_for);
        timer->async_wait([&s, timer](boost::system::error_code tec) {
            if (tec) return;
            auto acc = httpd::listen_on(*s.ioc, s.opts.host, s.port);
            if (!acc) return;  // the port was taken meanwhile: stays down
            s.acceptor.emplace(std::move(*acc));
            s.paused.store(false);
            asio::co_spawn(*s.accept_strand, accept_loop(s), asio::detached);
        });
    });
}

template <class Stream>
asio::awaitable<void> serve(server::impl& s, Stream& stream) {
    session_entry listed(s, beast::get_lowest_layer(stream).socket());
    beast::flat_buffer buffer;
    // Beast reads at most the buffer's free capacity (512 bytes minimum):
    // a small buffer turns a 47 KB body into ~90 reads.
    buffer.reserve(64 * 1024);
    injection::request_reader reader;
    auto& lowest = beast::get_lowest_layer(stream);
    deadline timeout(co_await asio::this_coro::executor);
    for (;;) {
        // The header is read with an empty body; the parser is then turned
        // into a string or discarding one for the body.
        http::request_parser<http::empty_body> parser;
        parser.body_limit(s.opts.max_body_bytes);
        lowest.expires_never();
        timeout.arm(lowest.socket(), s.opts.idle_timeout);
        auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
        timeout.disarm();
        if (timeout.fired()) ec = beast::error::timeout;
        const bool is_email = path_of(parser.get().target()) == "/api/v1/email";
        const bool is_sibling =
            !is_email && detail::is_sibling_path(path_of(parser.get().target()));
        if (ec == http::error::body_limit) {
            if (is_email) bump(s.requests);
            co_await fail_and_close(s, stream, http::status::payload_too_large);
            co_return;
        }
        if (ec) {
            if (ec == beast::error::timeout && (parser.got_some() || buffer.size() > 0))
                co_await fail_and_close(s, stream, http::status::request_timeout);
            co_return;
        }
        const auto& head = parser.get();
        detail::fault_plan::decision decision;
        std::uint64_t number = 0, sibling_number = 0;
        if (is_sibling) {
            sibling_number = s.sibling_requests.fetch_add(1, std::memory_order_relaxed) + 1;
            decision = s.sibling_faults->decide(sibling_number);
            if (decision.rule && decision.rule->kind == fault_kind::reset_before_body) {
                bump(s.fault_hits[static_cast<std::size_t>(fault_kind::reset_before_body)]);
                reset(stream);
                co_return;
            }
        }
        if (is_email && head.method() == http::verb::post) {
            number = s.requests.fetch_add(1, std::memory_order_relaxed) + 1;
            if (s.opts.pause_for.count() > 0 && number == s.opts.pause_after + 1 &&
                !s.paused.exchange(true))
                begin_pause(s);
            if (s.paused.load()) {
                reset(stream);
                co_return;
            }
            decision = s.faults->decide(number);
            if (decision.rule && decision.rule->kind == fault_kind::reset_before_body) {
                bump(s.fault_hits[static_cast<std::size_t>(fault_kind::reset_before_body)]);
                reset(stream);
                co_return;
            }
        }
        const auto expect = head[http::field::expect];
        if (iequals(std::string_view(expect.data(), expect.size()), "100-continue")) {
            http::response<http::empty_body> cont{http::status::continue_, head.version()};
            lowest.expires_after(s.opts.read_timeout);
            auto [cec, cn] = co_await http::async_write(stream, cont, use_tuple);
            if (cec) co_return;
        }
        const auto method = head.method();
        const std::string method_name(head.method_string());
        const auto version = head.version();
        const std::string target(head.target());
        const std::string authorization(head[http::field::authorization]);
        std::string body;
        bool keep_alive = false;
        if (s.opts.discard && number != 0) {
            http::request_parser<discard_body> body_parser(std::move(parser));
            ec = co_await read_body(s, stream, buffer, body_parser, timeout);
            keep_alive = body_parser.keep_alive();
        } else {
            http::request_parser<http::string_body> body_parser(std::move(parser));
            ec = co_await read_body(s, stream, buffer, body_parser, timeout);
            keep_alive = body_parser.keep_alive();
            body = std::move(body_parser.get().body());
        }
        if (ec == http::error::body_limit || ec == beast::error::timeout) {
            co_await fail_and_close(s, stream,
                                    ec == beast::error::timeout ? http::status::request_timeout
                                                                : http::status::payload_too_large);
            co_return;
        }
        if (ec) co_return;

        reply r;
        if (number != 0) {
            r = handle_email(s, reader, body, authorization, decision, number);
        } else if (sibling_number != 0) {
            r = handle_sibling(s, method_name, target, body, authorization, decision);
        } else if (path_of(target) == "/stats" && method == http::verb::get) {
            r.body = s.stats_json();
        } else if (is_email) {
            r = error_reply(http::status::method_not_allowed, api_code::invalid_data);
        } else {
            r = error_reply(http::status::not_found, api_code::invalid_data);
        }
        if (number != 0) {
            // by_code counts answers to the API only, whatever their status.
            const auto code_end = r.body.find('"', 14);
            const auto code =
                injection::parse_api_code(std::string_view(r.body).substr(14, code_end - 14));
            bump(s.by_code[static_cast<std::size_t>(code)]);
        }
        if (r.then == after_reply::reset) {
            reset(stream);
            co_return;
        }
        if (r.then == after_reply::never) {
            // Hold the connection open without answering until the client
            // gives up or the server stops.
            lowest.expires_never();
            std::array<char, 4096> sink{};
            for (;;) {
                auto [rec, rn] = co_await lowest.async_read_some(asio::buffer(sink), use_tuple);
                if (rec) co_return;
            }
        }
        if (r.delay.count() > 0) {
            asio::steady_timer timer(co_await asio::this_coro::executor, r.delay);
            auto [tec] = co_await timer.async_wait(use_tuple);
            if (tec) co_return;
        }
        co_await send(s, stream, r, version, keep_alive, ec);
        if (ec) co_return;
        if (!keep_alive) {
            boost::system::error_code sec;
            lowest.socket().shutdown(tcp::socket::shutdown_send, sec);
            co_return;
        }
    }
}

asio::awaitable<void> plain_session(server::impl& s, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await serve(s, stream);
}

asio::awaitable<void> tls_session(server::impl& s, tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *s.tls);
    beast::get_lowest_layer(stream).expires_after(s.opts.read_timeout);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;
    co_await serve(s, stream);
}

asio::awaitable<void> accept_loop(server::impl& s) {
    for (;;) {
        tcp::socket socket(asio::make_strand(*s.ioc));
        auto [ec] = co_await s.acceptor->async_accept(socket, use_tuple);
        if (ec == asio::error::operation_aborted || !s.acceptor->is_open()) co_return;
        if (ec) continue;
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

boost::system::result<std::unique_ptr<server>> server::start(options opts) {
    if (opts.threads == 0) return make_error_code(errc::bad_options);
    auto p = std::make_unique<impl>();
    auto plan = detail::fault_plan::make(opts.faults, opts.seed);
    if (!plan) return plan.error();
    p->faults = std::move(*plan);
    auto sibling_plan = detail::fault_plan::make(opts.faults, opts.seed);
    if (!sibling_plan) return sibling_plan.error();
    p->sibling_faults = std::move(*sibling_plan);
    p->siblings = std::make_unique<detail::siblings>(opts.siblings, opts.server_id);
    if (const auto ec = p->siblings->load()) return ec;
    p->opts = std::move(opts);
    const auto& o = p->opts;
    if (o.tls) {
        p->tls.emplace(ssl::context::tls_server);
        if (httpd::load_tls(*p->tls, o.tls->cert_chain_file, o.tls->private_key_file))
            return make_error_code(errc::bad_tls_files);
    }
    if (!o.record_file.empty()) {
        p->record_file = std::fopen(o.record_file.c_str(), "wb");
        if (!p->record_file) return make_error_code(errc::record_file_failed);
    }
    if (o.events) p->events = std::make_unique<detail::poster>(detail::events_target(*o.events));
    if (o.inbound)
        p->inbound = std::make_unique<detail::poster>(detail::inbound_target(*o.inbound));
    p->ioc.emplace(static_cast<int>(o.threads));
    auto acc = httpd::listen_on(*p->ioc, o.host, o.port);
    if (!acc) return acc.error();
    p->port = acc->local_endpoint().port();
    p->acceptor.emplace(std::move(*acc));
    p->accept_strand.emplace(asio::make_strand(*p->ioc));
    asio::co_spawn(*p->accept_strand, accept_loop(*p), asio::detached);
    for (std::size_t i = 0; i < o.threads; ++i)
        p->threads.emplace_back([ctx = &*p->ioc] { ctx->run(); });
    return std::unique_ptr<server>(new server(std::move(p)));
}

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

server::~server() {
    stop();
    if (impl_ && impl_->record_file) std::fclose(impl_->record_file);
}

boost::system::error_code server::save_marketing_data() const {
    return impl_->siblings->save();
}

std::size_t server::marketing_contacts() const {
    return impl_->siblings->contact_count();
}

void server::stop() {
    const std::lock_guard lock(impl_->stop_mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
    if (impl_->events) impl_->events->stop();
    if (impl_->inbound) impl_->inbound->stop();
    impl_->ioc->stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    boost::system::error_code ec;
    impl_->acceptor->close(ec);
    impl_->acceptor.reset();
    // The strand and the sessions' executors point into the context's strand
    // service: they go before it does (destroying a strand after its service
    // locked a freed mutex: salvo emulate aborted at exit, now and then).
    impl_->accept_strand.reset();
    {
        const std::lock_guard sessions_lock(impl_->sessions_mutex);
        impl_->sessions.clear();
    }
    // Destroying the context destroys every suspended session (and closes
    // its socket) while the rest of impl is still alive.
    impl_->ioc.reset();
    // Written after the last request: a caller who needs to know whether it
    // worked calls save_marketing_data() itself.
    (void)impl_->siblings->save();
}

std::uint16_t server::port() const noexcept {
    return impl_->port;
}

std::string server::base_url() const {
    return httpd::base_url(impl_->tls.has_value(), impl_->opts.host, impl_->port);
}

std::string server::url() const {
    return base_url() + "/api/v1/email";
}

std::vector<recorded_email> server::recorded() const {
    const std::lock_guard lock(impl_->record_mutex);
    return impl_->memory;
}

stats server::counters() const {
    return impl_->snapshot();
}

stats server::impl::snapshot() const {
    stats st;
    st.requests = requests.load();
    st.messages = messages.load();
    st.emails = emails.load();
    st.rejected_addresses = rejected.load();
    st.missing_merge_fields = missing.load();
    for (std::size_t i = 0; i < code_count; ++i) {
        const auto name = std::string(injection::to_string(static_cast<api_code>(i)));
        if (const auto v = by_code[i].load()) st.by_code[name] = v;
        if (const auto v = message_codes[i].load()) st.message_codes[name] = v;
    }
    for (std::size_t i = 0; i < status_count; ++i)
        if (const auto v = by_status[i].load()) st.by_status[static_cast<int>(i)] = v;
    for (std::size_t i = 0; i < fault_kind_count; ++i)
        if (const auto v = fault_hits[i].load())
            st.faults[to_string(static_cast<fault_kind>(i))] = v;
    if (events) {
        st.events_generated = events->generated();
        st.events_posted = events->posted();
        st.events_acknowledged = events->acknowledged();
        st.event_states = events->states();
        st.events_error = events->error();
    }
    if (inbound) {
        st.inbound_generated = inbound->generated();
        st.inbound_acknowledged = inbound->acknowledged();
        st.inbound_kinds = inbound->states();
        st.inbound_error = inbound->error();
    }
    return st;
}

std::string server::impl::stats_json() const {
    const stats st = snapshot();
    std::string out = "{\"requests\":" + std::to_string(st.requests) +
                      ",\"messages\":" + std::to_string(st.messages) +
                      ",\"emails\":" + std::to_string(st.emails) +
                      ",\"rejected_addresses\":" + std::to_string(st.rejected_addresses) +
                      ",\"missing_merge_fields\":" + std::to_string(st.missing_merge_fields);
    auto object = [&out](const char* name, const auto& map) {
        out += ",\"";
        out += name;
        out += "\":{";
        bool first = true;
        for (const auto& [k, v] : map) {
            if (!first) out += ',';
            first = false;
            out += '"';
            if constexpr (std::is_same_v<std::decay_t<decltype(k)>, int>)
                out += std::to_string(k);
            else
                out += k;
            out += "\":";
            out += std::to_string(v);
        }
        out += '}';
    };
    object("by_code", st.by_code);
    object("message_codes", st.message_codes);
    object("by_status", st.by_status);
    object("faults", st.faults);
    if (events) {
        out += ",\"events_generated\":" + std::to_string(st.events_generated) +
               ",\"events_posted\":" + std::to_string(st.events_posted) +
               ",\"events_acknowledged\":" + std::to_string(st.events_acknowledged);
        object("event_states", st.event_states);
        out += ",\"events_error\":\"";
        merge::append_json_escaped(out, st.events_error);
        out += '"';
    }
    if (inbound) {
        out += ",\"inbound_generated\":" + std::to_string(st.inbound_generated) +
               ",\"inbound_acknowledged\":" + std::to_string(st.inbound_acknowledged);
        object("inbound_kinds", st.inbound_kinds);
        out += ",\"inbound_error\":\"";
        merge::append_json_escaped(out, st.inbound_error);
        out += '"';
    }
    out += '}';
    return out;
}

}  // namespace salvo::emulator
