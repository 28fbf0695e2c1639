#include "salvo/transport/rate_limiter.hpp"

#include "support/fake_clock.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace std::chrono_literals;
using salvo::test::fake_clock;
using salvo::transport::clock;
using salvo::transport::rate_limiter;
using salvo::transport::rate_limits;

// Admits `n` requests of `cost` as fast as the limiter allows, advancing the
// fake clock by exactly the waits it asks for; returns the admission offsets.
std::vector<clock::duration> schedule(rate_limiter& limiter, fake_clock& clk, int n,
                                      std::uint32_t cost) {
    const auto start = clk.now();
    std::vector<clock::duration> at;
    while (static_cast<int>(at.size()) < n) {
        const auto wait = limiter.try_acquire(cost);
        if (wait == clock::duration::zero()) {
            at.push_back(clk.now() - start);
        } else {
            clk.advance(wait);
        }
    }
    return at;
}

TEST(RateLimiter, UnlimitedAdmitsEverythingAtOnce) {
    fake_clock clk;
    rate_limiter limiter(rate_limits{}, clk);
    EXPECT_FALSE(limiter.limited());
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.try_acquire(50), clock::duration::zero());
}

TEST(RateLimiter, RequestsPerSecondWithoutBurstIsAnExactSchedule) {
    fake_clock clk;
    rate_limits limits;
    limits.requests_per_second = 10;
    limits.burst_seconds = 0;  // bucket of one
    rate_limiter limiter(limits, clk);
    const auto at = schedule(limiter, clk, 5, 1);
    const std::vector<clock::duration> expected{0ms, 100ms, 200ms, 300ms, 400ms};
    EXPECT_EQ(at, expected);
}

TEST(RateLimiter, BurstThenSteadyRate) {
    fake_clock clk;
    rate_limits limits;
    limits.requests_per_second = 4;  // burst_seconds 1: four at once
    rate_limiter limiter(limits, clk);
    const auto at = schedule(limiter, clk, 7, 1);
    const std::vector<clock::duration> expected{0ms, 0ms, 0ms, 0ms, 250ms, 500ms, 750ms};
    EXPECT_EQ(at, expected);
}

TEST(RateLimiter, RefusalTakesNothingAndNamesTheExactWait) {
    fake_clock clk;
    rate_limits limits;
    limits.cost_per_second = 100;
    rate_limiter limiter(limits, clk);
    EXPECT_EQ(limiter.try_acquire(30), clock::duration::zero());
    EXPECT_EQ(limiter.try_acquire(30), clock::duration::zero());
    EXPECT_EQ(limiter.try_acquire(30), clock::duration::zero());
    EXPECT_EQ(limiter.try_acquire(30), 200ms);  // 10 left, 20 more at 100/s
    EXPECT_EQ(limiter.try_acquire(30), 200ms);  // the refusal took nothing
    clk.advance(199ms);
    EXPECT_EQ(limiter.try_acquire(30), 1ms);  // 29.9 there, 0.1 missing
    clk.advance(1ms);
    EXPECT_EQ(limiter.try_acquire(30), clock::duration::zero());
}

TEST(RateLimiter, CostLargerThanTheBucketWaitsForAFullBucketThenGoesIntoDebt) {
    fake_clock clk;
    rate_limits limits;
    limits.cost_per_second = 10;  // bucket of 10
    rate_limiter limiter(limits, clk);
    EXPECT_EQ(limiter.try_acquire(25), clock::duration::zero());  // full: admitted, -15
    EXPECT_EQ(limiter.try_acquire(1), 1600ms);                    // back to +1
    clk.advance(1600ms);
    EXPECT_EQ(limiter.try_acquire(1), clock::duration::zero());
}

TEST(RateLimiter, TheSlowestOfSeveralLimitsDecides) {
    fake_clock clk;
    rate_limits limits;
    limits.requests_per_second = 100;
    limits.cost_per_second = 20;
    limits.burst_seconds = 0;
    rate_limiter limiter(limits, clk);
    // Cost 10 per request at 20/s: one request per 500 ms, though 100 req/s allow more.
    const auto at = schedule(limiter, clk, 3, 10);
    const std::vector<clock::duration> expected{0ms, 500ms, 1000ms};
    EXPECT_EQ(at, expected);
}

TEST(RateLimiter, PerMinuteQuotaAllowsItsAmountThenRefillsEvenly) {
    fake_clock clk;
    rate_limits limits;
    limits.cost_per_minute = 60;
    rate_limiter limiter(limits, clk);
    for (int i = 0; i < 6; ++i) EXPECT_EQ(limiter.try_acquire(10), clock::duration::zero());
    EXPECT_EQ(limiter.try_acquire(10), 10s);
}

TEST(RateLimiter, HourAndDayQuotasCount) {
    fake_clock clk;
    rate_limits limits;
    limits.cost_per_hour = 3600;
    limits.cost_per_day = 4000;
    rate_limiter limiter(limits, clk);
    EXPECT_EQ(limiter.try_acquire(3600), clock::duration::zero());
    EXPECT_EQ(limiter.try_acquire(1), 1s);  // the hour: 1 per second
    clk.advance(1h);
    EXPECT_EQ(limiter.try_acquire(400), clock::duration::zero());
    // The day quota (4000 per 86400 s) has 400 - 400 + 3600 s * 4000/86400 =
    // 166.67 left: 200 more needs 33.33 units, at one per 21.6 s: 720 s.
    const auto wait = limiter.try_acquire(200);
    EXPECT_NEAR(std::chrono::duration<double>(wait).count(), 720.0, 1e-6);
}

TEST(RateLimiter, ScaleSlowsTheRequestRate) {
    fake_clock clk;
    rate_limits limits;
    limits.requests_per_second = 10;
    limits.burst_seconds = 0;
    rate_limiter limiter(limits, clk);
    limiter.set_scale(0.5);
    EXPECT_DOUBLE_EQ(limiter.current_request_rate(), 5.0);
    const auto at = schedule(limiter, clk, 3, 1);
    const std::vector<clock::duration> expected{0ms, 200ms, 400ms};
    EXPECT_EQ(at, expected);
}

}  // namespace
