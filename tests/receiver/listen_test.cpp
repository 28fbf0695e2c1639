// The real `salvo listen` over loopback: what each post is answered, and
// what the database holds afterwards.
#include "flood.hpp"
#include "support/http_client.hpp"
#include "support/listen_process.hpp"

#include <salvo/store/store.hpp>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <signal.h>
#include <atomic>
#include <thread>

namespace salvo::test {
namespace {

namespace http = boost::beast::http;
using headers = std::vector<std::pair<std::string, std::string>>;

const headers form{{"Content-Type", "application/x-www-form-urlencoded"}};
const std::string key = listen_process::secret;

// One column of one row of a query on the database, as text ("" for none).
std::string query(const std::filesystem::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    std::string out;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
            out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return out;
}

class Listen : public ::testing::Test {
  protected:
    void SetUp() override { start(); }
    void start(const std::vector<std::string>& args = {}) {
        server_.emplace(listen_process::start(SALVO_BINARY, dir_.path(), "listen", db(), args));
    }
    std::filesystem::path db() const { return dir_.path() / "events.sqlite"; }
    http_reply post(const std::string& body, const headers& h = {}) {
        http_client c(server_->port());
        return c.request(http::verb::post, "/notifications", body, h);
    }
    std::string count(const std::string& where = "1") {
        return query(db(), "SELECT count(*) FROM events WHERE " + where);
    }

    temp_dir dir_{"salvo-listen"};
    std::optional<listen_process> server_;
};

TEST_F(Listen, AnswersTheValidationHandshakeWithTheValidationKey) {
    const auto r = post("ServerId=1234&SecretKey=" + key + "&Type=Validation", form);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find(listen_process::validation), std::string::npos) << r.body;
    EXPECT_EQ(count(), "0") << "a handshake is not an event";
}

TEST_F(Listen, StoresARealShapedLegacyFormPost) {
    const auto r = post(
        "Type=Delivered&DateTime=Tue%2C%2014%20Aug%202018%2016%3A35%3A37%20GMT&MailingId=&"
        "MessageId=msg-1&Address=ann%40example.com&SecretKey=" +
            key +
            "&RemoteMta=mx.example.com&ServerId=1234&Response=250%202.0.0%20OK%20id%3D42&"
            "LocalIp=192.0.2.1&FromAddress=news%40example.org",
        form);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, listen_process::validation);
    EXPECT_EQ(count("type = 'Delivered' AND address = 'ann@example.com'"), "1");
    EXPECT_EQ(query(db(), "SELECT reason FROM events"), "250 2.0.0 OK id=42");
    EXPECT_EQ(query(db(), "SELECT occurred_at FROM events"), "1534264537000");
    const auto raw = query(db(), "SELECT raw FROM events");
    EXPECT_NE(raw.find(R"("LocalIp":"192.0.2.1")"), std::string::npos) << raw;
    EXPECT_EQ(raw.find(key), std::string::npos) << "the secret is not stored";
}

TEST_F(Listen, StoresEveryTypeInBothEncodingsAndKeepsUnknownOnes) {
    const std::vector<std::string> types{"Queued",   "Deferred",  "Delivered", "Failed",
                                         "Tracking", "Complaint", "Rebounce"};
    int n = 0;
    for (const auto& t : types) {
        ++n;
        const std::string address = "json" + std::to_string(n) + "@example.com";
        auto r = post(R"({"Type":")" + t + R"(","SecretKey":")" + key + R"(","Address":")" +
                      address + R"(","DateTime":"2024-05-01T10:00:0)" + std::to_string(n) +
                      R"(Z","MessageId":"m","MailingId":"c","Undocumented":{"x":[1,2]}})");
        ASSERT_EQ(r.status, 200) << t << ": " << r.body;
        r = post("Type=" + t + "&SecretKey=" + key + "&Address=form" + std::to_string(n) +
                     "%40example.com&DateTime=Wed%2C%2001%20May%202024%2010%3A00%3A00%20GMT&"
                     "NewField=kept",
                 form);
        ASSERT_EQ(r.status, 200) << t << ": " << r.body;
    }
    EXPECT_EQ(count(), std::to_string(2 * types.size()));
    EXPECT_EQ(count("type = 'Rebounce' AND kind = 7"), "2") << "unknown types kept as sent";
    EXPECT_EQ(count("raw LIKE '%\"Undocumented\":{\"x\":[1,2]}%'"), std::to_string(types.size()));
    EXPECT_EQ(count("raw LIKE '%\"NewField\":\"kept\"%'"), std::to_string(types.size()));
    // A JSON array of events is one post.
    const auto r = post(R"([{"Type":"Queued","SecretKey":")" + key +
                        R"(","Address":"a1@x.com"},{"Type":"Queued","SecretKey":")" + key +
                        R"(","Address":"a2@x.com"}])");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(count("address LIKE 'a_@x.com'"), "2");
}

TEST_F(Listen, ARedeliveredEventIsStoredOnce) {
    const std::string body =
        R"({"Type":"Tracking","TrackingType":0,"Url":"https://a","SecretKey":")" + key +
        R"(","Address":"r@x.com","MessageId":"m1","DateTime":"2024-01-01T00:00:00Z"})";
    EXPECT_EQ(post(body).status, 200);
    EXPECT_EQ(post(body).status, 200) << "a redelivery is answered 200 too";
    std::string other = body;
    other.replace(other.find("https://a"), 9, "https://b");
    EXPECT_EQ(post(other).status, 200);
    EXPECT_EQ(count(), "2") << "the same click once; a click on another URL is another event";
}

TEST_F(Listen, AWrongSecretIs401AndStoresNothing) {
    auto r = post(R"({"Type":"Delivered","SecretKey":"guess","Address":"x@x.com"})");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body.find(listen_process::validation), std::string::npos);
    // One bad event in an array refuses the whole post.
    r = post(R"([{"Type":"Queued","SecretKey":")" + key +
             R"(","Address":"y@x.com"},{"Type":"Queued","Address":"z@x.com"}])");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(count(), "0");
}

TEST_F(Listen, AServerIdOtherThanTheConfiguredOneIs401) {
    server_.reset();
    start({"--server-id", "777"});
    EXPECT_EQ(post("Type=Queued&ServerId=778&SecretKey=" + key, form).status, 401);
    EXPECT_EQ(post("Type=Queued&ServerId=777&SecretKey=" + key, form).status, 200);
    EXPECT_EQ(count(), "1");
}

TEST_F(Listen, GarbageIs400WithAReasonAndNothingStored) {
    auto r = post(R"({"Type":"Delivered",)");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("bad JSON"), std::string::npos) << r.body;
    r = post("Type=Queued&Address=%ZZ&SecretKey=" + key, form);
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("percent-encoding"), std::string::npos) << r.body;
    r = post(R"({"Type":"Queued","DateTime":"soon","SecretKey":")" + key + R"("})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("DateTime"), std::string::npos) << r.body;
    EXPECT_EQ(count(), "0");
    http_client c(server_->port());
    const auto m = c.request(http::verb::get, "/metrics", "");
    EXPECT_NE(m.body.find("salvo_listen_responses_total{code=\"400\"} 3"), std::string::npos)
        << m.body;
}

TEST_F(Listen, ABodyOverOneMebibyteIs413) {
    const std::string body = R"({"Type":"Queued","SecretKey":")" + key + R"(","Pad":")" +
                             std::string(1024 * 1024, 'a') + R"("})";
    const auto r = post(body);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(count(), "0");
}

TEST_F(Listen, HealthAndMetrics) {
    ASSERT_EQ(
        post(R"({"Type":"Complaint","SecretKey":")" + key + R"(","Address":"c@x.com"})").status,
        200);
    http_client c(server_->port());
    EXPECT_EQ(c.request(http::verb::get, "/healthz", "").status, 200);
    const auto m = c.request(http::verb::get, "/metrics", "");
    EXPECT_EQ(m.status, 200);
    for (const char* line :
         {"salvo_listen_events_total{type=\"Complaint\"} 1", "salvo_listen_suppressed_total 1",
          "salvo_listen_queue_depth 0", "salvo_listen_commit_seconds_count 1"})
        EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
    EXPECT_EQ(c.request(http::verb::get, "/nowhere", "").status, 404);
}

// kill -9 in the middle of a flood: every post answered 200 before the kill
// is in the database, and after the senders re-send what got no 200 to the
// restarted receiver, every event is there exactly once. (The 100 000-event
// version is in slow/, label `slow`.)
TEST(ListenFlood, KillNineDuringAFloodLosesAndDuplicatesNothing) {
    kill_nine_during_flood({4, 150, 5, 200});
}

}  // namespace
}  // namespace salvo::test
