// The progress line (or JSON lines) of salvo send and salvo demo.
#include "progress.hpp"

#include <fmt/core.h>

#include <unistd.h>
#include <algorithm>
#include <cstdio>

namespace salvo::cli {
namespace fs = std::filesystem;

progress_display::progress_display(progress_mode mode, std::optional<std::uint64_t> total_rows)
    : total_(total_rows) {
    enabled_ = mode != progress_mode::none;
    terminal_ = mode == progress_mode::automatic && ::isatty(STDERR_FILENO) != 0;
}

double progress_display::window_rate(double seconds, std::uint64_t decided) {
    // Rows decided a second, over the last `window` seconds of samples: the
    // rate now, not the start-up burst nor the average since the start.
    constexpr double window = 10.0;
    samples_.push_back({seconds, decided});
    while (samples_.size() > 2 && seconds - samples_[1].first >= window) samples_.pop_front();
    const auto& [t0, d0] = samples_.front();
    if (seconds - t0 < 0.5) return -1;  // too short a span to say
    return static_cast<double>(decided - d0) / (seconds - t0);
}

void progress_display::update(const engine::progress& p) {
    // An outage is said on stderr whatever the progress mode: once when it
    // starts, once when the endpoint answers again.
    if (!p.outage.empty() != in_outage_) {
        in_outage_ = !p.outage.empty();
        if (drawn_) std::fputs("\n", stderr);
        drawn_ = false;
        if (in_outage_) {
            fmt::print(stderr, "salvo: {}\n", p.outage);
            quota_outage_ = p.outage.starts_with("shared quota");
        } else {
            fmt::print(stderr, "salvo: the {} answers again; sending\n",
                       quota_outage_ ? "shared quota's Redis" : "endpoint");
        }
        std::fflush(stderr);
    }
    if (!enabled_) return;
    using engine::fate;
    const auto n = [&](fate f) { return p.fates[static_cast<std::size_t>(f)]; };
    std::uint64_t decided = 0;
    for (const auto v : p.fates) decided += v;
    // Without set_baseline(), the first report's count stands for what
    // earlier runs decided.
    if (!baseline_) baseline_ = decided;
    const std::uint64_t this_run = decided - *baseline_;
    const double rate = window_rate(p.seconds, decided);
    std::string eta;
    std::optional<double> eta_seconds;
    if (total_ && rate > 0 && *total_ > decided)
        eta_seconds = static_cast<double>(*total_ - decided) / rate;
    if (terminal_) {
        if (eta_seconds) {
            const auto s = static_cast<std::uint64_t>(*eta_seconds);
            eta = fmt::format("  ETA {}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
        }
        fmt::print(stderr,
                   "\r\x1b[Kread {}  accepted {}  rejected {}  failed {}  invalid {}  in flight {}"
                   "{}  {}{}",
                   p.rows_read, n(fate::accepted), n(fate::rejected), n(fate::failed),
                   n(fate::invalid) + n(fate::duplicate) + n(fate::suppressed), p.in_flight,
                   *baseline_ > 0 ? fmt::format("  this run {}", this_run) : "",
                   rate >= 0 ? fmt::format("{:.0f} emails/s", rate) : "", eta);
        if (!p.outage.empty()) fmt::print(stderr, "  {}", p.outage);
        std::fflush(stderr);
        drawn_ = true;
        return;
    }
    // JSON lines: at most one a second, never the same counts twice (the
    // last report, at the end, often repeats the one before), and the last
    // counts always (finish() prints one the one-a-second rule held back).
    const std::string counts = fmt::format(
        "\"rows_read\":{},\"accepted\":{},\"rejected\":{},\"failed\":{},\"invalid\":{},"
        "\"duplicate\":{},\"suppressed\":{},\"unknown\":{},\"in_flight\":{},\"this_run\":{}",
        p.rows_read, n(fate::accepted), n(fate::rejected), n(fate::failed), n(fate::invalid),
        n(fate::duplicate), n(fate::suppressed), n(fate::unknown), p.in_flight, this_run);
    if (counts == last_counts_) {
        held_back_.clear();
        return;
    }
    std::string line =
        fmt::format("{{\"progress\":{{\"seconds\":{:.2f},{},\"emails_per_second\":{:.1f}{}{}}}}}\n",
                    p.seconds, counts, std::max(rate, 0.0),
                    eta_seconds ? fmt::format(",\"eta_seconds\":{:.0f}", *eta_seconds) : "",
                    p.outage.empty() ? "" : ",\"outage\":true");
    if (last_json_ >= 0 && p.seconds - last_json_ < 1.0) {
        held_back_ = std::move(line);
        held_back_counts_ = counts;
        return;
    }
    last_counts_ = counts;
    last_json_ = p.seconds;
    held_back_.clear();
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
}

void progress_display::finish() {
    if (drawn_) std::fputs("\n", stderr);
    drawn_ = false;
    if (!held_back_.empty()) {
        std::fputs(held_back_.c_str(), stderr);
        std::fflush(stderr);
        last_counts_ = held_back_counts_;
        held_back_.clear();
    }
}

std::optional<std::uint64_t> estimate_rows(const engine::job_config& job) {
    const auto& p = job.recipients.path;
    if (p.empty() || p == "-" || p.extension() == ".gz") return std::nullopt;
    std::error_code ec;
    const auto size = fs::file_size(p, ec);
    if (ec || size > (std::uintmax_t{1} << 30)) return std::nullopt;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return std::nullopt;
    std::uint64_t lines = 0;
    char last = '\n';
    char buf[1 << 16];
    for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;) {
        lines += static_cast<std::uint64_t>(std::count(buf, buf + got, '\n'));
        last = buf[got - 1];
    }
    std::fclose(f);
    if (last != '\n') ++lines;
    const std::string ext = p.extension().string();
    const bool csv = job.recipients.format == "csv" || job.recipients.format == "tsv" ||
                     (job.recipients.format.empty() && (ext == ".csv" || ext == ".tsv"));
    if (!csv) {
        if (job.recipients.format == "json" || ext == ".json") return std::nullopt;
        return lines;
    }
    return lines > 0 ? lines - 1 : 0;
}

}  // namespace salvo::cli
