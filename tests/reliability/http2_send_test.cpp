// A whole `salvo send` over HTTP/2 to a real server: Debian's nginx over TLS
// on loopback (support/nginx_server.hpp), trusted through tls.ca_file, that
// closes each connection with a GOAWAY after a few requests. Every row must
// end accepted and delivered exactly once (nginx logs every body it took),
// none maybe-delivered: the streams above a GOAWAY's last-stream-id were
// never processed and are sent again as safe.
#include "accounting.hpp"
#include "run_send.hpp"
#include "support/nginx_server.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace salvo::test {
namespace {

// What nginx was sent, as the accounting reads an emulator's record: one
// entry per recipient address in each request body it processed (a body
// names its recipient more than once, e.g. in the message id: counted once).
std::vector<recorded_email> delivered(const std::vector<nginx_request>& requests) {
    static const std::regex address("user[0-9]+@example\\.com");
    std::vector<recorded_email> out;
    std::uint64_t n = 0;
    for (const auto& r : requests) {
        ++n;
        if (r.status != 200) continue;
        std::set<std::string> in_body;
        for (auto it = std::sregex_iterator(r.body.begin(), r.body.end(), address);
             it != std::sregex_iterator(); ++it)
            in_body.insert(it->str());
        for (const auto& a : in_body) out.push_back(recorded_email{n, a, {}, {}});
    }
    return out;
}

void send_over_http2(const std::string& mode) {
    temp_dir dir("salvo-h2-send");
    nginx_options no;
    no.keepalive_requests = 7;  // a GOAWAY every 7 requests on a connection
    no.log_bodies = true;
    auto server = nginx_server::start(dir.path(), no);
    // 3 000 rows (300 requests); under sanitizers the matrix's smaller size.
    const std::uint64_t rows = SALVO_MATRIX_ROWS < 3000 ? SALVO_MATRIX_ROWS : 3000;
    salvo_campaign c(salvo_binary(), rows);
    std::vector<std::string> args{"--merge", mode, "--set",
                                  "tls.ca_file=" + server.ca_file().string()};
    if (mode == "local") {
        args.insert(args.end(), {"--set", "limits.messages_per_request=10"});
    } else {
        args.insert(args.end(), {"--set", "limits.recipients_per_message=5", "--set",
                                 "limits.messages_per_request=2"});
    }
    const auto o = run_send(c, server.url(), args, "h2");
    ASSERT_TRUE(o.run.status.exited_with(0)) << describe(o.run.status) << "\n" << o.run.err;

    // At most 10 rows a request (fewer in the last request of a chunk).
    EXPECT_GE(o.report.requests, rows / 10);
    const auto seen = server.wait_for_requests(o.report.requests);
    const auto a = check_accounting(c, o.lines, o.report, {delivered(seen)}, {});
    EXPECT_EQ(a.by_status.at("accepted"), rows);
    EXPECT_EQ(o.report.ambiguous, 0u) << "a row was sent again as maybe-delivered";
    // Streams the GOAWAYs refused were sent again (else the test shows nothing).
    EXPECT_GT(o.report.retries, 0u) << "no request was retried: no GOAWAY refused a stream";
    for (std::uint64_t row = 1; row <= rows; ++row) {
        const auto d = a.deliveries.find(row);
        EXPECT_TRUE(d != a.deliveries.end() && d->second == 1)
            << "row " << row << " delivered " << (d == a.deliveries.end() ? 0 : d->second)
            << " times";
    }
    // Over HTTP/2, on many connections (GOAWAYs), as the requests show.
    std::set<std::uint64_t> connections;
    for (const auto& r : seen) {
        EXPECT_EQ(r.protocol, "HTTP/2.0");
        EXPECT_EQ(r.status, 200);
        connections.insert(r.connection);
    }
    EXPECT_EQ(seen.size(), o.report.requests) << "each request processed once";
    EXPECT_GE(connections.size(), seen.size() / no.keepalive_requests);
    std::printf("GOAWAY send (%s): %llu requests, %zu connections at nginx, %llu retries\n",
                mode.c_str(), static_cast<unsigned long long>(o.report.requests),
                connections.size(), static_cast<unsigned long long>(o.report.retries));
}

TEST(Http2Send, LocalMergeThroughGoawaysAcceptsEveryRowOnce) {
    send_over_http2("local");
}

TEST(Http2Send, ServerMergeThroughGoawaysAcceptsEveryRowOnce) {
    send_over_http2("server");
}

}  // namespace
}  // namespace salvo::test
