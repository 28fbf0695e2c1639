#include "events.hpp"

#include <salvo/merge/escape.hpp>
#include <salvo/platform/event.hpp>
#include <salvo/platform/timestamp.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <random>

namespace salvo::emulator::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using platform::delivery_state;

struct field {
    std::string name, value;
    bool number = false;
};

std::string rfc1123(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

std::string encode(const std::vector<field>& fields, bool form) {
    std::string out;
    if (form) {
        for (const auto& f : fields) {
            if (!out.empty()) out += '&';
            merge::append_url_encoded(out, f.name);
            out += '=';
            merge::append_url_encoded(out, f.value);
        }
        return out;
    }
    out = "{";
    for (const auto& f : fields) {
        if (out.size() > 1) out += ',';
        out += '"' + f.name + "\":";
        if (f.number) {
            out += f.value;
        } else {
            out += '"';
            merge::append_json_escaped(out, f.value);
            out += '"';
        }
    }
    return out + "}";
}

using url_parts = poster::url_parts;

std::optional<url_parts> parse_url(const std::string& url) {
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0) return std::nullopt;
    const auto rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    url_parts u;
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    u.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
    return u;
}

}  // namespace

post_target events_target(const event_options& o) {
    const std::vector<field> validation{
        {"ServerId", o.server_id}, {"SecretKey", o.secret_key}, {"Type", "Validation"}};
    post_target t;
    t.url = o.url;
    t.flag = "--events-url";
    t.handshake = encode(validation, o.form);
    t.content_type = o.form ? "application/x-www-form-urlencoded" : "application/json";
    t.handshake_type = t.content_type;
    t.validation_key = o.validation_key;
    t.connections = o.connections;
    t.per_second = o.per_second;
    return t;
}

post_batch make_events(const event_options& o, const std::vector<recorded_email>& emails) {
    post_batch batch;
    auto& posts = batch.bodies;
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (const auto& e : emails) {
        // Draws seeded by (seed, address): the same email gets the same fate.
        std::seed_seq seq{o.seed, std::hash<std::string>{}(e.to)};
        std::mt19937_64 rng(seq);
        std::uniform_real_distribution<double> u(0, 1);
        auto base = [&](const char* type, std::int64_t at) {
            std::vector<field> f{{"Type", type},
                                 {"DateTime", o.form ? rfc1123(at) : platform::format_iso8601(at)},
                                 {"ServerId", o.server_id},
                                 {"SecretKey", o.secret_key},
                                 {"Address", e.to},
                                 {"MailingId", e.mailing_id},
                                 {"MessageId", e.message_id}};
            return f;
        };
        delivery_state state = delivery_state::queued;
        auto push = [&](std::vector<field> f) { posts.push_back(encode(f, o.form)); };
        auto q = base("Queued", now);
        q.push_back({"FromAddress", e.from});
        q.push_back({"Subject", e.subject});
        push(std::move(q));
        const double r = u(rng);
        if (r < o.hard_bounce_rate || r < o.hard_bounce_rate + o.soft_bounce_rate) {
            const bool hard = r < o.hard_bounce_rate;
            auto f = base("Failed", now + 1000);
            f.push_back({"FailureType", hard ? "1" : "0", true});
            f.push_back({"FailureCode", hard ? "2001" : "3001", true});
            f.push_back({"Reason", hard ? "550 5.1.1 no such user" : "452 4.2.2 mailbox full"});
            push(std::move(f));
            state = hard ? delivery_state::bounced : delivery_state::soft_bounced;
        } else if (r < o.hard_bounce_rate + o.soft_bounce_rate + o.deferral_rate) {
            auto f = base("Deferred", now + 1000);
            f.push_back({"DeferralCode", "421", true});
            f.push_back({"Reason", "421 4.7.0 try again later"});
            push(std::move(f));
            state = delivery_state::deferred;
        } else {
            auto f = base("Delivered", now + 1000);
            f.push_back({"Response", "250 2.0.0 OK"});
            f.push_back({"RemoteMta", "mx.emulator.invalid"});
            push(std::move(f));
            state = delivery_state::delivered;
            const auto tracking = [&](int type, std::int64_t at) {
                if (type != 2)
                    batch.opens_clicks.push_back({static_cast<std::size_t>(&e - emails.data()),
                                                  type,
                                                  type == 0 ? "https://example.com/offer" : ""});
                auto t = base("Tracking", at);
                t.push_back({"TrackingType", std::to_string(type), true});
                t.push_back({"Url", type == 0 ? "https://example.com/offer" : ""});
                t.push_back({"ClientIp", "192.0.2.7"});
                push(std::move(t));
            };
            if (u(rng) < o.open_rate) tracking(1, now + 2000);
            if (u(rng) < o.click_rate) tracking(0, now + 3000);
            if (u(rng) < o.unsubscribe_rate) {
                tracking(2, now + 4000);
                state = delivery_state::unsubscribed;
            }
            if (u(rng) < o.complaint_rate) {
                push(base("Complaint", now + 5000));
                state = delivery_state::complained;
            }
        }
        ++batch.states[std::string(platform::to_string(state))];
    }
    if (o.shuffle) {
        std::mt19937_64 rng(o.seed ^ posts.size());
        std::shuffle(posts.begin(), posts.end(), rng);
    }
    return batch;
}

poster::poster(post_target t) : t_(std::move(t)) {
    // Several URLs (replicas of one receiver): posts go to each in turn, and
    // a post that fails is retried on the next.
    for (std::size_t start = 0;;) {
        const auto comma = t_.url.find(',', start);
        const auto u = parse_url(t_.url.substr(start, comma - start));
        if (!u) {
            urls_.clear();
            break;
        }
        urls_.push_back(*u);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    thread_ = std::thread([this] { run(); });
}

poster::~poster() {
    stop();
}

void poster::stop() {
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (auto& t : more_)
        if (t.joinable()) t.join();
}

std::map<std::string, std::uint64_t> poster::states() const {
    const std::lock_guard lock(mutex_);
    return states_;
}

std::string poster::error() const {
    const std::lock_guard lock(mutex_);
    return error_;
}

void poster::add(post_batch batch) {
    {
        const std::lock_guard lock(mutex_);
        for (auto& [k, v] : batch.states) states_[k] += v;
        generated_ += batch.bodies.size();
        for (auto& b : batch.bodies) queue_.push_back(std::move(b));
    }
    wake_.notify_all();
}

bool poster::post_until_ok(connection& c, const std::string& body, bool handshake,
                           std::optional<std::size_t> only) {
    if (urls_.empty()) {
        const std::lock_guard lock(mutex_);
        error_ = t_.flag + " " + t_.url +
                 ": expected http://HOST:PORT/PATH (several: separated by commas)";
        return false;
    }
    c.streams.resize(urls_.size());
    std::chrono::milliseconds backoff(10);
    for (;;) {
        {
            const std::lock_guard lock(mutex_);
            if (stopping_) return false;
        }
        // Each attempt goes to the next URL: a replica that is down gets no
        // more than its turn, and a retry lands on another one.
        const std::size_t at = only ? *only : c.next++ % urls_.size();
        const url_parts* u = &urls_[at];
        auto& stream = c.streams[at];
        beast::error_code ec;
        if (!stream) {
            stream.emplace(c.ioc);
            stream->expires_after(std::chrono::seconds(5));
            tcp::resolver resolver(c.ioc);
            const auto found = resolver.resolve(u->host, u->port, ec);
            if (!ec) stream->connect(found, ec);
        }
        http::response<http::string_body> res;
        if (!ec) {
            http::request<http::string_body> req{http::verb::post, u->target, 11};
            req.set(http::field::host, u->host);
            req.set(http::field::content_type, handshake ? t_.handshake_type : t_.content_type);
            req.body() = body;
            req.prepare_payload();
            stream->expires_after(std::chrono::seconds(10));
            http::write(*stream, req, ec);
            beast::flat_buffer buffer;
            if (!ec) http::read(*stream, buffer, res, ec);
        }
        if (!ec && res.result() == http::status::ok) {
            if (handshake &&
                (res.body().empty() || (!t_.validation_key.empty() &&
                                        res.body().find(t_.validation_key) == std::string::npos))) {
                const std::lock_guard lock(mutex_);
                error_ = "the endpoint of " + t_.flag +
                         " answered the Validation handshake without the validation key; nothing "
                         "is posted (check " +
                         t_.flag + " and the receiver's validation key)";
                return false;
            }
            if (!res.keep_alive()) stream.reset();
            return true;
        }
        stream.reset();
        // With several URLs, the next one is tried at once; the backoff
        // starts when every one has failed in turn.
        if (!only && urls_.size() > 1 && c.next % urls_.size() != 0) continue;
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
}

void poster::run() {
    connection c;
    // The handshake with every receiver, as the platform validates an endpoint.
    for (std::size_t i = 0; i < std::max<std::size_t>(1, urls_.size()); ++i)
        if (!post_until_ok(c, t_.handshake, true, i)) return;
    {
        // The other posters start once the handshake passed; stop() joins
        // them after this thread (it sets stopping_ under the same mutex).
        const std::lock_guard lock(mutex_);
        if (stopping_) return;
        for (std::size_t i = 1; i < t_.connections; ++i)
            more_.emplace_back([this] {
                connection mine;
                post_loop(mine);
            });
    }
    post_loop(c);
}

void poster::post_loop(connection& c) {
    // The rate is the poster's as a whole: each of n threads keeps 1/n of it.
    const double each =
        t_.per_second / static_cast<double>(std::max<std::size_t>(1, t_.connections));
    const auto gap =
        each > 0 ? std::chrono::duration<double>(1.0 / each) : std::chrono::duration<double>(0);
    for (;;) {
        std::string p;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            p = std::move(queue_.front());
            queue_.pop_front();
        }
        ++posted_;
        if (!post_until_ok(c, p, false)) return;
        ++acked_;
        if (gap.count() > 0) {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, gap, [this] { return stopping_; });
        }
    }
}

}  // namespace salvo::emulator::detail
