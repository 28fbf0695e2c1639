// `salvo send`: run a campaign, or a proof of its first rows.
#include "commands.hpp"

#include <salvo/engine/validate.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <csignal>

namespace salvo::cli {
namespace fs = std::filesystem;

std::vector<std::string> overrides_of(const send_args& a) {
    std::vector<std::string> o;
    // Paths given on the command line are relative to where the user is,
    // not to the job file.
    const auto abs = [](const std::string& p) { return fs::absolute(p).string(); };
    if (a.endpoint) o.push_back("endpoint=" + *a.endpoint);
    if (a.merge) o.push_back("merge=" + *a.merge);
    if (a.rate) o.push_back(fmt::format("rate.emails_per_second={}", *a.rate));
    if (a.max_in_flight) o.push_back(fmt::format("rate.max_in_flight={}", *a.max_in_flight));
    if (a.results) o.push_back("results=" + abs(*a.results));
    if (a.journal) o.push_back("journal=" + abs(*a.journal));
    o.insert(o.end(), a.sets.begin(), a.sets.end());
    return o;
}

boost::system::result<std::optional<engine::shard_spec>, std::string> shard_of_flags(
    const std::optional<std::string>& shard, const std::optional<std::uint32_t>& shard_count) {
    if (shard && shard_count)
        return std::string(
            "give --shard K/N or --shard-count N, not both (--shard-count takes K from "
            "JOB_COMPLETION_INDEX)");
    if (shard) {
        auto s = engine::parse_shard(*shard, "--shard");
        if (!s) return s.error();
        return std::optional<engine::shard_spec>(*s);
    }
    if (!shard_count) return std::optional<engine::shard_spec>();
    if (*shard_count == 0)
        return std::string(
            "--shard-count 0: N is how many shards split the rows (the Job's completions), at "
            "least 1");
    const char* index = std::getenv("JOB_COMPLETION_INDEX");
    if (index == nullptr || *index == '\0')
        return fmt::format(
            "--shard-count {} takes this process's shard from the environment variable "
            "JOB_COMPLETION_INDEX (a Kubernetes Indexed Job sets it), which is not set: set it "
            "to 0..{}, or give --shard K/{}",
            *shard_count, *shard_count - 1, *shard_count);
    auto s = engine::parse_shard(fmt::format("{}/{}", index, *shard_count),
                                 "JOB_COMPLETION_INDEX with --shard-count");
    if (!s)
        return fmt::format(
            "{} (JOB_COMPLETION_INDEX={}: make the Job's completions equal "
            "--shard-count)",
            s.error(), index);
    return std::optional<engine::shard_spec>(*s);
}

std::optional<std::string> use_shard(engine::job_config& cfg,
                                     const std::optional<engine::shard_spec>& shard) {
    if (!shard) return std::nullopt;
    if (cfg.shard.active()) {
        if (cfg.shard == *shard) return std::nullopt;  // the file's key, paths applied
        return fmt::format(
            "{} sets \"shard\": \"{}\" and the command line says shard {}: drop one of them "
            "(a job file without the key serves every shard)",
            cfg.job_file.string(), cfg.shard.text(), shard->text());
    }
    engine::apply_shard(cfg, *shard);
    return std::nullopt;
}

namespace {

std::vector<std::string> split_addresses(const std::string& list) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        auto end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string a = list.substr(start, end - start);
        const auto b = a.find_first_not_of(" \t");
        const auto e = a.find_last_not_of(" \t");
        if (b != std::string::npos) out.push_back(a.substr(b, e - b + 1));
        start = end + 1;
    }
    return out;
}

// The first `n` valid rows of the job's recipients, as owned strings.
struct proof_rows {
    std::vector<std::string> names;
    std::size_t email_column = 0;
    std::vector<std::vector<std::string>> rows;
};

std::optional<proof_rows> read_proof_rows(const engine::job_config& cfg, std::size_t n) {
    engine::source_options so;
    if (!cfg.recipients.format.empty())
        (void)engine::parse_format(cfg.recipients.format, so.format);
    so.encoding = cfg.recipients.encoding;
    so.delimiter = cfg.recipients.delimiter.empty() ? '\0' : cfg.recipients.delimiter[0];
    auto src = engine::open_source(cfg.recipients.path.string(), so);
    if (!src) {
        fmt::print(stderr, "salvo: {}\n", src.error().message);
        return std::nullopt;
    }
    engine::validate_options vo;
    vo.email_column = cfg.recipients.email;
    vo.name_column = cfg.recipients.name;
    vo.dedupe = false;
    auto check = engine::validator::create((*src)->fields(), vo, nullptr, (*src)->name());
    if (!check) {
        fmt::print(stderr, "salvo: {}\n", check.error().message);
        return std::nullopt;
    }
    proof_rows out;
    for (const auto& f : (*src)->fields()) out.names.push_back(f.name);
    out.email_column = check->email_column();
    engine::chunk c;
    std::string reason;
    while (out.rows.size() < n) {
        auto more = (*src)->next_chunk(c);
        if (!more) {
            fmt::print(stderr, "salvo: {}\n", more.error().message);
            return std::nullopt;
        }
        for (std::size_t i = 0; i < c.size() && out.rows.size() < n; ++i) {
            auto v = check->check(c, i, reason);
            if (!v || *v != engine::validity::valid) continue;
            std::vector<std::string> row;
            for (const auto value : c.values(i)) row.emplace_back(value);
            out.rows.push_back(std::move(row));
        }
        if (!*more) break;
    }
    return out;
}

int run_proof(const send_args& a, engine::job_config cfg) {
    const auto to = split_addresses(a.proof);
    if (to.empty()) {
        fmt::print(stderr, "salvo: --proof needs at least one address\n");
        return exit_usage;
    }
    auto rows = read_proof_rows(cfg, a.proof_rows);
    if (!rows) return exit_usage;
    if (rows->rows.empty()) {
        fmt::print(stderr, "salvo: no valid row to send as a proof\n");
        return exit_usage;
    }
    // Each proof row once per proof address, with the address replaced.
    auto data = std::make_shared<std::vector<std::vector<std::string>>>();
    for (const auto& row : rows->rows)
        for (const auto& addr : to) {
            auto copy = row;
            copy[rows->email_column] = addr;
            data->push_back(std::move(copy));
        }
    auto source = engine::make_callback_source(
        rows->names,
        [data](engine::chunk_writer& w) {
            for (const auto& row : *data) {
                std::vector<std::string_view> v(row.begin(), row.end());
                w.add_row(std::span<const std::string_view>(v));
            }
            return false;
        },
        "proof");
    const temp_dir tmp("salvo-proof");  // removed on every way out
    cfg.journal = tmp.path() / "proof.journal";
    cfg.results = tmp.path() / "proof.ndjson";
    cfg.dedupe = false;
    cfg.suppression.clear();
    int code = exit_usage;
    {
        engine::run_options ro;
        std::vector<std::string> lines;
        std::mutex m;
        ro.on_row = [&](const engine::row_outcome& o) {
            const std::lock_guard lock(m);
            lines.push_back(fmt::format("  row {} -> {}: {}{}{}", o.row, o.email,
                                        engine::to_string(o.status), o.code.empty() ? "" : " ",
                                        o.code.empty() ? std::string_view(o.error) : o.code));
        };
        signal_watch signals;
        auto j = engine::job::create(cfg, std::move(ro), std::move(source));
        if (!j) {
            fmt::print(stderr, "salvo: {}\n", j.error().message);
        } else {
            signals.on_signal([&](int) { (*j)->cancel(); });
            const auto r = (*j)->run();
            signals.on_signal({});
            fmt::print("proof: {} row(s) x {} address(es), outside the journal\n",
                       rows->rows.size(), to.size());
            for (const auto& l : lines) fmt::print("{}\n", l);
            code = exit_code_for(r);
            if (r.stopped_early()) fmt::print("stopped: {}\n", r.stop_detail);
        }
    }
    return code;
}

}  // namespace

int run_send(const send_args& a) {
    const auto shard = shard_of_flags(a.shard, a.shard_count);
    if (!shard) {
        fmt::print(stderr, "salvo: {}\n", shard.error());
        return exit_usage;
    }
    const auto overrides = overrides_of(a);
    auto cfg = engine::load_job_file(a.job_file, overrides);
    if (!cfg) {
        fmt::print(stderr, "salvo: {}\n", cfg.error().message);
        return exit_usage;
    }
    if (auto e = use_shard(*cfg, *shard)) {
        fmt::print(stderr, "salvo: {}\n", *e);
        return exit_usage;
    }
    if (cfg->shard.active())
        fmt::print(stderr, "salvo: shard {}: results {}, journal {}\n", cfg->shard.text(),
                   cfg->results.string(), cfg->journal.string());
    if (cfg->recipients.marketing_list != 0) {
        // --restart starts over: a changed list is then simply the new one.
        if (const int code = fetch_marketing_list(*cfg, a.restart, a.accept_changed_source);
            code != exit_ok)
            return code;
    }
    if (!a.proof.empty()) return run_proof(a, std::move(*cfg));

    // For the message when the API refuses the credentials.
    const std::string cfg_server_id = cfg->server_id;
    const std::string credentials_hint = fmt::format(
        "check the API key in {} and server_id {} in {}; the same command resumes once they "
        "are right",
        cfg->api_key_file.empty() ? "the environment variable " + cfg->api_key_env
                                  : cfg->api_key_file.string() + " (api_key_file)",
        cfg->server_id, a.job_file.string());
    // Counting the input's lines for the ETA reads the file (samples of a
    // big one): only when a progress line will show it.
    progress_display display(
        a.progress, a.progress == progress_mode::none ? std::nullopt : estimate_rows(*cfg));
    std::mutex display_mutex;
    engine::run_options ro;
    ro.restart = a.restart;
    ro.retry_failed = a.retry_failed;
    ro.on_progress = [&](const engine::progress& p) {
        const std::lock_guard lock(display_mutex);
        display.update(p);
    };
    // Before job::create: every thread the job starts inherits the mask.
    signal_watch signals;
    auto j = engine::job::create(std::move(*cfg), std::move(ro));
    if (!j) {
        fmt::print(stderr, "salvo: {}\n", j.error().message);
        return exit_usage;
    }
    if (!(*j)->recovered().server_id_was.empty())
        fmt::print(stderr,
                   "salvo: resuming under server_id {} (the journal had {}; no row was accepted "
                   "under it)\n",
                   cfg_server_id, (*j)->recovered().server_id_was);
    if (a.retry_failed)
        fmt::print(stderr, "salvo: --retry-failed: {} failed or unknown row(s) reopened\n",
                   (*j)->recovered().reopened);
    {
        std::uint64_t before = 0;
        for (const auto n : (*j)->recovered().counts) before += n;
        const std::lock_guard lock(display_mutex);
        display.set_baseline(before);
    }
    signals.on_signal([&](int sig) {
        fmt::print(stderr, "\nsalvo: {} received, stopping cleanly (run again to resume)\n",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
        (*j)->cancel();
    });
    const engine::report r = (*j)->run();
    signals.on_signal({});
    {
        const std::lock_guard lock(display_mutex);
        display.finish();
    }
    fmt::print("{}", r.to_table());
    std::fflush(stdout);
    if (!a.report_file.empty() && !write_text_file(a.report_file, r.to_json() + "\n"))
        return exit_usage;
    if (r.status == engine::job_status::stopped_auth)
        fmt::print(stderr, "salvo: stopped: the API refused the credentials ({}); {}\n",
                   r.stop_detail.empty() ? engine::to_string(r.status) : r.stop_detail,
                   credentials_hint);
    else if (r.stopped_early())
        fmt::print(stderr, "salvo: stopped early ({}); the same command resumes\n",
                   r.stop_detail.empty() ? engine::to_string(r.status) : r.stop_detail);
    return exit_code_for(r);
}

}  // namespace salvo::cli
