#pragma once
// One `salvo send` run of a reliability test and what it left: exit status,
// report, results file.
#include "support/emulator_process.hpp"
#include "support/salvo_campaign.hpp"
#include "support/salvo_files.hpp"

#include <chrono>
#include <string>
#include <vector>

#ifndef SALVO_BINARY
#error "SALVO_BINARY (the salvo executable) comes from tests/reliability/CMakeLists.txt"
#endif

namespace salvo::test {

inline const char* salvo_binary() {
    return SALVO_BINARY;
}

struct send_outcome {
    salvo_campaign::finished_run run;
    send_report report;
    std::vector<result_line> lines;
    double seconds = 0;
};

/// `salvo send` against `url` with `--progress=none --report <tag>.report.json`
/// and `args`; reads the report (when the run wrote one) and the results.
inline send_outcome run_send(const salvo_campaign& c, const std::string& url,
                             const std::vector<std::string>& args, const std::string& tag,
                             const std::string& key = salvo_campaign::default_key) {
    const auto report = c.dir() / (tag + ".report.json");
    std::vector<std::string> all{"--endpoint", url, "--progress=none", "--report", report.string()};
    all.insert(all.end(), args.begin(), args.end());
    send_outcome o;
    const auto t0 = std::chrono::steady_clock::now();
    o.run = c.send(all, tag, std::chrono::minutes(4), key);
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (std::filesystem::exists(report)) o.report = read_report(report);
    o.lines = read_results(c.results());
    return o;
}

}  // namespace salvo::test
