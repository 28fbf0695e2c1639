#pragma once
// The inside of salvo::engine::job: what create() prepares and run() uses.

#include <salvo/engine/job.hpp>
#include <salvo/engine/validate.hpp>
#include <salvo/injection/batcher.hpp>
#include <salvo/injection/request_writer.hpp>
#include <salvo/injection/response_reader.hpp>
#include <salvo/transport/client.hpp>

#include <condition_variable>
#include <deque>
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
};

struct job::impl {
    job_config config;
    run_options options;
    std::unique_ptr<recipient_source> source;
    std::unique_ptr<suppression_list> suppressed;
    std::optional<validator> check;
    std::shared_ptr<const injection::request_writer> writer;
    std::unique_ptr<ledger> book;
    ledger_state state;
    std::vector<bool> in_doubt;       // by row: dispatched earlier, no fate
    std::vector<bool> resend_anyway;  // by row: in doubt, reopened by retry_failed
    std::string url;
    std::vector<std::string> headers;  // Content-Type, Authorization
    std::optional<std::size_t> name_column;
    std::size_t email_column = 0;
    std::optional<merge::compiled_template> message_id;  // for results lines
    injection::limits limits;

    injection::response_reader reader;  // the network thread's
    std::mutex idle_mutex;
    std::condition_variable idle;  // a request completed

    // Run state.
    std::atomic<int> stop{0};  // a job_status value when stopping, else 0
    std::string stop_detail;   // guarded by stop_mutex
    std::mutex stop_mutex;
    std::atomic<std::uint64_t> rows_read{0};
    std::atomic<std::uint64_t> accepted_this_run{0};
    std::atomic<std::uint64_t> next_request{1};
    std::atomic<std::uint64_t> first_sends{0};
    std::unique_ptr<transport::client> net;
    std::atomic<transport::client*> net_ptr{nullptr};  // for cancel() from other threads

    // Maybe-delivered requests waiting to be re-sent (policy resend).
    std::mutex resend_mutex;
    std::deque<std::pair<transport::request, std::unique_ptr<flight>>> resends;

    // Auto-pause: outcomes of the last window_requests requests.
    std::vector<bool> recent_failures;
    std::size_t recent_next = 0, recent_seen = 0, recent_failed = 0;

    // run() on a thread of its own (start/wait).
    std::thread runner;
    std::optional<report> finished_report;

    void request_stop(job_status why, std::string detail);
    [[nodiscard]] bool stopping() const noexcept { return stop.load() != 0; }

    report run();
    void complete(transport::request&& req, transport::outcome&& out, std::unique_ptr<flight> f,
                  injection::response_reader& reader);
    void decide_all(const flight& f, fate what, std::string_view code, std::string_view error,
                    unsigned attempts);
    void note_request_result(bool failed);
    void drain_resends(bool wait_for_slot);
    void record(std::vector<row_outcome>& outcomes);
    report make_report(job_status status, double seconds) const;
};

}  // namespace salvo::engine
