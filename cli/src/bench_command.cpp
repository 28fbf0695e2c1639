// `salvo bench`: runs a real job (engine::job) on generated recipients and the
// realistic newsletter of bench/include/salvo/bench/newsletter.hpp against an in-process emulator
// in discard mode (or --endpoint), and reports what a user would measure.
#include "bench_command.hpp"
#include "files.hpp"

#include <salvo/bench/newsletter.hpp>

#include <salvo/emulator/server.hpp>
#include <salvo/engine/job.hpp>

#include <fmt/core.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace salvo::cli {
namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

struct bench_options {
    std::string merge = "local";
    std::uint64_t rows = 0;
    double seconds = 0;
    std::size_t max_in_flight = 16;
    std::size_t messages_per_request = 10;
    std::size_t recipients_per_message = 50;
    std::size_t threads = 0;
    std::size_t emulator_threads = 1;
    std::size_t text_bytes = 0;  // 0: the newsletter as it is (~1.5 KB)
    std::size_t html_bytes = 0;  // 0: the newsletter as it is (~3 KB)
    bool dedupe = true;
    bool json = false;
    std::string plot;
    std::string endpoint;
    std::string server_id = "12345";
    std::string recipients;
    std::string write_campaign;  // a directory: write the campaign there, don't run
};

// A body template of about `target` bytes: the newsletter's, or a greeting
// padded with plain sentences (nothing to merge in the padding).
std::string sized_body(std::string base, std::size_t target, bool html) {
    if (target == 0) return base;
    const std::string filler =
        html ? "<p>More words to weigh the part as a larger newsletter would weigh it.</p>"
             : "More words to weigh the part as a larger newsletter would weigh it.\n";
    if (target < base.size())
        base = html ? "<p>Hi %%first_name|there%%,</p>" : "Hi %%first_name|there%%,\n";
    while (base.size() + filler.size() <= target) base += filler;
    if (base.size() < target) base.append(target - base.size(), ' ');
    return base;
}

// CPU time of every thread of this process, by thread id, from /proc.
struct thread_cpu {
    std::string name;
    double user = 0, sys = 0;
};

std::map<long, thread_cpu> read_thread_cpu() {
    std::map<long, thread_cpu> out;
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc/self/task", ec)) {
        std::ifstream in(e.path() / "stat");
        std::string line;
        if (!std::getline(in, line)) continue;
        const auto open = line.find('('), close = line.rfind(')');
        if (open == std::string::npos || close == std::string::npos) continue;
        thread_cpu t;
        t.name = line.substr(open + 1, close - open - 1);
        // After ") ": state(3) ... utime is field 14, stime 15 (1-based).
        std::size_t field = 3, at = close + 2;
        double utime = 0, stime = 0;
        while (at < line.size() && field <= 15) {
            const auto end = line.find(' ', at);
            const std::string v = line.substr(at, end == std::string::npos ? end : end - at);
            if (field == 14) utime = std::strtod(v.c_str(), nullptr);
            if (field == 15) stime = std::strtod(v.c_str(), nullptr);
            if (end == std::string::npos) break;
            at = end + 1;
            ++field;
        }
        t.user = utime / tick;
        t.sys = stime / tick;
        out[std::strtol(e.path().filename().c_str(), nullptr, 10)] = t;
    }
    return out;
}

long this_tid() {
    return static_cast<long>(syscall(SYS_gettid));
}

// The last CPU figures seen per thread: threads that end before the run does
// keep their last sample.
struct cpu_tracker {
    std::mutex m;
    std::map<long, thread_cpu> seen;
    void sample() {
        auto now = read_thread_cpu();
        std::lock_guard lock(m);
        for (auto& [tid, t] : now) seen[tid] = std::move(t);
    }
};

// Generated row number `n`, in the shape of bench::newsletter_rows. The
// email, customer id and points are formatted into this object's buffers
// (reused row after row); the other values are string literals.
struct generated_row {
    char email[64], id[24], points[16];
    std::array<std::string_view, 8> values;

    const std::array<std::string_view, 8>& fill(std::uint64_t n) {
        static const char* firsts[] = {"Ann", "Bob", "Zoë", "Liam", "O'Neil", "", "Mia", "Noah"};
        static const char* lasts[] = {"Smith", "García", "Nguyen", "Müller", "Brown & Co", "Lee"};
        static const char* cities[] = {"Berlin", "São Paulo", "", "Tokyo", "Austin", "Lyon"};
        static const char* plans[] = {"gold", "silver", "<trial>", "basic"};
        // std::to_chars, not snprintf: the input stage is serial, and
        // snprintf's formatting was most of the generation's time.
        const auto put = [](char* p, std::string_view s) {
            std::memcpy(p, s.data(), s.size());
            return p + s.size();
        };
        const auto number = [](char* p, char* end, std::uint64_t v) {
            return std::to_chars(p, end, v).ptr;
        };
        char* e = put(email, "user");
        e = number(e, std::end(email), n);
        e = put(e, "@mail");
        e = number(e, std::end(email), n % 97);
        e = put(e, ".example.com");
        char* i = put(id, "C");
        i = number(i, std::end(id), 100000 + n);
        char* q = number(points, std::end(points), (n * 37) % 5000);
        const auto el = e - email, il = i - id, pl = q - points;
        values = {std::string_view(email, static_cast<std::size_t>(el)),
                  firsts[n % 8],
                  lasts[n % 6],
                  "Example \"Corp\"",
                  cities[n % 6],
                  plans[n % 4],
                  std::string_view(id, static_cast<std::size_t>(il)),
                  std::string_view(points, static_cast<std::size_t>(pl))};
        return values;
    }
};

// Rows written straight into the chunk (no vector of strings per row).
engine::next_chunk_fn row_generator(const bench_options& o, clock_type::time_point t0,
                                    double& generate_seconds) {
    return [&o, t0, &generate_seconds, next = std::uint64_t{0},
            row = generated_row{}](engine::chunk_writer& w) mutable {
        const auto start = clock_type::now();
        if (o.seconds > 0 && std::chrono::duration<double>(start - t0).count() >= o.seconds)
            return false;
        // As a job's CSV chunks: about 80 local-mode requests (64 KiB of
        // CSV), which the transport's queue takes whole; four times that in
        // server mode.
        std::size_t n = o.merge == "local" ? 512 : 2048;
        if (o.rows > 0) n = static_cast<std::size_t>(std::min<std::uint64_t>(n, o.rows - next));
        for (std::size_t k = 0; k < n; ++k, ++next) w.add_row(row.fill(next));
        generate_seconds += std::chrono::duration<double>(clock_type::now() - start).count();
        return o.rows == 0 || next < o.rows;
    };
}

// The bench campaign as a job file. `ledger_dir` empty: no "results" and
// "journal" keys, so that they take their defaults beside the job file.
std::string job_json(const bench_options& o, const std::string& endpoint,
                     const std::string& recipients, const fs::path& ledger_dir) {
    std::string ledger;
    if (!ledger_dir.empty())
        ledger = fmt::format(R"(,
  "results": "{}", "journal": "{}")",
                             (ledger_dir / "results.ndjson").generic_string(),
                             (ledger_dir / "campaign.journal").generic_string());
    return fmt::format(
        R"({{"endpoint": "{}", "server_id": "{}", "recipients": "{}",
  "message": {{"from": {{"email": "news@example.com", "name": "Example News"}},
               "subject": "{}", "text": {{"file": "body.txt"}}, "html": {{"file": "body.html"}},
               "mailing_id": "bench", "tags": ["newsletter"]}},
  "merge": "{}", "dedupe": {},
  "limits": {{"messages_per_request": {}, "recipients_per_message": {}}},
  "rate": {{"max_in_flight": {}}}, "threads": {}{}}})",
        endpoint, o.server_id, recipients, bench::newsletter_subject(), o.merge,
        o.dedupe ? "true" : "false", o.messages_per_request, o.recipients_per_message,
        o.max_in_flight, o.threads, ledger);
}

void write_bodies(const bench_options& o, const fs::path& dir) {
    std::ofstream text(dir / "body.txt"), html(dir / "body.html");
    text << sized_body(bench::newsletter_text(), o.text_bytes, false);
    html << sized_body(bench::newsletter_html(), o.html_bytes, true);
    text.close();
    html.close();
    if (!text || !html) throw std::runtime_error("cannot write the bodies into " + dir.string());
}

// A CSV field, quoted when it holds a quote, a comma or a line break.
void append_csv_field(std::string& out, std::string_view v) {
    if (v.find_first_of("\",\r\n") == std::string_view::npos) {
        out += v;
        return;
    }
    out += '"';
    for (const char c : v) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

// --write-campaign DIR: the same campaign as files, for `salvo send` and
// `salvo preview` (bench/limit/run.sh): job.json, body.txt, body.html and
// recipients.csv holding the --rows generated rows. Results and journal are
// left at their defaults (beside job.json), as a user gets them.
int write_campaign(const bench_options& o, const fs::path& dir) {
    if (o.rows == 0 || o.seconds > 0 || !o.recipients.empty())
        throw std::invalid_argument("--write-campaign needs --rows N (the rows of recipients.csv)");
    fs::create_directories(dir);
    write_bodies(o, dir);
    const std::string endpoint =
        o.endpoint.empty() ? "http://127.0.0.1:8465/api/v1/email" : o.endpoint;
    std::ofstream job(dir / "job.json");
    job << job_json(o, endpoint, "recipients.csv", {}) << '\n';
    job.close();
    if (!job) throw std::runtime_error("cannot write " + (dir / "job.json").string());
    std::ofstream csv(dir / "recipients.csv", std::ios::binary);
    std::string buf;
    for (std::size_t i = 0; i < bench::newsletter_columns().size(); ++i)
        buf += (i ? "," : "") + bench::newsletter_columns()[i];
    buf += '\n';
    generated_row row;
    for (std::uint64_t n = 0; n < o.rows; ++n) {
        bool first = true;
        for (const auto v : row.fill(n)) {
            if (!first) buf += ',';
            first = false;
            append_csv_field(buf, v);
        }
        buf += '\n';
        if (buf.size() >= (1u << 20)) {
            csv.write(buf.data(), static_cast<std::streamsize>(buf.size()));
            buf.clear();
        }
    }
    csv.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    csv.close();
    if (!csv) throw std::runtime_error("cannot write " + (dir / "recipients.csv").string());
    fmt::print("{}\n", (dir / "job.json").string());
    return 0;
}

int run_bench(const bench_options& o) {
    if (o.recipients.empty() && o.rows == 0 && o.seconds <= 0)
        throw std::invalid_argument(
            "give --rows N, --seconds S or --recipients FILE (a bench run is bounded)");
    if (!o.recipients.empty() && (o.seconds > 0 || o.rows > 0))
        throw std::invalid_argument(
            "--rows and --seconds bound generated recipients; not with --recipients");
    const temp_dir dir("salvo-bench");
    write_bodies(o, dir.path());

    cpu_tracker cpu;
    const auto before_emulator = read_thread_cpu();
    std::unique_ptr<emulator::server> sink;
    std::string endpoint = o.endpoint, api_key = "bench-key";
    if (endpoint.empty()) {
        emulator::options eo;
        eo.discard = true;
        eo.threads = o.emulator_threads;
        auto s = emulator::server::start(eo);
        if (!s) throw std::runtime_error("cannot start the emulator: " + s.error().message());
        sink = std::move(*s);
        endpoint = sink->url();
    }
    std::set<long> emulator_tids;
    for (const auto& [tid, t] : read_thread_cpu())
        if (!before_emulator.contains(tid)) emulator_tids.insert(tid);

    auto parsed = engine::parse_job(
        job_json(o, endpoint, o.recipients.empty() ? "generated" : o.recipients, dir.path()),
        dir.path());
    if (!parsed) throw std::runtime_error(parsed.error().message);
    engine::job_config config = std::move(*parsed);
    if (!o.endpoint.empty()) {
        auto key = engine::resolve_api_key(config);
        if (!key) throw std::runtime_error(key.error().message);
        api_key = std::move(*key);
    }

    bench_result res;
    res.merge = o.merge;
    res.endpoint = o.endpoint.empty() ? "in-process emulator (discard)" : o.endpoint;
    res.max_in_flight = o.max_in_flight;
    res.messages_per_request = o.messages_per_request;
    res.recipients_per_message = o.recipients_per_message;
    res.threads = engine::pipeline_threads(config);

    std::mutex samples_mutex;
    long progress_tid = 0;
    engine::run_options ro;
    ro.api_key = api_key;
    ro.progress_interval = std::chrono::milliseconds(250);
    ro.on_progress = [&](const engine::progress& p) {
        cpu.sample();
        std::lock_guard lock(samples_mutex);
        progress_tid = this_tid();
        res.samples.push_back({p.seconds, p.fates[0], p.in_flight});
    };

    rusage ru0{};
    getrusage(RUSAGE_SELF, &ru0);
    const auto t0 = clock_type::now();
    std::unique_ptr<engine::recipient_source> source;
    if (o.recipients.empty())
        source = engine::make_callback_source(
            bench::newsletter_columns(), row_generator(o, t0, res.generate_seconds), "generated");
    auto j = engine::job::create(std::move(config), ro, std::move(source));
    if (!j) throw std::runtime_error(j.error().message);
    const engine::report r = (*j)->run();
    cpu.sample();
    rusage ru1{};
    getrusage(RUSAGE_SELF, &ru1);
    if (sink) sink->stop();

    const auto secs = [](const timeval& a, const timeval& b) {
        return static_cast<double>(b.tv_sec - a.tv_sec) +
               static_cast<double>(b.tv_usec - a.tv_usec) / 1e6;
    };
    res.status = std::string(engine::to_string(r.status));
    res.rows = r.rows_read;
    res.accepted = r.count(engine::fate::accepted);
    res.not_accepted = r.rows_read - std::min(r.rows_read, res.accepted);
    res.requests = r.requests;
    res.retries = r.retries;
    res.bytes_out = r.bytes_out;
    res.bytes_in = r.bytes_in;
    res.seconds = r.seconds;
    res.latency_p50_ms = static_cast<double>(r.latency_p50.count()) / 1e3;
    res.latency_p90_ms = static_cast<double>(r.latency_p90.count()) / 1e3;
    res.latency_p99_ms = static_cast<double>(r.latency_p99.count()) / 1e3;
    res.cpu_user = secs(ru0.ru_utime, ru1.ru_utime);
    res.cpu_sys = secs(ru0.ru_stime, ru1.ru_stime);
    res.peak_rss_mib = static_cast<double>(ru1.ru_maxrss) / 1024.0;
    if (o.merge == "local" && res.accepted > 0)
        res.message_bytes = static_cast<std::size_t>(
            r.bytes_out / std::max<std::uint64_t>(1, r.requests) / o.messages_per_request);

    // CPU by role. Threads present before the emulator started (the main
    // thread) and the job's TBB workers render and write; salvo-net sends.
    std::map<std::string, cpu_split> roles;
    for (const auto& [tid, t] : cpu.seen) {
        const auto before = before_emulator.find(tid);
        const double bu = before != before_emulator.end() ? before->second.user : 0;
        const double bs = before != before_emulator.end() ? before->second.sys : 0;
        std::string role = "pipeline (read, merge, write requests, results)";
        if (emulator_tids.contains(tid))
            role = "emulator (discard sink)";
        else if (t.name == "salvo-net")
            role = "transport (salvo-net: libcurl)";
        else if (tid == progress_tid)
            role = "progress sampler";
        auto& s = roles[role];
        s.role = role;
        s.user += t.user - bu;
        s.sys += t.sys - bs;
    }
    for (auto& [name, s] : roles) res.split.push_back(s);

    fmt::print("{}", o.json ? res.to_json() + "\n" : res.to_table());
    if (!o.plot.empty()) {
        std::ofstream svg(o.plot);
        svg << res.to_svg();
        if (!svg) throw std::runtime_error("cannot write " + o.plot);
    }
    if (r.stopped_early()) return 2;
    return res.not_accepted > 0 ? 1 : 0;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_code) {
    auto o = std::make_shared<bench_options>();
    auto* b = app.add_subcommand(
        "bench",
        "Measure end-to-end throughput: generated recipients, a ~4.1 KB newsletter (as JSON), "
        "an in-process discarding emulator on loopback (or --endpoint)");
    b->add_option("--merge", o->merge, "local or server")
        ->check(CLI::IsMember({"local", "server"}));
    auto* rows = b->add_option("--rows", o->rows, "Stop after N generated rows");
    b->add_option("--seconds", o->seconds, "Stop generating rows after S seconds")->excludes(rows);
    b->add_option("--max-in-flight", o->max_in_flight, "Concurrent requests")
        ->capture_default_str();
    b->add_option("--messages-per-request", o->messages_per_request)->capture_default_str();
    b->add_option("--recipients-per-message", o->recipients_per_message,
                  "Server mode: rows per merge message")
        ->capture_default_str();
    b->add_option("--threads", o->threads,
                  "Pipeline threads (0: every core in server mode, cores - 1 in local mode)")
        ->capture_default_str();
    b->add_option("--emulator-threads", o->emulator_threads, "I/O threads of the in-process sink")
        ->capture_default_str();
    b->add_option("--text-bytes", o->text_bytes, "Text body template size (0: the newsletter's)");
    b->add_option("--html-bytes", o->html_bytes, "HTML body template size (0: the newsletter's)");
    b->add_flag("--dedupe,!--no-dedupe", o->dedupe, "Drop repeated addresses (on by default)");
    b->add_option("--endpoint", o->endpoint,
                  "Send to this URL instead (key from SOCKETLABS_API_KEY)");
    b->add_option("--server-id", o->server_id,
                  "The ServerId written into the requests (with --endpoint: your server's)")
        ->capture_default_str();
    b->add_option("--recipients", o->recipients, "Read recipients from this file instead")
        ->check(CLI::ExistingFile);
    b->add_option("--write-campaign", o->write_campaign,
                  "Write this run's campaign into DIR instead (job.json, the bodies, "
                  "recipients.csv of --rows rows) for salvo send / preview");
    b->add_flag("--json", o->json, "Print one JSON object");
    b->add_option("--plot", o->plot, "Write throughput over time as an SVG chart");
    b->footer(
        "Examples:\n"
        "  salvo bench --rows 200000\n"
        "  salvo bench --merge server --seconds 30 --json\n"
        "  salvo bench --rows 100000 --plot throughput.svg\n"
        "  salvo bench --write-campaign camp/ --rows 1000   # then: salvo send camp/job.json\n"
        "Exit codes: 0 every row accepted; 1 some were not; 2 a usage error, or the run\n"
        "stopped early.");
    b->callback([o, &exit_code] {
        try {
            exit_code =
                o->write_campaign.empty() ? run_bench(*o) : write_campaign(*o, o->write_campaign);
        } catch (const std::exception& e) {
            fmt::print(stderr, "salvo bench: {}\n", e.what());
            exit_code = 2;
        }
    });
}

}  // namespace salvo::cli
