// Two `salvo listen` replicas on one PostgreSQL database, the real
// `salvo emulate` posting the events of a real `salvo send` to both in
// turn (--events-url A,B), one replica killed with SIGKILL mid-flood: the
// emulator retries what it did not get a 200 for on the survivor, and
// every event it made is stored exactly once; `salvo status` over the
// database agrees with the emulator's own count, state by state.
//
// Its own binary with one PostgreSQL server (support/postgres_server.hpp):
// the 5 000-event size in the normal tier, the 100 000 events as
// the `slow` test (CMakeLists.txt picks them by --gtest_filter).
#include "support/child_process.hpp"
#include "support/emulator_process.hpp"
#include "support/http_client.hpp"
#include "support/listen_process.hpp"
#include "support/postgres_server.hpp"
#include "support/salvo_campaign.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <thread>

namespace salvo::test {
namespace {

// The number after "name": in a flat JSON text (0 when absent).
std::uint64_t json_number(const std::string& json, const std::string& name) {
    const auto at = json.find("\"" + name + "\":");
    if (at == std::string::npos) return 0;
    return std::strtoull(json.c_str() + at + name.size() + 3, nullptr, 10);
}

std::string emulator_stats(const emulator_process& emu) {
    const auto& url = emu.url();
    const auto port_at = url.rfind(':') + 1;
    const auto port = static_cast<std::uint16_t>(std::stoi(url.substr(port_at)));
    http_client c(port);
    return c.get("/stats").body;
}

// The `"event_states":{…}` object of the emulator's /stats.
std::string event_states(const std::string& stats) {
    const auto at = stats.find("\"event_states\":{");
    if (at == std::string::npos) return {};
    return stats.substr(at, stats.find('}', at) - at + 1);
}

struct flood {
    std::uint64_t rows;
    std::uint64_t kill_after_events;  // acknowledged events before the kill
    std::string events_per_second;    // "0": unlimited
};

void replicas_flood(const flood& f) {
    auto* pg = postgres_environment::server();
    ASSERT_TRUE(pg);
    const std::string db = pg->create_database();
    const std::string db_name = db.substr(db.find("@/") + 2, db.find('?') - db.find("@/") - 2);
    temp_dir dir("salvo-replicas");
    const std::vector<std::string> inbound{"--inbound-dir", (dir / "inbound").string()};
    auto a = listen_process::start(SALVO_BINARY, dir.path(), "listen-a", db, inbound);
    std::optional<listen_process> b(
        listen_process::start(SALVO_BINARY, dir.path(), "listen-b", db, inbound));

    auto emu = emulator_process::start(
        SALVO_BINARY, dir.path(), "emulate",
        {"--events-url", a.url() + "/notifications," + b->url() + "/notifications",
         "--events-secret-env", "EVENTS_SECRET", "--events-validation-key-env", "EVENTS_VALIDATION",
         "--events-per-second", f.events_per_second,
         // Each post waits for its commit: many in flight, as the platform posts.
         "--events-connections", "64", "--hard-bounce-rate", "0.1", "--soft-bounce-rate", "0.05",
         "--complaint-rate", "0.05", "--unsubscribe-rate", "0.05", "--open-rate", "0.3",
         "--click-rate", "0.1", "--events-seed", "17"},
        {std::string("EVENTS_SECRET=") + listen_process::secret,
         std::string("EVENTS_VALIDATION=") + listen_process::validation});

    salvo_campaign campaign(SALVO_BINARY, f.rows);
    auto send = campaign.start_send({"--endpoint", emu.url(), "--progress=none"}, "send");

    // Mid-flood: B has stored events, and more are coming.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
    std::string stats;
    while (json_number(stats = emulator_stats(emu), "events_acknowledged") < f.kill_after_events) {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << stats;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    {
        http_client c(b->port());
        const auto metrics = c.get("/metrics").body;
        EXPECT_NE(metrics.find("salvo_listen_events_total{type=\"Queued\"}"), std::string::npos)
            << "replica B stored nothing before the kill: the posts did not alternate\n"
            << metrics;
    }
    const auto killed = b->child().kill_and_wait();
    EXPECT_TRUE(killed.killed_by(SIGKILL)) << describe(killed);
    b.reset();

    const auto sent = send.wait_for(std::chrono::minutes(5));
    ASSERT_TRUE(sent) << "salvo send did not finish";
    EXPECT_TRUE(sent->exited_with(0)) << describe(*sent) << read_file(campaign.dir() / "send.err");

    // Every event the emulator made is acknowledged (by A, for those B
    // could not answer any more).
    std::uint64_t generated = 0, acked = 0;
    for (;;) {
        stats = emulator_stats(emu);
        generated = json_number(stats, "events_generated");
        acked = json_number(stats, "events_acknowledged");
        if (generated > 0 && acked == generated) break;
        ASSERT_LT(std::chrono::steady_clock::now(), deadline)
            << acked << " of " << generated << " events acknowledged\n"
            << stats;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GT(generated, f.kill_after_events) << "the kill was not mid-flood";
    const std::string states = event_states(stats);

    // Stored exactly once: as many rows as events made, and as many
    // distinct identities.
    EXPECT_EQ(pg->query(db_name, "SELECT count(*) FROM events"), std::to_string(generated));
    EXPECT_EQ(pg->query(db_name,
                        "SELECT count(*) FROM (SELECT DISTINCT type, message_id, address, "
                        "date_time, identity, mailing_id FROM events) d"),
              std::to_string(generated));

    // salvo status over the PostgreSQL database counts what the emulator
    // says it decided, state by state.
    spawn_options so;
    so.argv = {SALVO_BINARY, "status", campaign.job().string(), "--db", db, "--json"};
    so.stdout_file = dir / "status.json";
    so.stderr_file = dir / "status.err";
    auto status = child_process::spawn(so);
    const auto st = status.wait_for(std::chrono::minutes(2));
    ASSERT_TRUE(st && st->exited_with(0)) << read_file(dir / "status.err");
    const std::string json = read_file(dir / "status.json");
    EXPECT_EQ(json_number(json, "accepted"), f.rows) << json;
    for (const char* state : {"queued", "delivered", "deferred", "soft_bounced", "bounced",
                              "complained", "unsubscribed"})
        EXPECT_EQ(json_number(json, state), json_number(states, state))
            << state << "\nstatus: " << json << "\nemulator: " << states;

    // The survivor stops cleanly and says what it stored.
    const auto stopped = a.stop();
    EXPECT_TRUE(stopped.exited_with(0)) << describe(stopped) << read_file(a.stderr_file());
    emu.stop();
}

TEST(ListenReplicasOnPostgres, AReplicaKilledMidFloodLosesAndDuplicatesNothing) {
    // About 2.2 events a row: ~5 000 events, posted at 4 000 a second so
    // that the kill lands in the middle.
    replicas_flood({2200, 1500, "4000"});
}

TEST(ListenReplicasOnPostgresSlow, AHundredThousandEventsAndAKill) {
    replicas_flood({45000, 30000, "0"});
}

}  // namespace
}  // namespace salvo::test

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new salvo::test::postgres_environment);
    return RUN_ALL_TESTS();
}
