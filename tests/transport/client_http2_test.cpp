// The client against a real HTTP/2 server: Debian's nginx over TLS on
// loopback (support/nginx_server.hpp), with a self-signed certificate the
// client trusts through tls.ca_file.

#include "client_fixture.hpp"
#include "support/nginx_server.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <future>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace salvo::transport;
using namespace salvo::transport::testing;
using salvo::test::nginx_options;
using salvo::test::nginx_server;

client_options h2_options(const nginx_server& server) {
    auto o = quick_options();
    o.http2 = true;
    o.tls.ca_file = server.ca_file().string();
    return o;
}

// Sends `n` requests at once (each body names its index) and waits for all.
std::vector<finished> send_all(client& c, const std::string& url, unsigned n) {
    std::vector<std::future<finished>> futures;
    futures.reserve(n);
    for (unsigned i = 0; i < n; ++i)
        futures.push_back(send(c, make_request(url, "{\"i\":" + std::to_string(i) + "}")));
    std::vector<finished> out;
    out.reserve(n);
    for (auto& f : futures) out.push_back(wait(f, std::chrono::milliseconds(30000)));
    return out;
}

TEST(ClientHttp2, RequestsSucceedOverHttp2) {
    salvo::test::temp_dir dir("salvo-h2");
    auto server = nginx_server::start(dir.path());
    client c(h2_options(server));
    auto r = send_and_wait(c, make_request(server.url(), "{\"h2\":1}"));
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    EXPECT_EQ(r.out.http_status, 200);
    EXPECT_EQ(r.out.http_version, 20);
    EXPECT_EQ(r.out.body,
              R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})");
    const auto seen = server.wait_for_requests(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].protocol, "HTTP/2.0");
    EXPECT_EQ(seen[0].content_length, 8u);
}

TEST(ClientHttp2, Http2OffSpeaksHttp11ToTheSameServer) {
    salvo::test::temp_dir dir("salvo-h2");
    auto server = nginx_server::start(dir.path());
    auto o = h2_options(server);
    o.http2 = false;
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    EXPECT_EQ(r.out.http_version, 11);
    const auto seen = server.wait_for_requests(1);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].protocol, "HTTP/1.1");
}

TEST(ClientHttp2, ManyStreamsShareOneConnection) {
    salvo::test::temp_dir dir("salvo-h2");
    auto server = nginx_server::start(dir.path());
    auto o = h2_options(server);
    o.max_in_flight = 64;
    client c(o);
    // One request first, so the connection is known to multiplex (PIPEWAIT
    // makes the next ones wait for it rather than open their own).
    ASSERT_EQ(send_and_wait(c, make_request(server.url(), "{}")).out.result, disposition::success);
    const auto results = send_all(c, server.url(), 200);
    for (const auto& r : results) {
        ASSERT_EQ(r.out.result, disposition::success) << r.out.message << server.error_log();
        EXPECT_EQ(r.out.http_version, 20);
        EXPECT_EQ(r.out.attempts, 1u);
    }
    const auto seen = server.wait_for_requests(201);
    ASSERT_EQ(seen.size(), 201u);
    std::set<std::uint64_t> connections;
    for (const auto& s : seen) {
        EXPECT_EQ(s.protocol, "HTTP/2.0");
        connections.insert(s.connection);
    }
    EXPECT_EQ(connections.size(), 1u) << "201 requests over HTTP/2 on one connection";
    EXPECT_EQ(c.stats().connections_opened, 1u);
}

// nginx closes an HTTP/2 connection after keepalive_requests streams with a
// GOAWAY whose last-stream-id is the last stream it took; the streams the
// client opened above it were never processed (nginx skips their HEADERS),
// and the client's HTTP/2 library closes them with REFUSED_STREAM. Those are
// safe to send again: every request must end accepted exactly once, none
// maybe-delivered.
//
// Whether a refused stream comes back to salvo or is resent by curl itself
// depends on whether curl had passed any of its body on (curl cannot rewind
// salvo's body): a matter of timing. A release build gives salvo 20-170
// such streams a run; under ASan 4 runs in 40 gave it none. So the run is
// repeated, with a new client, until salvo has retried one (at most six
// runs), and every run must deliver each request exactly once.
TEST(ClientHttp2, GoawayMidRunRetriesRefusedStreamsAndDeliversEachOnce) {
    salvo::test::temp_dir dir("salvo-h2");
    nginx_options no;
    no.keepalive_requests = 10;
    auto server = nginx_server::start(dir.path(), no);
    constexpr unsigned n = 300;
    constexpr unsigned max_runs = 6;
    unsigned retried = 0;
    std::size_t logged = 0;
    for (unsigned run = 1; run <= max_runs && retried == 0; ++run) {
        auto o = h2_options(server);
        o.max_in_flight = 64;
        o.retry.max_attempts = 10;
        client c(o);
        const auto results = send_all(c, server.url(), n);
        for (const auto& r : results) {
            EXPECT_EQ(r.out.result, disposition::success)
                << "run " << run << ", " << to_string(r.out.result) << ": " << r.out.message;
            if (r.out.attempts > 1) ++retried;
        }
        const auto seen = server.wait_for_requests(logged + n);
        ASSERT_GE(seen.size(), logged);
        std::set<std::uint64_t> connections;
        unsigned ok = 0;
        for (std::size_t i = logged; i < seen.size(); ++i) {
            connections.insert(seen[i].connection);
            if (seen[i].status == 200) ++ok;
        }
        EXPECT_EQ(ok, n) << "run " << run << ": each request processed exactly once";
        EXPECT_EQ(seen.size() - logged, n) << "run " << run;
        EXPECT_GE(connections.size(), n / no.keepalive_requests) << "run " << run;
        logged = seen.size();
        std::printf(
            "GOAWAY run %u: %u requests, %zu connections at nginx, %u retried by salvo so far\n",
            run, n, connections.size(), retried);
    }
    // Streams whose body had gone out were refused and sent again by salvo
    // (curl resends the others itself); without any the test shows nothing.
    EXPECT_GT(retried, 0u) << "no stream was refused in " << max_runs
                           << " runs: the test did not exercise GOAWAY";
}

}  // namespace
