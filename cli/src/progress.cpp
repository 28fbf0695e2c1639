// The progress line (or JSON lines) of salvo send and salvo demo.
#include "progress.hpp"

#include <fmt/core.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

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

namespace {

// Line breaks in `n` bytes of `fd` from `offset` (the last byte read in
// `last`); nullopt on a read error.
std::optional<std::uint64_t> count_lines(int fd, std::uint64_t offset, std::uint64_t n,
                                         char& last) {
    std::vector<char> buf(std::size_t{1} << 16);
    std::uint64_t lines = 0;
    while (n > 0) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n, buf.size()));
        const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(offset));
        if (got < 0) return std::nullopt;
        if (got == 0) break;
        const char* const end = buf.data() + got;
        for (const char* p = buf.data();; ++p) {
            p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
            if (p == nullptr) break;
            ++lines;
        }
        last = end[-1];
        offset += static_cast<std::uint64_t>(got);
        n -= static_cast<std::uint64_t>(got);
    }
    return lines;
}

}  // namespace

std::optional<std::uint64_t> estimate_rows(const engine::job_config& job) {
    const auto& p = job.recipients.path;
    if (p.empty() || p == "-" || p.extension() == ".gz") return std::nullopt;
    const std::string ext = p.extension().string();
    const bool csv = job.recipients.format == "csv" || job.recipients.format == "tsv" ||
                     (job.recipients.format.empty() && (ext == ".csv" || ext == ".tsv"));
    if (!csv && (job.recipients.format == "json" || ext == ".json")) return std::nullopt;
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return std::nullopt;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    // A file up to 16 MiB is counted whole. A bigger one by samples: 16
    // windows of 256 KiB spread over it give the mean line length, and the
    // size gives the count (within a few percent on real lists, enough for
    // an ETA). Counting a 10 M-row file whole took a quarter of a second
    // before the first request.
    constexpr std::uint64_t whole = std::uint64_t{16} << 20;
    constexpr std::uint64_t window = std::uint64_t{256} << 10;
    constexpr std::uint64_t windows = 16;
    std::uint64_t lines = 0;
    char last = '\n';
    if (size <= whole) {
        const auto n = count_lines(fd, 0, size, last);
        ::close(fd);
        if (!n) return std::nullopt;
        lines = *n;
        if (size > 0 && last != '\n') ++lines;
    } else {
        std::uint64_t sampled = 0;
        for (std::uint64_t i = 0; i < windows; ++i) {
            const std::uint64_t at = (size - window) / (windows - 1) * i;
            const auto n = count_lines(fd, at, window, last);
            if (!n) {
                ::close(fd);
                return std::nullopt;
            }
            sampled += *n;
        }
        ::close(fd);
        if (sampled == 0) return std::nullopt;  // one huge line: no estimate
        lines =
            static_cast<std::uint64_t>(static_cast<double>(size) * static_cast<double>(sampled) /
                                       static_cast<double>(windows * window));
    }
    if (!csv) return lines;
    return lines > 0 ? lines - 1 : 0;
}

}  // namespace salvo::cli
