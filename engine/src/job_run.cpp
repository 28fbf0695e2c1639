// job::run(): the pipeline from source to transport, and the completions
// that give every sent row its fate.
//
//   read (serial) → validate (serial: dedupe is ordered) → render and batch
//   (parallel) → journal and hand over (serial, waits on the transport's
//   window: the backpressure) ; completions on the network thread.
#include "job_impl.hpp"

#include <salvo/merge/escape.hpp>
#include <salvo/transport/classify.hpp>

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_pipeline.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <deque>

namespace salvo::engine {
namespace {

using clock_type = std::chrono::steady_clock;

// One token of the pipeline: a chunk of rows and what became of them.
struct work {
    chunk rows;
    std::vector<std::size_t> send;                           // rows to render
    std::deque<std::string> reasons;                         // stable storage for early outcomes
    std::vector<std::pair<std::size_t, row_outcome>> early;  // (row index, outcome)
    std::vector<injection::outgoing_request> requests;
    // Per chunk row: the rendered MessageId (plain text), when the job has one.
    std::string message_ids;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> message_id_spans;

    void clear() {
        send.clear();
        reasons.clear();
        early.clear();
        requests.clear();
        message_ids.clear();
        message_id_spans.clear();
    }
};

std::string_view value_or_empty(const merge::row_view& row, std::size_t column) {
    if (column >= row.size() || merge::is_absent(row[column])) return {};
    return row[column];
}

}  // namespace

std::string_view to_string(job_status s) noexcept {
    switch (s) {
        case job_status::finished:
            return "finished";
        case job_status::already_finished:
            return "already_finished";
        case job_status::stopped_auth:
            return "stopped_auth";
        case job_status::stopped_tls:
            return "stopped_tls";
        case job_status::paused:
            return "paused";
        case job_status::cancelled:
            return "cancelled";
        case job_status::input_failed:
            return "input_failed";
    }
    return "unknown";
}

void job::impl::request_stop(job_status why, std::string detail) {
    int expected = 0;
    if (stop.compare_exchange_strong(expected, static_cast<int>(why) + 1)) {
        std::lock_guard lock(stop_mutex);
        stop_detail = std::move(detail);
    }
    // Whoever asked, nothing more goes out: a submit() waiting for a slot
    // fails instead of sending the next request.
    if (auto* n = net_ptr.load()) n->stop_admitting();
}

void job::impl::record(std::vector<row_outcome>& outcomes) {
    if (outcomes.empty()) return;
    if (auto ec = book->decide(outcomes)) {
        request_stop(job_status::input_failed, "cannot write the results: " + ec.message());
        return;
    }
    std::uint64_t accepted = 0;
    for (const auto& o : outcomes) accepted += o.status == fate::accepted;
    accepted_this_run += accepted;
    if (options.on_row)
        for (const auto& o : outcomes) options.on_row(o);
}

void job::impl::decide_all(const flight& f, fate what, std::string_view code,
                           std::string_view error, unsigned attempts) {
    std::vector<row_outcome> out(f.meta.slots.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& s = f.meta.slots[i];
        row_outcome& o = out[i];
        o.row = s.id;
        o.line = f.lines[i];
        o.email = f.meta.address(s);
        o.status = what;
        o.code = code;
        o.error = error;
        o.attempts = attempts;
        o.ambiguous = f.ambiguous || f.doubt[i];
        if (!f.message_id_spans.empty()) {
            const auto [at, size] = f.message_id_spans[i];
            o.message_id = std::string_view(f.message_ids).substr(at, size);
        }
    }
    record(out);
}

void job::impl::note_request_result(bool failed) {
    const std::size_t window = config.auto_pause.window_requests;
    if (window == 0) return;
    if (recent_failures.size() != window) recent_failures.assign(window, false);
    if (recent_seen >= window && recent_failures[recent_next]) --recent_failed;
    recent_failures[recent_next] = failed;
    recent_failed += failed;
    recent_next = (recent_next + 1) % window;
    ++recent_seen;
    if (recent_seen >= window && static_cast<double>(recent_failed) >
                                     config.auto_pause.failure_share * static_cast<double>(window))
        request_stop(job_status::paused, std::to_string(recent_failed) + " of the last " +
                                             std::to_string(window) +
                                             " requests failed after their retries (auto_pause)");
}

void job::impl::complete(transport::request&& req, transport::outcome&& out,
                         std::unique_ptr<flight> f, injection::response_reader& rd) {
    const auto done = [&] { idle.notify_all(); };
    f->transport_attempts += out.attempts;
    std::vector<std::uint64_t> rows;
    rows.reserve(f->meta.slots.size());
    for (const auto& s : f->meta.slots) rows.push_back(s.id);

    if (out.result == transport::disposition::cancelled) {
        // Stopped by shutdown: undecided. Certainly not delivered unless the
        // body went out, in which case the next run treats it as in doubt.
        if (!out.whole_body_sent) (void)book->release(rows);
        return done();
    }
    bool maybe_delivered = out.result == transport::disposition::maybe_delivered;
    if (!maybe_delivered && out.http_status != 0 &&
        (out.result == transport::disposition::success ||
         out.result == transport::disposition::permanent)) {
        const auto& v = rd.read(static_cast<int>(out.http_status), out.body, f->meta);
        using injection::fate;
        switch (v.request_fate) {
            case fate::accepted: {
                std::vector<row_outcome> outcomes(f->meta.slots.size());
                std::size_t r = 0;  // v.rejected is in slot order
                for (std::uint32_t i = 0; i < outcomes.size(); ++i) {
                    const auto& s = f->meta.slots[i];
                    row_outcome& o = outcomes[i];
                    o.row = s.id;
                    o.line = f->lines[i];
                    o.email = f->meta.address(s);
                    o.attempts = f->transport_attempts;
                    o.ambiguous = f->ambiguous || f->doubt[i];
                    if (!f->message_id_spans.empty()) {
                        const auto [at, size] = f->message_id_spans[i];
                        o.message_id = std::string_view(f->message_ids).substr(at, size);
                    }
                    o.status = engine::fate::accepted;
                    while (r < v.rejected.size() && v.rejected[r].slot < i) ++r;
                    if (r < v.rejected.size() && v.rejected[r].slot == i) {
                        o.status = engine::fate::rejected;
                        o.code = injection::to_string(v.rejected[r].code);
                    }
                }
                record(outcomes);
                note_request_result(false);
                return done();
            }
            case fate::rejected:
                decide_all(*f, engine::fate::rejected, injection::to_string(v.code), v.detail,
                           f->transport_attempts);
                note_request_result(false);
                return done();
            case fate::stop_job:
                (void)book->release(rows);
                request_stop(job_status::stopped_auth, v.detail);
                return done();
            case fate::ambiguous:
                maybe_delivered = true;
                break;
            case fate::retry:
            case fate::failed:
                decide_all(*f, engine::fate::failed,
                           v.code == injection::api_code::unknown ? std::string_view{}
                                                                  : injection::to_string(v.code),
                           v.detail, f->transport_attempts);
                note_request_result(true);
                return done();
        }
    }
    if (maybe_delivered) {
        if (config.retry.ambiguous == ambiguous_policy::hold) {
            decide_all(
                *f, fate::unknown, {},
                "maybe delivered: " + out.message + " (retry.ambiguous is hold: not re-sent)",
                f->transport_attempts);
            note_request_result(true);
            return done();
        }
        if (f->attempt < config.retry.max_attempts && !stopping()) {
            ++f->attempt;
            f->ambiguous = true;
            if (auto ec = book->dispatch(f->id, f->attempt, rows)) {
                request_stop(job_status::input_failed, "cannot write the journal: " + ec.message());
                return done();
            }
            std::lock_guard lock(resend_mutex);
            resends.emplace_back(std::move(req), std::move(f));
            return done();
        }
        decide_all(*f, fate::failed, {},
                   "maybe delivered " + std::to_string(f->attempt) +
                       " times, never answered: " + out.message,
                   f->transport_attempts);
        note_request_result(true);
        return done();
    }
    if (out.result == transport::disposition::permanent &&
        transport::classify_curl_code(out.curl_code) == transport::curl_class::cert_failure) {
        (void)book->release(rows);
        request_stop(job_status::stopped_tls, out.message);
        return done();
    }
    // Retries exhausted, or a permanent failure without an answer to read.
    // The last answer's API code (OverQuota in a 200, a 5xx's ErrorCode) is
    // what a person needs to know: it goes in `code` and leads the error.
    std::string error = out.message.empty() ? "request failed" : out.message;
    std::string_view code;
    if (out.http_status != 0 && !out.body.empty()) {
        const auto& v = rd.read(static_cast<int>(out.http_status), out.body, f->meta);
        if (v.code != injection::api_code::unknown) {
            code = injection::to_string(v.code);
            error.insert(0, std::string(code) + ": ");
        }
    }
    decide_all(*f, fate::failed, code, error, f->transport_attempts);
    note_request_result(true);
    done();
}

void job::impl::drain_resends(bool wait_for_slot) {
    for (;;) {
        std::pair<transport::request, std::unique_ptr<flight>> next;
        {
            std::lock_guard lock(resend_mutex);
            if (resends.empty()) return;
            next = std::move(resends.front());
            resends.pop_front();
        }
        flight* raw = next.second.release();
        auto completion = [this, raw](transport::request&& r, transport::outcome&& o) {
            complete(std::move(r), std::move(o), std::unique_ptr<flight>(raw), reader);
        };
        boost::system::error_code ec;
        if (wait_for_slot) {
            ec = net->submit(std::move(next.first), completion);
        } else {
            ec = net->try_submit(next.first, completion);
            if (ec) {
                // Window full: put it back for later.
                std::lock_guard lock(resend_mutex);
                resends.emplace_front(std::move(next.first), std::unique_ptr<flight>(raw));
                return;
            }
        }
        if (ec) {
            // Shut down: the body went out before; the next run decides.
            delete raw;
            return;
        }
    }
}

report job::impl::make_report(job_status status, double seconds) const {
    report r;
    r.status = status;
    {
        std::lock_guard lock(const_cast<std::mutex&>(stop_mutex));
        r.stop_detail = stop_detail;
    }
    r.fates = book->counts();
    r.ambiguous = book->ambiguous();
    r.rows_read = rows_read.load();
    std::uint64_t decided = 0;
    for (const auto c : r.fates) decided += c;
    r.pending = r.rows_read > decided ? r.rows_read - decided : 0;
    r.requests = first_sends.load();
    if (net) {
        const auto s = net->stats();
        r.retries = s.retries;
        r.bytes_out = s.bytes_out;
        r.bytes_in = s.bytes_in;
        r.latency_p50 = s.latency_p50;
        r.latency_p90 = s.latency_p90;
        r.latency_p99 = s.latency_p99;
    }
    r.seconds = seconds;
    r.accepted_this_run = accepted_this_run.load();
    r.emails_per_second = seconds > 0 ? static_cast<double>(r.accepted_this_run) / seconds : 0;
    return r;
}

report job::impl::run() {
    const auto t0 = clock_type::now();
    const auto elapsed = [&] {
        return std::chrono::duration<double>(clock_type::now() - t0).count();
    };
    if (state.finished) return make_report(job_status::already_finished, 0);

    transport::client_options co;
    co.version = options.user_agent_version;
    co.max_in_flight = config.rate.max_in_flight;
    co.connect_timeout = std::chrono::milliseconds(config.timeouts.connect_ms);
    co.request_timeout = std::chrono::milliseconds(config.timeouts.request_ms);
    co.tls.ca_file = config.tls.ca_file.string();
    co.tls.insecure = config.tls.insecure;
    if (!config.proxy.empty()) co.proxy = config.proxy;
    co.rate.requests_per_second = config.rate.requests_per_second;
    co.rate.cost_per_second = config.rate.emails_per_second;
    co.retry.max_attempts = static_cast<unsigned>(config.retry.max_attempts);
    co.retry.base = std::chrono::milliseconds(config.retry.base_delay_ms);
    co.retry.cap = std::chrono::milliseconds(config.retry.max_delay_ms);
    // A top-level OverQuota inside a 200 is the server asking to slow down.
    co.hook = [](const transport::outcome& answer, transport::verdict current) {
        if (answer.http_status == 200 &&
            answer.body.find("\"ErrorCode\":\"OverQuota\"") != std::string::npos)
            return transport::verdict{transport::disposition::retry_after_backoff, true};
        return current;
    };
    net = std::make_unique<transport::client>(co);
    net_ptr = net.get();
    if (stopping()) net->stop_admitting();  // cancelled before the client existed

    // Progress reports from a thread of their own.
    std::atomic<bool> done{false};
    std::mutex progress_mutex;
    std::condition_variable progress_wake;
    std::thread progress_thread;
    if (options.on_progress) {
        progress_thread = std::thread([&] {
            std::unique_lock lock(progress_mutex);
            while (!done.load()) {
                progress_wake.wait_for(lock, options.progress_interval);
                progress p;
                p.rows_read = rows_read.load();
                p.fates = book->counts();
                p.in_flight = net->in_flight();
                p.seconds = elapsed();
                p.emails_per_second =
                    p.seconds > 0 ? static_cast<double>(accepted_this_run.load()) / p.seconds : 0;
                options.on_progress(p);
            }
        });
    }

    const int threads =
        config.threads > 0 ? static_cast<int>(config.threads)
                           : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
    tbb::task_arena arena(threads);
    tbb::enumerable_thread_specific<std::optional<injection::batcher>> batchers;
    tbb::concurrent_queue<std::unique_ptr<work>> spare;
    const bool resend_doubt = config.retry.ambiguous == ambiguous_policy::resend;
    const auto doubted = [&](std::uint64_t row) { return row < in_doubt.size() && in_doubt[row]; };
    const auto forced = [&](std::uint64_t row) {
        return row < resend_anyway.size() && resend_anyway[row];
    };

    arena.execute([&] {
        tbb::parallel_pipeline(
            static_cast<std::size_t>(threads) * options.tokens_per_thread,
            // Read.
            tbb::make_filter<void, work*>(tbb::filter_mode::serial_in_order,
                                          [&](tbb::flow_control& fc) -> work* {
                                              if (stopping()) {
                                                  fc.stop();
                                                  return nullptr;
                                              }
                                              std::unique_ptr<work> w;
                                              if (!spare.try_pop(w)) w = std::make_unique<work>();
                                              w->clear();
                                              auto more = source->next_chunk(w->rows);
                                              if (!more) {
                                                  request_stop(job_status::input_failed,
                                                               more.error().message);
                                                  fc.stop();
                                                  return nullptr;
                                              }
                                              if (!*more) {
                                                  fc.stop();
                                                  return nullptr;
                                              }
                                              rows_read += w->rows.size();
                                              return w.release();
                                          }) &
                // Validate: in order, because dedupe keeps the first valid row.
                tbb::make_filter<work*, work*>(
                    tbb::filter_mode::serial_in_order,
                    [&](work* w) -> work* {
                        std::string reason;
                        for (std::size_t i = 0; i < w->rows.size(); ++i) {
                            const row_info& info = w->rows.info(i);
                            auto v = check->check(w->rows, i, reason);
                            if (!v) {
                                request_stop(job_status::input_failed, v.error().message);
                                break;
                            }
                            if (state.is_decided(info.row)) continue;  // decided by an earlier run
                            row_outcome o;
                            o.row = info.row;
                            o.line = info.line;
                            o.email = value_or_empty(w->rows.values(i), email_column);
                            switch (*v) {
                                case verdict::valid:
                                    if (doubted(info.row) && !resend_doubt && !forced(info.row)) {
                                        o.status = fate::unknown;
                                        o.error = w->reasons.emplace_back(
                                            "maybe delivered by an earlier run; retry.ambiguous "
                                            "is hold: not re-sent");
                                        w->early.emplace_back(i, o);
                                    } else {
                                        w->send.push_back(i);
                                    }
                                    continue;
                                case verdict::invalid:
                                    o.status = fate::invalid;
                                    break;
                                case verdict::duplicate:
                                    o.status = fate::duplicate;
                                    break;
                                case verdict::suppressed:
                                    o.status = fate::suppressed;
                                    break;
                            }
                            o.error = w->reasons.emplace_back(reason);
                            w->early.emplace_back(i, o);
                        }
                        return w;
                    }) &
                // Render and batch, in parallel.
                tbb::make_filter<work*, work*>(
                    tbb::filter_mode::parallel,
                    [&](work* w) -> work* {
                        auto& b = batchers.local();
                        if (!b) b.emplace(injection::batcher::create(writer, limits).value());
                        if (message_id) w->message_id_spans.assign(w->rows.size(), {0, 0});
                        std::string expanded;
                        for (const std::size_t i : w->send) {
                            const merge::row_view values = w->rows.values(i);
                            injection::recipient r;
                            r.address = value_or_empty(values, email_column);
                            if (name_column) r.name = value_or_empty(values, *name_column);
                            r.row = values;
                            r.id = w->rows.info(i).row;
                            auto placed = b->add(r);
                            if (!placed) {
                                row_outcome o;
                                o.row = r.id;
                                o.line = w->rows.info(i).line;
                                o.email = r.address;
                                o.status = fate::invalid;
                                o.error = w->reasons.emplace_back(placed.error().message);
                                w->early.emplace_back(i, o);
                                continue;
                            }
                            if (message_id) {
                                expanded.clear();
                                if (!message_id->expand(values, expanded)) {
                                    const auto at =
                                        static_cast<std::uint32_t>(w->message_ids.size());
                                    (void)merge::json_unescape(expanded, w->message_ids);
                                    w->message_id_spans[i] = {
                                        at, static_cast<std::uint32_t>(w->message_ids.size() - at)};
                                }
                            }
                        }
                        b->flush();
                        while (b->ready()) w->requests.push_back(b->take());
                        return w;
                    }) &
                // Journal, then hand over; waits on the transport's window.
                tbb::make_filter<work*, void>(tbb::filter_mode::serial_in_order, [&](work* w) {
                    std::unique_ptr<work> owned(w);
                    std::vector<row_outcome> early;
                    early.reserve(w->early.size());
                    for (auto& [i, o] : w->early) early.push_back(o);
                    record(early);
                    drain_resends(false);
                    const std::uint64_t first_row = w->rows.empty() ? 0 : w->rows.info(0).row;
                    for (auto& req : w->requests) {
                        if (stopping()) break;  // rows not handed over stay pending
                        auto f = std::make_unique<flight>();
                        f->id = next_request++;
                        std::vector<std::uint64_t> rows;
                        rows.reserve(req.slots.size());
                        for (const auto& s : req.slots) {
                            const std::size_t i = static_cast<std::size_t>(s.id - first_row);
                            rows.push_back(s.id);
                            f->lines.push_back(w->rows.info(i).line);
                            f->doubt.push_back(doubted(s.id));
                            if (message_id) {
                                const auto [at, size] = w->message_id_spans[i];
                                const auto mine = static_cast<std::uint32_t>(f->message_ids.size());
                                f->message_ids.append(w->message_ids, at, size);
                                f->message_id_spans.emplace_back(mine, size);
                            }
                        }
                        if (auto ec = book->dispatch(f->id, 1, rows)) {
                            request_stop(job_status::input_failed,
                                         "cannot write the journal: " + ec.message());
                            break;
                        }
                        transport::request t;
                        t.url = url;
                        t.headers = headers;
                        t.body = std::move(req.body);
                        t.cost = static_cast<std::uint32_t>(req.slots.size());
                        t.user_data = f->id;
                        f->meta = std::move(req);
                        flight* raw = f.release();
                        const auto ec = net->submit(
                            std::move(t),
                            [this, raw](transport::request&& r, transport::outcome&& o) {
                                complete(std::move(r), std::move(o), std::unique_ptr<flight>(raw),
                                         reader);
                            });
                        if (ec) {
                            std::unique_ptr<flight> back(raw);
                            (void)book->release(rows);
                            break;
                        }
                        ++first_sends;
                    }
                    owned->clear();
                    spare.push(std::move(owned));
                }));
    });

    // Let everything in flight, and every maybe-delivered re-send, finish.
    {
        std::unique_lock lock(idle_mutex);
        for (;;) {
            lock.unlock();
            drain_resends(true);
            lock.lock();
            bool resends_left = false;
            {
                std::lock_guard r(resend_mutex);
                resends_left = !resends.empty();
            }
            if (!resends_left && net->in_flight() == 0) break;
            if (stopping()) break;
            idle.wait_for(lock, std::chrono::milliseconds(50));
        }
    }
    net->shutdown(stopping() ? options.shutdown_deadline : std::chrono::milliseconds(0));
    // Re-sends that never went out after a stop stay in doubt: nothing to do.
    {
        std::lock_guard lock(resend_mutex);
        resends.clear();
    }

    done = true;
    progress_wake.notify_all();
    if (progress_thread.joinable()) progress_thread.join();

    const int s = stop.load();
    job_status status = s == 0 ? job_status::finished : static_cast<job_status>(s - 1);
    report r = make_report(status, elapsed());
    if (status == job_status::finished && r.pending == 0) {
        if (auto ec = book->finish()) {
            r.status = job_status::input_failed;
            r.stop_detail = "cannot write the journal: " + ec.message();
        }
    } else {
        (void)book->sync();
    }
    return r;
}

}  // namespace salvo::engine
