// What happens to a request after the transport is done with it.
//
// The network thread only hands the finished request over (completion_for);
// the recorder thread reads the answer, decides every row's fate and writes
// the fates of all the requests that finished meanwhile with one ledger call,
// so the network thread never formats a results line or waits for a write.
#include "job_impl.hpp"

#include <salvo/transport/classify.hpp>
#include <salvo/transport/error.hpp>

#include <pthread.h>

namespace salvo::engine {
namespace {

constexpr std::size_t recorder_batch = 32;
constexpr std::chrono::milliseconds recorder_tick{2};

}  // namespace

transport::completion job::impl::completion_for(std::unique_ptr<flight> f) {
    // std::function needs a copyable callable: the flight travels as a raw
    // pointer and is owned again at once on completion.
    flight* raw = f.release();
    return [this, raw](transport::request&& r, transport::outcome&& o) {
        const bool canonical = o.http_status == 200 && o.body == injection::canonical_success_body;
        // Credentials or account trouble stops the job here, on the network
        // thread, before the transport starts another request; the recorder
        // reads the answer again to decide the rows.
        if (o.http_status != 0 && !canonical) {
            const auto& v = net_reader.read(static_cast<int>(o.http_status), o.body, raw->meta);
            if (v.request_fate == injection::api_result::stop_job)
                request_stop(job_status::stopped_auth, v.detail);
        }
        // Every message accepted: nothing will send this body again, so it
        // serves the next request now rather than after the recorder has
        // written the rows. The bodies waiting for the recorder made a
        // third of a server-mode send's peak.
        if (canonical && o.result == transport::disposition::success) {
            sub_unrecorded(0, raw->body_bytes);
            raw->body_bytes = 0;
            spares.give_back_body(std::move(r.body));
        }
        finished_request done{std::move(r), std::move(o), std::unique_ptr<flight>(raw)};
        // Waking the recorder is a futex call (an IPI in a VM): do it once
        // per handful of completions; it also wakes by itself every
        // recorder_tick, so a lone completion waits at most that long.
        bool wake = false;
        {
            std::lock_guard lock(finished_mutex);
            finished.push_back(std::move(done));
            wake = finished.size() == recorder_batch;
        }
        if (wake) finished_ready.notify_one();
    };
}

void job::impl::recorder_loop() {
    pthread_setname_np(pthread_self(), "salvo-record");
    std::vector<finished_request> batch;
    for (;;) {
        {
            std::unique_lock lock(finished_mutex);
            finished_ready.wait_for(lock, recorder_tick, [&] {
                return finished.size() >= recorder_batch || recorder_closing;
            });
            if (finished.empty()) {
                if (!recorder_closing) continue;
                lock.unlock();
                // Failures still held for auto-pause are failures after all,
                // unless auto-pause stopped the job (they were released).
                decide_held(true);
                record(batch_outcomes);
                batch_outcomes.clear();
                batch_reasons.clear();
                spent_flights.clear();
                return;
            }
            batch.swap(finished);
        }
        // One ledger call (two writes) for all the requests of the batch, up
        // to about 4096 rows a call so that memory stays flat when the disk
        // is slow; the flights, which the outcomes point into, live until
        // the batch is done.
        std::uint64_t bytes = 0;
        for (const auto& done : batch) bytes += done.f->body_bytes;
        for (auto& done : batch) {
            complete(done);
            if (batch_outcomes.size() >= 4096) {
                record(batch_outcomes);
                batch_outcomes.clear();
                batch_reasons.clear();
            }
        }
        record(batch_outcomes);
        batch_outcomes.clear();
        batch_reasons.clear();
        // Decided (or failed): their buffers serve the next requests.
        for (auto& done : batch)
            if (done.f) {
                done.f->meta.body = std::move(done.req.body);
                spent_flights.push_back(std::move(done.f));
            }
        spares.give_back(spent_flights);
        const auto n = batch.size();
        batch.clear();
        sub_unrecorded(n, bytes);
        std::lock_guard lock(idle_mutex);
        idle.notify_all();
    }
}

std::string_view job::impl::keep(std::string text) {
    return batch_reasons.emplace_back(std::move(text));
}

void job::impl::record(std::vector<row_outcome>& outcomes) {
    if (outcomes.empty()) return;
    if (auto ec = results_ledger->decide(outcomes)) {
        stop_for_ledger("write the results", config.results, ec);
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
    for (std::size_t i = 0; i < f.meta.slots.size(); ++i) {
        const auto& s = f.meta.slots[i];
        row_outcome& o = batch_outcomes.emplace_back();
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
    if (recent_seen >= window &&
        static_cast<double>(recent_failed) >
            config.auto_pause.failure_share * static_cast<double>(window)) {
        request_stop(job_status::paused,
                     std::to_string(recent_failed) + " of the last " + std::to_string(window) +
                         " requests failed after their retries (auto_pause); their rows were "
                         "released, not marked failed: fix the cause, then run the same command");
        release_held();
    }
}

bool job::impl::is_over_quota(const transport::outcome& answer) {
    // Runs on the network thread, for every answer the transport classifies:
    // the canonical success body is compared first, anything else is read.
    if (answer.http_status != 200 || answer.body == injection::canonical_success_body) return false;
    static const injection::outgoing_request no_slots;
    return net_reader.read(200, answer.body, no_slots).code == injection::api_code::over_quota;
}

void job::impl::complete(finished_request& done) {
    transport::outcome& out = done.out;
    std::unique_ptr<flight>& f = done.f;
    f->transport_attempts += out.attempts;
    const auto rows_of = [&] {
        std::vector<std::uint64_t> rows;
        rows.reserve(f->meta.slots.size());
        for (const auto& s : f->meta.slots) rows.push_back(s.id);
        return rows;
    };
    // Released rows are sent again unmarked: never one an earlier send of
    // this request, or an earlier run, may have delivered.
    const auto release_undelivered = [&] {
        std::vector<std::uint64_t> rows;
        f->append_undelivered(rows);
        (void)results_ledger->release(rows);
    };

    if (out.result == transport::disposition::cancelled) {
        // Stopped by shutdown: undecided. This send delivered nothing unless
        // the body went out, in which case the next run treats it as in
        // doubt; nor are rows released that an earlier send (a re-send
        // after maybe delivered is cancelled while it waits) or an earlier
        // run may have delivered.
        if (!out.whole_body_sent) release_undelivered();
        return;
    }
    bool maybe_delivered = out.result == transport::disposition::maybe_delivered;
    if (!maybe_delivered && out.http_status != 0 &&
        (out.result == transport::disposition::success ||
         out.result == transport::disposition::permanent)) {
        const auto& v = reader.read(static_cast<int>(out.http_status), out.body, f->meta);
        using injection::api_result;
        switch (v.request_fate) {
            case api_result::accepted: {
                std::size_t r = 0;  // v.rejected is in slot order
                for (std::uint32_t i = 0; i < f->meta.slots.size(); ++i) {
                    const auto& s = f->meta.slots[i];
                    row_outcome& o = batch_outcomes.emplace_back();
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
                note_request_result(false);
                decide_held(false);
                return;
            }
            case api_result::rejected:
                decide_all(*f, engine::fate::rejected, injection::to_string(v.code), keep(v.detail),
                           f->transport_attempts);
                note_request_result(false);
                decide_held(false);
                return;
            case api_result::stop_job:
                release_undelivered();
                request_stop(job_status::stopped_auth, v.detail);
                return;
            case api_result::ambiguous:
                maybe_delivered = true;
                break;
            case api_result::retry:
            case api_result::failed:
                hold_failure(std::move(f),
                             v.code == injection::api_code::unknown ? std::string_view{}
                                                                    : injection::to_string(v.code),
                             v.detail);
                return;
        }
    }
    if (maybe_delivered) {
        if (stopping() && config.retry.ambiguous != ambiguous_policy::hold) {
            // Stopping: not re-sent now, and not failed either (it may have
            // been delivered). Its dispatch record stays undecided, so the
            // next run treats the rows as in doubt, as a request cancelled
            // after its body went out.
            return;
        }
        if (config.retry.ambiguous == ambiguous_policy::hold) {
            decide_all(
                *f, fate::unknown, {},
                keep("maybe delivered: " + out.message + " (retry.ambiguous is hold: not re-sent)"),
                f->transport_attempts);
            note_request_result(true);
            return;
        }
        if (f->attempt < config.retry.max_attempts && !stopping()) {
            ++f->attempt;
            f->ambiguous = true;
            dispatch_batch again;
            again.add(f->id, f->attempt, rows_of());
            auto ticket = results_ledger->dispatch(again);
            if (!ticket) {
                stop_for_ledger("write the journal", config.journal, ticket.error());
                return;
            }
            done.req.gate = *ticket;  // leaves once the new D record is on disk
            std::lock_guard lock(resend_mutex);
            resends.emplace_back(std::move(done.req), std::move(f));
            return;
        }
        // No send left: it may have been delivered, so it is not `failed`
        // (certainly not delivered) but `unknown`, which --retry-failed
        // sends again only marked ambiguous. (As `failed` after a single
        // send, retry.max_attempts 1, it went again unmarked: delivered
        // twice with nothing to say so.)
        const std::string why =
            (f->attempt == 1 ? std::string("sent once")
                             : "sent " + std::to_string(f->attempt) + " times") +
            ", maybe delivered, never answered (retry.max_attempts reached); "
            "--retry-failed sends these rows again marked ambiguous: " +
            out.message;
        decide_all(*f, fate::unknown, {}, keep(why), f->transport_attempts);
        note_request_result(true);
        return;
    }
    if (out.result == transport::disposition::permanent &&
        transport::classify_curl_code(out.curl_code) == transport::curl_class::cert_failure) {
        release_undelivered();
        request_stop(job_status::stopped_tls, out.message);
        return;
    }
    // Retries exhausted, or a permanent failure without an answer to read.
    // The last answer's API code (OverQuota in a 200, a 5xx's ErrorCode) is
    // what a person needs to know: it goes in `code` and leads the error.
    std::string error = out.message.empty() ? "request failed" : out.message;
    std::string_view code;
    if (out.http_status != 0 && !out.body.empty()) {
        const auto& v = reader.read(static_cast<int>(out.http_status), out.body, f->meta);
        if (v.code != injection::api_code::unknown) {
            code = injection::to_string(v.code);
            error.insert(0, std::string(code) + ": ");
        }
    }
    hold_failure(std::move(f), code, error);
}

// A failed request is not marked at once: auto-pause may yet stop the job
// because of the window it belongs to, and then its rows are released
// (pending) instead of failed. Once window_requests more requests have
// ended without a pause, it is marked failed; the recorder marks what is
// still held when it closes.
void job::impl::hold_failure(std::unique_ptr<flight> f, std::string_view code,
                             std::string_view error) {
    if (config.auto_pause.window_requests == 0) {
        decide_all(*f, fate::failed, code, keep(std::string(error)), f->transport_attempts);
        spent_flights.push_back(std::move(f));
        return;
    }
    held.push_back(held_failure{std::move(f), std::string(code), std::string(error),
                                recent_seen + config.auto_pause.window_requests});
    note_request_result(true);  // releases every held failure if it pauses the job
    decide_held(false);
}

// Marks the held failures whose window has passed (all of them when `all`).
void job::impl::decide_held(bool all) {
    while (!held.empty() && (all || held.front().until <= recent_seen)) {
        auto& h = held.front();
        decide_all(*h.f, fate::failed, keep(std::move(h.code)), keep(std::move(h.error)),
                   h.f->transport_attempts);
        spent_flights.push_back(std::move(h.f));  // batch_outcomes point into it
        held.pop_front();
    }
}

// Auto-pause: the failing window's requests are released, not failed.
void job::impl::release_held() {
    std::vector<std::uint64_t> rows;
    for (const auto& h : held) h.f->append_undelivered(rows);  // not "maybe delivered" ones
    held.clear();
    if (!rows.empty()) (void)results_ledger->release(rows);
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
        if (!wait_for_slot) {
            // try_submit leaves the request as it was when the window is full.
            flight* raw = next.second.get();
            add_unrecorded(1, raw->body_bytes);
            auto ec = client->try_submit(next.first, completion_for(std::move(next.second)));
            if (!ec) continue;
            sub_unrecorded(1, raw->body_bytes);
            if (ec == transport::errc::window_full) {
                std::lock_guard lock(resend_mutex);
                resends.emplace_front(std::move(next.first), std::unique_ptr<flight>(raw));
                return;
            }
            delete raw;  // shut down: the body went out before; the next run decides
            return;
        }
        flight* raw = next.second.get();
        add_unrecorded(1, raw->body_bytes);
        if (client->submit(std::move(next.first), completion_for(std::move(next.second)))) {
            sub_unrecorded(1, raw->body_bytes);
            delete raw;  // shut down: the body went out before; the next run decides
            return;
        }
    }
}

}  // namespace salvo::engine
