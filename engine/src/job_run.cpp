// job::run(): the pipeline from source to transport.
//
//   read (serial) → validate (serial: dedupe is ordered) → render and batch
//   (parallel) → journal and hand over (serial) ; the transport sends each
//   request once its dispatch record is on disk (the admission gate), and its
//   completion goes to the recorder thread (job_complete.cpp).
#include "job_impl.hpp"

#include <salvo/platform/unsubscribe_token.hpp>

#include <salvo/merge/escape.hpp>
#include <salvo/transport/classify.hpp>

#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <ctime>
#include <deque>

namespace salvo::engine {
namespace {

using clock_type = std::chrono::steady_clock;

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
        case job_status::unreachable:
            return "unreachable";
    }
    return "unknown";
}

void job::impl::request_stop(job_status why, std::string detail) {
    if (stop.set(why)) {
        std::lock_guard lock(stop_mutex);
        stop_detail = std::move(detail);
    }
    // Whoever asked, nothing more goes out: a submit() waiting for a slot
    // fails instead of sending the next request.
    if (auto* n = client_ptr.load()) n->stop_admitting();
    {
        std::lock_guard lock(idle_mutex);  // wakes a hand-over waiting for the recorder
    }
    idle.notify_all();
}

std::string job::impl::ledger_failure(std::string_view what, const std::filesystem::path& file,
                                      const boost::system::error_code& ec) const {
    return "cannot " + std::string(what) + " " + file.string() + ": " + ec.message() +
           "; nothing more is sent. Free space or fix the disk, then run the same command: "
           "the job resumes where it stopped";
}

void job::impl::stop_for_ledger(std::string_view what, const std::filesystem::path& file,
                                const boost::system::error_code& ec) {
    request_stop(job_status::input_failed, ledger_failure(what, file, ec));
}

report job::impl::make_report(job_status status, double seconds) const {
    report r;
    r.status = status;
    {
        std::lock_guard lock(const_cast<std::mutex&>(stop_mutex));
        r.stop_detail = stop_detail;
    }
    r.fates = results_ledger->counts();
    r.ambiguous = results_ledger->ambiguous();
    r.rows_read = rows_read.load();
    std::uint64_t decided = 0;
    for (const auto c : r.fates) decided += c;
    r.pending = r.rows_read > decided ? r.rows_read - decided : 0;
    r.requests = first_sends.load();
    if (client) {
        const auto s = client->stats();
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

void work::clear() {
    send.clear();
    reasons.clear();
    early.clear();
    requests.clear();
    message_ids.clear();
    message_id_spans.clear();
}

void flight::reset() noexcept {
    meta.clear();
    lines.clear();
    id = 0;
    doubt.clear();
    message_ids.clear();
    message_id_spans.clear();
    attempt = 1;
    transport_attempts = 0;
    ambiguous = false;
    body_bytes = 0;
}

void flight::append_undelivered(std::vector<std::uint64_t>& rows) const {
    if (ambiguous) return;
    for (std::size_t i = 0; i < meta.slots.size(); ++i)
        if (i >= doubt.size() || !doubt[i]) rows.push_back(meta.slots[i].id);
}

void spare_buffers::give_back(std::vector<std::unique_ptr<flight>>& flights) {
    if (flights.empty()) return;
    std::vector<injection::outgoing_request> requests;
    requests.reserve(flights.size());
    for (auto& f : flights) {
        requests.push_back(std::move(f->meta));
        requests.back().clear();
        f->reset();
    }
    std::lock_guard lock(mutex_);
    for (auto& f : flights) flights_.push_back(std::move(f));
    for (auto& r : requests) requests_.push_back(std::move(r));
    flights.clear();
}

void spare_buffers::give_back_body(std::string&& body) {
    body.clear();
    std::lock_guard lock(mutex_);
    bodies_.push_back(std::move(body));
}

std::unique_ptr<flight> spare_buffers::take_flight() {
    {
        std::lock_guard lock(mutex_);
        if (!flights_.empty()) {
            auto f = std::move(flights_.back());
            flights_.pop_back();
            return f;
        }
    }
    return std::make_unique<flight>();
}

void spare_buffers::refill(injection::batcher& b, std::size_t want) {
    want = std::max(want, most_used_.load(std::memory_order_relaxed));
    if (b.spares() >= want) return;
    std::lock_guard lock(mutex_);
    // A body given back early goes out first, in a request given back
    // without one when there is such, else in a new one: the request that
    // carried it comes back only once the recorder is done with it.
    // A moved-from body keeps only the string's inline capacity.
    const auto bodiless = [](const injection::outgoing_request& r) {
        return r.body.capacity() < 1024;
    };
    while (b.spares() < want && (!bodies_.empty() || !requests_.empty())) {
        injection::outgoing_request r;
        if (!requests_.empty() && (bodies_.empty() || bodiless(requests_.back()))) {
            r = std::move(requests_.back());
            requests_.pop_back();
        }
        if (bodiless(r) && !bodies_.empty()) {
            r.body = std::move(bodies_.back());
            bodies_.pop_back();
        }
        b.recycle(std::move(r));
    }
}

void spare_buffers::used(std::size_t requests) noexcept {
    std::size_t most = most_used_.load(std::memory_order_relaxed);
    while (requests > most &&
           !most_used_.compare_exchange_weak(most, requests, std::memory_order_relaxed)) {
    }
}

std::size_t spare_buffers::size() {
    std::lock_guard lock(mutex_);
    return requests_.size();
}

void spare_buffers::clear() {
    std::lock_guard lock(mutex_);
    std::vector<std::unique_ptr<flight>>().swap(flights_);
    std::vector<injection::outgoing_request>().swap(requests_);
    std::vector<std::string>().swap(bodies_);
}

progress_reporter::progress_reporter(std::chrono::milliseconds interval, std::function<void()> tick)
    : thread_([this, interval, tick = std::move(tick)] {
          std::unique_lock lock(mutex_);
          while (!done_) {
              wake_.wait_for(lock, interval);
              // One last report after stop(), so the display ends on the totals.
              lock.unlock();
              tick();
              lock.lock();
          }
      }) {}

void progress_reporter::stop() {
    {
        std::lock_guard lock(mutex_);
        done_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

namespace {

// The transport's settings from the job file.
transport::client_options client_options_for(const job_config& config, const run_options& options) {
    transport::client_options co = transport_options(config, options.user_agent_version);
    // Requests rendered ahead of the wire, so that the pipeline renders the
    // next chunk while this one is sent instead of waiting for each slot;
    // bounded in bytes as well (12 MiB: a server-mode request of 500 rows is
    // about 300 KB, so 32 in flight and about 9 waiting; a request may be up
    // to 10 MiB). It holds 6 MB less at the peak than 16 MiB did, part of
    // what keeps a 10 M-row send with dedupe under 128 MiB; 16 MiB was no
    // faster at 2 M rows, about 4 % faster at 10 M with dedupe
    // (docs/performance.md).
    co.max_queued = std::max<std::size_t>(64, 4 * config.rate.max_in_flight);
    co.max_queued_bytes = 12u << 20;
    return co;
}

std::string clock_time(std::chrono::system_clock::time_point at) {
    const std::time_t t = std::chrono::system_clock::to_time_t(at);
    std::tm local{};
    localtime_r(&t, &local);
    char text[16];
    std::strftime(text, sizeof text, "%H:%M:%S", &local);
    return text;
}

std::string duration_text(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

std::string outage_line(const quota::quota_state& s) {
    if (!s.unreachable) return {};
    return "shared quota unreachable since " + clock_time(s.since) + ": " + s.last_error +
           " \u2014 retrying; Ctrl-C stops, the same command resumes";
}

std::string outage_line(const transport::circuit_state& c) {
    if (!c.open) return {};
    return "endpoint unreachable since " + clock_time(c.since) + ": " + c.last_error +
           " \u2014 retrying; Ctrl-C stops, the same command resumes";
}

}  // namespace

std::unique_ptr<work> job::impl::read_stage(tbb::flow_control& fc) {
    if (stopping()) {
        fc.stop();
        return nullptr;
    }
    std::unique_ptr<work> w;
    if (!spare->try_pop(w)) w = std::make_unique<work>();
    w->clear();
    auto more = source->next_chunk(w->rows);
    if (!more) {
        request_stop(job_status::input_failed, more.error().message);
        fc.stop();
        return nullptr;
    }
    if (!*more) {
        fc.stop();
        return nullptr;
    }
    return w;
}

// In order, because dedupe keeps the first valid row.
std::unique_ptr<work> job::impl::validate_stage(std::unique_ptr<work> w) {
    const bool resend_doubt = config.retry.ambiguous == ambiguous_policy::resend;
    std::string reason;
    rows_validator->prepare(w->rows);
    // Another shard's rows are not this job's: not read, not decided.
    std::uint64_t others = 0;
    for (std::size_t i = 0; i < w->rows.size(); ++i) {
        const row_info& info = w->rows.info(i);
        auto v = rows_validator->check(w->rows, i, reason);
        if (!v) {
            request_stop(job_status::input_failed, v.error().message);
            break;
        }
        if (*v == validity::other_shard) {
            ++others;
            continue;
        }
        if (state.is_decided(info.row)) continue;  // decided by an earlier run
        row_outcome o;
        o.row = info.row;
        o.line = info.line;
        o.email = value_or_empty(w->rows.values(i), email_column);
        switch (*v) {
            case validity::valid: {
                const bool doubted = info.row < in_doubt.size() && in_doubt[info.row];
                const bool forced = info.row < resend_anyway.size() && resend_anyway[info.row];
                if (doubted && !resend_doubt && !forced) {
                    o.status = fate::unknown;
                    o.error = w->reasons.emplace_back(
                        "maybe delivered by an earlier run; retry.ambiguous is hold: not "
                        "re-sent");
                    w->early.emplace_back(i, o);
                } else {
                    w->send.push_back(i);
                }
                continue;
            }
            case validity::invalid:
                o.status = fate::invalid;
                break;
            case validity::duplicate:
                o.status = fate::duplicate;
                break;
            case validity::suppressed:
                o.status = fate::suppressed;
                break;
            case validity::other_shard:
                continue;  // counted above
        }
        o.error = w->reasons.emplace_back(reason);
        w->early.emplace_back(i, o);
    }
    rows_read += w->rows.size() - others;
    return w;
}

// Render and batch, in parallel: one batcher per thread.
std::unique_ptr<work> job::impl::render_stage(std::unique_ptr<work> w, injection::batcher& b) {
    // About as many requests as the chunk will make, from finished ones.
    const std::size_t rows_a_request =
        limits.messages_per_request *
        (writer->mode() == injection::merge_mode::server ? limits.recipients_per_message : 1);
    spares.refill(b, w->send.size() / rows_a_request + 1);
    if (message_id && !message_id_prefix) w->message_id_spans.assign(w->rows.size(), {0, 0});
    std::string expanded;
    // The built-in per-row token field: each row's values and its token,
    // alive until flush() (reserved whole: the views never move).
    const bool with_token = !unsubscribe_secret.empty();
    std::vector<std::string_view> extended;
    std::deque<std::string> tokens;
    if (with_token) extended.reserve(w->send.size() * (w->rows.columns() + 1));
    for (const std::size_t i : w->send) {
        const merge::row_view values = w->rows.values(i);
        injection::recipient r;
        r.address = value_or_empty(values, email_column);
        if (name_column) r.name = value_or_empty(values, *name_column);
        r.row = values;
        if (with_token) {
            const std::size_t at = extended.size();
            extended.insert(extended.end(), values.begin(), values.end());
            tokens.push_back(platform::make_unsubscribe_token(unsubscribe_secret, token_mailing_id,
                                                              r.address, token_expiry_day));
            extended.emplace_back(tokens.back());
            r.row = merge::row_view(extended.data() + at, values.size() + 1);
        }
        r.id = w->rows.info(i).row;
        auto placed = b.add(r);
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
        // A MessageId of a prefix and the address is written at the
        // hand-over, from the request's addresses.
        if (message_id && !message_id_prefix) {
            expanded.clear();
            if (!message_id->expand(values, expanded)) {
                const auto at = static_cast<std::uint32_t>(w->message_ids.size());
                (void)merge::json_unescape(expanded, w->message_ids);
                w->message_id_spans[i] = {at,
                                          static_cast<std::uint32_t>(w->message_ids.size() - at)};
            }
        }
    }
    b.flush();
    while (b.ready()) w->requests.push_back(b.take());
    spares.used(w->requests.size());
    return w;
}

// Journal, then hand over: the chunk's dispatch records go out in one write,
// and its requests wait in the transport's queue until the syncer has made
// that write durable (the gate). submit() blocks only when the queue is full.
void job::impl::hand_over_stage(std::unique_ptr<work> w) {
    std::vector<row_outcome> early;
    early.reserve(w->early.size());
    for (auto& [i, o] : w->early) early.push_back(o);
    record(early);
    drain_resends(false);

    const std::uint64_t first_row = w->rows.empty() ? 0 : w->rows.info(0).row;
    std::vector<std::unique_ptr<flight>> flights;
    flights.reserve(w->requests.size());
    dispatches.clear();
    std::vector<std::uint64_t> rows;
    for (auto& req : w->requests) {
        if (stopping()) break;  // rows not handed over stay pending
        auto f = spares.take_flight();
        f->id = next_request++;
        rows.clear();
        f->lines.reserve(req.slots.size());
        for (const auto& s : req.slots) {
            const std::size_t i = static_cast<std::size_t>(s.id - first_row);
            rows.push_back(s.id);
            f->lines.push_back(w->rows.info(i).line);
            f->doubt.push_back(s.id < in_doubt.size() && in_doubt[s.id]);
            if (message_id_prefix) {
                const auto mine = static_cast<std::uint32_t>(f->message_ids.size());
                f->message_ids += *message_id_prefix;
                f->message_ids += req.address(s);
                f->message_id_spans.emplace_back(
                    mine, static_cast<std::uint32_t>(f->message_ids.size() - mine));
            } else if (message_id) {
                const auto [at, size] = w->message_id_spans[i];
                const auto mine = static_cast<std::uint32_t>(f->message_ids.size());
                f->message_ids.append(w->message_ids, at, size);
                f->message_id_spans.emplace_back(mine, size);
            }
        }
        dispatches.add(f->id, 1, rows);
        f->meta = std::move(req);
        flights.push_back(std::move(f));
    }
    if (!flights.empty()) {
        const auto ticket = results_ledger->dispatch(dispatches);
        if (!ticket) {
            stop_for_ledger("write the journal", config.journal, ticket.error());
            // Whether or not the records reached the file, nothing was sent
            // (rows in doubt from an earlier run stay so).
            rows.clear();
            for (const auto& f : flights) f->append_undelivered(rows);
            (void)results_ledger->release(rows);
        } else {
            std::size_t sent = 0;
            for (; sent < flights.size() && !stopping(); ++sent) {
                auto& f = flights[sent];
                transport::request t;
                t.url = url;
                t.body = std::move(f->meta.body);
                t.cost = static_cast<std::uint32_t>(f->meta.slots.size());
                t.user_data = f->id;
                t.gate = *ticket;
                flight* raw = f.get();
                raw->body_bytes = t.body.size();
                wait_for_recorder();
                add_unrecorded(1, raw->body_bytes);
                if (client->submit(std::move(t), completion_for(std::move(f)))) {
                    // Shut down: the request was not taken, nor its flight.
                    sub_unrecorded(1, raw->body_bytes);
                    f.reset(raw);
                    break;
                }
                ++first_sends;
            }
            rows.clear();
            for (std::size_t i = sent; i < flights.size(); ++i)
                flights[i]->append_undelivered(rows);
            (void)results_ledger->release(rows);  // dispatched, never handed over
        }
    }
    w->clear();
    spare->push(std::move(w));
}

// Holds the hand-over while the recorder is more than a window behind: the
// transport frees a slot when it hands a completion over, not when its rows
// are written, so without this a slow disk would let completions pile up,
// each with its body. The bound is in requests and in bytes: 224 server-mode
// bodies of 280 KB are 63 MB, and at 10 M rows, while the kernel throttled
// the results file's writes, the bodies waiting for the recorder made most
// of the peak. An accepted request's body is off the byte count once
// answered (completion_for()): only bodies that may be sent again wait here.
void job::impl::wait_for_recorder() {
    const auto room = [&] {
        return unrecorded.load() < max_unrecorded && unrecorded_bytes.load() < max_unrecorded_bytes;
    };
    if (room()) return;
    std::unique_lock lock(idle_mutex);
    idle.wait(lock, [&] { return room() || stopping(); });
}

// Waits for everything in flight, every maybe-delivered re-send and every
// completion still on its way to the ledger.
void job::impl::wait_until_idle() {
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
        if (!resends_left && client->in_flight() == 0 && unrecorded.load() == 0) break;
        if (stopping()) break;
        idle.wait_for(lock, std::chrono::milliseconds(50));
    }
}

report job::impl::run() {
    const auto t0 = clock_type::now();
    const auto elapsed = [&] {
        return std::chrono::duration<double>(clock_type::now() - t0).count();
    };
    if (state.finished) return make_report(job_status::already_finished, 0);

    auto co = client_options_for(config, options);
    co.headers = headers;
    max_unrecorded = co.max_in_flight + co.max_queued + 64;
    // The transport's own bound on admitted bytes, and as much again waiting
    // for the recorder.
    max_unrecorded_bytes = 2 * std::max<std::uint64_t>(co.max_queued_bytes, 1u << 20);
    // A top-level OverQuota inside a 200 is the server asking to slow down.
    co.hook = [this](const transport::outcome& answer, transport::verdict current) {
        if (is_over_quota(answer))
            return transport::verdict{transport::disposition::retry_after_backoff, true};
        return current;
    };
    // An outage is the job's state: the transport holds the requests while
    // its circuit is open; after give_up_after the job stops (exit 3) with
    // the rows pending, never failed.
    co.on_circuit = [this](transport::circuit_event e, const transport::circuit_state& c) {
        if (e != transport::circuit_event::gave_up) return;
        request_stop(job_status::unreachable,
                     "endpoint " + url + " unreachable since " + clock_time(c.since) +
                         ", gave up after retry.give_up_after (" +
                         duration_text(config.retry.give_up_after) + "): " + c.last_error +
                         ". No row was failed for it: the rows not accepted stay pending; run "
                         "the same command to resume once the endpoint answers");
    };
    if (quota_options) {
        // Fail closed: while Redis is unreachable the quota admits nothing;
        // after rate.shared.give_up_after the job stops as for an outage of
        // the endpoint (exit 3, rows pending).
        shared_quota = std::make_shared<quota::shared_quota>(
            *quota_options, [this](const quota::quota_state& s) {
                if (s.refused) {
                    request_stop(job_status::unreachable,
                                 "the shared quota's Redis (" +
                                     quota::describe(quota_options->endpoint) +
                                     ") refused this job: " + s.last_error +
                                     ". Nothing was sent without it and no row was failed for "
                                     "it: the rows not accepted stay pending; the same command "
                                     "resumes once that is fixed");
                    return;
                }
                request_stop(
                    job_status::unreachable,
                    "the shared quota's Redis (" + quota::describe(quota_options->endpoint) +
                        ") unreachable since " + clock_time(s.since) +
                        ", gave up after rate.shared.give_up_after (" +
                        duration_text(quota_options->give_up_after) + "): " + s.last_error +
                        ". Nothing was sent without it and no row was failed for it: the "
                        "rows not accepted stay pending; run the same command to resume "
                        "once Redis answers");
            });
        co.admission = shared_quota;
    }
    client = std::make_unique<transport::client>(co);
    client_ptr = client.get();
    if (stopping()) client->stop_admitting();  // cancelled before the client existed

    // Nothing leaves before its dispatch record is on disk: the syncer opens
    // the transport's gate as each fsync completes.
    results_ledger->on_durable([this](std::uint64_t durable, boost::system::error_code ec) {
        if (ec) {
            stop_for_ledger("sync the journal", config.journal, ec);
            return;
        }
        if (auto* n = client_ptr.load()) n->advance_gate(durable);
    });
    client->advance_gate(results_ledger->durable_position());
    recorder = std::thread([this] { recorder_loop(); });

    std::optional<progress_reporter> reporter;
    if (options.on_progress) {
        reporter.emplace(options.progress_interval, [this, &elapsed] {
            progress p;
            p.rows_read = rows_read.load();
            p.fates = results_ledger->counts();
            p.in_flight = client->in_flight();
            p.seconds = elapsed();
            p.emails_per_second =
                p.seconds > 0 ? static_cast<double>(accepted_this_run.load()) / p.seconds : 0;
            p.outage = outage_line(client->circuit());
            if (p.outage.empty() && shared_quota) p.outage = outage_line(shared_quota->state());
            options.on_progress(p);
        });
    }

    const int threads = static_cast<int>(pipeline_threads(config));
    std::size_t tokens_per_thread = options.tokens_per_thread;
    if (tokens_per_thread == 0) tokens_per_thread = config.merge == merge_mode::local ? 3 : 1;
    tbb::task_arena arena(threads);
    tbb::enumerable_thread_specific<std::optional<injection::batcher>> thread_batchers;
    tbb::concurrent_queue<std::unique_ptr<work>> spare_work;
    batchers = &thread_batchers;
    spare = &spare_work;
    using work_ptr = std::unique_ptr<work>;
    arena.execute([&] {
        tbb::parallel_pipeline(
            static_cast<std::size_t>(threads) * tokens_per_thread,
            tbb::make_filter<void, work_ptr>(
                tbb::filter_mode::serial_in_order,
                [this](tbb::flow_control& fc) { return read_stage(fc); }) &
                tbb::make_filter<work_ptr, work_ptr>(
                    tbb::filter_mode::serial_in_order,
                    [this](work_ptr w) { return validate_stage(std::move(w)); }) &
                tbb::make_filter<work_ptr, work_ptr>(
                    tbb::filter_mode::parallel,
                    [this](work_ptr w) {
                        auto& b = batchers->local();
                        if (!b) {
                            // render_stage() keeps a chunk's rows (and
                            // their tokens) alive until it flushes.
                            auto made = injection::batcher::create(writer, limits, true);
                            if (!made) {
                                request_stop(job_status::input_failed, made.error().message);
                                return w;
                            }
                            b.emplace(std::move(*made));
                        }
                        return render_stage(std::move(w), *b);
                    }) &
                tbb::make_filter<work_ptr, void>(
                    tbb::filter_mode::serial_in_order,
                    [this](work_ptr w) { hand_over_stage(std::move(w)); }));
    });

    wait_until_idle();
    client->shutdown(stopping() ? options.shutdown_deadline : std::chrono::milliseconds(0));
    // Gives the unused part of its lease back to the other processes.
    if (shared_quota) shared_quota->stop(std::chrono::milliseconds(1'000));
    results_ledger->on_durable({});
    {
        std::lock_guard lock(finished_mutex);
        recorder_closing = true;
    }
    finished_ready.notify_all();
    recorder.join();  // records the completions shutdown cancelled
    spares.clear();   // what the run's requests were written into
    // Re-sends that never went out after a stop stay in doubt: nothing to do.
    {
        std::lock_guard lock(resend_mutex);
        resends.clear();
    }
    if (reporter) reporter->stop();

    const job_status status = stop.get().value_or(job_status::finished);
    report r = make_report(status, elapsed());
    if (status == job_status::finished && r.pending == 0) {
        if (auto ec = results_ledger->finish()) {
            r.status = job_status::input_failed;
            r.stop_detail = ledger_failure("write the journal", config.journal, ec);
        }
    } else {
        (void)results_ledger->sync();
    }
    return r;
}

}  // namespace salvo::engine
