#pragma once
// The inside of salvo::engine::job: what create() prepares and run() uses.

#include "ledger.hpp"

#include <salvo/engine/job.hpp>
#include <salvo/engine/validate.hpp>
#include <salvo/injection/batcher.hpp>
#include <salvo/injection/request_writer.hpp>
#include <salvo/injection/response_reader.hpp>
#include <salvo/quota/shared_quota.hpp>
#include <salvo/transport/client.hpp>

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_pipeline.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace salvo::engine {

// One request in the air: what the transport does not carry (the body
// travels inside transport::request and comes back with the outcome).
struct flight {
    injection::outgoing_request meta;  // slots and addresses; body moved out
    std::vector<std::uint64_t> lines;  // per slot: the row's start line
    std::uint64_t id = 0;              // journal request number
    std::vector<bool> doubt;           // per slot: in doubt from an earlier run
    std::string message_ids;           // per slot: the rendered MessageId (plain)
    std::vector<std::pair<std::uint32_t, std::uint32_t>> message_id_spans;
    std::uint32_t attempt = 1;        // job-level sends of this body
    unsigned transport_attempts = 0;  // attempts over all sends
    bool ambiguous = false;           // re-sent after maybe delivered
    std::uint64_t body_bytes = 0;     // its body's size, while handed over

    // Empties it for the next request, keeping the capacity.
    void reset() noexcept;
    // Appends the rows that no send can have delivered, the only ones that
    // may be released (ledger::release): none once a send of this request
    // may have been delivered, else those not in doubt from an earlier run.
    // The others stay dispatched and undecided, so the next run sends them
    // again marked ambiguous.
    void append_undelivered(std::vector<std::uint64_t>& rows) const;
};

// A request the transport is done with, on its way to the recorder thread.
struct finished_request {
    transport::request req;
    transport::outcome out;
    std::unique_ptr<flight> f;
};

// One token of the pipeline: a chunk of rows and what became of them.
struct work {
    chunk rows;
    std::vector<std::size_t> send;                           // rows to render
    std::deque<std::string> reasons;                         // stable storage for early outcomes
    std::vector<std::pair<std::size_t, row_outcome>> early;  // (row index, outcome)
    std::vector<injection::outgoing_request> requests;
    // Per chunk row: the rendered MessageId (plain text), when the job has
    // one other than a prefix and the address (message_id_prefix: the
    // hand-over writes that one into the flight from the request's addresses).
    std::string message_ids;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> message_id_spans;

    void clear();
};

// Finished requests' buffers on their way back to the pipeline: the batcher
// writes a new body into a recycled one, and the hand-over reuses the
// flight, so that the steady state allocates nothing a request (a fresh
// 50-400 KB body a request cost malloc, free on another thread, and page
// faults). The recorder gives back a batch at a time, the pipeline takes a
// chunk's worth. It never holds more than were alive at once: a buffer is
// made only when none is spare.
class spare_buffers {
  public:
    // Takes the flights, with their bodies back in meta.body (or without:
    // a body given back early by give_back_body()).
    void give_back(std::vector<std::unique_ptr<flight>>& flights);
    // Takes the body of a request that no send will need again, before its
    // flight is recorded: the window of requests waiting for the recorder
    // then holds their slots, not their 50-400 KB bodies.
    void give_back_body(std::string&& body);
    // A reset flight, or a new one.
    [[nodiscard]] std::unique_ptr<flight> take_flight();
    // Up to `want` requests for `b`'s spares, counting those it has, and at
    // least as many as one chunk has used so far (used()): a chunk that
    // makes more requests than it was given makes new ones, and were those
    // never handed out again the pool would grow by that many every chunk.
    void refill(injection::batcher& b, std::size_t want);
    // One chunk made `requests` requests.
    void used(std::size_t requests) noexcept;
    // How many requests the pool holds.
    [[nodiscard]] std::size_t size();
    // Frees them all (the run is over).
    void clear();

  private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<flight>> flights_;
    std::vector<injection::outgoing_request> requests_;
    std::vector<std::string> bodies_;  // from give_back_body(), for requests_ without one
    std::atomic<std::size_t> most_used_{0};
};

// Calls on_progress every progress_interval from a thread of its own, until
// stopped (or destroyed).
class progress_reporter {
  public:
    progress_reporter(std::chrono::milliseconds interval, std::function<void()> tick);
    ~progress_reporter() { stop(); }
    progress_reporter(const progress_reporter&) = delete;
    progress_reporter& operator=(const progress_reporter&) = delete;
    void stop();

  private:
    std::mutex mutex_;
    std::condition_variable wake_;
    bool done_ = false;
    std::thread thread_;
};

// Why a job stops: empty while it runs; the first reason given wins. Set
// from any thread (a signal's cancel(), the network thread, the pipeline).
class stop_reason {
  public:
    /// True when this was the first reason.
    bool set(job_status why) noexcept {
        std::uint8_t none = 0;
        return code_.compare_exchange_strong(none, static_cast<std::uint8_t>(why) + 1);
    }
    [[nodiscard]] std::optional<job_status> get() const noexcept {
        const std::uint8_t c = code_.load();
        if (c == 0) return std::nullopt;
        return static_cast<job_status>(c - 1);
    }

  private:
    std::atomic<std::uint8_t> code_{0};  // 0: running; else the job_status + 1
};

struct job::impl {
    job_config config;
    run_options options;
    std::unique_ptr<recipient_source> source;
    std::unique_ptr<suppression_list> suppressed;
    std::optional<validator> rows_validator;
    std::shared_ptr<const injection::request_writer> writer;
    std::unique_ptr<ledger> results_ledger;
    ledger_state state;
    std::vector<bool> in_doubt;       // by row: dispatched earlier, no fate
    std::vector<bool> resend_anyway;  // by row: in doubt, reopened by retry_failed
    std::string url;
    std::vector<std::string> headers;  // Content-Type, Authorization
    std::optional<std::size_t> name_column;
    std::size_t email_column = 0;
    std::optional<merge::compiled_template> message_id;  // for results lines
    // When the MessageId is a literal then the address (the default,
    // `<mailing_id>-%%email%%`): that literal, unescaped. A row's MessageId
    // is then it and the address, without the template engine.
    std::optional<std::string> message_id_prefix;
    // One-click tokens (unsubscribe.secret_env): the secret, the MailingId
    // they name, their expiry day (0: never). Empty secret: no token field.
    std::string unsubscribe_secret, token_mailing_id;
    std::uint32_t token_expiry_day = 0;
    injection::limits limits;

    injection::response_reader reader;      // the recorder thread's
    injection::response_reader net_reader;  // the network thread's (OverQuota)
    std::mutex idle_mutex;
    std::condition_variable idle;  // the recorder recorded a batch

    // Completions, handed by the network thread to the recorder thread,
    // which reads the answers and writes the fates in batches.
    std::mutex finished_mutex;
    std::condition_variable finished_ready;
    std::vector<finished_request> finished;
    bool recorder_closing = false;
    std::atomic<std::uint64_t> unrecorded{0};        // handed over, not yet recorded
    std::uint64_t max_unrecorded = 0;                // the hand-over waits above it
    std::atomic<std::uint64_t> unrecorded_bytes{0};  // and their bodies' bytes
    std::uint64_t max_unrecorded_bytes = 0;          // or above this
    // Counts `requests` handed over (or taken back, or recorded) with
    // `bytes` of bodies.
    void add_unrecorded(std::uint64_t requests, std::uint64_t bytes) noexcept {
        unrecorded_bytes.fetch_add(bytes);
        unrecorded.fetch_add(requests);
    }
    void sub_unrecorded(std::uint64_t requests, std::uint64_t bytes) noexcept {
        unrecorded_bytes.fetch_sub(bytes);
        unrecorded.fetch_sub(requests);
    }
    std::thread recorder;
    // The recorder's batch: outcomes with stable storage for their reasons.
    std::vector<row_outcome> batch_outcomes;
    std::deque<std::string> batch_reasons;

    // Run state.
    stop_reason stop;         // why the job stops, once something asked it to
    std::string stop_detail;  // guarded by stop_mutex
    std::mutex stop_mutex;
    std::atomic<std::uint64_t> rows_read{0};
    std::atomic<std::uint64_t> accepted_this_run{0};
    std::atomic<std::uint64_t> next_request{1};
    std::atomic<std::uint64_t> first_sends{0};
    // rate.shared: the quota's settings (password resolved by create()),
    // and the quota itself while run() runs; the client holds it too.
    std::optional<quota::shared_quota_options> quota_options;
    std::shared_ptr<quota::shared_quota> shared_quota;
    std::unique_ptr<transport::client> client;
    std::atomic<transport::client*> client_ptr{nullptr};  // for cancel() from other threads

    // Maybe-delivered requests waiting to be re-sent (policy resend).
    std::mutex resend_mutex;
    std::deque<std::pair<transport::request, std::unique_ptr<flight>>> resends;

    // Auto-pause: outcomes of the last window_requests requests.
    std::vector<bool> recent_failures;
    std::size_t recent_next = 0, recent_seen = 0, recent_failed = 0;
    // Failed requests not marked yet (recorder thread): auto-pause releases
    // them instead; marked once `until` results have been seen.
    struct held_failure {
        std::unique_ptr<flight> f;
        std::string code;
        std::string error;
        std::size_t until = 0;
    };
    std::deque<held_failure> held;
    std::vector<std::unique_ptr<flight>> spent_flights;  // outlive the batch that points in
    spare_buffers spares;

    // run() on a thread of its own (start/wait).
    std::thread runner;
    std::optional<report> finished_report;

    void request_stop(job_status why, std::string detail);
    // Stops the job because the journal or results file could not be
    // written or synced, with a message that names the file and the way on.
    void stop_for_ledger(std::string_view what, const std::filesystem::path& file,
                         const boost::system::error_code& ec);
    [[nodiscard]] std::string ledger_failure(std::string_view what,
                                             const std::filesystem::path& file,
                                             const boost::system::error_code& ec) const;
    [[nodiscard]] bool stopping() const noexcept { return stop.get().has_value(); }

    report run();
    // The pipeline's stages (job_run.cpp), one serial or parallel filter each.
    std::unique_ptr<work> read_stage(tbb::flow_control& fc);
    std::unique_ptr<work> validate_stage(std::unique_ptr<work> w);
    std::unique_ptr<work> render_stage(std::unique_ptr<work> w, injection::batcher& b);
    void hand_over_stage(std::unique_ptr<work> w);
    void wait_until_idle();
    void wait_for_recorder();

    // Completions (job_complete.cpp).
    transport::completion completion_for(std::unique_ptr<flight> f);
    void recorder_loop();
    void complete(finished_request& done);
    void decide_all(const flight& f, fate what, std::string_view code, std::string_view error,
                    unsigned attempts);
    std::string_view keep(std::string text);
    void note_request_result(bool failed);
    void hold_failure(std::unique_ptr<flight> f, std::string_view code, std::string_view error);
    void decide_held(bool all);
    void release_held();
    void drain_resends(bool wait_for_slot);
    void record(std::vector<row_outcome>& outcomes);
    bool is_over_quota(const transport::outcome& answer);

    // Per-run pipeline state.
    tbb::enumerable_thread_specific<std::optional<injection::batcher>>* batchers = nullptr;
    tbb::concurrent_queue<std::unique_ptr<work>>* spare = nullptr;
    dispatch_batch dispatches;  // the hand-over stage's
    report make_report(job_status status, double seconds) const;
};

}  // namespace salvo::engine
