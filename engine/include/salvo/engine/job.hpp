#pragma once
/// The C++ API for running a campaign: build a job from a job file or in
/// code, give it a source (a file, or rows from the host program), and run
/// it — blocking, or started then waited on or cancelled. Every recipient
/// row ends with exactly one fate in the results file (see ledger.hpp), and
/// a job stopped for any reason resumes where it stopped when run again.
///
/// No global state: several jobs may run in one process, one after another
/// or at once (each has its own threads).

#include <salvo/engine/job_config.hpp>
#include <salvo/engine/outcome.hpp>
#include <salvo/engine/source.hpp>

#include <boost/system/result.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace salvo::engine {

/// Why a job ended.
enum class job_status : std::uint8_t {
    finished,          ///< every row read has a fate
    already_finished,  ///< the journal says so: nothing was sent
    stopped_auth,      ///< InvalidAuthentication, AccountDisabled or TooManyErrors
    stopped_tls,       ///< the server's certificate could not be verified
    paused,            ///< too many requests failed (auto_pause)
    cancelled,         ///< cancel() (a signal, the host)
    input_failed,      ///< the input became unreadable mid-job (I/O error, corrupt gzip)
    unreachable,       ///< the endpoint was down for retry.give_up_after; rows stay pending
};

[[nodiscard]] std::string_view to_string(job_status s) noexcept;

/// The end-of-job summary. Counts cover the whole campaign (earlier runs
/// included); `requests`, `retries`, bytes and times cover this run.
struct report {
    job_status status = job_status::finished;
    std::string stop_detail;  ///< why it stopped, for a person; never holds a key
    std::uint64_t rows_read = 0;
    std::array<std::uint64_t, fate_count> fates{};
    std::uint64_t pending = 0;    ///< rows read without a fate (the next run decides them)
    std::uint64_t ambiguous = 0;  ///< rows re-sent after a maybe-delivered outcome
    std::uint64_t requests = 0;   ///< requests handed to the transport (first attempts)
    std::uint64_t retries = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t bytes_in = 0;
    double seconds = 0;
    double emails_per_second = 0;  ///< accepted this run per second
    std::uint64_t accepted_this_run = 0;
    /// Transport request latency this run (per attempt, within 12.5 %).
    std::chrono::microseconds latency_p50{0}, latency_p90{0}, latency_p99{0};

    [[nodiscard]] std::uint64_t count(fate f) const noexcept {
        return fates[static_cast<std::size_t>(f)];
    }
    [[nodiscard]] bool stopped_early() const noexcept {
        return status != job_status::finished && status != job_status::already_finished;
    }
    /// The summary as one JSON object.
    [[nodiscard]] std::string to_json() const;
    /// The summary as a table for a terminal.
    [[nodiscard]] std::string to_table() const;
};

/// A snapshot for progress displays.
struct progress {
    std::uint64_t rows_read = 0;
    std::array<std::uint64_t, fate_count> fates{};
    std::uint64_t in_flight = 0;
    double seconds = 0;
    double emails_per_second = 0;
    /// Empty while the endpoint answers; during an outage, the line to show:
    /// "endpoint unreachable since HH:MM:SS: <error> — retrying; ...".
    std::string outage;
};

/// How to run. The key is given by the host, or resolved from the job
/// (api_key_env / api_key_file) when empty; it is never logged.
struct run_options {
    std::string api_key;
    bool restart = false;  ///< rename the old journal and results aside, start over
    /// Send again the rows whose fate is `failed` or `unknown`, replacing
    /// their results lines (ledger::reopen_failed). Rows that may have been
    /// delivered already are re-sent whatever retry.ambiguous says (asking
    /// for it is the point) and their new lines carry `ambiguous`.
    bool retry_failed = false;
    std::string user_agent_version = "0.1.0";
    /// Source chunk size (bounds memory). 0 picks by merge mode: 64 KiB in
    /// local mode, whose chunk (about 80 requests of the bench newsletter)
    /// the transport's queue takes whole, so the pipeline renders the next
    /// chunk while this one is sent instead of waiting for queue slots;
    /// 256 KiB in server mode, where a row is a few dozen bytes of a request
    /// (about 7 requests of the bench campaign a chunk): a chunk's requests
    /// wait in memory until the whole chunk is rendered, and at 1 MiB those
    /// were 17 MB of bodies at the peak. 1 MiB was no faster at 2 M rows,
    /// and about 5 % faster at 10 M rows with dedupe (docs/performance.md).
    std::size_t chunk_bytes = 0;
    /// Chunks in the pipeline at once, per pipeline thread. 0 picks by merge
    /// mode: 3 in local mode; 1 in server mode, whose chunks hold 4 times
    /// the rows of a local one and render into 300 KB bodies.
    std::size_t tokens_per_thread = 0;
    std::chrono::milliseconds progress_interval{250};
    std::chrono::milliseconds shutdown_deadline{30000};
    /// Called for every row as its fate is decided, on the thread that
    /// decided it (a pipeline thread or the job's recorder thread): keep it
    /// short.
    std::function<void(const row_outcome&)> on_row;
    /// Called every progress_interval from the job's progress thread.
    std::function<void(const progress&)> on_progress;
    /// For tests: the ledger's writes and fsyncs go through this (borrowed;
    /// must outlive the job), to model a power cut. Null: the system's.
    ledger_io* ledger_files = nullptr;
};

/// A job-level error: the job did not start (exit code 2 territory).
struct run_error {
    std::string message;
};

class job {
  public:
    /// Prepares a job: opens the source (from the config unless `source` is
    /// given), compiles the templates, checks credentials and opens the
    /// ledger (which recovers an interrupted run, or refuses another
    /// campaign's journal). Nothing is sent yet.
    [[nodiscard]] static boost::system::result<std::unique_ptr<job>, run_error> create(
        job_config config, run_options options, std::unique_ptr<recipient_source> source = {});

    ~job();
    job(const job&) = delete;
    job& operator=(const job&) = delete;

    /// Runs the job to its end on this thread (and the job's own threads).
    [[nodiscard]] report run();
    /// Starts run() on a thread of its own.
    void start();
    /// Waits for a started job.
    [[nodiscard]] report wait();
    /// Asks the job to stop: nothing more is sent, in-flight requests are
    /// waited for (up to the shutdown deadline). Safe from any thread and
    /// from a signal-handling thread; the job ends with job_status::cancelled.
    void cancel() noexcept;

    /// The state the ledger recovered when the job was created.
    [[nodiscard]] const ledger_state& recovered() const noexcept;

    struct impl;

  private:
    explicit job(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::engine
