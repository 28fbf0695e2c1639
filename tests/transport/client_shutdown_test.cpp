#include "client_fixture.hpp"
#include "salvo/transport/error.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

namespace {

using namespace std::chrono_literals;
using namespace salvo::transport;
using namespace salvo::transport::testing;
using salvo::test::http_action;
using salvo::test::http_test_server;
using salvo::test::received_request;

// Collects outcomes from the network thread.
struct collector {
    std::mutex mutex;
    std::vector<outcome> outcomes;
    completion callback() {
        return [this](request&&, outcome&& o) {
            std::lock_guard lock(mutex);
            outcomes.push_back(std::move(o));
        };
    }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return outcomes.size();
    }
};

TEST(ClientWindow, TrySubmitRefusesWhenTheWindowIsFull) {
    http_test_server server([](std::size_t, const received_request&) {
        auto a = http_action{};
        a.delay = 300ms;
        return a;
    });
    auto o = quick_options();
    o.max_in_flight = 2;
    client c(o);
    collector got;
    auto a = make_request(server.url(), "a");
    auto b = make_request(server.url(), "b");
    auto third = make_request(server.url(), "c");
    ASSERT_FALSE(c.try_submit(a, got.callback()));
    ASSERT_FALSE(c.try_submit(b, got.callback()));
    EXPECT_EQ(c.in_flight(), 2u);
    EXPECT_EQ(c.try_submit(third, got.callback()), make_error_code(errc::window_full));
    EXPECT_EQ(third.body, "c");  // not taken
    // submit() waits for a slot instead: it returns once one has been freed.
    ASSERT_FALSE(c.submit(std::move(third), got.callback()));
    EXPECT_GE(got.count(), 1u);
    EXPECT_TRUE(server.wait_until([&] { return got.count() == 3; }, 5s));
    // The network thread frees a request's slot just after its completion
    // returns: the last slot may still be taken when the count reaches 3.
    EXPECT_TRUE(server.wait_until([&] { return c.in_flight() == 0; }, 5s))
        << c.in_flight() << " still in flight";
}

TEST(ClientShutdown, CancelsWhatIsStillInFlightAtTheDeadline) {
    http_test_server server([](std::size_t, const received_request&) {
        return http_action::of(http_action::kind::hang);
    });
    collector got;
    {
        // The request timeout far above the bound below, so that the bound
        // shows the shutdown deadline at work with room for ASan on a busy
        // 2-core machine.
        auto o = quick_options();
        o.request_timeout = 300s;
        client c(o);
        for (int i = 0; i < 10; ++i)
            ASSERT_FALSE(c.submit(make_request(server.url(), "{\"i\":1}"), got.callback()));
        ASSERT_TRUE(server.wait_until([&] { return server.arrivals() == 10; }, 5s));
        const auto start = std::chrono::steady_clock::now();
        c.shutdown(100ms);
        EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
        // Every request is accounted for when shutdown returns.
        EXPECT_EQ(got.count(), 10u);
        EXPECT_EQ(c.submit(make_request(server.url(), "late"), got.callback()),
                  make_error_code(errc::shut_down));
        EXPECT_EQ(c.stats().cancelled, 10u);
    }
    ASSERT_EQ(got.count(), 10u);  // nothing after shutdown returned
    for (const auto& o : got.outcomes) {
        EXPECT_EQ(o.result, disposition::cancelled);
        EXPECT_EQ(o.error, make_error_code(errc::cancelled));
        EXPECT_TRUE(o.whole_body_sent);  // the server had read them: say so
        EXPECT_NE(o.message.find("maybe delivered"), std::string::npos) << o.message;
    }
}

TEST(ClientShutdown, LetsInFlightRequestsFinishWithinTheDeadline) {
    http_test_server server([](std::size_t, const received_request&) {
        auto a = http_action{};
        a.delay = 100ms;
        return a;
    });
    collector got;
    client c(quick_options());
    for (int i = 0; i < 5; ++i)
        ASSERT_FALSE(c.submit(make_request(server.url(), "x"), got.callback()));
    ASSERT_TRUE(server.wait_until([&] { return server.arrivals() == 5; }, 5s));
    c.shutdown(5s);
    ASSERT_EQ(got.count(), 5u);
    for (const auto& o : got.outcomes) EXPECT_EQ(o.result, disposition::success) << o.message;
}

TEST(ClientShutdown, RequestsWaitingForARateTokenAreCancelledUnsent) {
    http_test_server server;
    auto o = quick_options();
    o.rate.requests_per_second = 0.2;  // the next token is 5 s away
    o.rate.burst_seconds = 0;
    collector got;
    client c(o);
    for (int i = 0; i < 4; ++i)
        ASSERT_FALSE(c.submit(make_request(server.url(), "r"), got.callback()));
    ASSERT_TRUE(server.wait_until([&] { return got.count() == 1; }, 5s));
    c.shutdown(1s);
    ASSERT_EQ(got.count(), 4u);
    EXPECT_EQ(got.outcomes[0].result, disposition::success);
    for (std::size_t i = 1; i < 4; ++i) {
        EXPECT_EQ(got.outcomes[i].result, disposition::cancelled);
        EXPECT_EQ(got.outcomes[i].attempts, 0u);
        EXPECT_FALSE(got.outcomes[i].whole_body_sent);
    }
    EXPECT_EQ(server.arrivals(), 1u);
}

TEST(ClientShutdown, WakesASubmitterBlockedOnAFullWindow) {
    http_test_server server([](std::size_t, const received_request&) {
        return http_action::of(http_action::kind::hang);
    });
    auto o = quick_options();
    o.max_in_flight = 1;
    collector got;
    client c(o);
    ASSERT_FALSE(c.submit(make_request(server.url(), "1"), got.callback()));
    std::atomic<bool> returned{false};
    boost::system::error_code blocked_result;
    std::thread blocked([&] {
        blocked_result = c.submit(make_request(server.url(), "2"), got.callback());
        returned = true;
    });
    ASSERT_TRUE(server.wait_until([&] { return server.arrivals() == 1; }, 5s));
    EXPECT_FALSE(returned.load());
    c.shutdown(0ms);
    blocked.join();
    EXPECT_EQ(blocked_result, make_error_code(errc::shut_down));
    EXPECT_EQ(got.count(), 1u);
}

TEST(ClientRate, RequestsPerSecondSpaceTheArrivals) {
    http_test_server server;
    auto o = quick_options();
    o.rate.requests_per_second = 20;
    o.rate.burst_seconds = 0;
    client c(o);
    std::vector<std::future<finished>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back(send(c, make_request(server.url(), "p")));
    for (auto& f : fs) EXPECT_EQ(wait(f).out.result, disposition::success);
    const auto got = server.received();
    ASSERT_EQ(got.size(), 5u);
    // 5 requests at 20/s with no burst: 4 gaps of 50 ms between admissions
    // (the first arrival may lag its admission by a connection set-up).
    EXPECT_GE(got[4].at - got[0].at, 150ms);
    EXPECT_LT(got[4].at - got[0].at, 3s);
    EXPECT_DOUBLE_EQ(c.stats().current_rate, 20.0);
}

TEST(ClientRate, AdaptiveRateHalvesOnTooManyRequests) {
    http_test_server server([](std::size_t index, const received_request&) {
        http_action a;
        if (index == 0) {
            a.status = 429;
            a.headers = {{"Retry-After", "0"}};
        }
        return a;
    });
    auto o = quick_options();
    o.rate.requests_per_second = 100;
    o.adaptive.enabled = true;
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success);
    EXPECT_DOUBLE_EQ(c.stats().current_rate, 50.0);
}

}  // namespace
