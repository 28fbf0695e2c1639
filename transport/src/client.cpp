#include "salvo/transport/client.hpp"

#include "curl_asio.hpp"
#include "salvo/transport/error.hpp"
#include "transfer.hpp"

#include <curl/curl.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace salvo::transport {

using detail::transfer;

namespace {

// CURLINFO_HTTP_VERSION's value as the version number people write.
int http_version_number(long curl_version) noexcept {
    switch (curl_version) {
        case CURL_HTTP_VERSION_1_0:
            return 10;
        case CURL_HTTP_VERSION_1_1:
            return 11;
        case CURL_HTTP_VERSION_2_0:
            return 20;
        case CURL_HTTP_VERSION_3:
            return 30;
        default:
            return 0;
    }
}

const real_clock& shared_real_clock() {
    static const real_clock instance;
    return instance;
}

void global_init_once() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string default_ca_bundle() {
    std::string path = "the system's CA bundle";
    if (CURL* e = curl_easy_init()) {
        char* cainfo = nullptr;
        if (curl_easy_getinfo(e, CURLINFO_CAINFO, &cainfo) == CURLE_OK && cainfo != nullptr)
            path = cainfo;
        curl_easy_cleanup(e);
    }
    return path;
}

struct client::impl {
    impl(client_options o, const clock& clk)
        : options(std::move(o)),
          clock_(clk),
          random(options.random_seed),
          limiter(options.rate, clk),
          policy(options.retry, clk, random),
          adaptive(options.adaptive, clk),
          work(io.get_executor()),
          admission_timer(io),
          deadline_timer(io),
          probe_timer(io) {
        global_init_once();
        max_in_flight = std::max<std::size_t>(1, options.max_in_flight);
        max_admitted = max_in_flight + options.max_queued;
        wake_room = std::max<std::size_t>(1, max_admitted / 4);
        user_agent = "salvo/" + options.version;
        shared_headers = detail::build_header_list(options.headers);
        bridge = std::make_unique<detail::curl_asio_bridge>(
            io, [this](CURL* easy, CURLcode result) { on_done(easy, result); }, stats);
        CURLM* m = bridge->multi();
        curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
        curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, options.max_total_connections);
        curl_multi_setopt(m, CURLMOPT_MAXCONNECTS,
                          static_cast<long>(std::max<std::size_t>(max_in_flight, 16)));
        curl_multi_setopt(m, CURLMOPT_PIPELINING,
                          options.http2 ? CURLPIPE_MULTIPLEX : CURLPIPE_NOTHING);
        stats.current_rate.store(limiter.current_request_rate(), std::memory_order_relaxed);
        if (options.admission)
            options.admission->set_wake([this] { boost::asio::post(io, [this] { pump(); }); });
        thread = std::thread([this] {
            pthread_setname_np(pthread_self(), "salvo-net");  // visible in top, perf, gdb
            io.run();
        });
    }

    // --- any thread ---------------------------------------------------------

    boost::system::error_code admit(request&& req, completion&& done, bool wait) {
        bool post_drain = false;
        {
            std::unique_lock lock(mutex);
            const std::size_t size = req.body.size();
            const auto room = [&] {
                return in_flight == 0 || (in_flight < max_admitted &&
                                          (options.max_queued_bytes == 0 ||
                                           admitted_bytes + size <= options.max_queued_bytes));
            };
            if (wait && accepting && !room()) {
                ++waiters;
                slot_free.wait(lock, [&] { return !accepting || room(); });
                --waiters;
            }
            if (!accepting) return errc::shut_down;
            if (!room()) return errc::window_full;
            ++in_flight;
            admitted_bytes += size;
            incoming.emplace_back(std::move(req), std::move(done));
            // One hand-over per turn of the network thread, not one per
            // request: while a drain is queued, later requests join it.
            post_drain = !drain_posted;
            drain_posted = true;
        }
        if (post_drain) boost::asio::post(io, [this] { take_incoming(); });
        return {};
    }

    void release_slot(std::size_t body_size) {
        bool wake = false;
        {
            std::lock_guard lock(mutex);
            --in_flight;
            admitted_bytes -= body_size;
            // A waiting submitter is woken once a quarter of the window is
            // free (or it is empty), not for every slot: each wake is a futex
            // call on both threads, and the submitter then fills the room it
            // finds without waiting again. Both limits must have room: with
            // the byte limit far from binding, "a quarter of the bytes free"
            // alone held on every release and woke the submitter each time.
            const bool count_room = max_admitted - in_flight >= wake_room;
            const bool byte_room =
                options.max_queued_bytes == 0 ||
                options.max_queued_bytes - admitted_bytes >= options.max_queued_bytes / 4;
            wake = waiters > 0 && ((count_room && byte_room) || in_flight == 0);
        }
        if (wake) slot_free.notify_all();
    }

    void advance_gate(std::uint64_t position) noexcept {
        // Sequentially consistent, as pump()'s side: each thread writes one
        // flag and then reads the other's (see pump()).
        std::uint64_t seen = gate.load(std::memory_order_seq_cst);
        while (seen < position && !gate.compare_exchange_weak(seen, position)) {
        }
        // Wake the network thread only when a request waits on the gate.
        if (gate_blocked.exchange(false)) {
            try {
                boost::asio::post(io, [this] { pump(); });
            } catch (...) {
                // Out of memory: the next completion or hand-over pumps.
            }
        }
    }

    void stop_admitting() noexcept {
        halted.store(true, std::memory_order_release);
        {
            std::lock_guard lock(mutex);
            accepting = false;
        }
        slot_free.notify_all();
    }

    void shutdown(std::chrono::milliseconds deadline) {
        {
            std::lock_guard lock(mutex);
            accepting = false;
        }
        slot_free.notify_all();
        std::call_once(stop_once, [&] {
            boost::asio::post(io, [this, deadline] { begin_stop(deadline); });
            thread.join();
            // The hook may outlive the client: no wake may post to io now.
            if (options.admission) options.admission->set_wake({});
        });
    }

    // --- network thread -----------------------------------------------------

    // Takes every request handed over since the last drain.
    void take_incoming() {
        {
            std::lock_guard lock(mutex);
            taken.swap(incoming);
            drain_posted = false;
        }
        for (auto& [req, done] : taken) accept(std::move(req), std::move(done));
        taken.clear();
        pump();
    }

    void accept(request&& req, completion&& done) {
        std::unique_ptr<transfer> owned;
        const std::size_t size = req.body.size();
        try {
            owned = std::make_unique<transfer>(io, std::move(req), std::move(done));
            owned->goaways = &goaways;
        } catch (...) {
            // Out of memory: report it rather than let the network thread die.
            outcome out;
            out.error = errc::curl_setup;
            out.message = "out of memory admitting the request";
            if (done) done(std::move(req), std::move(out));
            release_slot(size);
            return;
        }
        transfer* t = owned.get();
        t->serial = ++serials;
        live.emplace(t, std::move(owned));
        t->admitted = clock_.now();
        if (stopping) {
            finish_cancelled(t);
            return;
        }
        enqueue(t, false);
    }

    // The queue holds a transfer at most once: one entry is one attempt to
    // start, and a transfer started twice would be a request sent twice.
    // `first`: before new requests (a retry, a held request keep their slot).
    void enqueue(transfer* t, bool first) {
        assert(!t->queued);
        t->queued = true;
        if (first)
            queue.push_front(t);
        else
            queue.push_back(t);
    }

    // Starts queued attempts while transfer slots are free, the gate is open
    // for them and the rate limiter admits them; otherwise arms the one
    // admission timer for when the limiter will.
    void pump() {
        while (!queue.empty() && !stopping && active < max_in_flight &&
               !halted.load(std::memory_order_acquire)) {
            // An open circuit lets one probe through at a time, when due.
            if (circuit_open && (probe_in_flight || !probe_due)) return;
            transfer* t = queue.front();
            if (t->req.gate > gate.load(std::memory_order_acquire)) {
                // Ask advance_gate() for a wake-up, then look again: the gate
                // may have moved between the two loads. The store and the
                // second load are sequentially consistent: with release and
                // acquire the load may be done before the store is seen (x86
                // lets a load pass an earlier store), advance_gate() may then
                // read no request waiting, and the request waits for the next
                // fsync, or for ever after the last one.
                gate_blocked.store(true);
                if (t->req.gate > gate.load()) return;
                gate_blocked.store(false, std::memory_order_relaxed);
            }
            auto wait = clock::duration::zero();
            if (options.admission) wait = options.admission->try_acquire(t->req.cost);
            if (wait == clock::duration::zero()) {
                wait = limiter.try_acquire(t->req.cost);
                if (wait > clock::duration::zero() && options.admission)
                    options.admission->give_back(t->req.cost);
            }
            if (wait > clock::duration::zero()) {
                if (!admission_armed) {
                    admission_armed = true;
                    admission_timer.expires_after(wait);
                    admission_timer.async_wait([this](boost::system::error_code ec) {
                        admission_armed = false;
                        if (!ec) pump();
                    });
                }
                return;
            }
            queue.pop_front();
            t->queued = false;
            if (circuit_open) {
                t->probe = true;
                probe_in_flight = true;
                probe_due = false;
                std::lock_guard lock(circuit_mutex);
                ++shared_circuit.probes;
            }
            start_attempt(t);
        }
    }

    // An easy handle with every constant option set: from the pool (set
    // when it was made), or new. Per-attempt options are set by the caller;
    // no curl_easy_reset between requests (it made every attempt pay for
    // some thirty options and a URL parse again).
    CURL* take_easy() {
        if (!idle_easy.empty()) {
            CURL* e = idle_easy.back();
            idle_easy.pop_back();
            return e;
        }
        CURL* e = curl_easy_init();
        if (e != nullptr) {
            bridge->prepare_handle(e);
            detail::configure_handle(e, options, user_agent);
        }
        return e;
    }

    void start_attempt(transfer* t) {
        const bool first = t->attempts == 0;
        ++t->attempts;
        if (first) {
            t->first_attempt = clock_.now();
            policy.on_first_attempt();
        } else {
            stats.retries.fetch_add(1, std::memory_order_relaxed);
        }
        stats.requests.fetch_add(1, std::memory_order_relaxed);
        t->reset_attempt();
        if (t->req.url.empty() || !detail::build_headers(*t, shared_headers.get())) {
            finish(t, disposition::permanent, errc::invalid_request,
                   "the request has no URL or a header holds CR or LF");
            return;
        }
        CURL* e = take_easy();
        if (e == nullptr) {
            finish(t, disposition::permanent, errc::curl_setup, "curl_easy_init failed");
            return;
        }
        bridge->prepare(e, t);
        detail::configure_attempt(e, *t, options);
        t->easy = e;
        t->attempt_start = std::chrono::steady_clock::now();
        if (bridge->add(e) != CURLM_OK) {
            t->easy = nullptr;
            idle_easy.push_back(e);
            finish(t, disposition::permanent, errc::curl_setup, "curl_multi_add_handle failed");
            return;
        }
        ++active;
    }

    void detach_easy(transfer* t) {
        if (t->easy == nullptr) return;
        (void)bridge->remove(t->easy);
        // The handle keeps its options for the next request; nothing of
        // this transfer's may be written to once it is gone.
        curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, nullptr);
        idle_easy.push_back(t->easy);
        t->easy = nullptr;
        --active;
    }

    void on_done(CURL* easy, CURLcode code);
    bool circuit_holds(transfer* t, verdict v, const std::string& message);
    void open_circuit(const std::string& message);
    void close_circuit();
    void arm_probe();
    template <class Change>
    void publish(circuit_event e, Change&& change);
    void retry_or_finish(transfer* t, verdict v, boost::system::error_code error);
    void finish(transfer* t, disposition result, boost::system::error_code error,
                std::string message);
    void finish_cancelled(transfer* t);
    void begin_stop(std::chrono::milliseconds deadline);
    void cancel_active();
    void maybe_teardown();
    void teardown();

    client_options options;
    const clock& clock_;
    seeded_random random;
    rate_limiter limiter;
    retry_policy policy;
    adaptive_rate adaptive;
    counters stats;
    std::string user_agent;
    std::size_t max_in_flight = 1;  // transfers at once
    std::size_t max_admitted = 1;   // max_in_flight + max_queued
    std::size_t wake_room = 1;      // free slots that wake a waiting submitter
    detail::header_list_ptr shared_headers;

    // Shared with submitting threads.
    std::mutex mutex;
    std::condition_variable slot_free;
    std::size_t in_flight = 0;       // admitted, not completed
    std::size_t admitted_bytes = 0;  // their bodies' sizes
    std::size_t waiters = 0;         // submit() calls waiting for a slot
    bool accepting = true;
    bool drain_posted = false;  // a take_incoming() is queued
    std::vector<std::pair<request, completion>> incoming;
    std::once_flag stop_once;
    std::atomic<std::uint64_t> gate{0};
    std::atomic<bool> gate_blocked{false};  // pump() stopped at the gate
    std::atomic<bool> halted{false};        // stop_admitting(): start nothing more

    // Network thread only.
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
    std::unique_ptr<detail::curl_asio_bridge> bridge;
    boost::asio::steady_timer admission_timer;
    boost::asio::steady_timer deadline_timer;
    boost::asio::steady_timer probe_timer;
    bool admission_armed = false;
    // The circuit (network thread); shared_circuit is its copy for circuit().
    bool circuit_open = false;
    bool probe_in_flight = false;  // the probe is on the wire
    bool probe_due = false;        // the probe timer fired: the next start is the probe
    bool probe_armed = false;      // probe_timer is waiting
    bool gave_up = false;
    unsigned failure_run = 0;  // transient failures in a row across requests
    unsigned probe_number = 0;
    clock::time_point open_since{};
    mutable std::mutex circuit_mutex;
    circuit_state shared_circuit;
    bool stopping = false;
    bool torn_down = false;
    std::unordered_map<transfer*, std::unique_ptr<transfer>> live;
    std::uint64_t serials = 0;  // transfer::serial of the last one admitted
    std::deque<transfer*> queue;
    detail::goaway_book goaways;  // HTTP/2 GOAWAYs seen, by curl connection number
    std::vector<std::pair<request, completion>> taken;  // take_incoming()'s batch
    std::vector<CURL*> idle_easy;
    std::size_t active = 0;  // attempts inside the multi
    std::thread thread;
};

// --- completion of attempts ----------------------------------------------------

void client::impl::on_done(CURL* easy, CURLcode code) {
    void* priv = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    auto* t = static_cast<transfer*>(priv);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t uploaded = 0;
    curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
    long version = 0;
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    detach_easy(t);

    const auto latency = std::chrono::steady_clock::now() - t->attempt_start;
    stats.record_latency(std::chrono::duration_cast<std::chrono::microseconds>(latency));
    stats.bytes_out.fetch_add(static_cast<std::uint64_t>(std::max<curl_off_t>(uploaded, 0)),
                              std::memory_order_relaxed);
    stats.bytes_in.fetch_add(t->answer.body.size(), std::memory_order_relaxed);

    // on_prereq refusing curl's re-issue of the request on another pooled
    // connection ends the transfer as "aborted by callback"; it is the same
    // refusal the socket guard makes, not a cancel.
    if (code == CURLE_ABORTED_BY_CALLBACK && t->refused_reconnect) code = CURLE_SEND_FAIL_REWIND;
    t->answer.curl_code = static_cast<int>(code);
    t->answer.http_status = status;
    t->answer.http_version = http_version_number(version);
    t->answer.bytes_uploaded = static_cast<std::uint64_t>(std::max<curl_off_t>(uploaded, 0));
    // A refused HTTP/2 stream was not processed, whatever went out.
    t->answer.whole_body_sent = !t->refused_stream && t->whole_body_sent(uploaded);

    verdict v =
        classify({static_cast<int>(code), status, t->answer.whole_body_sent, t->refused_stream});
    boost::system::error_code error;
    if (code != CURLE_OK) {
        error = make_curl_error(static_cast<int>(code));
    } else if (status == 0) {
        error = errc::no_response;
    } else {
        if (options.hook) {
            const verdict before = v;
            v = options.hook(t->answer, v);
            if (v.result != before.result && v.result != disposition::success)
                error = errc::rejected_by_hook;
        }
        if (!error && v.result != disposition::success) error = errc::http_status;
    }

    if (v.throttled && options.admission) {
        std::optional<clock::duration> pause;
        if (!t->answer.retry_after.empty())
            pause = parse_retry_after(t->answer.retry_after, clock_.system_now());
        options.admission->on_throttle(
            std::chrono::ceil<std::chrono::milliseconds>(pause.value_or(clock::duration::zero())));
    }
    if (options.adaptive.enabled && limiter.limited()) {
        const double before = adaptive.scale();
        const double after = v.throttled                        ? adaptive.on_throttle()
                             : v.result == disposition::success ? adaptive.on_success()
                                                                : before;
        if (after != before) {
            limiter.set_scale(after);
            stats.current_rate.store(limiter.current_request_rate(), std::memory_order_relaxed);
        }
    }
    retry_or_finish(t, v, error);
    pump();  // a transfer slot is free
    maybe_teardown();
}

void client::impl::retry_or_finish(transfer* t, verdict v, boost::system::error_code error) {
    std::string message;
    if (t->answer.curl_code == CURLE_SSL_CACERT_BADFILE) {
        // A machine without a CA bundle (no ca-certificates package) fails
        // every HTTPS request the same way: say which file and how to fix it.
        message = "cannot read the CA certificates to verify the server with (" +
                  (options.tls.ca_file.empty() ? default_ca_bundle() : options.tls.ca_file) +
                  "): install the ca-certificates package (apt-get install ca-certificates), "
                  "or name a PEM bundle with the CA file option. curl said: ";
        message += t->error_text.data();
    } else if (v.result == disposition::permanent &&
               classify_curl_code(t->answer.curl_code) == curl_class::cert_failure) {
        message =
            "TLS certificate verification failed; this will not fix itself: trust the "
            "server's CA with the CA file option (or, for a test server only, the "
            "insecure switch). curl said: ";
        message += t->error_text.data();
    } else if (t->refused_stream && v.result == disposition::retry_now) {
        message =
            "the server refused the HTTP/2 stream (REFUSED_STREAM or GOAWAY): it did not "
            "process the request, so it is sent again";
    } else if (t->refused_reconnect) {
        message =
            "the connection died after the body had started to go, and curl wanted to "
            "send it again on a new connection: refused, so it is never sent twice "
            "unknowingly";
    } else if (t->answer.curl_code != 0) {
        message = t->error_text[0] != '\0' ? std::string(t->error_text.data()) : error.message();
    } else if (error) {
        message = error.message();
        if (t->answer.http_status != 0)
            message += " (HTTP " + std::to_string(t->answer.http_status) + ")";
    }

    const bool retryable =
        v.result == disposition::retry_now || v.result == disposition::retry_after_backoff;
    if (options.circuit.enabled && !stopping && circuit_holds(t, v, message)) return;
    if (!retryable || stopping) {
        finish(t, v.result, error, std::move(message));
        return;
    }
    std::optional<clock::duration> retry_after;
    if (t->answer.http_status != 0 && !t->answer.retry_after.empty())
        retry_after = parse_retry_after(t->answer.retry_after, clock_.system_now());
    const retry_decision d =
        policy.decide(v.result, t->attempts - t->outage_attempts, t->first_attempt, retry_after);
    if (d.over_budget && options.adaptive.enabled && limiter.limited()) {
        const double before = adaptive.scale();
        const double after = adaptive.on_throttle();
        if (after != before) {
            limiter.set_scale(after);
            stats.current_rate.store(limiter.current_request_rate(), std::memory_order_relaxed);
        }
    }
    if (!d.retry) {
        const auto why = static_cast<errc>(d.reason);
        message += message.empty() ? "" : "; ";
        message += make_error_code(why).message();
        finish(t, v.result, error ? error : make_error_code(why), std::move(message));
        return;
    }
    t->waited += d.delay;
    if (d.delay <= clock::duration::zero()) {
        enqueue(t, true);  // keeps its slot, goes before new requests
        pump();
        return;
    }
    t->waiting_retry = true;
    t->retry_timer.expires_after(d.delay);
    t->retry_timer.async_wait([this, t, serial = t->serial](boost::system::error_code ec) {
        // A timer that had fired before a shutdown finished `t` still runs
        // with success: `t` may be gone (or its address reused), so look it
        // up before touching it.
        if (ec) return;
        const auto it = live.find(t);
        if (it == live.end() || t->serial != serial) return;
        t->waiting_retry = false;
        if (stopping) return;
        enqueue(t, true);
        pump();
    });
}

// --- the circuit ---------------------------------------------------------------

// Feeds the circuit with one attempt's verdict. True when the circuit keeps
// the request: it failed transiently while the endpoint is down, and goes
// back to the queue to wait for the circuit to close, its attempt uncounted.
bool client::impl::circuit_holds(transfer* t, verdict v, const std::string& message) {
    const bool was_probe = t->probe;
    t->probe = false;
    if (was_probe) probe_in_flight = false;
    // A refused HTTP/2 stream comes from a server that is up (a GOAWAY, a
    // stream limit): no step towards an outage, the request just goes again.
    if (t->refused_stream && v.result == disposition::retry_now && !circuit_open) return false;
    const bool retryable =
        v.result == disposition::retry_now || v.result == disposition::retry_after_backoff;
    const int code = t->answer.curl_code;
    // Cannot reach the endpoint: no connection (refused, DNS, TLS handshake),
    // or a timeout before curl read any of the body (a connect timeout).
    const bool unreachable =
        t->answer.http_status == 0 && (classify_curl_code(code) == curl_class::before_send ||
                                       (code == CURLE_OPERATION_TIMEDOUT && !t->issued));
    if (!retryable && !unreachable) {
        // An answer the endpoint meant (success, a permanent error) or a
        // maybe-delivered one: only a real answer says the endpoint is up.
        if (t->answer.http_status != 0) {
            failure_run = 0;
            if (circuit_open) close_circuit();
        } else if (circuit_open) {
            // A probe that may have been delivered says nothing of the
            // endpoint either: the circuit stays open, and the next probe
            // goes when due. (Without one armed, the queue waited for ever.)
            arm_probe();
        }
        return false;
    }
    if (!circuit_open) {
        ++failure_run;
        if (unreachable || failure_run >= options.circuit.failure_run) open_circuit(message);
    } else {
        std::lock_guard lock(circuit_mutex);
        shared_circuit.last_error = message;
    }
    if (!circuit_open) return false;
    arm_probe();                   // unless one is armed or in flight
    if (!retryable) return false;  // maybe delivered: the caller decides
    ++t->outage_attempts;
    t->first_attempt = clock_.now();  // the time bound starts again after the outage
    enqueue(t, true);
    return true;
}

// Updates the circuit's shared copy, then tells on_circuit.
template <class Change>
void client::impl::publish(circuit_event e, Change&& change) {
    circuit_state copy;
    {
        std::lock_guard lock(circuit_mutex);
        change(shared_circuit);
        copy = shared_circuit;
    }
    if (options.on_circuit) options.on_circuit(e, copy);
}

void client::impl::open_circuit(const std::string& message) {
    circuit_open = true;
    gave_up = false;
    probe_due = false;
    probe_number = 0;
    open_since = clock_.now();
    publish(circuit_event::opened, [&](circuit_state& c) {
        c.open = true;
        c.gave_up = false;
        c.since = std::chrono::system_clock::now();
        c.last_error = message;
        c.probes = 0;
    });
}

void client::impl::close_circuit() {
    circuit_open = false;
    probe_due = false;
    failure_run = 0;
    if (probe_armed) probe_timer.cancel();
    probe_armed = false;
    publish(circuit_event::closed, [](circuit_state& c) { c.open = false; });
}

// Schedules the next probe after a capped full-jitter backoff, or gives up
// once the circuit has been open for give_up_after.
void client::impl::arm_probe() {
    if (probe_armed || probe_in_flight || gave_up || stopping) return;
    const auto now = clock_.now();
    const auto limit = std::chrono::duration_cast<clock::duration>(options.circuit.give_up_after);
    if (now - open_since >= limit) {
        gave_up = true;
        publish(circuit_event::gave_up, [](circuit_state& c) { c.gave_up = true; });
        return;
    }
    // Full jitter under a ceiling that doubles from retry.base up to probe_cap.
    ++probe_number;
    const auto cap = std::chrono::duration_cast<clock::duration>(
        std::min(options.circuit.probe_cap, options.retry.cap));
    auto ceiling = std::chrono::duration_cast<clock::duration>(options.retry.base);
    for (unsigned i = 1; i < probe_number && ceiling < cap; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cap);
    auto delay = clock::duration(
        ceiling.count() <= 0
            ? 0
            : static_cast<clock::duration::rep>(random.next() %
                                                (static_cast<std::uint64_t>(ceiling.count()) + 1)));
    delay = std::min(delay, open_since + limit - now);
    probe_armed = true;
    probe_timer.expires_after(delay);
    probe_timer.async_wait([this](boost::system::error_code ec) {
        if (ec || !probe_armed) return;
        probe_armed = false;
        if (!circuit_open || stopping) return;
        if (clock_.now() - open_since >=
            std::chrono::duration_cast<clock::duration>(options.circuit.give_up_after)) {
            arm_probe();  // gives up
            return;
        }
        probe_due = true;
        pump();
    });
}

void client::impl::finish(transfer* t, disposition result, boost::system::error_code error,
                          std::string message) {
    const auto it = live.find(t);
    if (it == live.end()) return;
    std::unique_ptr<transfer> owned = std::move(it->second);
    live.erase(it);
    detach_easy(t);
    if (t->probe) {
        // A probe that ended without an answer to judge (setup failure, shutdown).
        t->probe = false;
        probe_in_flight = false;
        if (circuit_open && !stopping) arm_probe();
    }
    if (t->waiting_retry) t->retry_timer.cancel();
    if (t->queued) queue.erase(std::find(queue.begin(), queue.end(), t));

    outcome out = std::move(t->answer);
    out.result = result;
    out.error = result == disposition::success ? boost::system::error_code{} : error;
    out.message = std::move(message);
    out.attempts = t->attempts;
    out.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.now() - t->admitted);
    out.retry_wait = t->waited;

    const std::size_t size = t->req.body.size();
    stats.completed.fetch_add(1, std::memory_order_relaxed);
    if (result == disposition::success) {
        stats.succeeded.fetch_add(1, std::memory_order_relaxed);
    } else if (result == disposition::cancelled) {
        stats.cancelled.fetch_add(1, std::memory_order_relaxed);
    } else {
        stats.failed.fetch_add(1, std::memory_order_relaxed);
    }
    if (t->done) {
        try {
            t->done(std::move(t->req), std::move(out));
        } catch (...) {
            // A throwing completion must not take the network thread down;
            // the contract says completions do not throw.
        }
    }
    owned.reset();
    release_slot(size);
}

void client::impl::finish_cancelled(transfer* t) {
    if (t->easy != nullptr) {
        curl_off_t uploaded = 0;
        curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
        long status = 0;
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
        t->answer.http_status = status;
        t->answer.bytes_uploaded = static_cast<std::uint64_t>(std::max<curl_off_t>(uploaded, 0));
        t->answer.whole_body_sent = t->whole_body_sent(uploaded);
    } else {
        // Not on the wire: never sent, or its last attempt was judged safe to
        // send again (a 503, a refused connection), so not delivered.
        t->answer.whole_body_sent = false;
    }
    std::string message = "cancelled by shutdown";
    if (t->answer.whole_body_sent)
        message += " after the whole body was sent (maybe delivered)";
    else if (t->attempts == 0)
        message += " before it was sent";
    finish(t, disposition::cancelled, errc::cancelled, std::move(message));
}

// --- shutdown: a gate ---------------------------------------------------------

void client::impl::begin_stop(std::chrono::milliseconds deadline) {
    stopping = true;
    admission_timer.cancel();
    probe_timer.cancel();
    // Nothing waiting for a token or a retry will be sent any more.
    std::vector<transfer*> idle;
    for (auto& [t, owned] : live) {
        if (t->easy == nullptr) idle.push_back(t);
    }
    for (transfer* t : idle) finish_cancelled(t);
    if (active == 0) {
        maybe_teardown();
        return;
    }
    deadline_timer.expires_after(deadline);
    deadline_timer.async_wait([this](boost::system::error_code ec) {
        if (ec || torn_down) return;
        cancel_active();
        maybe_teardown();
    });
}

void client::impl::cancel_active() {
    std::vector<transfer*> running;
    for (auto& [t, owned] : live) running.push_back(t);
    for (transfer* t : running) finish_cancelled(t);
}

void client::impl::maybe_teardown() {
    if (!stopping || torn_down || !live.empty()) return;
    torn_down = true;
    // Often called from inside the bridge (a finished transfer): destroy it
    // from a fresh handler, never from within its own member function.
    boost::asio::post(io, [this] { teardown(); });
}

void client::impl::teardown() {
    deadline_timer.cancel();
    admission_timer.cancel();
    probe_timer.cancel();
    bridge.reset();  // curl_multi_cleanup: closes the cached connections
    for (CURL* e : idle_easy) curl_easy_cleanup(e);
    idle_easy.clear();
    work.reset();  // io.run() returns once the cancelled handlers have run
}

// --- public face --------------------------------------------------------------

client::client(client_options options) : client(std::move(options), shared_real_clock()) {}

client::client(client_options options, const clock& clk)
    : impl_(std::make_unique<impl>(std::move(options), clk)) {}

client::~client() {
    shutdown(std::chrono::milliseconds(0));
}

boost::system::error_code client::submit(request req, completion done) {
    return impl_->admit(std::move(req), std::move(done), true);
}

boost::system::error_code client::try_submit(request& req, completion done) {
    // admit() moves from `req` only once the request is taken.
    return impl_->admit(std::move(req), std::move(done), false);
}

void client::stop_admitting() noexcept {
    impl_->stop_admitting();
}

void client::advance_gate(std::uint64_t position) noexcept {
    impl_->advance_gate(position);
}

std::size_t client::in_flight() const noexcept {
    std::lock_guard lock(impl_->mutex);
    return impl_->in_flight;
}

void client::shutdown(std::chrono::milliseconds deadline) {
    impl_->shutdown(deadline);
}

counters_snapshot client::stats() const noexcept {
    return impl_->stats.snapshot();
}

circuit_state client::circuit() const {
    std::lock_guard lock(impl_->circuit_mutex);
    return impl_->shared_circuit;
}

}  // namespace salvo::transport
