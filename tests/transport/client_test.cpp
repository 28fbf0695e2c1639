#include "client_fixture.hpp"
#include "salvo/transport/error.hpp"
#include "support/fake_clock.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace std::chrono_literals;
using namespace salvo::transport;
using namespace salvo::transport::testing;
using salvo::test::http_action;
using salvo::test::http_test_server;
using salvo::test::received_request;

http_action echo(std::size_t, const received_request& r) {
    http_action a;
    a.body = r.body;
    return a;
}

TEST(Client, AThousandConcurrentRequestsArriveAndReturnIntact) {
    http_test_server server(echo);
    auto o = quick_options();
    o.max_in_flight = 1000;
    o.max_total_connections = 64;  // keep the fd count modest on any CI box
    client c(o);
    constexpr int n = 1000;
    std::vector<std::future<finished>> futures;
    std::set<std::string> sent;
    for (int i = 0; i < n; ++i) {
        std::string body = "{\"n\":" + std::to_string(i) + ",\"pad\":\"" +
                           std::string(static_cast<std::size_t>(i % 97) * 13, 'x') + "\"}";
        sent.insert(body);
        futures.push_back(send(c, make_request(server.url("/api/v1/email"), body)));
    }
    std::uint64_t body_bytes = 0;
    for (const auto& b : sent) body_bytes += b.size();
    std::set<std::string> echoed;
    for (auto& f : futures) {
        auto r = wait(f);
        ASSERT_EQ(r.out.result, disposition::success) << r.out.message;
        EXPECT_EQ(r.out.body, r.req.body);  // the answer carried our exact body back
        echoed.insert(r.out.body);
    }
    EXPECT_EQ(echoed, sent);
    std::set<std::string> arrived;
    for (const auto& r : server.received()) arrived.insert(r.body);
    EXPECT_EQ(arrived, sent);
    EXPECT_EQ(server.arrivals(), static_cast<std::size_t>(n));
    EXPECT_LE(server.connections(), 64u);
    const auto s = c.stats();
    EXPECT_EQ(s.requests, static_cast<std::uint64_t>(n));
    EXPECT_EQ(s.succeeded, static_cast<std::uint64_t>(n));
    EXPECT_EQ(s.retries, 0u);
    EXPECT_GT(s.latency_max.count(), 0);
    EXPECT_EQ(s.connections_opened, server.connections());
    EXPECT_EQ(s.bytes_out, body_bytes);
    EXPECT_EQ(s.bytes_in, body_bytes);  // echoed back
}

TEST(Client, ConnectionCapOfOneReusesOneSocket) {
    http_test_server server(echo);
    auto o = quick_options();
    o.max_in_flight = 200;
    o.max_total_connections = 1;
    o.max_host_connections = 1;
    client c(o);
    std::vector<std::future<finished>> futures;
    for (int i = 0; i < 200; ++i)
        futures.push_back(send(c, make_request(server.url(), "body " + std::to_string(i))));
    for (auto& f : futures) {
        auto r = wait(f);
        EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
        EXPECT_EQ(r.out.body, r.req.body);
    }
    EXPECT_EQ(server.arrivals(), 200u);
    EXPECT_EQ(server.connections(), 1u);
    EXPECT_EQ(c.stats().connections_opened, 1u);
}

unsigned short closed_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}  // closed: nothing listens there now

TEST(Client, RefusedPortIsRetriedThenReportedRetrySafeWithoutTheCircuit) {
    const unsigned short port = closed_port();
    auto o = quick_options();
    o.circuit.enabled = false;
    client c(o);
    auto r = send_and_wait(
        c, make_request("http://127.0.0.1:" + std::to_string(port) + "/", "never sent"));
    EXPECT_EQ(r.out.result, disposition::retry_after_backoff);
    EXPECT_EQ(r.out.curl_code, CURLE_COULDNT_CONNECT);
    EXPECT_FALSE(r.out.whole_body_sent);
    EXPECT_EQ(r.out.attempts, 3u);
    EXPECT_EQ(r.req.body, "never sent");  // handed back for the caller
    EXPECT_NE(r.out.message.find("retries exhausted"), std::string::npos) << r.out.message;
}

// Records the circuit's events; wait_for() blocks until one has been seen.
struct circuit_log : std::enable_shared_from_this<circuit_log> {
    std::mutex m;
    std::condition_variable cv;
    std::vector<circuit_event> events;
    circuit_state last;
    void operator()(circuit_event e, const circuit_state& s) {
        std::lock_guard lock(m);
        events.push_back(e);
        last = s;
        cv.notify_all();
    }
    void watch(client_options& o) {
        o.on_circuit = [self = shared_from_this()](circuit_event e, const circuit_state& c) {
            (*self)(e, c);
        };
    }
    bool wait_for(circuit_event e, std::chrono::milliseconds limit = 15s) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, limit, [&] {
            return std::find(events.begin(), events.end(), e) != events.end();
        });
    }
};

// An endpoint nobody listens on is an outage, not a failed request: the
// circuit opens, the request waits (never reported failed), the circuit
// gives up after give_up_after, and shutdown hands the request back as
// cancelled and never delivered.
TEST(Client, RefusedPortOpensTheCircuitHoldsTheRequestAndGivesUp) {
    const unsigned short port = closed_port();
    auto log = std::make_shared<circuit_log>();
    auto o = quick_options();
    o.retry.max_attempts = 2;
    o.circuit.give_up_after = 300ms;
    log->watch(o);
    client c(o);
    auto f = send(c, make_request("http://127.0.0.1:" + std::to_string(port) + "/", "held"));
    ASSERT_TRUE(log->wait_for(circuit_event::gave_up));
    EXPECT_EQ(f.wait_for(0s), std::future_status::timeout) << "the request was reported";
    {
        std::lock_guard lock(log->m);
        EXPECT_EQ(log->events.front(), circuit_event::opened);
        EXPECT_TRUE(log->last.open);
        EXPECT_TRUE(log->last.gave_up);
        EXPECT_NE(log->last.last_error.find("onnect"), std::string::npos) << log->last.last_error;
        EXPECT_GE(log->last.probes, 1u);
    }
    const auto seen = c.circuit();
    EXPECT_TRUE(seen.open);
    EXPECT_TRUE(seen.gave_up);
    c.shutdown(0ms);
    auto r = wait(f);
    EXPECT_EQ(r.out.result, disposition::cancelled);
    EXPECT_FALSE(r.out.whole_body_sent);
    EXPECT_GT(r.out.attempts, 2u) << "attempts during the outage count against max_attempts";
    EXPECT_EQ(r.req.body, "held");
}

// A run of 503s across requests opens the circuit; the request then waits
// through it (its attempts uncounted) and succeeds once the server answers.
TEST(Client, RunOfServiceUnavailableOpensTheCircuitAndAnAnswerClosesIt) {
    http_test_server server([](std::size_t i, const received_request&) {
        http_action a;
        a.status = i < 8 ? 503 : 200;
        a.body = "{}";
        return a;
    });
    auto log = std::make_shared<circuit_log>();
    auto o = quick_options();
    o.retry.max_attempts = 3;
    o.circuit.failure_run = 3;
    log->watch(o);
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    EXPECT_EQ(r.out.attempts, 9u);
    EXPECT_EQ(server.arrivals(), 9u);
    ASSERT_TRUE(log->wait_for(circuit_event::closed));
    std::lock_guard lock(log->m);
    ASSERT_EQ(log->events.size(), 2u);
    EXPECT_EQ(log->events[0], circuit_event::opened);
    EXPECT_FALSE(c.circuit().open);
}

// The probe of an open circuit may itself end without an answer (sent
// whole, then nothing until the request timed out: maybe delivered). That
// says nothing of the endpoint: the circuit stays open and the next probe
// is armed. (None was: every later request waited for ever; a send whose
// endpoint answered 503s and dropped connections hung, its window full.)
TEST(Client, AProbeThatMayHaveBeenDeliveredArmsTheNextProbe) {
    http_test_server server([](std::size_t i, const received_request&) {
        if (i == 3) return http_action::of(http_action::kind::hang);
        http_action a;
        a.status = i < 3 ? 503 : 200;
        a.body = "{}";
        return a;
    });
    auto log = std::make_shared<circuit_log>();
    auto o = quick_options();
    o.request_timeout = 300ms;
    o.retry.max_attempts = 10;
    o.circuit.failure_run = 3;
    log->watch(o);
    client c(o);
    // Three 503s open the circuit; the request then goes as the probe, and
    // the server never answers it.
    auto first = send_and_wait(c, make_request(server.url(), "{\"n\":1}"));
    EXPECT_EQ(first.out.result, disposition::maybe_delivered) << first.out.message;
    EXPECT_EQ(server.arrivals(), 4u);
    EXPECT_TRUE(c.circuit().open);
    // The next request goes as the next probe, and its answer closes it.
    auto pending = send(c, make_request(server.url(), "{\"n\":2}"));
    auto second = wait(pending, 5s);
    EXPECT_EQ(second.out.result, disposition::success) << second.out.message;
    ASSERT_TRUE(log->wait_for(circuit_event::closed));
    EXPECT_FALSE(c.circuit().open);
}

TEST(Client, ServerThatNeverAnswersTimesOutAsMaybeDeliveredAndIsNotResent) {
    http_test_server server([](std::size_t, const received_request&) {
        return http_action::of(http_action::kind::hang);
    });
    auto o = quick_options();
    o.request_timeout = 300ms;
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{\"x\":1}"));
    EXPECT_EQ(r.out.result, disposition::maybe_delivered);
    EXPECT_EQ(r.out.curl_code, CURLE_OPERATION_TIMEDOUT);
    EXPECT_TRUE(r.out.whole_body_sent);
    EXPECT_EQ(r.out.attempts, 1u);
    EXPECT_EQ(server.arrivals(), 1u);
}

TEST(Client, ServerThatNeverReadsTimesOutRetrySafeWithThePartialBody) {
    salvo::test::http_test_server_options so;
    so.never_read = true;
    http_test_server server({}, so);
    auto o = quick_options();
    o.request_timeout = 300ms;
    o.retry.max_attempts = 2;
    client c(o);
    // Far more than the socket buffers hold: most of it cannot leave.
    auto r = send_and_wait(c, make_request(server.url(), std::string(32u << 20, 'b')));
    EXPECT_EQ(r.out.curl_code, CURLE_OPERATION_TIMEDOUT);
    EXPECT_FALSE(r.out.whole_body_sent);
    EXPECT_EQ(r.out.result, disposition::retry_now);
    EXPECT_EQ(r.out.attempts, 2u);
    EXPECT_LT(r.out.bytes_uploaded, 32u << 20);
}

TEST(Client, ServerThatStallsMidBodyIsCutOffAsMaybeDelivered) {
    http_test_server server([](std::size_t, const received_request&) {
        auto a = http_action::of(http_action::kind::stall_mid_body);
        a.body = std::string(4000, 'r');
        return a;
    });
    auto o = quick_options();
    o.request_timeout = 300ms;
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{\"x\":2}"));
    EXPECT_EQ(r.out.result, disposition::maybe_delivered);
    EXPECT_EQ(r.out.curl_code, CURLE_OPERATION_TIMEDOUT);
    EXPECT_EQ(r.out.http_status, 200);
    EXPECT_EQ(r.out.attempts, 1u);
    EXPECT_EQ(server.arrivals(), 1u);
}

TEST(Client, LowSpeedCutOffEndsAStalledTransfer) {
    http_test_server server([](std::size_t, const received_request&) {
        auto a = http_action::of(http_action::kind::stall_mid_body);
        a.body = std::string(20, 'r');  // a trickle, then nothing
        return a;
    });
    auto o = quick_options();
    // The request timeout far above the low-speed limit, so that the bound
    // below tells the two apart with room for ASan on a busy machine.
    o.request_timeout = 120s;
    o.low_speed_bytes = 1000;
    o.low_speed_time = 1s;
    client c(o);
    const auto start = std::chrono::steady_clock::now();
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::maybe_delivered);
    EXPECT_EQ(r.out.curl_code, CURLE_OPERATION_TIMEDOUT);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
}

TEST(Client, ServerThatReadsTheBodyAndClosesGivesMaybeDeliveredAndOneArrival) {
    http_test_server server([](std::size_t, const received_request&) {
        return http_action::of(http_action::kind::close_without_answer);
    });
    client c(quick_options());
    auto r = send_and_wait(c, make_request(server.url(), "{\"once\":true}"));
    EXPECT_EQ(r.out.result, disposition::maybe_delivered) << r.out.message;
    EXPECT_TRUE(r.out.whole_body_sent);
    EXPECT_EQ(r.out.http_status, 0);
    EXPECT_EQ(r.out.attempts, 1u);
    EXPECT_TRUE(server.wait_until([&] { return server.closed_connections() >= 1; }, 2s));
    EXPECT_EQ(server.arrivals(), 1u);
}

TEST(Client, DeadReusedConnectionIsNotSilentlyResentByCurl) {
    // The second request goes out on the kept-alive connection of the first;
    // the server reads it and closes without a word. curl 7.88 would rewind
    // and re-send it on a fresh connection ("Connection died, retrying a
    // fresh connect"); the refusing seek callback must prevent that.
    http_test_server server([](std::size_t index, const received_request&) {
        if (index == 0) return http_action{};
        return http_action::of(http_action::kind::close_without_answer);
    });
    auto o = quick_options();
    o.max_total_connections = 1;
    client c(o);
    auto first = send_and_wait(c, make_request(server.url(), "{\"n\":1}"));
    ASSERT_EQ(first.out.result, disposition::success);
    auto second = send_and_wait(c, make_request(server.url(), "{\"n\":2}"));
    EXPECT_EQ(second.out.result, disposition::maybe_delivered) << second.out.message;
    EXPECT_TRUE(second.out.whole_body_sent);
    EXPECT_EQ(second.out.attempts, 1u);
    EXPECT_NE(second.out.message.find("never sent twice"), std::string::npos) << second.out.message;
    EXPECT_TRUE(server.wait_until([&] { return server.closed_connections() >= 1; }, 2s));
    EXPECT_EQ(server.arrivals(), 2u);  // one each, no invisible duplicate
}

TEST(Client, DeadReusedConnectionIsNotReissuedOnAnotherPooledConnection) {
    // Two requests at once leave two kept-alive connections in the pool. The
    // third goes out on one of them, which the server reads and closes
    // without a word. curl's own retry then takes the other pooled connection
    // (no new socket, so the socket guard never sees it): the pre-request
    // callback must refuse that second issue.
    http_test_server server([](std::size_t index, const received_request&) {
        if (index == 2) return http_action::of(http_action::kind::close_without_answer);
        http_action a;
        if (index < 2) a.delay = std::chrono::milliseconds(100);  // both connections open
        return a;
    });
    auto o = quick_options();
    o.max_total_connections = 2;
    o.max_in_flight = 2;
    client c(o);
    auto f1 = send(c, make_request(server.url(), "{\"n\":1}"));
    auto f2 = send(c, make_request(server.url(), "{\"n\":2}"));
    ASSERT_EQ(wait(f1).out.result, disposition::success);
    ASSERT_EQ(wait(f2).out.result, disposition::success);
    ASSERT_EQ(server.connections(), 2u);
    auto third = send_and_wait(c, make_request(server.url(), "{\"n\":3}"));
    EXPECT_EQ(third.out.result, disposition::maybe_delivered) << third.out.message;
    EXPECT_TRUE(third.out.whole_body_sent);
    EXPECT_EQ(third.out.attempts, 1u);
    EXPECT_NE(third.out.message.find("never sent twice"), std::string::npos) << third.out.message;
    EXPECT_TRUE(server.wait_until([&] { return server.closed_connections() >= 1; }, 2s));
    EXPECT_EQ(server.arrivals(), 3u);  // one each, no invisible duplicate
}

TEST(Client, KeptAliveConnectionClosedBetweenRequestsStillSendsOnce) {
    http_test_server server([](std::size_t, const received_request& r) {
        http_action a;
        a.body = r.body;
        a.close_after = true;  // answers as if keeping alive, then closes
        return a;
    });
    client c(quick_options());
    auto first = send_and_wait(c, make_request(server.url(), "first"));
    ASSERT_EQ(first.out.result, disposition::success);
    ASSERT_TRUE(server.wait_until([&] { return server.closed_connections() == 1; }, 2s));
    auto second = send_and_wait(c, make_request(server.url(), "second"));
    EXPECT_EQ(second.out.result, disposition::success) << second.out.message;
    EXPECT_EQ(second.out.body, "second");
    EXPECT_EQ(second.out.attempts, 1u);
    ASSERT_EQ(server.arrivals(), 2u);
    EXPECT_EQ(server.received()[1].body, "second");
    EXPECT_EQ(server.connections(), 2u);
}

TEST(Client, ServiceUnavailableThenOkResendsTheSameBody) {
    http_test_server server([](std::size_t index, const received_request& r) {
        http_action a;
        a.status = index == 0 ? 503 : 200;
        a.body = r.body;
        return a;
    });
    client c(quick_options());
    const std::string body(47 * 1024, 'q');
    auto r = send_and_wait(c, make_request(server.url(), body));
    EXPECT_EQ(r.out.result, disposition::success);
    EXPECT_EQ(r.out.attempts, 2u);
    EXPECT_EQ(r.out.http_status, 200);
    ASSERT_EQ(server.arrivals(), 2u);
    EXPECT_EQ(server.received()[0].body, body);
    EXPECT_EQ(server.received()[1].body, body);
    EXPECT_EQ(c.stats().retries, 1u);
}

TEST(Client, TooManyRequestsWaitsForRetryAfterSeconds) {
    salvo::test::fake_clock clk;
    http_test_server server([](std::size_t index, const received_request&) {
        http_action a;
        if (index == 0) {
            a.status = 429;
            a.headers = {{"Retry-After", "1"}};
        }
        return a;
    });
    client c(quick_options(), clk);
    auto f = send(c, make_request(server.url(), "{}"));
    ASSERT_TRUE(server.wait_until([&] { return server.arrivals() == 1; }, 5s));
    EXPECT_EQ(c.in_flight(), 1u);  // the waiting retry keeps its slot
    auto r = wait(f);
    EXPECT_EQ(r.out.result, disposition::success);
    EXPECT_EQ(r.out.attempts, 2u);
    EXPECT_EQ(r.out.retry_wait, 1s);  // Retry-After, not the 5-20 ms backoff
    const auto got = server.received();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_GE(got[1].at - got[0].at, 900ms);
    EXPECT_LT(got[1].at - got[0].at, 5s);
}

TEST(Client, RetryAfterAsAnHttpDate) {
    salvo::test::fake_clock clk;  // wall time 2026-01-01T00:00:00Z
    http_test_server server([](std::size_t index, const received_request&) {
        http_action a;
        if (index == 0) {
            a.status = 503;
            a.headers = {{"Retry-After", "Thu, 01 Jan 2026 00:00:01 GMT"}};
        }
        return a;
    });
    client c(quick_options(), clk);
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success);
    EXPECT_EQ(r.out.attempts, 2u);
    EXPECT_EQ(r.out.retry_wait, 1s);
}

TEST(Client, PermanentStatusIsReportedOnceWithItsBody) {
    http_test_server server([](std::size_t, const received_request&) {
        http_action a;
        a.status = 401;
        a.body = R"({"ErrorCode":"InvalidAuthentication"})";
        return a;
    });
    client c(quick_options());
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::permanent);
    EXPECT_EQ(r.out.http_status, 401);
    EXPECT_EQ(r.out.error, make_error_code(errc::http_status));
    EXPECT_EQ(r.out.body, R"({"ErrorCode":"InvalidAuthentication"})");
    EXPECT_EQ(server.arrivals(), 1u);
}

TEST(Client, RetriesStopAtMaxAttempts) {
    http_test_server server([](std::size_t, const received_request&) {
        http_action a;
        a.status = 502;
        return a;
    });
    auto o = quick_options();
    o.retry.max_attempts = 4;
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::retry_after_backoff);
    EXPECT_EQ(r.out.attempts, 4u);
    EXPECT_EQ(r.out.http_status, 502);
    EXPECT_EQ(server.arrivals(), 4u);
}

TEST(Client, BodyHookTurnsOverQuotaIntoARetry) {
    http_test_server server([](std::size_t index, const received_request&) {
        http_action a;
        a.body = index == 0 ? R"({"ErrorCode":"OverQuota"})" : R"({"ErrorCode":"Success"})";
        return a;
    });
    auto o = quick_options();
    o.hook = [](const outcome& answer, verdict current) {
        if (answer.body.find("OverQuota") != std::string::npos)
            return verdict{disposition::retry_after_backoff, true};
        return current;
    };
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success);
    EXPECT_EQ(r.out.attempts, 2u);
    EXPECT_EQ(r.out.body, R"({"ErrorCode":"Success"})");
}

TEST(Client, SendsUserAgentOwnHeadersAndNoExpectOnLargeBodies) {
    http_test_server server(echo);
    client c(quick_options());
    auto req = make_request(server.url("/api/v1/email"), std::string(2u << 20, 'L'));
    req.headers.push_back("Authorization: Bearer k");
    auto r = send_and_wait(c, std::move(req));
    ASSERT_EQ(r.out.result, disposition::success) << r.out.message;
    ASSERT_EQ(server.arrivals(), 1u);
    const auto got = server.received()[0];
    EXPECT_EQ(got.method, "POST");
    EXPECT_EQ(got.target, "/api/v1/email");
    EXPECT_EQ(got.header("User-Agent"), "salvo/9.8.7");
    EXPECT_EQ(got.header("Content-Type"), "application/json; charset=utf-8");
    EXPECT_EQ(got.header("Authorization"), "Bearer k");
    EXPECT_EQ(got.header("Expect"), "");
    EXPECT_EQ(got.body.size(), 2u << 20);
    EXPECT_EQ(r.out.bytes_uploaded, 2u << 20);
}

TEST(Client, ProxyOptionSendsThroughTheProxy) {
    // The test server stands in for an HTTP proxy: a request through a proxy
    // carries the absolute URL as its target, and no DNS lookup is made.
    http_test_server proxy(echo);
    auto o = quick_options();
    o.proxy = proxy.url();
    client c(o);
    auto r = send_and_wait(c, make_request("http://inject.example.invalid/api/v1/email", "{}"));
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    ASSERT_EQ(proxy.arrivals(), 1u);
    EXPECT_EQ(proxy.received()[0].target, "http://inject.example.invalid/api/v1/email");
}

TEST(Client, EmptyProxyOptionIgnoresTheEnvironment) {
    http_test_server server(echo);
    ::setenv("http_proxy", "http://127.0.0.1:1", 1);  // would refuse every connection
    auto o = quick_options();
    o.proxy = "";
    client c(o);
    auto r = send_and_wait(c, make_request(server.url(), "direct"));
    ::unsetenv("http_proxy");
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    EXPECT_EQ(server.arrivals(), 1u);
}

TEST(Client, EarlyRefusalOfALargeBodyIsPermanentNotRetried) {
    salvo::test::http_test_server_options so;
    so.answer_before_body = 413;
    http_test_server server({}, so);
    client c(quick_options());
    auto r = send_and_wait(c, make_request(server.url(), std::string(32u << 20, 'z')));
    EXPECT_EQ(r.out.result, disposition::permanent) << r.out.message;
    EXPECT_EQ(r.out.http_status, 413);
    EXPECT_EQ(r.out.attempts, 1u);
    EXPECT_FALSE(r.out.whole_body_sent);
    EXPECT_EQ(server.connections(), 1u);
}

TEST(Client, HeaderWithLineBreakIsRefusedPermanently) {
    http_test_server server(echo);
    client c(quick_options());
    auto req = make_request(server.url(), "{}");
    req.headers.push_back("X-Evil: a\r\nX-Injected: b");
    auto r = send_and_wait(c, std::move(req));
    EXPECT_EQ(r.out.result, disposition::permanent);
    EXPECT_EQ(r.out.error, make_error_code(errc::invalid_request));
    EXPECT_EQ(server.arrivals(), 0u);
}

}  // namespace
