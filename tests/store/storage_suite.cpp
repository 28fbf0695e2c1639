// The storage test suite every event_store backend passes: the same
// behaviour on SQLite (a file in a temp dir) and on PostgreSQL (a real
// PostgreSQL 15 the binary starts once, a fresh database per test). Then
// what only PostgreSQL has: several writers on one database.
//
// One binary, one CTest test (store.storage_suite): gtest_discover_tests
// would start every test in its own process, and so one server per test.
#include <salvo/store/store.hpp>

#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <set>
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

// postgresql://salvo@/NAME?host=DIR → NAME.
std::string database_name(const std::string& url) {
    const auto start = url.find("@/") + 2;
    return url.substr(start, url.find('?') - start);
}

// A SQLite file in a temp dir.
class sqlite_backend {
  public:
    std::string db() const { return (dir_ / "events.sqlite").string(); }
    // Runs SQL on the database behind the store's back.
    void exec(const std::string& sql) const {
        sqlite3* h = nullptr;
        ASSERT_EQ(sqlite3_open(db().c_str(), &h), SQLITE_OK);
        char* err = nullptr;
        const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
        const std::string why = err ? err : "";
        sqlite3_free(err);
        sqlite3_close(h);
        ASSERT_EQ(rc, SQLITE_OK) << why;
    }

  private:
    test::temp_dir dir_{"salvo-store"};
};

// A fresh database on the binary's PostgreSQL server.
class postgresql_backend {
  public:
    postgresql_backend() {
        if (auto* s = test::postgres_environment::server()) url_ = s->create_database();
    }
    std::string db() const { return url_; }
    void exec(const std::string& sql) const {
        auto* s = test::postgres_environment::server();
        ASSERT_TRUE(s);
        s->exec(database_name(url_), sql);
    }

  private:
    std::string url_;
};

template <class Backend>
class StorageSuite : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_FALSE(backend_.db().empty()) << "no database to test on"; }

    std::unique_ptr<event_store> open(suppression_rules rules = {}, bool read_only = false) {
        store_options o;
        o.db = backend_.db();
        o.rules = rules;
        o.read_only = read_only;
        auto s = open_store(o);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }
    Backend backend_;
};

struct backend_names {
    template <class T>
    static std::string GetName(int) {
        return std::is_same_v<T, sqlite_backend> ? "SQLite" : "PostgreSQL";
    }
};
using backends = ::testing::Types<sqlite_backend, postgresql_backend>;
TYPED_TEST_SUITE(StorageSuite, backends, backend_names);

TYPED_TEST(StorageSuite, ARedeliveredEventIsStoredOnce) {
    auto s = this->open();
    ASSERT_TRUE(s);
    const std::vector<event> batch{make(event_type::delivered, "a@x.com", 1000),
                                   make(event_type::delivered, "a@x.com", 1000),
                                   make(event_type::delivered, "a@x.com", 2000)};
    auto r = s->write(batch, 5);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->stored, 2u);
    EXPECT_EQ(r->duplicates, 1u);
    EXPECT_EQ(r->stored_by_type[static_cast<std::size_t>(event_type::delivered)], 2u);
    r = s->write(std::span(batch).first(1), 6);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stored, 0u);
    EXPECT_EQ(r->duplicates, 1u);
    EXPECT_EQ(*s->event_count(), 2u);
}

TYPED_TEST(StorageSuite, ClicksOnDifferentUrlsAreDifferentEvents) {
    auto s = this->open();
    ASSERT_TRUE(s);
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

// A click's URL can be longer than a PostgreSQL index entry may be.
TYPED_TEST(StorageSuite, AClickOnAVeryLongUrlIsStoredOnce) {
    auto s = this->open();
    ASSERT_TRUE(s);
    event a = make(event_type::tracking, "a@x.com", 1000);
    a.tracking_type = 0;
    a.url = "https://example.com/?q=" + std::string(20000, 'u');
    event b = a;
    b.url.back() = 'v';
    const std::vector<event> batch{a, b, a};
    const auto r = s->write(batch, 1);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->stored, 2u);
    EXPECT_EQ(r->duplicates, 1u);
}

TYPED_TEST(StorageSuite, HardBouncesComplaintsAndUnsubscribesSuppressAtOnce) {
    auto s = this->open();
    ASSERT_TRUE(s);
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
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->suppressed, 4u);
    const auto l = list(*s);
    ASSERT_EQ(l.size(), 4u);
    EXPECT_EQ(l[0].address, "c@x.com");
    EXPECT_EQ(l[0].reason, "complained");
    EXPECT_EQ(l[0].source, "event");
    EXPECT_EQ(l[1].reason, "hard_bounce");
    EXPECT_EQ(l[2].reason, "platform_suppressed");
    EXPECT_EQ(l[3].address, "u@x.com") << "the domain is compared in lower case";
    EXPECT_EQ(l[3].reason, "unsubscribed");
    EXPECT_TRUE(l[3].source_event.has_value());
    EXPECT_EQ(l[3].added_ms, 100);
}

TYPED_TEST(StorageSuite, SoftBouncesSuppressAfterTheCountWithinTheWindow) {
    auto s = this->open();  // default: 3 within 30 days
    ASSERT_TRUE(s);
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

TYPED_TEST(StorageSuite, SoftBouncesOfOneBatchCountTogether) {
    auto s = this->open();
    ASSERT_TRUE(s);
    const auto r = s->write(std::vector<event>{failed("a@x.com", 0, 1), failed("a@x.com", 0, 2),
                                               failed("a@x.com", 0, 3)},
                            1);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->suppressed, 1u);
    ASSERT_EQ(list(*s).size(), 1u);
    EXPECT_EQ(list(*s)[0].reason, "soft_bounces");
}

TYPED_TEST(StorageSuite, SoftBounceRuleIsConfigurable) {
    auto s = this->open({1, std::chrono::hours(1)});
    ASSERT_TRUE(s);
    const auto r = s->write(std::vector<event>{failed("a@x.com", 0, 0)}, 1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->suppressed, 1u);
}

TYPED_TEST(StorageSuite, ManualAddAndRemove) {
    auto s = this->open();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->add_suppression("Ann@Example.COM", "manual", 7), true);
    EXPECT_EQ(s->add_suppression("Ann@example.com", "manual", 8), false);
    EXPECT_EQ(s->add_suppression("not an address", "manual", 8).error(),
              make_error_code(errc::bad_address));
    ASSERT_EQ(list(*s).size(), 1u);
    EXPECT_EQ(list(*s)[0].address, "Ann@example.com");
    EXPECT_EQ(list(*s)[0].source, "manual");
    EXPECT_FALSE(list(*s)[0].source_event.has_value());
    EXPECT_EQ(s->remove_suppression("Ann@EXAMPLE.com"), true);
    EXPECT_EQ(s->remove_suppression("Ann@EXAMPLE.com"), false);
    EXPECT_TRUE(list(*s).empty());
}

TYPED_TEST(StorageSuite, AManualEntryIsNotReplacedByAnEvent) {
    auto s = this->open();
    ASSERT_TRUE(s);
    ASSERT_EQ(s->add_suppression("a@x.com", "asked", 7), true);
    const auto r = s->write(std::vector<event>{failed("a@x.com", 1, 1)}, 9);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stored, 1u);
    EXPECT_EQ(r->suppressed, 0u);
    ASSERT_EQ(list(*s).size(), 1u);
    EXPECT_EQ(list(*s)[0].reason, "asked");
    EXPECT_EQ(list(*s)[0].added_ms, 7);
}

// The suppression kept does not depend on the order of events (nor, on
// PostgreSQL, on which replica writes last): the higher rank, then the
// earlier stored event. Both backends keep the same row.
TYPED_TEST(StorageSuite, TheSuppressionKeptDoesNotDependOnTheOrderOfWrites) {
    auto s = this->open();
    ASSERT_TRUE(s);
    for (const bool complaint_first : {true, false}) {
        SCOPED_TRACE(complaint_first ? "complaint first" : "hard bounce first");
        const std::string address = complaint_first ? "a@x.com" : "b@x.com";
        const event c = make(event_type::complaint, address, 5);
        const event h = failed(address, 1, 1);
        const auto first = s->write(std::vector<event>{complaint_first ? c : h}, 1);
        ASSERT_TRUE(first);
        EXPECT_EQ(first->suppressed, 1u);
        const auto r = s->write(std::vector<event>{complaint_first ? h : c}, 2);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->suppressed, 0u) << "already suppressed: not newly";
        std::vector<suppression> kept;
        for (const auto& x : list(*s))
            if (x.address == address) kept.push_back(x);
        ASSERT_EQ(kept.size(), 1u);
        EXPECT_EQ(kept[0].reason, "complained");
        EXPECT_EQ(kept[0].added_ms, complaint_first ? 1 : 2);
    }
}

TYPED_TEST(StorageSuite, SuppressionsAreListedInByteOrder) {
    auto s = this->open();
    ASSERT_TRUE(s);
    for (const char* a : {"b@x.com", "B@x.com", "a@x.com", "_@x.com"})
        ASSERT_TRUE(s->add_suppression(a, "manual", 1));
    std::vector<std::string> got;
    for (const auto& x : list(*s)) got.push_back(x.address);
    EXPECT_EQ(got, (std::vector<std::string>{"B@x.com", "_@x.com", "a@x.com", "b@x.com"}));
}

TYPED_TEST(StorageSuite, EventsOfAMailingAreReadBackWhileAWriterHoldsTheDatabase) {
    auto writer = this->open();
    ASSERT_TRUE(writer);
    std::vector<event> batch;
    for (int i = 0; i < 50; ++i)
        batch.push_back(make(event_type::queued, "r" + std::to_string(i) + "@x.com", i));
    event other = make(event_type::queued, "z@x.com", 1);
    other.mailing_id = "another";
    batch.push_back(other);
    event click = make(event_type::tracking, "r0@x.com", 7);
    click.tracking_type = 0;
    click.url = "https://x";
    batch.push_back(click);
    ASSERT_TRUE(writer->write(batch, 1));
    auto reader = this->open({}, true);
    ASSERT_TRUE(reader);
    std::size_t n = 0, clicks = 0;
    ASSERT_FALSE(reader->for_each_event("campaign", [&](const event_row& r) {
        EXPECT_EQ(r.address.substr(0, 1), "r");
        EXPECT_EQ(r.message_id, "m");
        if (r.type == event_type::tracking) {
            ++clicks;
            EXPECT_EQ(r.tracking_type, 0);
            EXPECT_EQ(r.time_ms, 7);
        } else {
            EXPECT_EQ(r.type, event_type::queued);
            EXPECT_EQ(r.state, platform::delivery_state::queued);
            EXPECT_FALSE(r.tracking_type.has_value());
        }
        ++n;
    }));
    EXPECT_EQ(n, 51u);
    EXPECT_EQ(clicks, 1u);
    EXPECT_EQ(*reader->event_count(), 52u);
}

TYPED_TEST(StorageSuite, ValidationHandshakesAreNotEvents) {
    auto s = this->open();
    ASSERT_TRUE(s);
    const auto r = s->write(std::vector<event>{make(event_type::validation, "", 0)}, 1);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->stored, 0u);
    EXPECT_EQ(*s->event_count(), 0u);
}

TYPED_TEST(StorageSuite, ReopeningKeepsEverythingAndDoesNotMigrateTwice) {
    {
        auto s = this->open();
        ASSERT_TRUE(s);
        ASSERT_TRUE(s->write(std::vector<event>{failed("a@x.com", 1, 1)}, 1));
    }
    auto s = this->open();
    ASSERT_TRUE(s);
    EXPECT_EQ(*s->event_count(), 1u);
    EXPECT_EQ(list(*s).size(), 1u);
}

TYPED_TEST(StorageSuite, ANewerSchemaIsRefused) {
    { ASSERT_TRUE(this->open()); }
    this->backend_.exec("INSERT INTO schema_version VALUES (99)");
    store_options o;
    o.db = this->backend_.db();
    EXPECT_EQ(open_store(o).error(), make_error_code(errc::schema_too_new));
    o.read_only = true;
    EXPECT_EQ(open_store(o).error(), make_error_code(errc::schema_too_new));
}

// salvo status and a job's suppression source open read-only, so they
// cannot upgrade a database an older salvo made: they say how to; a
// read-write open upgrades it.
TYPED_TEST(StorageSuite, AnOlderSchemaOpenedReadOnlySaysHowToUpgrade) {
    { ASSERT_TRUE(this->open()); }
    this->backend_.exec("DELETE FROM schema_version WHERE version > 1");
    store_options o;
    o.db = this->backend_.db();
    o.read_only = true;
    const auto r = open_store(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::schema_too_old));
    EXPECT_NE(r.error().message().find("salvo listen --db"), std::string::npos)
        << r.error().message();
}

TYPED_TEST(StorageSuite, AnInboundMessageJoinsItsRowAndADsnSuppressesAsDsn) {
    auto s = this->open();
    ASSERT_TRUE(s);
    platform::event sent;
    sent.type = platform::event_type::delivered;
    sent.type_name = "Delivered";
    sent.date_time = "2026-01-01T00:00:00Z";
    sent.time_ms = 1767225600000;
    sent.address = "bob@example.org";
    sent.mailing_id = "camp-1";
    sent.message_id = "camp-1-bob@example.org";
    sent.raw = "{}";
    ASSERT_TRUE(s->write(std::span(&sent, 1), 1));

    inbound_record dsn;
    dsn.kind = platform::inbound_kind::hard_bounce;
    dsn.kind_reason = "DSN";
    dsn.address = "bob@example.org";
    dsn.status = "5.1.1";
    dsn.join_ids = {"nothing-like-it", "camp-1-bob@example.org"};
    dsn.dedupe_key = "<dsn-1@mx> bounces@news";
    dsn.raw = "{}";
    dsn.attachments.push_back({"report", "message/delivery-status", false, 10, "ab12", ""});
    dsn.attachments.push_back({"bad", "image/png", true, 3, "", "invalid base64"});
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
    event one_click = make(event_type::tracking, "one@x.com", 9);
    one_click.tracking_type = 2;
    const std::vector<write_item> items{{nullptr, "inbound", &dsn},
                                        {nullptr, "inbound", &dsn},
                                        {nullptr, "inbound", &reply},
                                        {&one_click, "one-click", nullptr}};
    const auto r = s->write_items(items, 2);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->inbound_stored, 2u);
    EXPECT_EQ(r->inbound_duplicates, 1u) << "the same Message-ID and recipient is stored once";
    EXPECT_EQ(r->stored, 2u) << "the DSN's Failed and the one-click unsubscribe";
    EXPECT_EQ(r->suppressed, 3u);
    auto got = list(*s);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].address, "Jack@example.net");
    EXPECT_EQ(got[0].reason, "unsubscribed");
    EXPECT_EQ(got[0].source, "inbound-reply");
    EXPECT_EQ(got[1].address, "bob@example.org");
    EXPECT_EQ(got[1].reason, "hard_bounce");
    EXPECT_EQ(got[1].source, "dsn");
    EXPECT_EQ(got[2].address, "one@x.com");
    EXPECT_EQ(got[2].source, "one-click");
    // The bounce event joined the campaign row found through the join ids.
    std::size_t bounced = 0;
    ASSERT_FALSE(s->for_each_event("camp-1", [&](const event_row& row) {
        if (row.state == platform::delivery_state::bounced) {
            ++bounced;
            EXPECT_EQ(row.message_id, "camp-1-bob@example.org");
        }
    }));
    EXPECT_EQ(bounced, 1u);
    ASSERT_TRUE(s->add_suppression("m@example.org", "manual", 3));
    got = list(*s);
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[2].source, "manual");
}

// ---- PostgreSQL only: several replicas on one database ----

class PostgresStore : public ::testing::Test {
  protected:
    void SetUp() override {
        server_ = test::postgres_environment::server();
        ASSERT_TRUE(server_);
        url_ = server_->create_database();
    }
    std::unique_ptr<event_store> open(bool read_only = false) {
        store_options o;
        o.db = url_;
        o.read_only = read_only;
        auto s = open_store(o);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : nullptr;
    }
    std::string name() const { return database_name(url_); }
    test::postgres_server* server_ = nullptr;
    std::string url_;
};

// Two replicas get the same events (the platform retried to the other one)
// at the same time, in opposite orders: each is stored once, and each
// replica's count of stored + duplicates is its whole batch.
TEST_F(PostgresStore, TwoWritersStoringTheSameEventsStoreEachOnce) {
    auto a = open(), b = open();
    ASSERT_TRUE(a && b);
    std::vector<event> events;
    for (int i = 0; i < 2000; ++i)
        events.push_back(make(i % 7 == 0 ? event_type::complaint : event_type::delivered,
                              "r" + std::to_string(i % 500) + "@x.com", i));
    std::vector<event> reversed(events.rbegin(), events.rend());
    std::atomic<std::size_t> stored{0}, suppressed{0};
    std::atomic<int> failures{0};
    auto run = [&](event_store& s, const std::vector<event>& all) {
        for (std::size_t at = 0; at < all.size(); at += 100) {
            const auto r = s.write(std::span(all).subspan(at, 100), 1);
            if (!r) {
                ++failures;
                ADD_FAILURE() << r.error().message();
                continue;
            }
            EXPECT_EQ(r->stored + r->duplicates, 100u);
            stored += r->stored;
            suppressed += r->suppressed;
        }
    };
    std::thread t1([&] { run(*a, events); });
    std::thread t2([&] { run(*b, reversed); });
    t1.join();
    t2.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(stored.load(), events.size());
    EXPECT_EQ(*a->event_count(), events.size());
    std::set<std::string> complained;
    for (const auto& e : events)
        if (e.type == event_type::complaint) complained.insert(e.address);
    EXPECT_EQ(suppressed.load(), complained.size()) << "each address is newly suppressed once";
    EXPECT_EQ(list(*a).size(), complained.size());
}

TEST_F(PostgresStore, AWriteOnALostConnectionFailsStoresNothingAndTheNextOneReconnects) {
    auto s = open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->write(std::vector<event>{failed("a@x.com", 1, 1)}, 1));
    server_->exec(
        "postgres",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name() + "'");
    const auto r = s->write(std::vector<event>{failed("b@x.com", 1, 2)}, 1);
    EXPECT_FALSE(r) << "the connection was cut";
    const auto again = s->write(std::vector<event>{failed("c@x.com", 1, 3)}, 1);
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(again->stored, 1u);
    EXPECT_EQ(*s->event_count(), 2u);
    EXPECT_EQ(list(*s).size(), 2u);
}

TEST_F(PostgresStore, TwoReplicasStartingTogetherMigrateOnce) {
    std::unique_ptr<event_store> a, b;
    std::thread t1([&] { a = open(); });
    std::thread t2([&] { b = open(); });
    t1.join();
    t2.join();
    ASSERT_TRUE(a && b);
    // Versions 1 to 3 (store/src/schema/pg/), each recorded once.
    EXPECT_EQ(server_->query(name(), "SELECT count(*) FROM schema_version"), "3");
}

TEST_F(PostgresStore, ADatabaseWithoutTheSchemaOpenedReadOnlyIsNotASalvoDatabase) {
    const auto r = open_store({url_, {}, true});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(errc::not_a_database));
}

TEST_F(PostgresStore, AReadOnlyOpenCannotWrite) {
    { ASSERT_TRUE(open()); }
    auto s = open(true);
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->add_suppression("a@x.com", "manual", 1));
}

TEST(PostgresUrl, APasswordInTheUrlIsRefusedAndNeverShown) {
    for (const char* url : {"postgresql://ann:s3cret@db.example/events",
                            "postgres://db.example/events?password=s3cret&sslmode=require"}) {
        const auto r = open_store({url, {}, false});
        ASSERT_FALSE(r) << url;
        EXPECT_EQ(r.error(), make_error_code(errc::password_in_url));
        EXPECT_NE(r.error().message().find("PGPASSWORD"), std::string::npos);
        EXPECT_EQ(redact(url).find("s3cret"), std::string::npos) << redact(url);
    }
    EXPECT_EQ(redact("postgresql://ann:s3cret@db.example:5433/events"),
              "postgresql://ann:***@db.example:5433/events");
    EXPECT_EQ(redact("postgres://h/e?sslmode=require&password=x&user=u"),
              "postgres://h/e?sslmode=require&password=***&user=u");
    EXPECT_EQ(redact("events.sqlite"), "events.sqlite");
    EXPECT_TRUE(is_postgresql_url("postgresql://h/db"));
    EXPECT_TRUE(is_postgresql_url("postgres://h/db"));
    EXPECT_FALSE(is_postgresql_url("events.sqlite"));
    EXPECT_FALSE(is_postgresql_url("postgresql.sqlite"));
}

TEST(PostgresUrl, AServerThatIsNotThereIsAnErrorWithLibpqsReason) {
    test::temp_dir dir("salvo-pg-none");
    const auto r = open_store({"postgresql://salvo@/events?host=" + dir.path().string(), {}, true});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().category(), postgresql_category());
    EXPECT_NE(r.error().message().find(dir.path().string()), std::string::npos)
        << r.error().message();
}

}  // namespace
}  // namespace salvo::store

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new salvo::test::postgres_environment);
    return RUN_ALL_TESTS();
}
