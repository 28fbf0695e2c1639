// Fault injection over real sockets: each fault mode, "after N" and
// "times", and the reproducibility of rates from the seed.

#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>

#include <gtest/gtest.h>

namespace {

using salvo::emulator::fault_kind;
using salvo::emulator::fault_rule;
using salvo::emulator::options;
using salvo::emulator::server;
using salvo::test::http_client;

const std::string body =
    R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"}]})";
constexpr const char* success =
    R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})";

fault_rule fault(fault_kind k) {
    fault_rule r;
    r.kind = k;
    return r;
}

std::unique_ptr<server> start_with(std::vector<fault_rule> faults, std::uint64_t seed = 1) {
    options o;
    o.record_in_memory = true;
    o.faults = std::move(faults);
    o.seed = seed;
    auto s = server::start(std::move(o));
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
}

TEST(Faults, ServerErrorsCarryInternalErrorAndRecordNothing) {
    const std::pair<fault_kind, int> cases[] = {{fault_kind::http_500, 500},
                                                {fault_kind::http_502, 502},
                                                {fault_kind::http_503, 503},
                                                {fault_kind::http_504, 504}};
    for (const auto& [kind, status] : cases) {
        auto s = start_with({fault(kind)});
        http_client c(s->port());
        const auto r = c.post(body);
        EXPECT_EQ(r.status, status);
        EXPECT_EQ(r.body,
                  R"({"ErrorCode":"InternalError","MessageResults":[],"TransactionReceipt":null})");
        EXPECT_TRUE(s->recorded().empty());
        EXPECT_EQ(s->counters().faults.at(salvo::emulator::to_string(kind)), 1u);
    }
}

TEST(Faults, ThrottleAnswers429WithRetryAfter) {
    auto f = fault(fault_kind::throttle);
    f.retry_after_seconds = 3;
    auto s = start_with({f});
    http_client c(s->port());
    const auto r = c.post(body);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.retry_after, "3");
    EXPECT_EQ(r.body, R"({"ErrorCode":"OverQuota","MessageResults":[],"TransactionReceipt":null})");
    EXPECT_TRUE(s->recorded().empty());
}

TEST(Faults, InvalidAuthenticationFaultIs401) {
    auto s = start_with({fault(fault_kind::invalid_authentication)});
    http_client c(s->port());
    const auto r = c.post(body);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(
        r.body,
        R"({"ErrorCode":"InvalidAuthentication","MessageResults":[],"TransactionReceipt":null})");
}

TEST(Faults, ResetBeforeBodyRecordsNothing) {
    auto s = start_with({fault(fault_kind::reset_before_body)});
    http_client c(s->port());
    const auto r = c.post(body);
    EXPECT_TRUE(r.error) << "expected the connection to be reset";
    EXPECT_EQ(r.status, 0);
    EXPECT_TRUE(s->recorded().empty());
    EXPECT_EQ(s->counters().requests, 1u);
    EXPECT_EQ(s->counters().faults.at("reset_before_body"), 1u);
}

TEST(Faults, ResetAfterBodyRecordsFirstMaybeDelivered) {
    auto s = start_with({fault(fault_kind::reset_after_body)});
    http_client c(s->port());
    const auto r = c.post(body);
    EXPECT_TRUE(r.error);
    EXPECT_EQ(r.status, 0);
    ASSERT_EQ(s->recorded().size(), 1u);
    EXPECT_EQ(s->recorded()[0].to, "a@example.com");
}

TEST(Faults, DelayedResponseArrivesAfterTheDelay) {
    auto f = fault(fault_kind::delay);
    f.delay = std::chrono::milliseconds(150);
    auto s = start_with({f});
    http_client c(s->port());
    const auto start = std::chrono::steady_clock::now();
    const auto r = c.post(body);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, success);
}

TEST(Faults, NoResponseRecordsButNeverAnswers) {
    auto s = start_with({fault(fault_kind::no_response)});
    http_client c(s->port());
    const auto r = c.post(body, {}, std::chrono::milliseconds(200));
    EXPECT_EQ(r.error, boost::beast::error::timeout);
    EXPECT_EQ(s->recorded().size(), 1u);
    s->stop();  // returns although the connection is still held open
}

TEST(Faults, AfterAndTimesPickExactRequests) {
    auto f = fault(fault_kind::http_503);
    f.after = 2;
    f.times = 1;
    auto s = start_with({f});
    http_client c(s->port());
    std::vector<int> statuses;
    for (int i = 0; i < 5; ++i) statuses.push_back(c.post(body).status);
    EXPECT_EQ(statuses, (std::vector<int>{200, 200, 503, 200, 200}));
    EXPECT_EQ(s->recorded().size(), 4u);
}

TEST(Faults, FirstHittingRuleDecides) {
    auto s = start_with({fault(fault_kind::http_502), fault(fault_kind::http_504)});
    http_client c(s->port());
    EXPECT_EQ(c.post(body).status, 502);
}

std::vector<int> statuses_for_seed(std::uint64_t seed) {
    auto f = fault(fault_kind::http_500);
    f.rate = 0.5;
    auto s = start_with({f}, seed);
    http_client c(s->port());
    std::vector<int> out;
    for (int i = 0; i < 40; ++i) out.push_back(c.post(body).status);
    return out;
}

TEST(Faults, RateIsReproducibleFromTheSeed) {
    const auto a = statuses_for_seed(7);
    const auto b = statuses_for_seed(7);
    const auto other = statuses_for_seed(8);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, other);
    const auto failures = std::count(a.begin(), a.end(), 500);
    EXPECT_GT(failures, 8);
    EXPECT_LT(failures, 32);
}

TEST(Faults, BadPatternFailsStart) {
    options o;
    auto f = fault(fault_kind::reject_address);
    f.pattern = "([unclosed";
    o.faults.push_back(f);
    const auto s = server::start(std::move(o));
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error(), salvo::emulator::errc::bad_fault_pattern);
}

TEST(Faults, DiscardModeAnswersSuccessWithoutReadingOrRecording) {
    options o;
    o.discard = true;
    o.record_in_memory = true;
    auto s = server::start(std::move(o));
    ASSERT_TRUE(s.has_value());
    http_client c((*s)->port());
    for (int i = 0; i < 3; ++i) {
        const auto r = c.post("not even json");
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.body, success);
    }
    EXPECT_TRUE((*s)->recorded().empty());
    EXPECT_EQ((*s)->counters().requests, 3u);
    EXPECT_EQ((*s)->counters().by_code.at("Success"), 3u);
}

}  // namespace
