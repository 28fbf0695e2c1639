// The fault matrix: each merge mode × each fault the emulator can inject, a
// whole `salvo send` job against `salvo emulate --fault …`, checked from the
// results file, the report and the emulator's record together (accounting.hpp).
// Rows per case: SALVO_MATRIX_ROWS (20 000; fewer under sanitizers).
#include "accounting.hpp"
#include "run_send.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace salvo::test {
namespace {

constexpr std::uint64_t matrix_rows = SALVO_MATRIX_ROWS;

// 10 rows per request in both modes, so a rate means the same share of
// requests: local mode sends one message per row, server mode one message
// per recipients_per_message rows.
std::vector<std::string> mode_args(const std::string& mode) {
    if (mode == "local") return {"--merge", "local", "--set", "limits.messages_per_request=10"};
    return {"--merge", "server",
            "--set",   "limits.recipients_per_message=5",
            "--set",   "limits.messages_per_request=2"};
}

// Retries back off 5–50 ms (not 1–30 s); the request timeout is long enough
// that only the delay fault times out.
const std::vector<std::string> common_args{"--set", "retry.base_delay_ms=5",
                                           "--set", "retry.max_delay_ms=50",
                                           "--set", "timeouts.request_ms=10000"};

// Addresses of rows whose number is a multiple of 20: 5 % of the rows.
constexpr const char* reject_pattern = "^user[0-9]*[02468]0@";
bool rejected_by_pattern(std::uint64_t row) {
    return row % 20 == 0;
}

struct fault_case {
    std::string name;
    std::vector<std::string> emulator_args;
    std::vector<std::string> send_args;
    accounting_expectations expect;
    // What shows the fault was there (besides the accounting).
    std::function<void(const send_outcome&, const accounting&)> evidence;
};

// gtest prints a parameter in failure messages: the case's name.
void PrintTo(const fault_case& c, std::ostream* os) {
    *os << c.name;
}

std::vector<fault_case> fault_cases() {
    const auto retried = [](const send_outcome& o, const accounting&) {
        EXPECT_GT(o.report.retries, 0u) << "the fault caused no retry";
    };
    const auto resent = [](const send_outcome& o, const accounting& a) {
        EXPECT_GT(o.report.ambiguous, 0u) << "no maybe-delivered row was re-sent";
        EXPECT_EQ(o.report.count("unknown"), 0u) << "unknown rows under resend";
        // Some re-sent rows really were delivered twice: the record shows it.
        const bool twice = std::any_of(a.deliveries.begin(), a.deliveries.end(),
                                       [](const auto& d) { return d.second > 1; });
        EXPECT_TRUE(twice) << "no row delivered twice although rows were re-sent";
    };
    const auto held = [](const send_outcome& o, const accounting&) {
        EXPECT_GT(o.report.count("unknown"), 0u) << "no maybe-delivered row held as unknown";
    };
    accounting_expectations plain;
    accounting_expectations hold{.finished = true, .hold = true};
    accounting_expectations hold_once{
        .finished = true, .hold = true, .unknown_delivered_once = true};
    const std::vector<std::string> ambiguous_hold{"--set", "retry.ambiguous=hold"};
    const std::vector<std::string> short_timeout{"--set", "timeouts.request_ms=1000"};
    std::vector<std::string> short_timeout_hold = short_timeout;
    short_timeout_hold.insert(short_timeout_hold.end(), ambiguous_hold.begin(),
                              ambiguous_hold.end());
    return {
        {"http_503_20pct",
         {"--fault", "http_503:0.2"},
         {},
         plain,
         [retried](const send_outcome& o, const accounting& a) {
             retried(o, a);
             // Transient errors are retried until retry.give_up_after, and the
             // retry budget throttles instead of failing: no row fails.
             EXPECT_EQ(o.report.count("failed"), 0u);
         }},
        {"http_429_retry_after",
         {"--fault", "throttle:0.03", "--retry-after", "1"},
         {},
         plain,
         [](const send_outcome& o, const accounting&) {
             EXPECT_GT(o.report.retries, 0u) << "no 429 was retried";
             // A retried 429 waited its Retry-After (1 s) first.
             EXPECT_GE(o.seconds, 1.0) << "Retry-After not honoured";
         }},
        {"over_quota",
         {"--fault", "over_quota:0.2"},
         {},
         plain,
         [retried](const send_outcome& o, const accounting& a) {
             retried(o, a);
             // OverQuota is transient: retried, never a row's fate.
             EXPECT_EQ(o.report.count("failed"), 0u);
         }},
        {"reset_before_body",
         {"--fault", "reset_before_body:0.1"},
         {},
         plain,
         [](const send_outcome& o, const accounting&) {
             // A small body may already be in the socket when the reset
             // comes: the client cannot tell, so such rows are re-sent as
             // maybe delivered. Either way the fault was seen.
             EXPECT_GT(o.report.retries + o.report.ambiguous, 0u) << "the resets were not seen";
         }},
        {"reset_after_body", {"--fault", "reset_after_body:0.05"}, {}, plain, resent},
        {"reset_after_body_hold",
         {"--fault", "reset_after_body:0.05"},
         ambiguous_hold,
         hold_once,
         held},
        {"delay_past_timeout", {"--fault", "delay:0.02~1500"}, short_timeout, plain, resent},
        {"delay_past_timeout_hold", {"--fault", "delay:0.02~1500"}, short_timeout_hold, hold, held},
        {"invalid_address_5pct",
         {"--reject-pattern", reject_pattern},
         {},
         plain,
         [](const send_outcome& o, const accounting&) {
             std::set<std::uint64_t> rejected;
             for (const auto& l : o.lines)
                 if (l.status == "rejected") {
                     rejected.insert(l.row);
                     EXPECT_EQ(l.code, "InvalidAddress") << "row " << l.row;
                 }
             std::set<std::uint64_t> expected;
             for (std::uint64_t r = 1; r <= matrix_rows; ++r)
                 if (rejected_by_pattern(r)) expected.insert(r);
             EXPECT_EQ(rejected, expected) << "the rejected rows are not the matching addresses";
         }},
    };
}

using matrix_param = std::tuple<std::string, fault_case>;

class FaultMatrix : public ::testing::TestWithParam<matrix_param> {};

TEST_P(FaultMatrix, EveryRowIsAccountedForOnce) {
    const auto& [mode, fc] = GetParam();
    salvo_campaign c(salvo_binary(), matrix_rows);
    auto emu = emulator_process::start(salvo_binary(), c.dir(), "emu", [&] {
        auto a = fc.emulator_args;
        a.insert(a.end(), {"--seed", "9"});
        return a;
    }());
    std::vector<std::string> args = mode_args(mode);
    args.insert(args.end(), common_args.begin(), common_args.end());
    args.insert(args.end(), fc.send_args.begin(), fc.send_args.end());
    const auto o = run_send(c, emu.url(), args, "send");
    const auto counts = emu.stop();
    ASSERT_FALSE(o.run.timed_out) << o.run.err;
    const auto record = read_record(emu.record_file());
    EXPECT_EQ(counts.emails, record.size());

    const std::uint64_t not_accepted =
        o.report.count("rejected") + o.report.count("failed") + o.report.count("unknown");
    EXPECT_TRUE(o.run.status.exited_with(not_accepted > 0 ? 1 : 0))
        << describe(o.run.status) << "\n"
        << o.run.err;
    const auto a = check_accounting(c, o.lines, o.report, {record}, fc.expect);
    fc.evidence(o, a);
    std::cout << "[ rows ] " << mode << "/" << fc.name << ": " << o.seconds << " s, "
              << counts.requests << " requests, " << record.size() << " emails; accepted "
              << o.report.count("accepted") << ", rejected " << o.report.count("rejected")
              << ", failed " << o.report.count("failed") << ", unknown "
              << o.report.count("unknown") << ", ambiguous " << o.report.ambiguous << ", retries "
              << o.report.retries << "\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, FaultMatrix,
                         ::testing::Combine(::testing::Values("local", "server"),
                                            ::testing::ValuesIn(fault_cases())),
                         [](const ::testing::TestParamInfo<matrix_param>& p) {
                             return std::get<0>(p.param) + "_" + std::get<1>(p.param).name;
                         });

// InvalidAuthentication after 50 requests: the job stops at once (exit 3),
// sends nothing after the 401, leaves the undecided rows pending, and a
// re-run with a key the (new) server accepts completes every row once.
class AuthFailure : public ::testing::TestWithParam<std::string> {};

TEST_P(AuthFailure, StopsAtTheFirst401AndAResumeCompletesEveryRowOnce) {
    const std::string mode = GetParam();
    constexpr int in_flight = 4;
    salvo_campaign c(salvo_binary(), matrix_rows);
    std::vector<std::string> args = mode_args(mode);
    args.insert(args.end(), common_args.begin(), common_args.end());

    auto emu1 = emulator_process::start(salvo_binary(), c.dir(), "emu1",
                                        {"--fault", "invalid_authentication@50"});
    auto first_args = args;
    first_args.insert(first_args.end(), {"--max-in-flight", std::to_string(in_flight)});
    const auto first = run_send(c, emu1.url(), first_args, "first");
    const auto counts1 = emu1.stop();
    ASSERT_FALSE(first.run.timed_out) << first.run.err;
    EXPECT_TRUE(first.run.status.exited_with(3)) << describe(first.run.status) << first.run.err;
    EXPECT_EQ(first.report.status, "stopped_auth") << first.report.stop_detail;
    // Request 51 got the first 401; at most in_flight - 1 others were already
    // on the wire. A request sent after the 401 would be number 51 + in_flight.
    EXPECT_GE(counts1.requests, 51u);
    EXPECT_LE(counts1.requests, 50u + in_flight) << "requests were sent after the 401";
    const auto record1 = read_record(emu1.record_file());
    for (const auto& e : record1) EXPECT_LE(e.request, 50u) << "recorded after the 401";
    EXPECT_LT(first.lines.size(), c.rows());
    // Only rows of requests 1–50 were decided; the rows of 401'd requests
    // are pending (no line), not failed.
    for (const auto& l : first.lines) EXPECT_EQ(l.status, "accepted") << "row " << l.row;
    EXPECT_GT(first.report.pending + (c.rows() - first.report.rows_read), 0u);
    check_accounting(c, first.lines, first.report, {record1}, {.finished = false});

    // The same command against a server that checks the key: a wrong key
    // stops at the first request and changes nothing.
    auto emu2 =
        emulator_process::start(salvo_binary(), c.dir(), "emu2", {"--api-key-env", "EMU_KEY"},
                                {std::string("EMU_KEY=") + salvo_campaign::default_key});
    const auto wrong = run_send(c, emu2.url(), args, "wrong-key", "not-the-key");
    EXPECT_TRUE(wrong.run.status.exited_with(3)) << describe(wrong.run.status) << wrong.run.err;
    EXPECT_EQ(wrong.lines.size(), first.lines.size());
    EXPECT_TRUE(read_record(emu2.record_file()).empty());

    // The right key: resumes and completes.
    const auto second = run_send(c, emu2.url(), args, "second");
    const auto counts2 = emu2.stop();
    ASSERT_FALSE(second.run.timed_out) << second.run.err;
    EXPECT_TRUE(second.run.status.exited_with(0)) << describe(second.run.status) << second.run.err;
    const auto record2 = read_record(emu2.record_file());
    EXPECT_EQ(counts2.emails, record2.size());
    check_accounting(c, second.lines, second.report, {record1, record2}, {});
    // The first run's lines are kept as they were.
    std::map<std::uint64_t, std::string> status2;
    for (const auto& l : second.lines) status2[l.row] = l.status;
    for (const auto& l : first.lines) EXPECT_EQ(status2[l.row], l.status) << "row " << l.row;
    std::cout << "[ rows ] " << mode << "/auth: first " << first.seconds << " s ("
              << counts1.requests << " requests, " << first.lines.size() << " decided), second "
              << second.seconds << " s\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, AuthFailure, ::testing::Values("local", "server"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace salvo::test
