// What only the SQLite backend has: a file, and its write lock. The behaviour
// every backend shares is tests/store/storage_suite.cpp.
#include <salvo/store/store.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <thread>

namespace salvo::store {
namespace {

using platform::event;
using platform::event_type;

event failed(std::string address, std::int64_t type, std::int64_t time_ms) {
    event e;
    e.type = event_type::failed;
    e.type_name = "Failed";
    e.address = std::move(address);
    e.time_ms = time_ms;
    e.date_time = std::to_string(time_ms);
    e.mailing_id = "campaign";
    e.message_id = "m";
    e.raw = "{}";
    e.failure_type = type;
    return e;
}

std::vector<suppression> list(event_store& s) {
    std::vector<suppression> out;
    EXPECT_FALSE(s.for_each_suppression([&](const suppression& x) { out.push_back(x); }));
    return out;
}

class SqliteStore : public ::testing::Test {
  protected:
    std::unique_ptr<event_store> open(suppression_rules rules = {}, bool read_only = false) {
        sqlite_options o;
        o.path = dir_ / "events.sqlite";
        o.rules = rules;
        o.read_only = read_only;
        auto s = open_sqlite(o);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }
    test::temp_dir dir_{"salvo-store"};
};

// Schema 3 renames the reasons older salvos wrote (complaint, unsubscribe)
// to the contract's names; other reasons stay as they are.
TEST_F(SqliteStore, Schema3RenamesOldReasons) {
    { auto s = open(); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "events.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DELETE FROM schema_version WHERE version > 2;"
                           "INSERT INTO suppressions (address, reason, added_at, source) VALUES "
                           "('c@x.com', 'complaint', 1, 'arf'), ('u@x.com', 'unsubscribe', 2, "
                           "'one-click'), ('h@x.com', 'hard_bounce', 3, 'dsn'), ('m@x.com', "
                           "'unsubscribe me', 4, 'manual')",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto s = open();
    const auto l = list(*s);
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0].reason, "complained");
    EXPECT_EQ(l[1].reason, "hard_bounce");
    EXPECT_EQ(l[2].reason, "unsubscribe me") << "only the exact old names are renamed";
    EXPECT_EQ(l[3].reason, "unsubscribed");
    EXPECT_EQ(l[3].source, "one-click");
    EXPECT_EQ(salvo::store::canonical_reason("complaint"), "complained");
    EXPECT_EQ(salvo::store::canonical_reason("unsubscribe"), "unsubscribed");
    EXPECT_EQ(salvo::store::canonical_reason("manual"), "manual");
}

TEST_F(SqliteStore, AFileThatIsNotADatabaseIsRefused) {
    const auto p = dir_ / "junk.sqlite";
    std::FILE* f = std::fopen(p.c_str(), "wb");
    std::fputs("this is not a database, it is a text file with enough bytes in it.......", f);
    std::fclose(f);
    sqlite_options o;
    o.path = p;
    const auto r = open_sqlite(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::not_a_database)) << r.error().message();
    o.read_only = true;
    o.path = dir_ / "missing.sqlite";
    EXPECT_FALSE(open_sqlite(o));
}

TEST_F(SqliteStore, AFailedWriteStoresNothing) {
    auto s = open();
    // A second connection holds the write lock: the write fails after its
    // busy timeout, and nothing of the batch is stored.
    sqlite_options o;
    o.path = dir_ / "events.sqlite";
    o.busy_timeout = std::chrono::milliseconds(50);
    auto quick = open_sqlite(o);
    ASSERT_TRUE(quick) << quick.error().message();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "events.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    const auto r = (*quick)->write(std::vector<event>{failed("a@x.com", 1, 1)}, 1);
    EXPECT_FALSE(r);
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    EXPECT_EQ(*s->event_count(), 0u);
    EXPECT_TRUE(list(*s).empty());
}

}  // namespace
}  // namespace salvo::store
