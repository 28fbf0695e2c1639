// The GCRA script's arithmetic, run by a real redis-server with the time
// given by the test (ARGV[2]), so every TAT and wait is exact.
#include "salvo/quota/gcra.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <hiredis/hiredis.h>

#include <string>
#include <vector>

namespace {

using namespace salvo;
using std::chrono::milliseconds;

constexpr long long t0 = 1'800'000'000'000'000;  // µs since the epoch
const std::string tolerance = "100000";          // 100 ms

class Gcra : public ::testing::Test {
  protected:
    test::temp_dir dir{"salvo-gcra"};
    test::redis_server server = test::redis_server::start(dir.path());
    test::redis_client redis{server.socket()};
    std::array<std::string, 4> keys = quota::gcra_keys("acct");

    std::string eval(std::vector<std::string> argv) {
        std::vector<std::string> args = {
            "EVAL", std::string(quota::gcra_script()), "4", keys[0], keys[1], keys[2], keys[3]};
        args.insert(args.end(), argv.begin(), argv.end());
        return redis.text(args);
    }
    // 1000 emails/s (T = 1000 µs); requests unlimited unless given.
    std::string lease(long long now, long long emails, std::string t_requests = "0",
                      long long requests = 0) {
        return eval({"lease", std::to_string(now), "1000", t_requests, std::to_string(emails),
                     std::to_string(requests), tolerance});
    }
    std::string give_back(long long now, long long emails) {
        return eval({"return", std::to_string(now), "1000", "0", std::to_string(emails), "0"});
    }
    long long tat(int i = 0) { return std::stoll(redis.text({"GET", keys[i]})); }
};

TEST_F(Gcra, LeasesUntilTheTatRunsToleranceAheadThenSaysHowLongToWait) {
    EXPECT_EQ(lease(t0, 50), "[1, 0, 0]");
    EXPECT_EQ(tat(), t0 + 50'000);
    EXPECT_EQ(lease(t0, 50), "[1, 0, 0]");
    EXPECT_EQ(tat(), t0 + 100'000);
    // A third block would put the TAT 150 ms ahead: wait 50 ms, nothing taken.
    EXPECT_EQ(lease(t0, 50), "[0, 50000, 0]");
    EXPECT_EQ(tat(), t0 + 100'000);
    EXPECT_EQ(lease(t0 + 49'000, 50), "[0, 1000, 0]");
    EXPECT_EQ(lease(t0 + 50'000, 50), "[1, 0, 0]");
    EXPECT_EQ(tat(), t0 + 150'000);
}

TEST_F(Gcra, AnIdleQuotaStartsFromNowNotFromTheOldTat) {
    EXPECT_EQ(lease(t0, 50), "[1, 0, 0]");
    // Ten seconds later the old TAT is in the past: no credit is saved up
    // beyond the tolerance.
    EXPECT_EQ(lease(t0 + 10'000'000, 100), "[1, 0, 0]");
    EXPECT_EQ(lease(t0 + 10'000'000, 1), "[0, 1000, 0]");
}

TEST_F(Gcra, ALeaseLargerThanTheToleranceFitsOnceTheTatIsAtNow) {
    EXPECT_EQ(lease(t0, 10), "[1, 0, 0]");
    EXPECT_EQ(lease(t0, 250), "[0, 10000, 0]");
    EXPECT_EQ(lease(t0 + 10'000, 250), "[1, 0, 0]");
    EXPECT_EQ(tat(), t0 + 260'000);
}

TEST_F(Gcra, ReturnedTokensMoveTheTatBackButNeverBelowNow) {
    EXPECT_EQ(lease(t0, 100), "[1, 0, 0]");
    EXPECT_EQ(give_back(t0 + 10'000, 30), "[1, 0, 0]");
    EXPECT_EQ(tat(), t0 + 70'000);
    EXPECT_EQ(give_back(t0 + 20'000, 1'000), "[1, 0, 0]");
    EXPECT_EQ(tat(), t0 + 20'000);
    // Returned after the TAT has passed: nothing moves (no burst later).
    EXPECT_EQ(give_back(t0 + 500'000, 50), "[1, 0, 0]");
    EXPECT_EQ(tat(), t0 + 20'000);
}

TEST_F(Gcra, BothLimitsMustAgreeOrNeitherIsTaken) {
    // 10 requests/s (T = 100 000 µs): one request's worth fills the tolerance.
    EXPECT_EQ(lease(t0, 10, "100000", 1), "[1, 0, 0]");
    EXPECT_EQ(lease(t0, 10, "100000", 1), "[0, 100000, 0]");
    EXPECT_EQ(tat(0), t0 + 10'000) << "the emails limit must not move when requests refuse";
    EXPECT_EQ(tat(1), t0 + 100'000);
    EXPECT_EQ(lease(t0 + 100'000, 10, "100000", 1), "[1, 0, 0]");
}

TEST_F(Gcra, AnAbsentLimitIsNotKept) {
    EXPECT_EQ(eval({"lease", std::to_string(t0), "0", "1000", "0", "5", tolerance}), "[1, 0, 0]");
    EXPECT_EQ(redis.text({"EXISTS", keys[0]}), "0");
    EXPECT_EQ(tat(1), t0 + 5'000);
}

TEST_F(Gcra, AHoldStopsEveryLeaseUntilItsResumeTimeAndNeverShrinks) {
    EXPECT_EQ(eval({"hold", std::to_string(t0), "2000000"}), "[0, 0, 2000000]");
    EXPECT_EQ(lease(t0 + 500'000, 1), "[0, 1500000, 1500000]");
    // A shorter hold seen later does not cut the longer one.
    EXPECT_EQ(eval({"hold", std::to_string(t0 + 500'000), "100000"}), "[0, 0, 1500000]");
    EXPECT_EQ(lease(t0 + 2'000'000, 1), "[1, 0, 0]");
    const long long ttl = std::stoll(redis.text({"PTTL", keys[2]}));
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 2000);
}

TEST_F(Gcra, KeysExpireSoAnAbandonedQuotaLeavesNothing) {
    EXPECT_EQ(lease(t0, 50), "[1, 0, 0]");
    const long long ttl = std::stoll(redis.text({"PTTL", keys[0]}));
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 1050);
}

TEST_F(Gcra, UsesTheServersClockWhenNoTimeIsGiven) {
    EXPECT_EQ(eval({"lease", "", "1000", "0", "10", "0", tolerance}), "[1, 0, 0]");
    const auto server_now = [&] {
        auto r = redis.run({"TIME"});
        return std::stoll(r->element[0]->str) * 1'000'000 + std::stoll(r->element[1]->str);
    }();
    // Set from the server's TIME just before: at most 10 ms ahead of it.
    EXPECT_GT(tat(), server_now - 2'000'000);
    EXPECT_LE(tat(), server_now + 10'000);
}

// Processes sharing a key at different rates would make the TATs
// meaningless: the second rate is refused while the first is in use.
TEST_F(Gcra, ALeaseAtAnotherRateIsRefusedWhileTheFirstIsInUse) {
    EXPECT_EQ(lease(t0, 50), "[1, 0, 0]");
    const std::string other = eval({"lease", std::to_string(t0), "500", "0", "50", "0", tolerance});
    EXPECT_NE(other.find("salvo quota: rate mismatch: 1000 0"), std::string::npos) << other;
    EXPECT_EQ(tat(), t0 + 50'000) << "the refused lease took nothing";
    EXPECT_EQ(redis.text({"DEL", keys[3]}), "1");  // the first process is gone (the key expired)
    EXPECT_EQ(eval({"lease", std::to_string(t0), "500", "0", "50", "0", tolerance}), "[1, 0, 0]");
}

TEST_F(Gcra, RefusesAnUnknownOperation) {
    EXPECT_NE(eval({"borrow", std::to_string(t0)}).find("unknown operation"), std::string::npos);
}

TEST(GcraLease, IsFiftyMillisecondsOfTheRateAndAtLeastTheRequest) {
    EXPECT_EQ(quota::lease_size(30'000, milliseconds(50), 1), 1500u);
    EXPECT_EQ(quota::lease_size(30'000, milliseconds(50), 2000), 2000u);
    EXPECT_EQ(quota::lease_size(5, milliseconds(50), 1), 1u);
    EXPECT_EQ(quota::lease_size(0, milliseconds(50), 10), 0u);
    EXPECT_DOUBLE_EQ(quota::emission_interval_us(30'000), 1e6 / 30'000);
    EXPECT_EQ(quota::gcra_script_sha1().size(), 40u);
}

}  // namespace
