// Transient errors and outages, through `salvo send` against `salvo emulate`
// at default settings: 503s never fail a row, an endpoint down for a while
// only delays the job, and an endpoint that never answers stops it (exit 3)
// with every undecided row pending, to be completed by the same command.
#include "outage.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <tuple>

namespace salvo::test {
namespace {

constexpr std::uint64_t outage_rows = 2000;

using transient_param = std::tuple<std::string, std::string>;  // mode, 503 rate

class TransientErrors : public ::testing::TestWithParam<transient_param> {};

// 20 % of the requests answered 503, default retry settings: no row fails,
// every row is accepted exactly once. (50 % at default settings takes about
// a minute, the 30 s backoff cap's tail: slow/outage_slow_test.cpp; 50 % with
// short backoffs is in the fault matrix.)
TEST_P(TransientErrors, NeverFailARowAtDefaultSettings) {
    const auto& [mode, rate] = GetParam();
    expect_no_row_fails_at_default_settings(outage_rows, mode, rate);
}

INSTANTIATE_TEST_SUITE_P(Modes, TransientErrors,
                         ::testing::Combine(::testing::Values("local", "server"),
                                            ::testing::Values("0.2")),
                         [](const ::testing::TestParamInfo<transient_param>& p) {
                             const std::string rate = std::get<1>(p.param);
                             return std::get<0>(p.param) + "_503_" + rate.substr(2) + "0pct";
                         });

// Half the requests answered 503 with short backoffs (5–50 ms), so that the
// normal tier covers 50 % too: the retry budget throttles, nothing fails.
class HalfServiceUnavailableShortBackoffs : public ::testing::TestWithParam<std::string> {};

TEST_P(HalfServiceUnavailableShortBackoffs, FailNoRow) {
    const std::string mode = GetParam();
    auto args = outage_mode_args(mode);
    args.insert(args.end(), {"--set", "retry.base_delay_ms=5", "--set", "retry.max_delay_ms=50"});
    salvo_campaign c(salvo_binary(), outage_rows);
    auto emu = emulator_process::start(salvo_binary(), c.dir(), "emu",
                                       {"--fault", "http_503:0.5", "--seed", "9"});
    const auto o = send_expecting_every_row_accepted_once(c, emu, args);
    std::cout << "[ rows ] " << mode << "/503 at 0.5, short backoffs: " << o.seconds << " s, "
              << o.report.retries << " retries\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, HalfServiceUnavailableShortBackoffs,
                         ::testing::Values("local", "server"));

class EndpointDown : public ::testing::TestWithParam<std::string> {};

// The endpoint goes down for 3 s after 30 requests (refused, connections
// closed): the job waits it out and ends with every row accepted once.
TEST_P(EndpointDown, ForAFewSecondsMidRunEveryRowIsAcceptedOnce) {
    const std::string mode = GetParam();
    salvo_campaign c(salvo_binary(), outage_rows);
    auto emu = emulator_process::start(salvo_binary(), c.dir(), "emu", {"--pause", "3s@30"});
    const auto o = send_expecting_every_row_accepted_once(c, emu, outage_mode_args(mode));
    EXPECT_NE(o.run.err.find("endpoint unreachable since "), std::string::npos)
        << "the outage was not said on stderr:\n"
        << o.run.err;
    EXPECT_NE(o.run.err.find("the same command resumes"), std::string::npos) << o.run.err;
    EXPECT_GE(o.seconds, 2.5) << "the endpoint was not down";
    std::cout << "[ rows ] " << mode << "/down 3 s: " << o.seconds << " s\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, EndpointDown, ::testing::Values("local", "server"));

// Nothing listens: the job stops with exit 3 after retry.give_up_after, no
// row failed, the endpoint and curl's error on stderr; once an emulator
// listens there, the same command completes every row once.
TEST(EndpointNeverAnswers, StopsWithExit3AfterGiveUpAfterAndTheSameCommandResumes) {
    salvo_campaign c(salvo_binary(), outage_rows);
    // A port nothing listens on: an emulator's, once it has stopped.
    std::string url;
    {
        auto probe = emulator_process::start(salvo_binary(), c.dir(), "port", {});
        url = probe.url();
        probe.stop();
    }
    const std::string authority = url.substr(7, url.find('/', 7) - 7);  // 127.0.0.1:PORT

    const auto args = outage_mode_args("local");
    auto first_args = args;
    first_args.insert(first_args.end(), {"--set", "retry.give_up_after=2s"});
    const auto first = run_send(c, url, first_args, "first");
    ASSERT_FALSE(first.run.timed_out) << first.run.err;
    EXPECT_TRUE(first.run.status.exited_with(3)) << describe(first.run.status) << first.run.err;
    EXPECT_EQ(first.report.status, "unreachable") << first.report.stop_detail;
    EXPECT_EQ(first.report.count("failed"), 0u);
    EXPECT_TRUE(first.lines.empty()) << "rows were decided: " << first.lines.front().status;
    EXPECT_GE(first.seconds, 2.0) << "gave up before retry.give_up_after";
    EXPECT_NE(first.run.err.find(url), std::string::npos) << "the endpoint is not named:\n"
                                                          << first.run.err;
    EXPECT_NE(first.run.err.find("onnect"), std::string::npos) << "curl's error is not named:\n"
                                                               << first.run.err;
    EXPECT_NE(first.run.err.find("the same command"), std::string::npos) << first.run.err;
    check_accounting(c, first.lines, first.report, {}, {.finished = false});

    auto emu = emulator_process::start(salvo_binary(), c.dir(), "emu", {"--listen", authority});
    ASSERT_EQ(emu.url(), url);
    const auto second = run_send(c, url, args, "second");
    emu.stop();
    ASSERT_FALSE(second.run.timed_out) << second.run.err;
    EXPECT_TRUE(second.run.status.exited_with(0)) << describe(second.run.status) << second.run.err;
    const auto record = read_record(emu.record_file());
    check_accounting(c, second.lines, second.report, {record}, {});
    expect_every_row_accepted_once(c, second, {record});
    std::cout << "[ rows ] never answers: gave up after " << first.seconds << " s; resume "
              << second.seconds << " s\n";
}

}  // namespace
}  // namespace salvo::test
