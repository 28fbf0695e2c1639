// Exit codes, signals, progress display.
#include "common.hpp"

#include <fmt/core.h>

#include <signal.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>

namespace salvo::cli {
namespace fs = std::filesystem;

int exit_code_for(const engine::report& r) noexcept {
    if (r.stopped_early()) return exit_stopped;
    using engine::fate;
    if (r.count(fate::rejected) + r.count(fate::failed) + r.count(fate::unknown) > 0)
        return exit_some;
    return exit_ok;
}

namespace {
sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}
}  // namespace

signal_watch::signal_watch() {
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([this, set] {
        int seen = 0;
        while (!done_.load()) {
            timespec wait{0, 100'000'000};
            const int sig = sigtimedwait(&set, nullptr, &wait);
            if (sig <= 0) continue;
            if (++seen > 1) {
                std::fputs("\nsalvo: second signal, stopping now (resumable)\n", stderr);
                std::_Exit(exit_stopped);
            }
            const std::lock_guard lock(mutex_);
            if (handler_)
                handler_(sig);
            else
                pending_ = sig;
        }
    });
}

void signal_watch::on_signal(std::function<void(int)> handler) {
    const std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
    if (pending_ != 0 && handler_) handler_(pending_);
    pending_ = 0;
}

signal_watch::~signal_watch() {
    done_.store(true);
    if (thread_.joinable()) thread_.join();
}

int wait_for_signal() {
    const sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    while (sigwait(&set, &sig) != 0) {
    }
    return sig;
}

progress_display::progress_display(progress_mode mode, std::optional<std::uint64_t> total_rows)
    : total_(total_rows) {
    enabled_ = mode != progress_mode::none;
    terminal_ = mode == progress_mode::automatic && ::isatty(STDERR_FILENO) != 0;
}

void progress_display::update(const engine::progress& p) {
    // An outage is said on stderr whatever the progress mode: once when it
    // starts, once when the endpoint answers again.
    if (!p.outage.empty() != in_outage_) {
        in_outage_ = !p.outage.empty();
        if (drawn_) std::fputs("\n", stderr);
        drawn_ = false;
        if (in_outage_)
            fmt::print(stderr, "salvo: {}\n", p.outage);
        else
            fmt::print(stderr, "salvo: the endpoint answers again; sending\n");
        std::fflush(stderr);
    }
    if (!enabled_) return;
    using engine::fate;
    const auto n = [&](fate f) { return p.fates[static_cast<std::size_t>(f)]; };
    std::uint64_t decided = 0;
    for (const auto v : p.fates) decided += v;
    std::string eta;
    std::optional<double> eta_seconds;
    if (total_ && p.emails_per_second > 0 && *total_ > decided)
        eta_seconds = static_cast<double>(*total_ - decided) / p.emails_per_second;
    if (terminal_) {
        if (eta_seconds) {
            const auto s = static_cast<std::uint64_t>(*eta_seconds);
            eta = fmt::format("  ETA {}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
        }
        fmt::print(stderr,
                   "\r\x1b[Kread {}  accepted {}  rejected {}  failed {}  invalid {}  in flight {}"
                   "  {:.0f} emails/s{}",
                   p.rows_read, n(fate::accepted), n(fate::rejected), n(fate::failed),
                   n(fate::invalid) + n(fate::duplicate) + n(fate::suppressed), p.in_flight,
                   p.emails_per_second, eta);
        if (!p.outage.empty()) fmt::print(stderr, "  {}", p.outage);
        std::fflush(stderr);
        drawn_ = true;
        return;
    }
    // JSON lines: at most one a second.
    if (last_json_ >= 0 && p.seconds - last_json_ < 1.0) return;
    last_json_ = p.seconds;
    fmt::print(stderr,
               "{{\"progress\":{{\"seconds\":{:.2f},\"rows_read\":{},\"accepted\":{},"
               "\"rejected\":{},\"failed\":{},\"invalid\":{},\"duplicate\":{},\"suppressed\":{},"
               "\"unknown\":{},\"in_flight\":{},\"emails_per_second\":{:.1f}{}{}}}}}\n",
               p.seconds, p.rows_read, n(fate::accepted), n(fate::rejected), n(fate::failed),
               n(fate::invalid), n(fate::duplicate), n(fate::suppressed), n(fate::unknown),
               p.in_flight, p.emails_per_second,
               eta_seconds ? fmt::format(",\"eta_seconds\":{:.0f}", *eta_seconds) : "",
               p.outage.empty() ? "" : ",\"outage\":true");
    std::fflush(stderr);
}

void progress_display::finish() {
    if (drawn_) std::fputs("\n", stderr);
    drawn_ = false;
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
        for (std::size_t i = 0; i < got; ++i) lines += buf[i] == '\n';
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

bool write_text_file(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
        fmt::print(stderr, "salvo: cannot write {}\n", file.string());
        return false;
    }
    return true;
}

fs::path make_temp_dir(const std::string& prefix) {
    std::random_device rd;
    for (;;) {
        const fs::path dir =
            fs::temp_directory_path() / fmt::format("{}-{:08x}{:08x}", prefix, rd(), rd());
        std::error_code ec;
        if (fs::create_directory(dir, ec)) {
            fs::permissions(dir, fs::perms::owner_all, ec);
            return dir;
        }
        if (ec) throw std::runtime_error("cannot create a temp directory: " + ec.message());
    }
}

std::optional<rendering> prepare_rendering(engine::job_config cfg, std::string key) {
    const auto failed = [](const auto& error) {
        fmt::print(stderr, "salvo: {}\n", error.message);
        return std::nullopt;
    };
    rendering r;
    r.cfg = std::move(cfg);
    auto src = engine::open_recipients(r.cfg);
    if (!src) return failed(src.error());
    r.src = std::move(*src);
    auto message = engine::compile_message(r.cfg, r.src->keys());
    if (!message) return failed(message.error());
    r.message = std::move(*message);
    auto check = engine::make_validator(r.cfg, *r.src, r.suppressed);
    if (!check) return failed(check.error());
    r.check.emplace(std::move(*check));
    auto writer = engine::make_request_writer(r.cfg, r.message.spec, std::move(key));
    if (!writer) return failed(writer.error());
    r.writer = std::move(*writer);
    return r;
}

}  // namespace salvo::cli
