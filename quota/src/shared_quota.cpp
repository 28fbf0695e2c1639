#include "salvo/quota/shared_quota.hpp"

#include "redis_asio.hpp"
#include "salvo/quota/gcra.hpp"
#include "salvo/transport/clock.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace salvo::quota {

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class command : std::uint8_t { auth, select, lease, give_back, hold };

std::string number(double v) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", v);
    return text;
}

}  // namespace

struct shared_quota::impl {
    // One command on the wire; hiredis calls its callback exactly once
    // (with a null reply when the context is freed first).
    struct pending {
        impl* self;
        command kind;
        std::vector<std::string> args;  // for EVAL after a NOSCRIPT
        bool script = false;
        bool evaled = false;
        std::uint64_t connection = 0;
    };

    impl(shared_quota_options o, std::function<void(const quota_state&)> when_given_up)
        : options(std::move(o)),
          on_gave_up(std::move(when_given_up)),
          work(io.get_executor()),
          command_timer(io),
          retry_timer(io),
          random(options.random_seed),
          keys(gcra_keys(options.key)),
          base_emails(lease_size(options.emails_per_second, options.lease_window, 1)),
          base_requests(lease_size(options.requests_per_second, options.lease_window, 1)) {
        unreachable_since = steady::now();
        unreachable_since_wall = std::chrono::system_clock::now();
        thread = std::thread([this] {
            pthread_setname_np(pthread_self(), "salvo-quota");
            io.run();
        });
        boost::asio::post(io, [this] { connect(); });
    }

    // --- any thread: the local lease ----------------------------------------

    transport::clock::duration try_acquire(std::uint32_t cost) {
        bool ask = false;
        transport::clock::duration wait{};
        {
            std::lock_guard lock(lease_mutex);
            const auto now = steady::now();
            const std::int64_t need_e = base_emails > 0 ? std::max<std::int64_t>(1, cost) : 0;
            const std::int64_t need_r = base_requests > 0 ? 1 : 0;
            if (stopped || gave_up) return milliseconds(1'000);
            if (hold_until > now) return hold_until - now;
            if (now > lease_expires) emails_left = requests_left = 0;
            if (emails_left >= need_e && requests_left >= need_r) {
                emails_left -= need_e;
                requests_left -= need_r;
                // Ask for the next lease at half the last one, so that it is
                // there before this one runs out.
                if (!lease_pending && ((base_emails > 0 && emails_left * 2 < leased_e) ||
                                       (base_requests > 0 && requests_left * 2 < leased_r))) {
                    lease_pending = true;
                    ask = true;
                }
            } else {
                want_emails =
                    std::max<std::uint64_t>(want_emails, static_cast<std::uint64_t>(need_e));
                if (!lease_pending) {
                    lease_pending = true;
                    ask = true;
                }
                wait = milliseconds(unreachable ? 200 : 100);
            }
        }
        if (ask) post_lease();
        return wait;
    }

    void give_back(std::uint32_t cost) {
        std::lock_guard lock(lease_mutex);
        if (base_emails > 0) emails_left += std::max<std::int64_t>(1, cost);
        if (base_requests > 0) requests_left += 1;
    }

    void on_throttle(milliseconds pause) {
        if (pause <= milliseconds::zero()) pause = options.default_hold;
        {
            std::lock_guard lock(lease_mutex);
            hold_until = std::max(hold_until, steady::now() + pause);
        }
        try {
            boost::asio::post(io, [this, pause] {
                send_script(command::hold, {"hold", "", std::to_string(pause.count() * 1000)});
            });
        } catch (...) {
            // Out of memory: the hold is still kept locally.
        }
    }

    void post_lease() {
        try {
            boost::asio::post(io, [this] { send_lease(); });
        } catch (...) {
            std::lock_guard lock(lease_mutex);
            lease_pending = false;
        }
    }

    void wake_client() {
        std::lock_guard lock(wake_mutex);
        if (wake) wake();
    }

    // --- the quota thread ---------------------------------------------------

    void connect() {
        if (ac != nullptr || stopping) return;
        const auto& e = options.endpoint;
        redisAsyncContext* c = e.unix_socket.empty() ? redisAsyncConnect(e.host.c_str(), e.port)
                                                     : redisAsyncConnectUnix(e.unix_socket.c_str());
        if (c == nullptr) {
            failed("out of memory connecting");
            return;
        }
        if (c->err != 0) {
            const std::string why = c->errstr;
            redisAsyncFree(c);
            failed("cannot connect to " + describe(e) + ": " + why);
            return;
        }
        if (!detail::attach(c, io)) {
            redisAsyncFree(c);
            failed("cannot watch the connection to " + describe(e));
            return;
        }
        c->data = this;
        ac = c;
        ++connection;
        redisAsyncSetConnectCallback(c, [](const redisAsyncContext* a, int status) {
            auto* self = static_cast<impl*>(a->data);
            if (status != REDIS_OK && self->ac == a) {
                self->ac = nullptr;  // hiredis frees it after this callback
                self->failed("cannot connect to " + describe(self->options.endpoint) + ": " +
                             (a->errstr != nullptr ? a->errstr : "connection failed"));
            }
        });
        redisAsyncSetDisconnectCallback(c, [](const redisAsyncContext* a, int) {
            auto* self = static_cast<impl*>(a->data);
            if (self->ac != a) return;  // we freed it ourselves
            self->ac = nullptr;
            self->failed(std::string("connection to ") + describe(self->options.endpoint) +
                         " lost" +
                         (a->errstr != nullptr && a->err != 0 ? std::string(": ") + a->errstr
                                                              : std::string()));
        });
        if (!options.password.empty()) send(command::auth, {"AUTH", options.password}, false);
        if (e.db != 0) send(command::select, {"SELECT", std::to_string(e.db)}, false);
        // Ask for a lease at once: it proves the connection (and answers
        // AUTH's errors), and a job about to send wants one.
        send_lease_now();
    }

    void send_lease() {
        if (stopping) return;
        if (ac == nullptr) return;  // the reconnect sends it
        if (lease_in_flight || lease_retry_armed) return;
        send_lease_now();
    }

    void send_lease_now() {
        std::uint64_t want = 0;
        {
            std::lock_guard lock(lease_mutex);
            want = want_emails;
        }
        lease_in_flight = true;
        const auto n_e = lease_size(options.emails_per_second, options.lease_window, want);
        const auto n_r = base_requests;
        const double tolerance =
            static_cast<double>(options.lease_window.count()) * 1000.0 * options.tolerance_windows;
        last_lease_e = n_e;
        last_lease_r = n_r;
        send_script(command::lease,
                    {"lease", "", number(emission_interval_us(options.emails_per_second)),
                     number(emission_interval_us(options.requests_per_second)), std::to_string(n_e),
                     std::to_string(n_r), number(tolerance)});
    }

    void send_script(command kind, std::vector<std::string> args) {
        if (ac == nullptr) return;
        std::vector<std::string> full = {
            "EVALSHA", gcra_script_sha1(), "4", keys[0], keys[1], keys[2], keys[3]};
        full.insert(full.end(), std::make_move_iterator(args.begin()),
                    std::make_move_iterator(args.end()));
        send(kind, std::move(full), true);
    }

    void send(command kind, std::vector<std::string> args, bool script) {
        auto* p = new pending{this, kind, std::move(args), script, false, connection};
        issue(p);
    }

    void issue(pending* p) {
        std::vector<const char*> argv;
        std::vector<std::size_t> lens;
        for (const auto& a : p->args) {
            argv.push_back(a.data());
            lens.push_back(a.size());
        }
        const int rc = redisAsyncCommandArgv(ac, on_reply, p, static_cast<int>(argv.size()),
                                             argv.data(), lens.data());
        if (rc != REDIS_OK) {
            if (p->kind == command::lease) lease_in_flight = false;
            delete p;
            // Maybe inside a hiredis callback: drop from a fresh handler.
            boost::asio::post(io, [this, conn = connection] {
                if (conn == connection && ac != nullptr)
                    drop("cannot send a command to " + describe(options.endpoint));
            });
            return;
        }
        ++outstanding;
        if (!timer_armed) {
            timer_armed = true;
            command_timer.expires_after(options.command_timeout);
            command_timer.async_wait([this, conn = connection](boost::system::error_code ec) {
                timer_armed = false;
                if (ec || conn != connection || outstanding == 0) return;
                drop("no answer from " + describe(options.endpoint) + " within " +
                     std::to_string(options.command_timeout.count()) + " ms");
            });
        }
    }

    static void on_reply(redisAsyncContext* a, void* r, void* priv) {
        auto* p = static_cast<pending*>(priv);
        impl* self = p->self;
        auto* reply = static_cast<redisReply*>(r);
        const bool current = self->ac == a && p->connection == self->connection;
        if (current && self->outstanding > 0 && --self->outstanding == 0 && self->timer_armed)
            self->command_timer.cancel();
        if (reply == nullptr || !current) {
            // The context is going away: its failure is handled once, by the
            // disconnect callback or by whoever dropped it.
            if (p->kind == command::lease) self->lease_in_flight = false;
            if (p->kind == command::give_back) self->finish_stop();
            delete p;
            return;
        }
        if (reply->type == REDIS_REPLY_ERROR && p->script && !p->evaled &&
            std::string_view(reply->str, reply->len).starts_with("NOSCRIPT")) {
            // Not cached on this server (restarted, flushed): EVAL caches it.
            p->evaled = true;
            p->args[0] = "EVAL";
            p->args[1] = std::string(gcra_script());
            self->issue(p);
            return;
        }
        self->answered(*p, *reply);
        delete p;
    }

    void answered(const pending& p, const redisReply& reply) {
        if (reply.type == REDIS_REPLY_ERROR) {
            if (p.kind == command::lease) lease_in_flight = false;
            const std::string what = p.kind == command::auth     ? "AUTH"
                                     : p.kind == command::select ? "SELECT"
                                                                 : "the quota script";
            const std::string_view text(reply.str, reply.len);
            // A refused password does not get better by reconnecting: it
            // ends the quota at once, as giving up does, and says what to fix.
            // (Redis 7 answers an unauthenticated command of more than 10
            // arguments, such as the quota script, with "Protocol error:
            // unauthenticated multibulk length" rather than NOAUTH.)
            const bool refused_password = p.kind == command::auth || text.starts_with("NOAUTH") ||
                                          text.starts_with("WRONGPASS") ||
                                          text.find("unauthenticated") != std::string_view::npos;
            // Another process leases this key at other rates: no retry
            // makes the two agree.
            constexpr std::string_view mismatch = "salvo quota: rate mismatch: ";
            const auto at = text.find(mismatch);
            const bool refused = refused_password || at != std::string_view::npos;
            std::string message =
                what + " failed on " + describe(options.endpoint) + ": " + std::string(text) +
                (refused_password ? std::string(" (check the password in rate.shared.password_env "
                                                "or rate.shared.password_file)")
                                  : std::string());
            if (at != std::string_view::npos)
                message = rates_in_use(text.substr(at + mismatch.size()));
            // Post the drop: this runs inside a hiredis callback.
            boost::asio::post(io, [this, message, refused, conn = connection] {
                if (conn == connection && ac != nullptr) drop(message, refused);
            });
            if (p.kind == command::give_back) finish_stop();
            return;
        }
        if (p.kind == command::give_back) {
            {
                std::lock_guard lock(state_mutex);
                shared.returned_emails += returning_e;
            }
            finish_stop();
            return;
        }
        if (p.kind != command::lease && p.kind != command::hold) return;
        if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3) return;
        const auto at = [&](std::size_t i) { return reply.element[i]->integer; };
        reachable();
        if (p.kind == command::hold) {
            note_hold(at(2));
            return;
        }
        lease_in_flight = false;
        if (at(0) == 1) {
            {
                std::lock_guard lock(lease_mutex);
                lease_expires =
                    steady::now() + std::chrono::duration_cast<steady::duration>(
                                        options.lease_window * options.lease_lifetime_windows);
                emails_left += static_cast<std::int64_t>(last_lease_e);
                requests_left += static_cast<std::int64_t>(last_lease_r);
                leased_e = static_cast<std::int64_t>(last_lease_e);
                leased_r = static_cast<std::int64_t>(last_lease_r);
                want_emails = 0;
                lease_pending = false;
                if (stopped) {
                    // Granted after stop(): give it back with the rest.
                    emails_left = requests_left = 0;
                }
            }
            {
                std::lock_guard lock(state_mutex);
                ++shared.leases;
                shared.leased_emails += last_lease_e;
            }
            wake_client();
            return;
        }
        // Not now: a published hold, or the GCRA says when the lease fits.
        if (at(2) > 0) note_hold(at(2));
        const auto wait = std::chrono::microseconds(std::max<long long>(at(1), 500));
        lease_retry_armed = true;
        retry_lease_timer().expires_after(wait);
        retry_lease_timer().async_wait([this](boost::system::error_code ec) {
            lease_retry_armed = false;
            if (!ec) send_lease();
        });
    }

    boost::asio::steady_timer& retry_lease_timer() {
        if (!lease_timer) lease_timer = std::make_unique<boost::asio::steady_timer>(io);
        return *lease_timer;
    }

    void note_hold(long long hold_us) {
        if (hold_us <= 0) return;
        const auto span = std::chrono::microseconds(hold_us);
        {
            std::lock_guard lock(lease_mutex);
            hold_until = std::max(hold_until, steady::now() + span);
        }
        std::lock_guard lock(state_mutex);
        shared.hold_until =
            std::max(shared.hold_until,
                     std::chrono::system_clock::now() +
                         std::chrono::duration_cast<std::chrono::system_clock::duration>(span));
    }

    void reachable() {
        attempt = 0;
        healthy = true;
        {
            std::lock_guard lock(lease_mutex);
            unreachable = false;
        }
        std::lock_guard lock(state_mutex);
        shared.connected = true;
        shared.unreachable = false;
    }

    // The refusal of a lease at other rates than the key's, for a person:
    // `recorded` is the intervals in µs another process leases at.
    std::string rates_in_use(std::string_view recorded) const {
        const auto rate = [](std::string_view interval_us) {
            double t = 0;
            try {
                t = std::stod(std::string(interval_us));
            } catch (const std::exception&) {
                return std::string("?");
            }
            if (!(t > 0)) return std::string("no limit");
            return std::to_string(static_cast<long long>(std::llround(1e6 / t))) + "/s";
        };
        const auto sp = recorded.find(' ');
        const auto limit = [](double per_second) {
            return per_second > 0
                       ? std::to_string(static_cast<long long>(std::llround(per_second))) + "/s"
                       : std::string("no limit");
        };
        return "the quota key '" + options.key + "' on " + describe(options.endpoint) +
               " is in use by another process at emails_per_second " +
               rate(recorded.substr(0, sp)) + " and requests_per_second " +
               (sp == std::string_view::npos ? std::string("?") : rate(recorded.substr(sp + 1))) +
               ", and this job asks for " + limit(options.emails_per_second) + " and " +
               limit(options.requests_per_second) +
               ": every process sharing a rate.shared.key must set the same rates";
    }

    // Frees the connection (never from inside a hiredis callback) and
    // counts it as a failure (`refused`: one that ends the quota at once).
    void drop(const std::string& message, bool refused = false) {
        if (ac != nullptr) {
            redisAsyncContext* c = ac;
            ac = nullptr;  // the disconnect callback then ignores it
            redisAsyncFree(c);
        }
        failed(message, refused);
    }

    // Redis failed: admit nothing, and reconnect after a backoff, or give up
    // (after give_up_after, or at once when Redis refused this job: the
    // password, or another process's rates on the key).
    void failed(const std::string& message, bool refused = false) {
        outstanding = 0;
        lease_in_flight = false;
        if (timer_armed) command_timer.cancel();
        if (lease_retry_armed) retry_lease_timer().cancel();
        const auto now = steady::now();
        {
            std::lock_guard lock(lease_mutex);
            // Fail closed: what is left of the lease is dropped too (it was
            // counted in Redis; not using it keeps below the quota).
            emails_left = requests_left = 0;
            unreachable = true;
        }
        if (healthy) {
            // An outage starts now; one at start counts from the start.
            healthy = false;
            unreachable_since = now;
            unreachable_since_wall = std::chrono::system_clock::now();
        }
        const bool give_up = refused || now - unreachable_since >= options.give_up_after;
        quota_state copy;
        {
            std::lock_guard lock(state_mutex);
            shared.since = unreachable_since_wall;
            shared.connected = false;
            shared.unreachable = true;
            shared.last_error = message;
            if (give_up) shared.gave_up = true;
            if (refused) shared.refused = true;
            copy = shared;
        }
        if (stopping) {
            finish_stop();
            return;
        }
        if (give_up) {
            {
                std::lock_guard lock(lease_mutex);
                gave_up = true;
            }
            if (on_gave_up) on_gave_up(copy);
            return;
        }
        ++attempt;
        auto ceiling = options.reconnect_base;
        for (unsigned i = 1; i < attempt && ceiling < options.reconnect_cap; ++i) ceiling *= 2;
        ceiling = std::min(ceiling, options.reconnect_cap);
        auto delay =
            milliseconds(random.next() % (static_cast<std::uint64_t>(ceiling.count()) + 1));
        const auto left =
            std::chrono::ceil<milliseconds>(unreachable_since + options.give_up_after - now);
        delay = std::max(milliseconds(1), std::min(delay, left));
        retry_timer.expires_after(delay);
        retry_timer.async_wait([this](boost::system::error_code ec) {
            if (ec || stopping) return;
            if (steady::now() - unreachable_since >= options.give_up_after && ac == nullptr) {
                failed(shared_error());
                return;
            }
            connect();
        });
    }

    std::string shared_error() {
        std::lock_guard lock(state_mutex);
        return shared.last_error;
    }

    void begin_stop(std::int64_t unused_e, std::int64_t unused_r, milliseconds deadline) {
        stopping = true;
        retry_timer.cancel();
        if (lease_timer) lease_timer->cancel();
        returning_e = static_cast<std::uint64_t>(std::max<std::int64_t>(0, unused_e));
        if (ac != nullptr && (unused_e > 0 || unused_r > 0)) {
            stop_timer = std::make_unique<boost::asio::steady_timer>(io);
            stop_timer->expires_after(deadline);
            stop_timer->async_wait([this](boost::system::error_code ec) {
                if (!ec) finish_stop();
            });
            send_script(command::give_back,
                        {"return", "", number(emission_interval_us(options.emails_per_second)),
                         number(emission_interval_us(options.requests_per_second)),
                         std::to_string(std::max<std::int64_t>(0, unused_e)),
                         std::to_string(std::max<std::int64_t>(0, unused_r))});
            return;
        }
        finish_stop();
    }

    void finish_stop() {
        if (!stopping || finished) return;
        finished = true;
        // Possibly inside a hiredis callback: free the context from a fresh handler.
        boost::asio::post(io, [this] {
            if (stop_timer) stop_timer->cancel();
            command_timer.cancel();
            retry_timer.cancel();
            if (lease_timer) lease_timer->cancel();
            if (ac != nullptr) {
                redisAsyncContext* c = ac;
                ac = nullptr;
                redisAsyncFree(c);
            }
            work.reset();
        });
    }

    void stop(milliseconds deadline) {
        std::int64_t unused_e = 0, unused_r = 0;
        {
            std::lock_guard lock(lease_mutex);
            stopped = true;
            unused_e = emails_left;
            unused_r = requests_left;
            emails_left = requests_left = 0;
        }
        std::call_once(stop_once, [&] {
            boost::asio::post(io, [this, unused_e, unused_r, deadline] {
                begin_stop(unused_e, unused_r, deadline);
            });
            thread.join();
        });
    }

    shared_quota_options options;
    std::function<void(const quota_state&)> on_gave_up;

    // The local lease, shared by the client's network thread and this one.
    std::mutex lease_mutex;
    std::int64_t emails_left = 0, requests_left = 0;
    std::int64_t leased_e = 0, leased_r = 0;  // the last lease's size
    std::uint64_t want_emails = 0;            // the largest request waiting
    bool lease_pending = false;               // a lease is wanted or on its way
    bool unreachable = true;                  // no answer yet, or Redis failed
    bool stopped = false, gave_up = false;
    steady::time_point hold_until{};
    steady::time_point lease_expires{};  // the lease's tokens are dropped after this

    std::mutex wake_mutex;
    std::function<void()> wake;

    mutable std::mutex state_mutex;
    quota_state shared;

    // The quota thread only.
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
    boost::asio::steady_timer command_timer;
    boost::asio::steady_timer retry_timer;
    std::unique_ptr<boost::asio::steady_timer> lease_timer, stop_timer;
    transport::seeded_random random;
    std::array<std::string, 4> keys;
    std::uint64_t base_emails, base_requests;
    redisAsyncContext* ac = nullptr;
    std::uint64_t connection = 0;  // which connection a reply belongs to
    std::size_t outstanding = 0;   // commands sent, not answered
    bool timer_armed = false;
    bool lease_in_flight = false, lease_retry_armed = false;
    std::uint64_t last_lease_e = 0, last_lease_r = 0, returning_e = 0;
    unsigned attempt = 0;
    bool healthy = false;  // answered since the last failure
    steady::time_point unreachable_since;
    std::chrono::system_clock::time_point unreachable_since_wall;
    bool stopping = false, finished = false;
    std::once_flag stop_once;
    std::thread thread;
};

shared_quota::shared_quota(shared_quota_options options,
                           std::function<void(const quota_state&)> on_gave_up)
    : impl_(std::make_unique<impl>(std::move(options), std::move(on_gave_up))) {}

shared_quota::~shared_quota() {
    stop(milliseconds(500));
}

void shared_quota::stop(std::chrono::milliseconds deadline) {
    impl_->stop(deadline);
}

quota_state shared_quota::state() const {
    std::lock_guard lock(impl_->state_mutex);
    return impl_->shared;
}

transport::clock::duration shared_quota::try_acquire(std::uint32_t cost) noexcept {
    return impl_->try_acquire(cost);
}

void shared_quota::give_back(std::uint32_t cost) noexcept {
    impl_->give_back(cost);
}

void shared_quota::on_throttle(std::chrono::milliseconds pause) noexcept {
    impl_->on_throttle(pause);
}

void shared_quota::set_wake(std::function<void()> wake) {
    std::lock_guard lock(impl_->wake_mutex);
    impl_->wake = std::move(wake);
}

}  // namespace salvo::quota
