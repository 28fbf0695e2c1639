// `salvo demo`: the sample campaign sent to an emulator started in-process.
#include "commands.hpp"

#include <salvo/emulator/server.hpp>

#include <fmt/core.h>

#include <cstdio>

namespace salvo::cli {
namespace fs = std::filesystem;

int run_demo(const fs::path& campaign_dir) {
    const fs::path job_file = campaign_dir / "job.json";
    const fs::path dir = make_temp_dir("salvo-demo");
    const fs::path record = dir / "emails.ndjson";

    signal_watch signals;  // before any thread starts
    emulator::options eo;
    eo.record_file = record.string();
    auto server = emulator::server::start(eo);
    if (!server) {
        fmt::print(stderr, "salvo: cannot start the emulator: {}\n", server.error().message());
        return exit_usage;
    }
    fmt::print("salvo demo: an Injection API emulator listens on {}\n", (*server)->url());
    fmt::print("salvo demo: sending {} (results and journal in {})\n\n", job_file.string(),
               dir.string());
    std::fflush(stdout);

    const std::vector<std::string> overrides = {
        "endpoint=" + (*server)->url(),
        "results=" + (dir / "results.ndjson").string(),
        "journal=" + (dir / "campaign.journal").string(),
    };
    auto cfg = engine::load_job_file(job_file, overrides);
    if (!cfg) {
        fmt::print(stderr, "salvo: {}\n", cfg.error().message);
        return exit_usage;
    }
    progress_display display(progress_mode::automatic, estimate_rows(*cfg));
    engine::run_options ro;
    // The emulator accepts any non-empty key; a real run reads the job's
    // api_key_env (SOCKETLABS_API_KEY) or api_key_file instead.
    ro.api_key = "demo-key";
    ro.on_progress = [&display](const engine::progress& p) { display.update(p); };
    auto j = engine::job::create(std::move(*cfg), std::move(ro));
    if (!j) {
        fmt::print(stderr, "salvo: {}\n", j.error().message);
        return exit_usage;
    }
    signals.on_signal([&](int) { (*j)->cancel(); });
    const engine::report r = (*j)->run();
    signals.on_signal({});
    display.finish();
    (*server)->stop();
    const auto st = (*server)->counters();
    fmt::print("{}\n", r.to_table());
    fmt::print(
        "demo: {} accepted, {} rejected, {} failed, {} invalid, {} duplicate, "
        "{} suppressed\n",
        r.count(engine::fate::accepted), r.count(engine::fate::rejected),
        r.count(engine::fate::failed), r.count(engine::fate::invalid),
        r.count(engine::fate::duplicate), r.count(engine::fate::suppressed));
    fmt::print("the emulator recorded {} emails in {} requests: {}\n", st.emails, st.requests,
               record.string());
    fmt::print("one result line per recipient: {}\n", (dir / "results.ndjson").string());
    return exit_code_for(r);
}

}  // namespace salvo::cli
