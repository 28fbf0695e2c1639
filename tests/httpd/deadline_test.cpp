// httpd::deadline on a real loopback connection: it cancels a read that
// outlives it, re-arming earlier takes effect, re-arming later or disarming
// does not cancel early, and a deadline that goes away with its wait
// pending leaves nothing behind.
#include <salvo/httpd/session.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace salvo::test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// A connected pair of loopback sockets on one io_context.
struct socket_pair {
    asio::io_context io;
    tcp::socket server{io}, client{io};
    socket_pair() {
        tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        client.connect(acc.local_endpoint());
        acc.accept(server);
    }
};

// How a read of one byte on `s.server` ended, the peer writing a byte after
// `write_after` (never when nullopt); the io_context runs for at most 10 s.
struct read_end {
    boost::system::error_code ec;
    bool done = false;
    std::chrono::steady_clock::duration took{};
};
read_end read_one(socket_pair& s, std::optional<std::chrono::milliseconds> write_after) {
    read_end r;
    const auto started = std::chrono::steady_clock::now();
    static char in = 0, out = 'x';
    asio::async_read(s.server, asio::buffer(&in, 1),
                     [&](boost::system::error_code ec, std::size_t) {
                         r.ec = ec;
                         r.done = true;
                         r.took = std::chrono::steady_clock::now() - started;
                     });
    asio::steady_timer writer(s.io);
    if (write_after) {
        writer.expires_after(*write_after);
        writer.async_wait([&](boost::system::error_code ec) {
            if (!ec) asio::async_write(s.client, asio::buffer(&out, 1), [](auto, auto) {});
        });
    }
    s.io.restart();
    const auto until = started + 10s;
    while (!r.done && std::chrono::steady_clock::now() < until) s.io.run_one_for(100ms);
    writer.cancel();
    s.io.poll();
    return r;
}

TEST(Deadline, CancelsAReadThatOutlivesIt) {
    socket_pair s;
    httpd::deadline d(s.io.get_executor());
    d.arm(s.server, 50ms);
    const auto r = read_one(s, std::nullopt);
    ASSERT_TRUE(r.done) << "the read was never cancelled";
    EXPECT_EQ(r.ec, asio::error::operation_aborted);
    EXPECT_TRUE(d.fired());
    EXPECT_TRUE(s.server.is_open()) << "cancelled, not closed: a 408 can still be written";
}

TEST(Deadline, ArmingEarlierThanTheWaitInProgressTakesEffect) {
    socket_pair s;
    httpd::deadline d(s.io.get_executor());
    d.arm(s.server, 60s);
    d.disarm();
    d.arm(s.server, 50ms);
    const auto r = read_one(s, std::nullopt);
    ASSERT_TRUE(r.done) << "the earlier deadline was lost behind the 60 s wait";
    EXPECT_EQ(r.ec, asio::error::operation_aborted);
    EXPECT_TRUE(d.fired());
}

TEST(Deadline, ArmingLaterDoesNotCancelAtTheEarlierTime) {
    socket_pair s;
    httpd::deadline d(s.io.get_executor());
    d.arm(s.server, 20ms);
    d.disarm();
    d.arm(s.server, 5s);
    // The wait set for 20 ms wakes first; it must wait on for the rest.
    const auto r = read_one(s, 300ms);
    ASSERT_TRUE(r.done);
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_FALSE(d.fired());
    EXPECT_GE(r.took, 300ms);
}

TEST(Deadline, ADisarmedDeadlineCancelsNothing) {
    socket_pair s;
    httpd::deadline d(s.io.get_executor());
    d.arm(s.server, 20ms);
    d.disarm();
    const auto r = read_one(s, 200ms);
    ASSERT_TRUE(r.done);
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_FALSE(d.fired());
}

TEST(Deadline, FiresAgainAfterItFiredOnce) {
    socket_pair s;
    httpd::deadline d(s.io.get_executor());
    d.arm(s.server, 30ms);
    auto r = read_one(s, std::nullopt);
    ASSERT_TRUE(r.done);
    EXPECT_TRUE(d.fired());
    d.arm(s.server, 30ms);
    EXPECT_FALSE(d.fired()) << "arming clears it";
    r = read_one(s, std::nullopt);
    ASSERT_TRUE(r.done);
    EXPECT_EQ(r.ec, asio::error::operation_aborted);
    EXPECT_TRUE(d.fired());
}

TEST(Deadline, GoingAwayWithAWaitPendingLeavesNothingBehind) {
    socket_pair s;
    {
        httpd::deadline d(s.io.get_executor());
        d.arm(s.server, 10ms);
    }
    // The wait's handler runs after the deadline is gone (ASan would see a
    // use after free); the socket is not touched.
    const auto r = read_one(s, 100ms);
    ASSERT_TRUE(r.done);
    EXPECT_FALSE(r.ec) << r.ec.message();
}

}  // namespace
}  // namespace salvo::test
