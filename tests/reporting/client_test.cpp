// The Reporting API client against the real emulator: the emulator's own
// record of accepted and refused emails, paged by 500, filtered by
// MailingId, MessageId and dates, with credentials checked and the planted
// forget/invent disagreements.

#include "support/sibling_clients.hpp"

#include <salvo/emulator/server.hpp>
#include <salvo/reporting/client.hpp>
#include <salvo/transport/call.hpp>

#include <gtest/gtest.h>

#include <set>

namespace {

using namespace salvo;

using test::fail_503;
const auto fast = test::fast_retries;

// Injects `n` emails with `mailing` (one message of up to 50 To addresses
// per request): addresses PREFIX0@x.example, …
void inject(const emulator::server& s, std::size_t n, const std::string& mailing,
            const std::string& prefix) {
    transport::client http(fast());
    for (std::size_t first = 0; first < n; first += 50) {
        std::string to;
        for (std::size_t i = first; i < std::min(n, first + 50); ++i)
            to += (i == first ? "" : ",") + std::string(R"({"EmailAddress":")") + prefix +
                  std::to_string(i) + R"(@x.example"})";
        transport::request r;
        r.url = s.url();
        r.headers = {"Content-Type: application/json"};
        r.body = R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[)" + to +
                 R"(],"From":{"EmailAddress":"f@x.example"},"Subject":"S","TextBody":"T",)"
                 R"("MailingId":")" +
                 mailing + R"(","MessageId":"msg-)" + prefix + std::to_string(first) + R"("}]})";
        const auto o = transport::call(http, std::move(r));
        ASSERT_EQ(o.result, transport::disposition::success) << o.body;
    }
}

reporting::client client_for(const emulator::server& s, std::string user = "u",
                             std::string key = "k") {
    reporting::config c;
    c.endpoint = s.base_url() + "/v1";
    c.server_id = "1";
    c.user = std::move(user);
    c.api_key = std::move(key);
    return reporting::client(std::move(c), fast());
}

std::unique_ptr<emulator::server> start(emulator::options o) {
    auto s = emulator::server::start(std::move(o));
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
}

TEST(ReportingClient, PagesByFiveHundredAndFiltersByMailingId) {
    auto s = start({});
    inject(*s, 1201, "camp-a", "a");
    inject(*s, 30, "camp-b", "b");
    auto c = client_for(*s);
    const auto a = c.fetch("messagesProcessed", {"camp-a", "", "", ""});
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->size(), 1201u);
    std::set<std::string> seen;
    for (const auto& r : *a) {
        EXPECT_EQ(r.mailing_id, "camp-a");
        seen.insert(r.to);
    }
    EXPECT_EQ(seen.size(), 1201u);  // three pages, nothing twice, nothing lost
    const auto b = c.fetch("messagesProcessed", {"camp-b", "", "", ""});
    ASSERT_TRUE(b);
    EXPECT_EQ(b->size(), 30u);
    const auto all = c.fetch("messagesProcessed", {});
    ASSERT_TRUE(all);
    EXPECT_EQ(all->size(), 1231u);
    const auto one = c.fetch("messagesProcessed", {"", "msg-b0", "", ""});
    ASSERT_TRUE(one);
    EXPECT_EQ(one->size(), 30u);  // one message of 30 recipients
    const auto none =
        c.fetch("messagesProcessed", {"", "", "2000-01-01 00:00:00", "2000-01-02 00:00:00"});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    const auto today = c.fetch("messagesProcessed", {"camp-b", "", "2000-01-01 00:00:00", ""});
    ASSERT_TRUE(today);
    EXPECT_EQ(today->size(), 30u);
}

TEST(ReportingClient, RefusedAddressesAreFailedMessages) {
    emulator::options o;
    emulator::fault_rule reject;
    reject.kind = emulator::fault_kind::reject_address;
    reject.pattern = "^a1[0-9]@";
    o.faults.push_back(reject);
    auto s = start(o);
    inject(*s, 40, "camp", "a");
    auto c = client_for(*s);
    const auto failed = c.fetch("messagesFailed", {"camp", "", "", ""});
    ASSERT_TRUE(failed) << failed.error().message;
    EXPECT_EQ(failed->size(), 10u);
    for (const auto& r : *failed) EXPECT_EQ(r.failure_code, 2001);
    const auto processed = c.fetch("messagesProcessed", {"camp", "", "", ""});
    ASSERT_TRUE(processed);
    EXPECT_EQ(processed->size(), 30u);
}

TEST(ReportingClient, CredentialsAreChecked) {
    emulator::options o;
    o.siblings.reporting_user = "alice";
    o.siblings.reporting_api_key = "secret";
    auto s = start(o);
    for (const auto& [user, key] :
         {std::pair{"bob", "secret"}, std::pair{"alice", "wrong"}, std::pair{"alice", ""}}) {
        auto c = client_for(*s, user, key);
        const auto r = c.fetch("messagesProcessed", {});
        ASSERT_FALSE(r) << user << ":" << key;
        EXPECT_EQ(r.error().http_status, 401);
    }
    auto ok = client_for(*s, "alice", "secret");
    EXPECT_TRUE(ok.fetch("accountData", {}));
    const auto unknown = ok.fetch("noSuchMethod", {});
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().http_status, 404);
}

TEST(ReportingClient, ForgetsAndInventsAsTold) {
    emulator::options o;
    o.siblings.forget = 3;
    o.siblings.invent = 2;
    auto s = start(o);
    inject(*s, 10, "camp", "a");
    auto c = client_for(*s);
    const auto r = c.fetch("messagesProcessed", {"camp", "", "", ""});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 9u);  // 10 - 3 + 2
    std::size_t invented = 0;
    for (const auto& row : *r) invented += row.to.starts_with("invented-");
    EXPECT_EQ(invented, 2u);
}

TEST(ReportingClient, RetriesThrough503s) {
    emulator::options o;
    o.faults.push_back(fail_503(0.5));
    auto s = start(o);
    auto c = client_for(*s);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(c.fetch("messagesProcessed", {}));
    EXPECT_GT(s->counters().faults.at("http_503"), 0u);
}

}  // namespace
