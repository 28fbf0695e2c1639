// The issue's own outage: the endpoint down for 30 s in the middle of a run
// (salvo emulate --pause 30s@100), both merge modes, default settings: every
// row accepted once, none failed, exit 0; and 50 % 503s at default
// settings. Label slow (over 30 s each).
#include "../outage.hpp"

#include <gtest/gtest.h>

#include <iostream>

namespace salvo::test {
namespace {

class EndpointDown30s : public ::testing::TestWithParam<std::string> {};

TEST_P(EndpointDown30s, MidRunEveryRowIsAcceptedOnceAndNoneFails) {
    const std::string mode = GetParam();
    salvo_campaign c(salvo_binary(), 5000);
    auto emu = emulator_process::start(salvo_binary(), c.dir(), "emu", {"--pause", "30s@100"});
    const auto o = send_expecting_every_row_accepted_once(c, emu, outage_mode_args(mode));
    EXPECT_NE(o.run.err.find("endpoint unreachable since "), std::string::npos) << o.run.err;
    EXPECT_GE(o.seconds, 29.0) << "the endpoint was not down for 30 s";
    std::cout << "[ rows ] " << mode << "/down 30 s: " << o.seconds << " s\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, EndpointDown30s, ::testing::Values("local", "server"));

// Half the requests answered 503, default settings (1 s base, 30 s cap): no
// row fails. About a minute each: a few requests fail six or seven times in
// a row and wait out the capped backoff.
class HalfServiceUnavailable : public ::testing::TestWithParam<std::string> {};

TEST_P(HalfServiceUnavailable, NeverFailsARowAtDefaultSettings) {
    expect_no_row_fails_at_default_settings(2000, GetParam(), "0.5");
}

INSTANTIATE_TEST_SUITE_P(Modes, HalfServiceUnavailable, ::testing::Values("local", "server"));

}  // namespace
}  // namespace salvo::test
