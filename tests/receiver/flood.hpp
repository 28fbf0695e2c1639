#pragma once
// The kill -9 flood, shared by the quick test and the slow 100 000-event one:
// `senders` threads post JSON arrays of `events_per_post` distinct events to
// a real `salvo listen`; after `kill_after` posts are acknowledged it is
// killed with SIGKILL and restarted on the same database; senders re-send
// whatever got no 200. Checks: nothing acknowledged was missing at the
// kill, and every event is stored exactly once at the end.

#include "support/child_process.hpp"
#include "support/http_client.hpp"
#include "support/listen_process.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace salvo::test {

struct flood_size {
    int senders, posts_per_sender, events_per_post, kill_after;
};

inline long long count_events(const std::filesystem::path& db, const char* sql) {
    sqlite3* h = nullptr;
    long long n = -1;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(h, sql, -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW)
            n = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return n;
}

inline void kill_nine_during_flood(const flood_size& z) {
    namespace http = boost::beast::http;
    temp_dir dir("salvo-flood");
    const auto db = dir / "events.sqlite";
    std::optional<listen_process> server(listen_process::start(SALVO_BINARY, dir.path(), "l1", db));
    const std::string key = listen_process::secret;
    std::atomic<int> port{server->port()};
    std::atomic<int> acked{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < z.senders; ++t)
        threads.emplace_back([&, t] {
            std::unique_ptr<http_client> c;
            for (int p = 0; p < z.posts_per_sender; ++p) {
                std::string body = "[";
                for (int e = 0; e < z.events_per_post; ++e)
                    body += std::string(e ? "," : "") + R"({"Type":"Delivered","SecretKey":")" +
                            key + R"(","Address":"s)" + std::to_string(t) + "p" +
                            std::to_string(p) + "e" + std::to_string(e) +
                            R"(@x.com","DateTime":"2024-01-01T00:00:00Z"})";
                body += "]";
                const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
                for (;;) {
                    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "never answered 200";
                    try {
                        if (!c)
                            c = std::make_unique<http_client>(
                                static_cast<std::uint16_t>(port.load()));
                        if (c->request(http::verb::post, "/notifications", body).status == 200)
                            break;
                    } catch (const std::exception&) {
                    }
                    c.reset();  // reconnect (to the restarted receiver)
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
                ++acked;
            }
        });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (acked.load() < z.kill_after && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_GE(acked.load(), z.kill_after);
    const int acked_at_kill = acked.load();
    const auto st = server->child().kill_and_wait();
    EXPECT_TRUE(st.killed_by(SIGKILL)) << describe(st);
    EXPECT_GE(count_events(db, "SELECT count(*) FROM events"),
              static_cast<long long>(acked_at_kill) * z.events_per_post)
        << "a 200 came before its commit";
    server.reset();
    server.emplace(listen_process::start(SALVO_BINARY, dir.path(), "l2", db));
    port = server->port();
    for (auto& t : threads) t.join();
    const long long total =
        static_cast<long long>(z.senders) * z.posts_per_sender * z.events_per_post;
    EXPECT_EQ(count_events(db, "SELECT count(*) FROM events"), total);
    EXPECT_EQ(count_events(db, "SELECT count(DISTINCT address) FROM events"), total);
}

}  // namespace salvo::test
