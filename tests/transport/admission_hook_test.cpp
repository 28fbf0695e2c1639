// The client's admission hook (admission.hpp) with a scripted hook: asked
// before each start, woken by it, given back what the local limiter then
// refuses, told of throttles, and cleared of its wake when the client ends.
#include "client_fixture.hpp"
#include "salvo/transport/admission.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

namespace {

using namespace std::chrono_literals;
using namespace salvo::transport;
using namespace salvo::transport::testing;
using salvo::test::http_action;
using salvo::test::http_test_server;
using salvo::test::received_request;

struct scripted_hook final : admission_hook {
    clock::duration try_acquire(std::uint32_t cost) noexcept override {
        ++asked;
        last_cost = cost;
        return open ? clock::duration::zero() : clock::duration(10s);
    }
    void give_back(std::uint32_t cost) noexcept override { given_back += cost; }
    void on_throttle(std::chrono::milliseconds pause) noexcept override {
        std::lock_guard lock(mutex);
        pauses.push_back(pause);
    }
    void set_wake(std::function<void()> w) override {
        std::lock_guard lock(mutex);
        wake = std::move(w);
    }
    void call_wake() {
        std::lock_guard lock(mutex);
        if (wake) wake();
    }
    std::atomic<bool> open{false};
    std::atomic<int> asked{0};
    std::atomic<std::uint32_t> last_cost{0}, given_back{0};
    std::mutex mutex;
    std::vector<std::chrono::milliseconds> pauses;
    std::function<void()> wake;
};

http_action ok(std::size_t, const received_request&) {
    return {};
}

TEST(AdmissionHook, NothingStartsUntilItAdmitsAndItsWakeStartsTheRequest) {
    http_test_server server(ok);
    auto hook = std::make_shared<scripted_hook>();
    auto o = quick_options();
    o.admission = hook;
    {
        client c(o);
        auto req = make_request(server.url(), "{}");
        req.cost = 7;
        auto f = send(c, std::move(req));
        EXPECT_FALSE(server.wait_until([&] { return server.arrivals() > 0; }, 300ms))
            << "a request started without the hook's admission";
        EXPECT_GE(hook->asked.load(), 1);
        EXPECT_EQ(hook->last_cost.load(), 7u);
        hook->open = true;
        hook->call_wake();  // no timer is due for 10 s: only the wake starts it
        auto r = wait(f, 5s);
        EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    }
    std::lock_guard lock(hook->mutex);
    EXPECT_FALSE(hook->wake) << "the client left its wake behind";
}

TEST(AdmissionHook, GetsBackWhatTheLocalLimiterRefuses) {
    http_test_server server(ok);
    auto hook = std::make_shared<scripted_hook>();
    hook->open = true;
    auto o = quick_options();
    o.admission = hook;
    o.rate.requests_per_second = 2;  // one at once, the next 500 ms later
    o.rate.burst_seconds = 0.5;
    client c(o);
    auto a = make_request(server.url(), "{}");
    auto b = make_request(server.url(), "{}");
    a.cost = b.cost = 3;
    auto fa = send(c, std::move(a));
    auto fb = send(c, std::move(b));
    EXPECT_EQ(wait(fa).out.result, disposition::success);
    EXPECT_EQ(wait(fb).out.result, disposition::success);
    EXPECT_GE(hook->given_back.load(), 3u) << "the limiter's wait kept the hook's tokens";
    EXPECT_EQ(hook->given_back.load() % 3, 0u);
}

TEST(AdmissionHook, IsToldOfAThrottleWithItsRetryAfter) {
    http_test_server server([](std::size_t index, const received_request&) {
        http_action a;
        if (index == 0) {
            a.status = 429;
            a.headers = {{"Retry-After", "1"}};
        }
        return a;
    });
    auto hook = std::make_shared<scripted_hook>();
    hook->open = true;
    auto o = quick_options();
    o.admission = hook;
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success);
    std::lock_guard lock(hook->mutex);
    ASSERT_EQ(hook->pauses.size(), 1u);
    EXPECT_EQ(hook->pauses[0], 1000ms);
}

}  // namespace
