#pragma once
// Pieces every `salvo` subcommand shares: exit codes, signal handling,
// progress display and the summary output.

#include <salvo/engine/campaign.hpp>
#include <salvo/engine/job.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace salvo::cli {

/// The process exit codes (README "Command line").
enum exit_code : int {
    exit_ok = 0,       ///< finished, nothing rejected, failed or unknown
    exit_some = 1,     ///< finished with rejected, failed or unknown rows
    exit_usage = 2,    ///< usage, job file, template or input error: nothing sent
    exit_stopped = 3,  ///< stopped early (auth, TLS, signal, auto-pause): resumable
};

/// The exit code a finished report calls for.
[[nodiscard]] int exit_code_for(const engine::report& r) noexcept;

/// Blocks SIGINT and SIGTERM in the calling thread (and so in every thread
/// it starts afterwards: construct it before anything starts threads) and
/// calls the handler given to on_signal() from a thread of its own. A signal
/// that comes before a handler is set is kept and handed to it when set. A
/// second signal ends the process at once (exit 3): the journal makes that
/// resumable too.
class signal_watch {
  public:
    signal_watch();
    ~signal_watch();
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;

    void on_signal(std::function<void(int)> handler);

  private:
    std::atomic<bool> done_{false};
    std::mutex mutex_;
    std::function<void(int)> handler_;
    int pending_ = 0;
    std::thread thread_;
};

/// Blocks SIGINT and SIGTERM, then waits for one; returns its number.
int wait_for_signal();

/// How progress is shown while a job runs.
enum class progress_mode { automatic, json, none };

/// Draws progress on stderr: one line redrawn in place on a terminal, JSON
/// lines otherwise (or when asked). `total_rows` enables the ETA.
class progress_display {
  public:
    progress_display(progress_mode mode, std::optional<std::uint64_t> total_rows);
    void update(const engine::progress& p);
    /// Ends the in-place line (a newline) before the summary is printed.
    void finish();

  private:
    bool terminal_ = false;
    bool enabled_ = true;
    bool drawn_ = false;
    bool in_outage_ = false;  // the outage line was printed, not yet the recovery
    std::optional<std::uint64_t> total_;
    double last_json_ = -1;
};

/// A rough row count for the ETA: lines of a plain CSV/NDJSON file (minus
/// the header for CSV); empty for gzip, standard input or big files.
[[nodiscard]] std::optional<std::uint64_t> estimate_rows(const engine::job_config& job);

/// Writes `text` to `file`; false (with a message on stderr) on failure.
bool write_text_file(const std::filesystem::path& file, const std::string& text);

/// What `salvo preview` and `salvo validate` render with: the job, its
/// recipients opened, its message compiled, its validator and a request
/// writer built with the given key.
struct rendering {
    engine::job_config cfg;
    std::unique_ptr<engine::recipient_source> src;
    engine::compiled_message message;
    std::unique_ptr<engine::suppression_list> suppressed;  // outlives check
    std::optional<engine::validator> check;
    std::shared_ptr<const injection::request_writer> writer;
};

/// Prepares a rendering; on any error prints "salvo: <message>" and
/// returns nothing (exit_usage territory). `key` is what the writer puts in
/// the requests it renders (nothing is sent).
[[nodiscard]] std::optional<rendering> prepare_rendering(engine::job_config cfg, std::string key);

/// A fresh private directory under the system temp dir.
[[nodiscard]] std::filesystem::path make_temp_dir(const std::string& prefix);

}  // namespace salvo::cli
