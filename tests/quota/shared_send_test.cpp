// rate.shared through the real binaries: `salvo send` processes (separate
// job files and inputs, one rate.shared.key) against `salvo emulate` and a
// real redis-server on a unix socket. The emulator's /stats `emails`
// counter, polled, is the record of what was admitted when.
#include "support/emulator_process.hpp"
#include "support/http_client.hpp"
#include "support/redis_server.hpp"
#include "support/salvo_campaign.hpp"
#include "support/salvo_files.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <thread>

#ifndef SALVO_BINARY
#error "SALVO_BINARY comes from tests/quota/CMakeLists.txt"
#endif

namespace {

using namespace salvo::test;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

std::string shared_job(const redis_server& redis, double emails_per_second) {
    return R"("rate": {"shared": {"redis": ")" + redis.url() +
           R"(", "key": "acct-4242", "emails_per_second": )" + std::to_string(emails_per_second) +
           R"(}}, "limits": {"messages_per_request": 10})";
}

// The emulator's counters, read over HTTP.
struct stats_reader {
    explicit stats_reader(const std::string& url) {
        std::smatch m;
        if (!std::regex_search(url, m, std::regex(R"(:(\d+)/)")))
            throw std::runtime_error("no port in " + url);
        port = static_cast<std::uint16_t>(std::stoi(m[1]));
    }
    std::uint64_t counter(const std::string& name) {
        http_client c(port);
        const auto r = c.request(boost::beast::http::verb::get, "/stats", "");
        std::smatch m;
        if (!std::regex_search(r.body, m, std::regex("\"" + name + R"(\":(\d+))"))) return 0;
        return std::stoull(m[1]);
    }
    std::uint16_t port = 0;
};

void expect_all_accepted(const salvo_campaign& c, const std::string& tag) {
    const auto lines = read_results(c.results());
    EXPECT_EQ(lines.size(), c.rows()) << tag;
    std::uint64_t accepted = 0;
    for (const auto& l : lines) accepted += l.status == "accepted";
    EXPECT_EQ(accepted, c.rows()) << tag;
}

std::vector<std::string> send_args(const emulator_process& emu) {
    return {"--endpoint", emu.url(), "--progress=none"};
}

class SharedSend : public ::testing::Test {
  protected:
    temp_dir dir{"salvo-shared-send"};
    redis_server redis = redis_server::start(dir.path());
    emulator_process emu = emulator_process::start(SALVO_BINARY, dir.path(), "emu", {});
};

// Two processes, 1 500 rows each, one quota of 1 000 emails/s: together
// they take about 3 s. Apart (each at its own 1 000/s) they would take 1.5 s.
TEST_F(SharedSend, TwoProcessesShareOneQuota) {
    salvo_campaign a(SALVO_BINARY, 1500, shared_job(redis, 1000));
    salvo_campaign b(SALVO_BINARY, 1500, shared_job(redis, 1000));
    const auto t0 = steady::now();
    auto pa = a.start_send(send_args(emu), "a");
    auto pb = b.start_send(send_args(emu), "b");
    const auto sa = pa.wait_for(60s), sb = pb.wait_for(60s);
    const double seconds = std::chrono::duration<double>(steady::now() - t0).count();
    ASSERT_TRUE(sa && sb) << "a send hung";
    EXPECT_TRUE(sa->exited_with(0)) << describe(*sa) << read_file(a.dir() / "a.err");
    EXPECT_TRUE(sb->exited_with(0)) << describe(*sb) << read_file(b.dir() / "b.err");
    expect_all_accepted(a, "a");
    expect_all_accepted(b, "b");
    EXPECT_EQ(emu.stop().emails, 3000u);
    // 3 000 emails at 1 000/s: at least 2.7 s (the tolerance lets 0.1 s out
    // early, plus one lease each); twice the rate would be done in 1.5 s.
    EXPECT_GE(seconds, 2.7) << "the processes did not share the quota";
    EXPECT_LE(seconds, 8.0);
}

// Redis stopped mid-run: no email reaches the emulator while it is down;
// the job says so on stderr and completes once Redis is back.
TEST_F(SharedSend, RedisDownAdmitsNothingAndTheJobResumesWhenItReturns) {
    salvo_campaign c(SALVO_BINARY, 3000, shared_job(redis, 1000));
    stats_reader stats(emu.url());
    auto p = c.start_send(send_args(emu), "send");
    const auto until = steady::now() + 20s;
    while (stats.counter("emails") < 500 && steady::now() < until) std::this_thread::sleep_for(5ms);
    ASSERT_GE(stats.counter("emails"), 500u) << read_file(c.dir() / "send.err");
    redis.stop();
    std::this_thread::sleep_for(300ms);  // requests already on the wire land
    const auto during = stats.counter("emails");
    std::this_thread::sleep_for(1200ms);
    EXPECT_EQ(stats.counter("emails"), during) << "emails were sent while Redis was down";
    EXPECT_LT(during, 3000u) << "the run was over before Redis stopped: no outage was tested";
    const auto back = steady::now();
    redis.start_again();
    // Sending resumes within 2 s of Redis' return.
    while (stats.counter("emails") == during && steady::now() < back + 5s)
        std::this_thread::sleep_for(5ms);
    EXPECT_LT(steady::now() - back, 2s) << "sending did not resume within 2 s";
    const auto st = p.wait_for(60s);
    ASSERT_TRUE(st) << "the send hung";
    const std::string err = read_file(c.dir() / "send.err");
    EXPECT_TRUE(st->exited_with(0)) << describe(*st) << err;
    expect_all_accepted(c, "send");
    EXPECT_EQ(emu.stop().emails, 3000u);
    EXPECT_NE(err.find("shared quota unreachable since"), std::string::npos) << err;
    EXPECT_NE(err.find("answers again"), std::string::npos) << err;
}

// Redis never answers: after rate.shared.give_up_after the job stops with
// exit 3, every row pending, and the same command completes it later.
TEST_F(SharedSend, RedisGoneStopsTheJobWithExit3AndItResumes) {
    salvo_campaign c(SALVO_BINARY, 200,
                     shared_job(redis, 1000) + R"(, "retry": {"give_up_after": "1h"})");
    redis.stop();
    auto args = send_args(emu);
    args.insert(args.end(), {"--set", "rate.shared.give_up_after=1s"});
    const auto run = c.send(args, "gone", 60s);
    EXPECT_TRUE(run.status.exited_with(3)) << describe(run.status) << run.err;
    EXPECT_NE(run.err.find("rate.shared.give_up_after (1s)"), std::string::npos) << run.err;
    EXPECT_TRUE(read_results(c.results()).empty()) << "rows were decided without the quota";
    redis.start_again();
    const auto again = c.send(send_args(emu), "again", 60s);
    EXPECT_TRUE(again.status.exited_with(0)) << describe(again.status) << again.err;
    expect_all_accepted(c, "again");
    EXPECT_EQ(emu.stop().emails, 200u);
}

// A wrong Redis password is not an outage to wait out for give_up_after
// (10 minutes by default): the job stops at once, exit 3, saying which
// setting to fix, and resumes with the right password.
TEST(SharedSendAuth, AWrongRedisPasswordStopsTheJobAtOnceAndItResumes) {
    temp_dir dir{"salvo-shared-auth"};
    auto redis = redis_server::start(dir.path(), "quota-pw-4242");
    auto emu = emulator_process::start(SALVO_BINARY, dir.path(), "emu", {});
    ::setenv("SALVO_TEST_REDIS_PASSWORD", "not-the-password", 1);
    salvo_campaign c(SALVO_BINARY, 50,
                     R"("rate": {"shared": {"redis": ")" + redis.url() +
                         R"(", "key": "acct-4242", "emails_per_second": 1000,)"
                         R"( "password_env": "SALVO_TEST_REDIS_PASSWORD"}})");
    const auto t0 = steady::now();
    const auto run = c.send(send_args(emu), "wrong", 60s);
    EXPECT_LT(steady::now() - t0, 30s) << "waited for give_up_after";
    EXPECT_TRUE(run.status.exited_with(3)) << describe(run.status) << run.err;
    EXPECT_NE(run.err.find("refused this job"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("rate.shared.password_env"), std::string::npos) << run.err;
    EXPECT_EQ(run.err.find("not-the-password"), std::string::npos) << run.err;
    EXPECT_TRUE(read_results(c.results()).empty()) << "rows were decided without the quota";
    ::setenv("SALVO_TEST_REDIS_PASSWORD", "quota-pw-4242", 1);
    const auto again = c.send(send_args(emu), "again", 60s);
    ::unsetenv("SALVO_TEST_REDIS_PASSWORD");
    EXPECT_TRUE(again.status.exited_with(0)) << describe(again.status) << again.err;
    expect_all_accepted(c, "again");
    EXPECT_EQ(emu.stop().emails, 50u);
}

// A 429 seen by one process (its emulator throttles once, Retry-After 2)
// holds the other one (another emulator) back too.
TEST_F(SharedSend, AThrottleSeenByOneProcessHoldsTheOtherBack) {
    auto throttling = emulator_process::start(SALVO_BINARY, dir.path(), "emu429",
                                              {"--fault", "throttle@20x1", "--retry-after", "2"});
    salvo_campaign a(SALVO_BINARY, 3000, shared_job(redis, 1000));
    salvo_campaign b(SALVO_BINARY, 3000, shared_job(redis, 1000));
    stats_reader sa(throttling.url()), sb(emu.url());
    auto pa = a.start_send(send_args(throttling), "a");
    auto pb = b.start_send(send_args(emu), "b");
    const auto until = steady::now() + 20s;
    while (sa.counter("throttle") == 0 && steady::now() < until) std::this_thread::sleep_for(2ms);
    ASSERT_GT(sa.counter("throttle"), 0u) << "the emulator never throttled";
    std::this_thread::sleep_for(300ms);  // b learns of the hold at its next lease
    const auto held = sb.counter("emails");
    std::this_thread::sleep_for(1200ms);
    EXPECT_EQ(sb.counter("emails"), held) << "b sent during a's Retry-After";
    const auto st_a = pa.wait_for(60s), st_b = pb.wait_for(60s);
    ASSERT_TRUE(st_a && st_b);
    EXPECT_TRUE(st_a->exited_with(0)) << read_file(a.dir() / "a.err");
    EXPECT_TRUE(st_b->exited_with(0)) << read_file(b.dir() / "b.err");
    expect_all_accepted(a, "a");
    expect_all_accepted(b, "b");
}

}  // namespace
