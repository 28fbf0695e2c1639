#include <salvo/store/store.hpp>

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <thread>

namespace salvo::store {
namespace {

using platform::event;
using platform::event_type;

constexpr std::int64_t day_ms = 24LL * 3600 * 1000;

event make(event_type t, std::string address, std::int64_t time_ms, std::string message_id = "m") {
    event e;
    e.type = t;
    e.type_name = std::string(platform::to_string(t));
    e.address = std::move(address);
    e.time_ms = time_ms;
    e.date_time = std::to_string(time_ms);
    e.mailing_id = "campaign";
    e.message_id = std::move(message_id);
    e.raw = "{}";
    return e;
}

event failed(std::string address, std::int64_t type, std::int64_t time_ms) {
    event e = make(event_type::failed, std::move(address), time_ms);
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

TEST_F(SqliteStore, ARedeliveredEventIsStoredOnce) {
    auto s = open();
    const std::vector<event> batch{make(event_type::delivered, "a@x.com", 1000),
                                   make(event_type::delivered, "a@x.com", 1000),
                                   make(event_type::delivered, "a@x.com", 2000)};
    auto r = s->write(batch, 5);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stored, 2u);
    EXPECT_EQ(r->duplicates, 1u);
    r = s->write(std::span(batch).first(1), 6);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stored, 0u);
    EXPECT_EQ(*s->event_count(), 2u);
}

TEST_F(SqliteStore, ClicksOnDifferentUrlsAreDifferentEvents) {
    auto s = open();
    event a = make(event_type::tracking, "a@x.com", 1000);
    a.tracking_type = 0;
    a.url = "https://one";
    event b = a;
    b.url = "https://two";
    const std::vector<event> batch{a, b, a};
    const auto r = s->write(batch, 1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stored, 2u);
}

TEST_F(SqliteStore, HardBouncesComplaintsAndUnsubscribesSuppressAtOnce) {
    auto s = open();
    event unsub = make(event_type::tracking, "u@X.com", 4);
    unsub.tracking_type = 2;
    event open_ = make(event_type::tracking, "o@x.com", 4);
    open_.tracking_type = 1;
    const std::vector<event> batch{failed("h@x.com", 1, 1),
                                   failed("p@x.com", 2, 2),
                                   make(event_type::complaint, "c@x.com", 3),
                                   unsub,
                                   open_,
                                   failed("soft@x.com", 0, 5),
                                   make(event_type::delivered, "d@x.com", 6)};
    const auto r = s->write(batch, 100);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->suppressed, 4u);
    const auto l = list(*s);
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0].address, "c@x.com");
    EXPECT_EQ(l[0].reason, "complained");
    EXPECT_EQ(l[1].reason, "hard_bounce");
    EXPECT_EQ(l[2].reason, "platform_suppressed");
    EXPECT_EQ(l[3].address, "u@x.com") << "the domain is compared in lower case";
    EXPECT_EQ(l[3].reason, "unsubscribed");
    EXPECT_TRUE(l[3].source_event.has_value());
    EXPECT_EQ(l[3].added_ms, 100);
}

TEST_F(SqliteStore, SoftBouncesSuppressAfterTheCountWithinTheWindow) {
    auto s = open();  // default: 3 within 30 days
    ASSERT_TRUE(s->write(std::vector<event>{failed("a@x.com", 0, 0)}, 1));
    ASSERT_TRUE(s->write(std::vector<event>{failed("a@x.com", 0, 31 * day_ms)}, 1));
    ASSERT_TRUE(s->write(std::vector<event>{failed("a@x.com", 0, 40 * day_ms)}, 1));
    EXPECT_TRUE(list(*s).empty()) << "the first bounce is outside the 30 days of the third";
    const auto r = s->write(std::vector<event>{failed("a@x.com", 0, 45 * day_ms)}, 1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->suppressed, 1u);
    ASSERT_EQ(list(*s).size(), 1u);
    EXPECT_EQ(list(*s)[0].reason, "soft_bounces");
}

TEST_F(SqliteStore, SoftBounceRuleIsConfigurable) {
    auto s = open({1, std::chrono::hours(1)});
    const auto r = s->write(std::vector<event>{failed("a@x.com", 0, 0)}, 1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->suppressed, 1u);
}

TEST_F(SqliteStore, ManualAddAndRemove) {
    auto s = open();
    EXPECT_EQ(s->add_suppression("Ann@Example.COM", "manual", 7), true);
    EXPECT_EQ(s->add_suppression("Ann@example.com", "manual", 8), false);
    EXPECT_EQ(s->add_suppression("not an address", "manual", 8).error(),
              make_error_code(errc::bad_address));
    ASSERT_EQ(list(*s).size(), 1u);
    EXPECT_EQ(list(*s)[0].address, "Ann@example.com");
    EXPECT_EQ(s->remove_suppression("Ann@EXAMPLE.com"), true);
    EXPECT_EQ(s->remove_suppression("Ann@EXAMPLE.com"), false);
    EXPECT_TRUE(list(*s).empty());
}

TEST_F(SqliteStore, EventsOfAMailingAreReadBackWhileAWriterHoldsTheDatabase) {
    auto writer = open();
    std::vector<event> batch;
    for (int i = 0; i < 50; ++i)
        batch.push_back(make(event_type::queued, "r" + std::to_string(i) + "@x.com", i));
    event other = make(event_type::queued, "z@x.com", 1);
    other.mailing_id = "another";
    batch.push_back(other);
    ASSERT_TRUE(writer->write(batch, 1));
    auto reader = open({}, true);
    std::size_t n = 0;
    ASSERT_FALSE(reader->for_each_event("campaign", [&](const event_row& r) {
        EXPECT_EQ(r.type, event_type::queued);
        EXPECT_EQ(r.state, platform::delivery_state::queued);
        EXPECT_EQ(r.address.substr(0, 1), "r");
        ++n;
    }));
    EXPECT_EQ(n, 50u);
}

TEST_F(SqliteStore, ValidationHandshakesAreNotEvents) {
    auto s = open();
    const auto r = s->write(std::vector<event>{make(event_type::validation, "", 0)}, 1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stored, 0u);
    EXPECT_EQ(*s->event_count(), 0u);
}

TEST_F(SqliteStore, ReopeningKeepsEverythingAndDoesNotMigrateTwice) {
    {
        auto s = open();
        ASSERT_TRUE(s->write(std::vector<event>{failed("a@x.com", 1, 1)}, 1));
    }
    auto s = open();
    EXPECT_EQ(*s->event_count(), 1u);
    EXPECT_EQ(list(*s).size(), 1u);
}

TEST_F(SqliteStore, ANewerSchemaIsRefused) {
    { auto s = open(); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "events.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    sqlite_options o;
    o.path = dir_ / "events.sqlite";
    EXPECT_EQ(open_sqlite(o).error(), make_error_code(errc::schema_too_new));
}

// salvo status and a job's suppression source open read-only, so they
// cannot upgrade a database an older salvo made: they say how to.
TEST_F(SqliteStore, AnOlderSchemaOpenedReadOnlySaysHowToUpgrade) {
    { auto s = open(); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "events.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "DELETE FROM schema_version WHERE version > 1", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
    sqlite_options o;
    o.path = dir_ / "events.sqlite";
    o.read_only = true;
    const auto r = open_sqlite(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::schema_too_old));
    EXPECT_NE(r.error().message().find("salvo listen --db"), std::string::npos)
        << r.error().message();
}

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

namespace salvo::store {
namespace {

TEST(SqliteStoreInbound, AnInboundMessageJoinsItsRowAndADsnSuppressesAsDsn) {
    test::temp_dir dir{"salvo-store-inbound"};
    sqlite_options o;
    o.path = dir.path() / "events.sqlite";
    auto s = open_sqlite(o);
    ASSERT_TRUE(s) << s.error().message();
    platform::event sent;
    sent.type = platform::event_type::delivered;
    sent.type_name = "Delivered";
    sent.date_time = "2026-01-01T00:00:00Z";
    sent.time_ms = 1767225600000;
    sent.address = "bob@example.org";
    sent.mailing_id = "camp-1";
    sent.message_id = "camp-1-bob@example.org";
    sent.raw = "{}";
    ASSERT_TRUE((*s)->write(std::span(&sent, 1), 1));

    inbound_record dsn;
    dsn.kind = platform::inbound_kind::hard_bounce;
    dsn.kind_reason = "DSN";
    dsn.address = "bob@example.org";
    dsn.status = "5.1.1";
    dsn.join_ids = {"nothing-like-it", "camp-1-bob@example.org"};
    dsn.dedupe_key = "<dsn-1@mx> bounces@news";
    dsn.raw = "{}";
    dsn.attachments.push_back({"report", "message/delivery-status", false, 10, "ab12", ""});
    platform::event e;
    e.type = platform::event_type::failed;
    e.type_name = "Failed";
    e.failure_type = platform::failure_permanent;
    e.address = dsn.address;
    e.date_time = "2026-01-02T00:00:00Z";
    e.time_ms = 1767312000000;
    e.raw = "{}";
    dsn.as_event = e;
    inbound_record reply;
    reply.kind = platform::inbound_kind::unsubscribe;
    reply.address = "Jack@Example.NET";
    reply.unsubscribe = true;
    reply.raw = "{}";
    const std::vector<write_item> items{
        {nullptr, "inbound", &dsn}, {nullptr, "inbound", &dsn}, {nullptr, "inbound", &reply}};
    const auto r = (*s)->write_items(items, 2);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->inbound_stored, 2u);
    EXPECT_EQ(r->inbound_duplicates, 1u) << "the same Message-ID and recipient is stored once";
    EXPECT_EQ(r->suppressed, 2u);
    std::vector<suppression> got;
    ASSERT_FALSE((*s)->for_each_suppression([&](const suppression& x) { got.push_back(x); }));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].address, "Jack@example.net");
    EXPECT_EQ(got[0].reason, "unsubscribed");
    EXPECT_EQ(got[0].source, "inbound-reply");
    EXPECT_EQ(got[1].address, "bob@example.org");
    EXPECT_EQ(got[1].reason, "hard_bounce");
    EXPECT_EQ(got[1].source, "dsn");
    // The bounce event joined the campaign row found through the join ids.
    std::size_t bounced = 0;
    ASSERT_FALSE((*s)->for_each_event("camp-1", [&](const event_row& row) {
        if (row.state == platform::delivery_state::bounced) {
            ++bounced;
            EXPECT_EQ(row.message_id, "camp-1-bob@example.org");
        }
    }));
    EXPECT_EQ(bounced, 1u);
    ASSERT_TRUE((*s)->add_suppression("m@example.org", "manual", 3));
    got.clear();
    ASSERT_FALSE((*s)->for_each_suppression([&](const suppression& x) { got.push_back(x); }));
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2].source, "manual");
}

}  // namespace
}  // namespace salvo::store
