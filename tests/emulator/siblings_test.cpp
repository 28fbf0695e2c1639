// The emulator's Marketing and Reporting API routes over real loopback
// HTTP: credentials, paging parameters, the documented errors, list and
// contact management, and the faults on these routes.

#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>

#include <gtest/gtest.h>

namespace {

using salvo::emulator::options;
using salvo::emulator::server;
using salvo::test::http_client;
namespace http = boost::beast::http;

// "Basic base64(7:k)".
const std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Basic Nzpr"}};

std::unique_ptr<server> start(options o = {}) {
    auto s = server::start(std::move(o));
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
}

TEST(EmulatorSiblings, CredentialsAreRequired) {
    auto s = start();
    http_client c(s->port());
    EXPECT_EQ(c.request(http::verb::get, "/marketing/v1/lists", "").status, 401);
    EXPECT_EQ(c.request(http::verb::get, "/marketing/v1/lists", "",
                        {{"Authorization", "Basic !!notbase64"}})
                  .status,
              401);
    // "7:" — an empty key.
    EXPECT_EQ(
        c.request(http::verb::get, "/marketing/v1/lists", "", {{"Authorization", "Basic Nzo="}})
            .status,
        401);
    EXPECT_EQ(c.request(http::verb::get, "/v1/messagesProcessed", "").status, 401);
    EXPECT_EQ(c.request(http::verb::get, "/marketing/v1/lists", "", auth).status, 200);
    EXPECT_EQ(c.request(http::verb::get, "/v1/accountData?type=JSON", "", auth).status, 200);
}

TEST(EmulatorSiblings, PagingParametersAreChecked) {
    auto s = start();
    http_client c(s->port());
    for (const char* bad : {"page=0", "page=x", "pageSize=0", "pageSize=1001", "pageSize=-1"})
        EXPECT_EQ(
            c.request(http::verb::get, std::string("/marketing/v1/lists?") + bad, "", auth).status,
            400)
            << bad;
    EXPECT_EQ(c.request(http::verb::get, "/v1/messagesProcessed?count=x", "", auth).status, 400);
    EXPECT_EQ(c.request(http::verb::get, "/v1/messagesProcessed?type=XML", "", auth).status, 400);
    const auto r = c.request(http::verb::get, "/v1/messagesProcessed?count=9999", "", auth);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"count\":500"), std::string::npos) << r.body;  // capped
}

TEST(EmulatorSiblings, ListsAndContacts) {
    auto s = start();
    http_client c(s->port());
    auto r = c.request(http::verb::post, "/marketing/v1/lists", R"({"name":"news"})", auth);
    ASSERT_EQ(r.status, 201);
    EXPECT_EQ(r.body, R"({"id":1})");
    r = c.request(http::verb::put, "/marketing/v1/lists/1/contacts",
                  R"({"emailAddress":"a@x.example","firstName":"A",)"
                  R"("customFields":[{"name":"city","value":"Oslo"}]})",
                  auth);
    EXPECT_EQ(r.status, 201) << r.body;
    r = c.request(http::verb::put, "/marketing/v1/lists/1/contacts", R"({"emailAddress":"bad"})",
                  auth);
    EXPECT_EQ(r.status, 400);
    r = c.request(http::verb::put, "/marketing/v1/lists/1/contacts", "{nope", auth);
    EXPECT_EQ(r.status, 400);
    r = c.request(http::verb::put, "/marketing/v1/lists/2/contacts",
                  R"({"emailAddress":"a@x.example"})", auth);
    EXPECT_EQ(r.status, 404);
    r = c.request(http::verb::put, "/marketing/v1/lists/1/contacts/99",
                  R"({"emailAddress":"a@x.example"})", auth);
    EXPECT_EQ(r.status, 404);  // unknown contact id
    r = c.request(http::verb::put, "/marketing/v1/lists/1/contacts/1",
                  R"({"emailAddress":"renamed@x.example"})", auth);
    EXPECT_EQ(r.status, 200) << r.body;
    r = c.request(http::verb::get, "/marketing/v1/lists/1/contacts", "", auth);
    EXPECT_NE(r.body.find("renamed@x.example"), std::string::npos) << r.body;
    r = c.request(http::verb::get, "/marketing/v1/customFields", "", auth);
    EXPECT_EQ(r.body, R"({"data":[{"name":"city"}]})");
    r = c.request(http::verb::delete_,
                  "/marketing/v1/lists/1/contacts/?emailAddress=renamed%40x.example", "", auth);
    EXPECT_EQ(r.status, 200) << r.body;
    r = c.request(http::verb::delete_,
                  "/marketing/v1/lists/1/contacts/?emailAddress=renamed%40x.example", "", auth);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(s->marketing_contacts(), 0u);
    EXPECT_EQ(c.request(http::verb::get, "/marketing/v1/nothing", "", auth).status, 404);
    EXPECT_EQ(c.request(http::verb::get, "/v1/noSuchMethod", "", auth).status, 404);
}

TEST(EmulatorSiblings, TheContactLimitIsAccountWide) {
    options o;
    o.siblings.max_contacts = 2;
    auto s = start(o);
    http_client c(s->port());
    ASSERT_EQ(c.request(http::verb::post, "/marketing/v1/lists", R"({"name":"a"})", auth).status,
              201);
    ASSERT_EQ(c.request(http::verb::post, "/marketing/v1/lists", R"({"name":"b"})", auth).status,
              201);
    auto put = [&](int list, const char* a) {
        return c
            .request(http::verb::put, "/marketing/v1/lists/" + std::to_string(list) + "/contacts",
                     std::string(R"({"emailAddress":")") + a + "\"}", auth)
            .status;
    };
    EXPECT_EQ(put(1, "a@x.example"), 201);
    EXPECT_EQ(put(2, "b@x.example"), 201);
    EXPECT_EQ(put(2, "c@x.example"), 403);
    EXPECT_EQ(put(2, "B@X.example"), 200);  // an update is not a new contact
}

TEST(EmulatorSiblings, FaultsHitTheseRoutesWithTheirOwnNumbering) {
    options o;
    salvo::emulator::fault_rule r;
    r.kind = salvo::emulator::fault_kind::throttle;
    r.after = 1;
    r.times = 1;
    r.retry_after_seconds = 3;
    o.faults.push_back(r);
    auto s = start(o);
    http_client c(s->port());
    EXPECT_EQ(c.request(http::verb::get, "/marketing/v1/lists", "", auth).status, 200);
    const auto second = c.request(http::verb::get, "/v1/accountData", "", auth);
    EXPECT_EQ(second.status, 429);
    EXPECT_EQ(second.retry_after, "3");
    EXPECT_EQ(c.request(http::verb::get, "/marketing/v1/lists", "", auth).status, 200);
    EXPECT_EQ(s->counters().requests, 0u);  // the injection numbering is untouched
}

}  // namespace

namespace {

// messagesOpenClick answers the opens and clicks the event generator made
// for accepted emails (posted or not: the events URL here refuses).
TEST(EmulatorSiblings, OpenClickReportMatchesTheEvents) {
    options o;
    salvo::emulator::event_options ev;
    ev.url = "http://127.0.0.1:1/notifications";
    ev.secret_key = "s";
    ev.hard_bounce_rate = ev.soft_bounce_rate = ev.deferral_rate = 0;
    ev.open_rate = 1;
    ev.click_rate = 0.5;
    ev.complaint_rate = ev.unsubscribe_rate = 0;
    o.events = ev;
    auto s = start(std::move(o));
    http_client c(s->port());
    std::string body = R"({"ServerId":1,"ApiKey":"k","Messages":[)";
    for (int i = 0; i < 10; ++i)
        body +=
            std::string(i ? "," : "") + R"({"To":[{"EmailAddress":"u)" + std::to_string(i) +
            R"(@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T","MailingId":"m1","MessageId":"id)" +
            std::to_string(i) + R"("})";
    body += "]}";
    ASSERT_EQ(c.post(body).status, 200);
    const auto r =
        c.request(http::verb::get, "/v1/messagesOpenClick?type=JSON&mailingId=m1", "", auth);
    ASSERT_EQ(r.status, 200);
    auto count = [&](const std::string& needle) {
        std::size_t n = 0;
        for (auto at = r.body.find(needle); at != std::string::npos;
             at = r.body.find(needle, at + 1))
            ++n;
        return n;
    };
    EXPECT_EQ(count("\"TrackingType\":1"), 10u) << r.body;  // every delivered email opened
    const auto clicks = count("\"TrackingType\":0");
    EXPECT_GT(clicks, 0u);
    EXPECT_LT(clicks, 10u);
    EXPECT_EQ(count("\"Url\":\"https://example.com/offer\""), clicks);
    EXPECT_NE(r.body.find("\"totalCount\":" + std::to_string(10 + clicks)), std::string::npos);
    EXPECT_NE(r.body.find("\"MessageId\":\"id3\""), std::string::npos);
    const auto other =
        c.request(http::verb::get, "/v1/messagesOpenClick?type=JSON&mailingId=m2", "", auth);
    EXPECT_NE(other.body.find("\"totalCount\":0"), std::string::npos) << other.body;
}

}  // namespace
