// HTTP behaviour of the emulator over real loopback sockets: keep-alive,
// Expect: 100-continue, 413, 408, routing, /stats, many threads, start/stop.

#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace {

using salvo::emulator::options;
using salvo::emulator::server;
using salvo::test::http_client;
namespace asio = boost::asio;

const std::string body =
    R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"}]})";
constexpr const char* success =
    R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})";

std::unique_ptr<server> start(options o = {}) {
    o.record_in_memory = true;
    auto s = server::start(std::move(o));
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
}

boost::system::error_code write_raw(http_client& c, const std::string& bytes) {
    boost::system::error_code out;
    c.stream().expires_after(std::chrono::seconds(10));
    asio::async_write(c.stream(), asio::buffer(bytes),
                      [&](boost::system::error_code ec, std::size_t) { out = ec; });
    c.run();
    return out;
}

// Reads up to and including the first blank line (a response head).
std::string read_head(http_client& c) {
    std::string out;
    c.stream().expires_after(std::chrono::seconds(10));
    asio::async_read_until(c.stream(), asio::dynamic_buffer(out), "\r\n\r\n",
                           [](boost::system::error_code, std::size_t) {});
    c.run();
    return out;
}

std::string post_head(std::size_t content_length, bool expect_continue) {
    std::string h =
        "POST /api/v1/email HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    h += "Content-Length: " + std::to_string(content_length) + "\r\n";
    if (expect_continue) h += "Expect: 100-continue\r\n";
    return h + "\r\n";
}

TEST(Http, KeepAliveServesManyRequestsOnOneConnection) {
    auto s = start();
    http_client c(s->port());
    for (int i = 0; i < 5; ++i) {
        const auto r = c.post(body);
        ASSERT_EQ(r.status, 200) << r.error.message();
        EXPECT_EQ(r.body, success);
    }
    EXPECT_EQ(s->counters().requests, 5u);
    EXPECT_EQ(s->recorded().size(), 5u);
    EXPECT_EQ(s->recorded()[4].request, 5u);
}

TEST(Http, ConnectionCloseIsHonoured) {
    auto s = start();
    http_client c(s->port());
    const auto r = c.post(body, {{"Connection", "close"}});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.connection, "close");
    EXPECT_EQ(c.read(std::chrono::seconds(2)).error, boost::beast::http::error::end_of_stream);
}

TEST(Http, ExpectContinueGetsOneHundredBeforeTheBody) {
    auto s = start();
    http_client c(s->port());
    ASSERT_FALSE(write_raw(c, post_head(body.size(), true)));
    EXPECT_EQ(read_head(c), "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_FALSE(write_raw(c, body));
    const auto r = c.read();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, success);
}

TEST(Http, TooLargeDeclaredBodyIs413WithoutContinue) {
    auto s = start();
    http_client c(s->port());
    ASSERT_FALSE(write_raw(c, post_head(salvo::injection::server_max_request_bytes + 1, true)));
    const auto r = c.read();
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.connection, "close");
}

TEST(Http, ContractLimitAcceptsABodyOfExactly25MiB) {
    auto s = start();
    http_client c(s->port());
    // A valid request padded with JSON whitespace to the limit exactly.
    std::string big = body;
    big.insert(big.size() - 1, salvo::injection::server_max_request_bytes - big.size(), ' ');
    const auto r = c.post(big);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, success);
}

TEST(Http, TooLargeChunkedBodyIs413) {
    options o;
    o.max_body_bytes = 1000;
    auto s = start(o);
    http_client c(s->port());
    std::string req =
        "POST /api/v1/email HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "7d0\r\n" +
        std::string(2000, ' ') + "\r\n0\r\n\r\n";
    ASSERT_FALSE(write_raw(c, req));
    const auto r = c.read();
    EXPECT_EQ(r.status, 413);
}

TEST(Http, StalledBodyIs408) {
    options o;
    o.read_timeout = std::chrono::milliseconds(200);
    auto s = start(o);
    http_client c(s->port());
    ASSERT_FALSE(write_raw(c, post_head(100, false) + "{\"Serv"));
    const auto r = c.read();
    EXPECT_EQ(r.status, 408);
    EXPECT_TRUE(s->recorded().empty());
}

TEST(Http, IdleConnectionIsClosedQuietly) {
    options o;
    o.idle_timeout = std::chrono::milliseconds(150);
    auto s = start(o);
    http_client c(s->port());
    ASSERT_EQ(c.post(body).status, 200);
    const auto r = c.read(std::chrono::seconds(5));
    EXPECT_EQ(r.error, boost::beast::http::error::end_of_stream);
}

TEST(Http, UnknownPathIs404AndWrongMethodIs405) {
    auto s = start();
    http_client c(s->port());
    EXPECT_EQ(c.get("/nope").status, 404);
    EXPECT_EQ(c.get("/api/v1/email").status, 405);
    EXPECT_EQ(c.request(boost::beast::http::verb::post, "/api/v1/email?x=1", body).status, 200);
    EXPECT_EQ(s->counters().requests, 1u);
}

TEST(Http, StatsReportsCountersAsJson) {
    auto s = start();
    http_client c(s->port());
    ASSERT_EQ(c.post(body).status, 200);
    const std::string bad =
        R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"a@example.com"},{"EmailAddress":"b@@x"}],"From":{"EmailAddress":"f@example.com"},"Subject":"Hi %%Name%%","TextBody":"T","MergeData":{"Global":[{"Field":"Other","Value":"1"}]}}]})";
    ASSERT_EQ(c.post(bad).status, 200);
    const auto r = c.get("/stats");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(
        r.body,
        R"({"requests":2,"messages":2,"emails":2,"rejected_addresses":1,"missing_merge_fields":1,)"
        R"("by_code":{"Success":1,"Warning":1},"message_codes":{"Warning":1},"by_status":{"200":2},"faults":{}})");
}

TEST(Http, ManyClientsOnManyThreads) {
    options o;
    o.threads = 4;
    auto s = start(o);
    constexpr int clients = 8, per_client = 25;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < clients; ++t)
        threads.emplace_back([&] {
            http_client c(s->port());
            for (int i = 0; i < per_client; ++i)
                if (c.post(body).body == success) ++ok;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), clients * per_client);
    EXPECT_EQ(s->counters().emails, static_cast<std::uint64_t>(clients * per_client));
    EXPECT_EQ(s->recorded().size(), static_cast<std::size_t>(clients * per_client));
}

TEST(Http, StopClosesOpenConnectionsAndIsIdempotent) {
    auto s = start();
    http_client idle(s->port());
    ASSERT_EQ(idle.post(body).status, 200);
    s->stop();
    s->stop();
    EXPECT_TRUE(idle.post(body).status == 0);
}

TEST(Http, ReportsItsUrlAndRefusesABusyPort) {
    auto s = start();
    EXPECT_NE(s->port(), 0);
    EXPECT_EQ(s->url(), "http://127.0.0.1:" + std::to_string(s->port()) + "/api/v1/email");
    options o;
    o.port = s->port();
    const auto second = server::start(o);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error(), boost::asio::error::address_in_use);
}

TEST(Http, DefaultPortIsDocumentedConstant) {
    EXPECT_EQ(salvo::emulator::default_port, 8465);
    EXPECT_EQ(options{}.port, 0);  // the library binds an ephemeral port
    EXPECT_EQ(options{}.host, "127.0.0.1");
}

}  // namespace
