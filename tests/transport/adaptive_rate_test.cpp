#include "salvo/transport/adaptive_rate.hpp"

#include "salvo/transport/counters.hpp"
#include "support/fake_clock.hpp"

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using salvo::test::fake_clock;
using salvo::transport::adaptive_rate;
using salvo::transport::adaptive_rate_options;
using salvo::transport::counters;

adaptive_rate_options on() {
    adaptive_rate_options o;
    o.enabled = true;
    o.decrease_factor = 0.5;
    o.increase_step = 0.1;
    o.quiet_interval = 5s;
    o.min_scale = 0.1;
    return o;
}

TEST(AdaptiveRate, OffByDefaultChangesNothing) {
    fake_clock clk;
    adaptive_rate a(adaptive_rate_options{}, clk);
    EXPECT_DOUBLE_EQ(a.on_throttle(), 1.0);
    EXPECT_DOUBLE_EQ(a.on_throttle(), 1.0);
}

TEST(AdaptiveRate, HalvesOncePerQuietIntervalThenClimbsBackAdditively) {
    fake_clock clk;
    adaptive_rate a(on(), clk);
    EXPECT_DOUBLE_EQ(a.on_throttle(), 0.5);
    EXPECT_DOUBLE_EQ(a.on_throttle(), 0.5);  // same burst of 429s: one cut
    clk.advance(5s);
    EXPECT_DOUBLE_EQ(a.on_throttle(), 0.25);
    EXPECT_DOUBLE_EQ(a.on_success(), 0.25);  // not quiet long enough yet
    clk.advance(5s);
    EXPECT_DOUBLE_EQ(a.on_success(), 0.35);
    EXPECT_DOUBLE_EQ(a.on_success(), 0.35);
    clk.advance(5s);
    EXPECT_NEAR(a.on_success(), 0.45, 1e-12);
}

TEST(AdaptiveRate, NeverBelowTheFloorNorAboveOne) {
    fake_clock clk;
    adaptive_rate a(on(), clk);
    for (int i = 0; i < 20; ++i) {
        a.on_throttle();
        clk.advance(5s);
    }
    EXPECT_DOUBLE_EQ(a.scale(), 0.1);
    for (int i = 0; i < 30; ++i) {
        a.on_success();
        clk.advance(5s);
    }
    EXPECT_DOUBLE_EQ(a.scale(), 1.0);
}

TEST(Counters, PercentilesComeFromTheHistogram) {
    counters c;
    for (int i = 1; i <= 100; ++i) c.record_latency(std::chrono::microseconds(i * 100));
    const auto s = c.snapshot();
    EXPECT_EQ(s.latency_max, 10'000us);
    // Log-linear buckets: each percentile within 12.5 % above the true value.
    EXPECT_GE(s.latency_p50, 5'000us);
    EXPECT_LE(s.latency_p50, 5'625us);
    EXPECT_GE(s.latency_p90, 9'000us);
    EXPECT_LE(s.latency_p90, 10'000us);
    EXPECT_GE(s.latency_p99, 9'900us);
    EXPECT_LE(s.latency_p99, 10'000us);
}

TEST(Counters, EmptyHistogramReportsZero) {
    counters c;
    const auto s = c.snapshot();
    EXPECT_EQ(s.latency_p99, 0us);
    EXPECT_EQ(s.latency_max, 0us);
}

}  // namespace
