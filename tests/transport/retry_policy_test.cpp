#include "salvo/transport/retry_policy.hpp"

#include "salvo/transport/error.hpp"
#include "support/fake_clock.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using namespace std::chrono_literals;
using salvo::test::fake_clock;
using salvo::test::scripted_random;
using salvo::transport::clock;
using salvo::transport::disposition;
using salvo::transport::errc;
using salvo::transport::parse_retry_after;
using salvo::transport::retry_options;
using salvo::transport::retry_policy;
using salvo::transport::seeded_random;

retry_options quick() {
    retry_options o;
    o.max_attempts = 6;
    o.base = 100ms;
    o.cap = 1000ms;
    o.max_total = 60s;
    o.budget_min_retries = 1000;
    return o;
}

TEST(RetryPolicy, FullJitterCeilingsDoubleFromBaseToCap) {
    fake_clock clk;
    // A draw x gives x % (ceiling + 1) ns: these draws pick each ceiling itself.
    scripted_random top(
        {100'000'000, 200'000'000, 400'000'000, 800'000'000, 1'000'000'000, 1'000'000'000});
    retry_policy policy(quick(), clk, top);
    const std::vector<clock::duration> expected{100ms, 200ms, 400ms, 800ms, 1000ms, 1000ms};
    for (unsigned n = 1; n <= 6; ++n) EXPECT_EQ(policy.backoff(n), expected[n - 1]) << n;
}

TEST(RetryPolicy, JitterIsUniformBelowTheCeiling) {
    fake_clock clk;
    // 250'000'001 % (100 ms + 1 ns) = 49'999'999 ns.
    scripted_random r({250'000'001, 0});
    retry_policy policy(quick(), clk, r);
    EXPECT_EQ(policy.backoff(1), 49'999'999ns);
    EXPECT_EQ(policy.backoff(3), 0ns);
}

TEST(RetryPolicy, SeededGeneratorGivesTheSameScheduleEveryRun) {
    fake_clock clk;
    seeded_random a(42);
    seeded_random b(42);
    retry_policy pa(quick(), clk, a);
    retry_policy pb(quick(), clk, b);
    for (unsigned n = 1; n <= 6; ++n) {
        const auto da = pa.backoff(n);
        EXPECT_EQ(da, pb.backoff(n));
        EXPECT_LE(da, std::chrono::duration_cast<clock::duration>(quick().cap));
    }
    // splitmix64(42) is a published sequence: its first value fixes the first delay.
    seeded_random c(42);
    EXPECT_EQ(c.next(), 0xbdd732262feb6e95ULL);
}

TEST(RetryPolicy, StopsAfterMaxAttempts) {
    fake_clock clk;
    scripted_random r({0});
    auto o = quick();
    o.max_attempts = 3;
    retry_policy policy(o, clk, r);
    const auto first = clk.now();
    policy.on_first_attempt();
    EXPECT_TRUE(policy.decide(disposition::retry_after_backoff, 1, first, {}).retry);
    EXPECT_TRUE(policy.decide(disposition::retry_after_backoff, 2, first, {}).retry);
    const auto last = policy.decide(disposition::retry_after_backoff, 3, first, {});
    EXPECT_FALSE(last.retry);
    EXPECT_EQ(last.reason, static_cast<int>(errc::retries_exhausted));
}

TEST(RetryPolicy, NeverRetriesWhatIsNotRetrySafe) {
    fake_clock clk;
    scripted_random r({0});
    retry_policy policy(quick(), clk, r);
    for (auto d : {disposition::success, disposition::permanent, disposition::maybe_delivered,
                   disposition::cancelled}) {
        const auto dec = policy.decide(d, 1, clk.now(), {});
        EXPECT_FALSE(dec.retry) << to_string(d);
        EXPECT_EQ(dec.reason, 0);
    }
}

TEST(RetryPolicy, RetryNowGoesAtOnceOnlyTheFirstTime) {
    fake_clock clk;
    scripted_random r({50'000'000});
    retry_policy policy(quick(), clk, r);
    const auto first = clk.now();
    EXPECT_EQ(policy.decide(disposition::retry_now, 1, first, {}).delay, 0ns);
    EXPECT_EQ(policy.decide(disposition::retry_now, 2, first, {}).delay, 50ms);
}

TEST(RetryPolicy, RetryAfterOverridesTheBackoff) {
    fake_clock clk;
    scripted_random r({0});
    retry_policy policy(quick(), clk, r);
    const auto dec = policy.decide(disposition::retry_after_backoff, 1, clk.now(),
                                   clock::duration(std::chrono::seconds(7)));
    EXPECT_TRUE(dec.retry);
    EXPECT_EQ(dec.delay, 7s);  // longer than the 1 s cap: the server knows best
}

TEST(RetryPolicy, GivesUpWhenTheNextWaitWouldPassMaxTotal) {
    fake_clock clk;
    scripted_random r({0});
    auto o = quick();
    o.max_total = 10s;
    retry_policy policy(o, clk, r);
    const auto first = clk.now();
    clk.advance(4s);
    EXPECT_TRUE(policy.decide(disposition::retry_after_backoff, 1, first, 6s).retry);
    const auto late = policy.decide(disposition::retry_after_backoff, 2, first, 6001ms);
    EXPECT_FALSE(late.retry);
    EXPECT_EQ(late.reason, static_cast<int>(errc::retries_exhausted));
}

TEST(RetryPolicy, BudgetThrottlesRetriesBeyondAFractionOfRecentRequestsNeverRefuses) {
    fake_clock clk;
    scripted_random r({0});
    auto o = quick();
    o.budget_ratio = 0.1;
    o.budget_min_retries = 2;
    o.budget_window = 10s;
    retry_policy policy(o, clk, r);
    for (int i = 0; i < 50; ++i) policy.on_first_attempt();
    // 10 % of 50 = 5 retries in the window go after their backoff; the
    // others still go, after at least a sub-window (1 s), never refused.
    int prompt = 0;
    for (int i = 0; i < 20; ++i) {
        const auto dec = policy.decide(disposition::retry_after_backoff, 1, clk.now(), {});
        ASSERT_TRUE(dec.retry) << "the budget refused a retry";
        EXPECT_EQ(dec.reason, 0);
        if (!dec.over_budget) {
            ++prompt;
            EXPECT_LT(dec.delay, clock::duration(1s));
        } else {
            EXPECT_GE(dec.delay, clock::duration(1s));
        }
    }
    EXPECT_EQ(prompt, 5);
    // The window slides: after it has passed, the old requests and retries are
    // forgotten and the minimum applies again.
    clk.advance(11s);
    EXPECT_FALSE(policy.decide(disposition::retry_after_backoff, 1, clk.now(), {}).over_budget);
    EXPECT_FALSE(policy.decide(disposition::retry_after_backoff, 1, clk.now(), {}).over_budget);
    EXPECT_TRUE(policy.decide(disposition::retry_after_backoff, 1, clk.now(), {}).over_budget);
}

TEST(RetryAfter, ParsesDelaySeconds) {
    const fake_clock clk;
    EXPECT_EQ(parse_retry_after("1", clk.system_now()), clock::duration(1s));
    EXPECT_EQ(parse_retry_after(" 120 ", clk.system_now()), clock::duration(120s));
    EXPECT_EQ(parse_retry_after("0", clk.system_now()), clock::duration(0s));
}

TEST(RetryAfter, ParsesHttpDatesInEveryForm) {
    const fake_clock clk;  // wall time 2026-01-01T00:00:00Z
    EXPECT_EQ(parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", clk.system_now()),
              clock::duration(30s));
    EXPECT_EQ(parse_retry_after("Thursday, 01-Jan-26 00:01:00 GMT", clk.system_now()),
              clock::duration(60s));
    EXPECT_EQ(parse_retry_after("Thu Jan  1 00:00:05 2026", clk.system_now()), clock::duration(5s));
    // A date in the past means "now".
    EXPECT_EQ(parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", clk.system_now()),
              clock::duration(0s));
}

TEST(RetryAfter, RejectsGarbage) {
    const fake_clock clk;
    EXPECT_FALSE(parse_retry_after("", clk.system_now()));
    EXPECT_FALSE(parse_retry_after("soon", clk.system_now()));
    EXPECT_FALSE(parse_retry_after("-5", clk.system_now()));
    EXPECT_FALSE(parse_retry_after("1.5", clk.system_now()));
    EXPECT_FALSE(parse_retry_after("99999999999999999999", clk.system_now()));
}

}  // namespace
