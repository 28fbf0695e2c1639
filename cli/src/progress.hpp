#pragma once
// The progress of a running job on stderr.

#include <salvo/engine/job.hpp>
#include <salvo/engine/job_config.hpp>

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace salvo::cli {

/// How progress is shown while a job runs.
enum class progress_mode { automatic, json, none };

/// Draws progress on stderr: one line redrawn in place on a terminal, JSON
/// lines otherwise (or when asked). `total_rows` enables the ETA.
class progress_display {
  public:
    progress_display(progress_mode mode, std::optional<std::uint64_t> total_rows);
    void update(const engine::progress& p);
    /// Rows an earlier run decided (a resume: job::recovered()'s counts):
    /// the rate and "this run" count the rows after them.
    void set_baseline(std::uint64_t decided_before) { baseline_ = decided_before; }
    /// Ends the in-place line (a newline) before the summary is printed.
    void finish();

  private:
    bool terminal_ = false;
    bool enabled_ = true;
    /// The emails a second over the last few seconds; negative until the
    /// samples span half a second.
    double window_rate(double seconds, std::uint64_t decided);

    bool drawn_ = false;
    bool in_outage_ = false;     // the outage line was printed, not yet the recovery
    bool quota_outage_ = false;  // that outage was the shared quota's Redis, not the endpoint
    std::optional<std::uint64_t> total_;
    std::optional<std::uint64_t> baseline_;                 // rows decided before this run
    std::deque<std::pair<double, std::uint64_t>> samples_;  // (seconds, decided)
    double last_json_ = -1;
    std::string last_counts_;
    std::string held_back_, held_back_counts_;  // a JSON line not yet printed
};

/// A rough row count for the ETA: lines of a plain CSV/NDJSON file (minus
/// the header for CSV), counted whole up to 16 MiB and estimated from
/// samples above; empty for gzip, JSON arrays and standard input.
[[nodiscard]] std::optional<std::uint64_t> estimate_rows(const engine::job_config& job);

}  // namespace salvo::cli
