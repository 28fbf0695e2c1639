#pragma once
// Outages and transient errors through the real binaries: what every such
// test checks when the job is over (issue 18 §1: an outage is a job state,
// never a row fate).
#include "accounting.hpp"
#include "run_send.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace salvo::test {

// 10 rows per request in both modes (as in the fault matrix).
inline std::vector<std::string> outage_mode_args(const std::string& mode) {
    if (mode == "local") return {"--merge", "local", "--set", "limits.messages_per_request=10"};
    return {"--merge", "server",
            "--set",   "limits.recipients_per_message=5",
            "--set",   "limits.messages_per_request=2"};
}

// Every row accepted, each delivered exactly once over all the records, and
// not one `failed` line.
inline void expect_every_row_accepted_once(
    const salvo_campaign& c, const send_outcome& o,
    const std::vector<std::vector<recorded_email>>& records) {
    EXPECT_EQ(o.report.count("failed"), 0u) << "a transient error or an outage failed rows";
    EXPECT_EQ(o.report.count("accepted"), c.rows()) << o.report.stop_detail;
    std::map<std::uint64_t, int> delivered;
    for (const auto& rec : records)
        for (const auto& e : rec)
            if (const auto row = c.row_of(e.to)) ++delivered[*row];
    EXPECT_EQ(delivered.size(), c.rows()) << "rows never delivered";
    std::uint64_t twice = 0;
    for (const auto& [row, n] : delivered) twice += n != 1;
    EXPECT_EQ(twice, 0u) << "rows delivered more than once";
    for (const auto& l : o.lines)
        EXPECT_EQ(l.status, "accepted") << "row " << l.row << ": " << l.error;
}

// `salvo send` with `args` against `emu`, which is then stopped: exit 0,
// the accounting holds, every row accepted exactly once.
inline send_outcome send_expecting_every_row_accepted_once(const salvo_campaign& c,
                                                           emulator_process& emu,
                                                           const std::vector<std::string>& args) {
    auto o = run_send(c, emu.url(), args, "send");
    emu.stop();
    EXPECT_FALSE(o.run.timed_out) << o.run.err;
    EXPECT_TRUE(o.run.status.exited_with(0)) << describe(o.run.status) << "\n" << o.run.err;
    const auto record = read_record(emu.record_file());
    check_accounting(c, o.lines, o.report, {record}, {});
    expect_every_row_accepted_once(c, o, {record});
    return o;
}

// `rate` of the requests answered 503 (the emulator's http_503 fault), the
// job at default retry settings: exit 0, no row failed, each accepted once.
inline void expect_no_row_fails_at_default_settings(std::uint64_t rows, const std::string& mode,
                                                    const std::string& rate) {
    salvo_campaign c(salvo_binary(), rows);
    auto emu = emulator_process::start(salvo_binary(), c.dir(), "emu",
                                       {"--fault", "http_503:" + rate, "--seed", "9"});
    const auto o = send_expecting_every_row_accepted_once(c, emu, outage_mode_args(mode));
    EXPECT_GT(o.report.retries, 0u) << "the 503s caused no retry";
    std::cout << "[ rows ] " << mode << "/503 at " << rate << ": " << o.seconds << " s, "
              << o.report.retries << " retries\n";
}

}  // namespace salvo::test
