// The SQLite backend of event_store: WAL, synchronous=FULL, one migration
// runner, prepared statements kept for the connection's life.
#include <salvo/store/store.hpp>

#include "migrations.hpp"
#include "suppression_reason.hpp"

#include <sqlite3.h>

#include <array>
#include <optional>
#include <string>
#include <utility>

namespace salvo::store {
namespace {

using boost::system::error_code;

error_code sqlite_error(int rc) noexcept {
    return {rc & 0xff, sqlite_category()};
}

// result<bool> cannot be made from an error_code implicitly (bool could).
boost::system::result<bool> bool_error(error_code ec) noexcept {
    return {boost::system::in_place_error, ec};
}

// A prepared statement, reset after each use.
class statement {
  public:
    statement() = default;
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement() { sqlite3_finalize(stmt_); }

    error_code prepare(sqlite3* db, const char* sql) {
        const int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
        return rc == SQLITE_OK ? error_code{} : sqlite_error(rc);
    }
    sqlite3_stmt* get() const noexcept { return stmt_; }

    void text(int i, std::string_view v) {
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    void integer(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
    void optional(int i, const std::optional<std::int64_t>& v) {
        if (v)
            sqlite3_bind_int64(stmt_, i, *v);
        else
            sqlite3_bind_null(stmt_, i);
    }
    void null(int i) { sqlite3_bind_null(stmt_, i); }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return sqlite3_step(stmt_); }
    void reset() {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

    std::string_view column_text(int i) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
        return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
                 : std::string_view();
    }
    std::optional<std::int64_t> column_optional(int i) const {
        if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) return std::nullopt;
        return sqlite3_column_int64(stmt_, i);
    }

  private:
    sqlite3_stmt* stmt_ = nullptr;
};

// Resets the statement however the scope is left.
struct reset_on_exit {
    statement& s;
    ~reset_on_exit() { s.reset(); }
};

class sqlite_store final : public event_store {
  public:
    sqlite_store(sqlite3* db, const sqlite_options& o) : db_(db), rules_(o.rules) {}
    // close_v2 defers the close until the members' statements are finalized.
    ~sqlite_store() override { sqlite3_close_v2(db_); }

    error_code prepare_statements(bool read_only) {
        error_code ec;
        if (!read_only) {
            if ((ec = insert_event_.prepare(
                     db_,
                     "INSERT OR IGNORE INTO events (type, kind, state, date_time, occurred_at, "
                     "received_at, server_id, mailing_id, message_id, address, address_key, "
                     "failure_type, failure_code, tracking_type, url, reason, identity, raw) "
                     "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)")))
                return ec;
            if ((ec = insert_suppression_.prepare(
                     db_,
                     "INSERT OR IGNORE INTO suppressions (address, reason, source_event, added_at, "
                     "source, source_inbound) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")))
                return ec;
            // Already suppressed: replaced only by a suppression that
            // outranks it (suppression_reason.hpp), as on PostgreSQL, so
            // both backends keep the same row whatever the order of events.
            if ((ec = upgrade_suppression_.prepare(
                     db_,
                     "UPDATE suppressions SET reason = ?2, source_event = ?3, added_at = ?4, "
                     "source = ?5, source_inbound = ?6 WHERE address = ?1 AND "
                     "(salvo_suppression_rank(reason, source), "
                     "coalesce(?3, 9223372036854775807), coalesce(?6, 9223372036854775807)) < "
                     "(salvo_suppression_rank(?2, ?5), "
                     "coalesce(source_event, 9223372036854775807), "
                     "coalesce(source_inbound, 9223372036854775807))")))
                return ec;
            if ((ec = insert_inbound_.prepare(
                     db_,
                     "INSERT OR IGNORE INTO inbound_messages (received_at, kind, kind_reason, "
                     "address, status, mail_from, rcpt_to, subject, header_message_id, "
                     "mailing_id, message_id, dedupe_key, raw) "
                     "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)")))
                return ec;
            if ((ec = insert_attachment_.prepare(
                     db_,
                     "INSERT INTO inbound_attachments (inbound_id, position, name, content_type, "
                     "embedded, size, sha256, error) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)")))
                return ec;
            if ((ec = find_row_.prepare(
                     db_, "SELECT mailing_id FROM events WHERE message_id = ?1 LIMIT 1")))
                return ec;
            if ((ec = count_soft_.prepare(
                     db_,
                     "SELECT count(*) FROM events WHERE address_key = ?1 AND state = ?2 AND "
                     "occurred_at > ?3 AND occurred_at <= ?4")))
                return ec;
            if ((ec = begin_.prepare(db_, "BEGIN IMMEDIATE"))) return ec;
            if ((ec = commit_.prepare(db_, "COMMIT"))) return ec;
            if ((ec = remove_.prepare(db_, "DELETE FROM suppressions WHERE address = ?1")))
                return ec;
        }
        if ((ec = select_events_.prepare(
                 db_,
                 "SELECT address, message_id, kind, state, tracking_type, occurred_at FROM events "
                 "WHERE mailing_id = ?1")))
            return ec;
        if ((ec = select_suppressions_.prepare(
                 db_,
                 "SELECT address, reason, source_event, added_at, source FROM suppressions "
                 "ORDER BY address")))
            return ec;
        return count_events_.prepare(db_, "SELECT count(*) FROM events");
    }

    boost::system::result<write_result> write_items(std::span<const write_item> items,
                                                    std::int64_t now_ms) override {
        write_result r;
        if (items.empty()) return r;
        if (const int rc = run(begin_); rc != SQLITE_DONE) return sqlite_error(rc);
        for (const auto& item : items) {
            error_code ec;
            if (item.inbound)
                ec = insert_inbound(*item.inbound, now_ms, r);
            else if (item.event && item.event->type != platform::event_type::validation)
                ec = insert(*item.event, item.source, std::nullopt, now_ms, r);
            if (ec) {
                sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
                return ec;
            }
        }
        if (const int rc = run(commit_); rc != SQLITE_DONE) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            return sqlite_error(rc);
        }
        return r;
    }

    error_code for_each_event(std::string_view mailing_id,
                              const std::function<void(const event_row&)>& f) override {
        auto& s = select_events_;
        reset_on_exit guard{s};
        s.text(1, mailing_id);
        int rc;
        while ((rc = s.step()) == SQLITE_ROW) {
            event_row row;
            row.address = s.column_text(0);
            row.message_id = s.column_text(1);
            row.type = static_cast<platform::event_type>(sqlite3_column_int(s.get(), 2));
            row.state = static_cast<platform::delivery_state>(sqlite3_column_int(s.get(), 3));
            row.tracking_type = s.column_optional(4);
            row.time_ms = s.column_optional(5);
            f(row);
        }
        return rc == SQLITE_DONE ? error_code{} : sqlite_error(rc);
    }

    error_code for_each_suppression(const std::function<void(const suppression&)>& f) override {
        auto& s = select_suppressions_;
        reset_on_exit guard{s};
        int rc;
        suppression row;
        while ((rc = s.step()) == SQLITE_ROW) {
            row.address = s.column_text(0);
            row.reason = s.column_text(1);
            row.source_event = s.column_optional(2);
            row.added_ms = sqlite3_column_int64(s.get(), 3);
            row.source = s.column_text(4);
            f(row);
        }
        return rc == SQLITE_DONE ? error_code{} : sqlite_error(rc);
    }

    boost::system::result<bool> add_suppression(std::string_view address, std::string_view reason,
                                                std::int64_t now_ms) override {
        const auto at = address.find('@');
        if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
            address.find_first_of(" \t\r\n,;") != std::string_view::npos)
            return bool_error(errc::bad_address);
        auto& s = insert_suppression_;
        reset_on_exit guard{s};
        s.text(1, address_key(address));
        s.text(2, reason);
        s.null(3);
        s.integer(4, now_ms);
        s.text(5, "manual");
        s.null(6);
        const int rc = s.step();
        if (rc != SQLITE_DONE) return bool_error(sqlite_error(rc));
        return sqlite3_changes(db_) > 0;
    }

    boost::system::result<bool> remove_suppression(std::string_view address) override {
        auto& s = remove_;
        reset_on_exit guard{s};
        s.text(1, address_key(address));
        const int rc = s.step();
        if (rc != SQLITE_DONE) return bool_error(sqlite_error(rc));
        return sqlite3_changes(db_) > 0;
    }

    boost::system::result<std::uint64_t> event_count() override {
        auto& s = count_events_;
        reset_on_exit guard{s};
        const int rc = s.step();
        if (rc != SQLITE_ROW) return sqlite_error(rc);
        return static_cast<std::uint64_t>(sqlite3_column_int64(s.get(), 0));
    }

  private:
    static int run(statement& s) {
        const int rc = s.step();
        s.reset();
        return rc;
    }

    // The first candidate MessageId a stored event carries, with its MailingId.
    error_code join(const std::vector<std::string>& ids, std::string& message_id,
                    std::string& mailing_id) {
        auto& s = find_row_;
        for (const auto& id : ids) {
            reset_on_exit guard{s};
            s.text(1, id);
            const int rc = s.step();
            if (rc == SQLITE_ROW) {
                message_id = id;
                mailing_id = s.column_text(0);
                return {};
            }
            if (rc != SQLITE_DONE) return sqlite_error(rc);
        }
        return {};
    }

    error_code insert_inbound(const inbound_record& in, std::int64_t now_ms, write_result& r) {
        std::string message_id, mailing_id = in.mailing_id;
        if (auto ec = join(in.join_ids, message_id, mailing_id)) return ec;
        auto opt_text = [](statement& s, int i, std::string_view v) {
            if (v.empty())
                s.null(i);
            else
                s.text(i, v);
        };
        {
            auto& s = insert_inbound_;
            reset_on_exit guard{s};
            s.integer(1, now_ms);
            s.text(2, platform::to_string(in.kind));
            s.text(3, in.kind_reason);
            opt_text(s, 4, in.address);
            opt_text(s, 5, in.status);
            s.text(6, in.mail_from);
            s.text(7, in.rcpt_to);
            s.text(8, in.subject);
            opt_text(s, 9, in.header_message_id);
            opt_text(s, 10, mailing_id);
            opt_text(s, 11, message_id);
            opt_text(s, 12, in.dedupe_key);
            s.text(13, in.raw);
            const int rc = s.step();
            if (rc != SQLITE_DONE) return sqlite_error(rc);
        }
        if (sqlite3_changes(db_) == 0) {
            ++r.inbound_duplicates;
            return {};
        }
        ++r.inbound_stored;
        const std::int64_t id = sqlite3_last_insert_rowid(db_);
        std::int64_t position = 0;
        for (const auto& a : in.attachments) {
            auto& s = insert_attachment_;
            reset_on_exit guard{s};
            s.integer(1, id);
            s.integer(2, position++);
            s.text(3, a.name);
            s.text(4, a.content_type);
            s.integer(5, a.embedded ? 1 : 0);
            s.integer(6, static_cast<std::int64_t>(a.size));
            opt_text(s, 7, a.sha256);
            opt_text(s, 8, a.error);
            const int rc = s.step();
            if (rc != SQLITE_DONE) return sqlite_error(rc);
        }
        if (in.as_event) {
            platform::event e = *in.as_event;
            if (e.message_id.empty()) e.message_id = message_id;
            if (e.mailing_id.empty()) e.mailing_id = mailing_id;
            const char* source = in.kind == platform::inbound_kind::complaint ? "arf" : "dsn";
            return insert(e, source, id, now_ms, r);
        }
        if (in.unsubscribe && !in.address.empty())
            return suppress(address_key(in.address), "unsubscribed", std::nullopt, now_ms,
                            "inbound-reply", id, r);
        return {};
    }

    // Suppresses an address; counted when it was not suppressed before. An
    // address already on the list gets the new reason only if it outranks.
    error_code suppress(const std::string& key, std::string_view reason,
                        std::optional<std::int64_t> event_id, std::int64_t now_ms,
                        std::string_view source, std::optional<std::int64_t> inbound_id,
                        write_result& r) {
        for (statement* st : {&insert_suppression_, &upgrade_suppression_}) {
            auto& s = *st;
            reset_on_exit guard{s};
            s.text(1, key);
            s.text(2, reason);
            s.optional(3, event_id);
            s.integer(4, now_ms);
            s.text(5, source);
            s.optional(6, inbound_id);
            const int rc = s.step();
            if (rc != SQLITE_DONE) return sqlite_error(rc);
            if (st == &insert_suppression_ && sqlite3_changes(db_) > 0) {
                ++r.suppressed;
                break;
            }
        }
        return {};
    }

    error_code insert(const platform::event& e, std::string_view source,
                      std::optional<std::int64_t> inbound_id, std::int64_t now_ms,
                      write_result& r) {
        const auto state = platform::state_of(e);
        const std::string key = address_key(e.address);
        {
            auto& s = insert_event_;
            reset_on_exit guard{s};
            s.text(1, e.type_name);
            s.integer(2, static_cast<std::int64_t>(e.type));
            s.integer(3, static_cast<std::int64_t>(state));
            s.text(4, e.date_time);
            s.optional(5, e.time_ms);
            s.integer(6, now_ms);
            s.text(7, e.server_id);
            s.text(8, e.mailing_id);
            s.text(9, e.message_id);
            s.text(10, e.address);
            s.text(11, key);
            s.optional(12, e.failure_type);
            s.optional(13, e.failure_code);
            s.optional(14, e.tracking_type);
            if (e.url.empty())
                s.null(15);
            else
                s.text(15, e.url);
            if (e.reason.empty())
                s.null(16);
            else
                s.text(16, e.reason);
            s.text(17, platform::identity_extra(e));
            s.text(18, e.raw);
            const int rc = s.step();
            if (rc != SQLITE_DONE) return sqlite_error(rc);
        }
        if (sqlite3_changes(db_) == 0) {
            ++r.duplicates;
            return {};
        }
        ++r.stored;
        ++r.stored_by_type[static_cast<std::size_t>(e.type)];
        if (e.address.empty()) return {};
        const std::int64_t id = sqlite3_last_insert_rowid(db_);
        const char* reason = detail::suppression_reason(e, rules_);
        if (reason && std::string_view(reason) == "soft_bounces") {
            auto& c = count_soft_;
            reset_on_exit guard{c};
            c.text(1, key);
            c.integer(2, static_cast<std::int64_t>(state));
            c.integer(3, *e.time_ms - rules_.soft_bounce_window.count());
            c.integer(4, *e.time_ms);
            const int rc = c.step();
            if (rc != SQLITE_ROW) return sqlite_error(rc);
            if (sqlite3_column_int64(c.get(), 0) <
                static_cast<std::int64_t>(rules_.soft_bounce_count))
                reason = nullptr;
        }
        if (!reason) return {};
        return suppress(key, reason, id, now_ms, source, inbound_id, r);
    }

    sqlite3* db_;
    suppression_rules rules_;
    statement insert_event_, insert_suppression_, upgrade_suppression_, count_soft_, begin_,
        commit_, remove_, select_events_, select_suppressions_, count_events_, insert_inbound_,
        insert_attachment_, find_row_;
};

error_code exec(sqlite3* db, const char* sql) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    return rc == SQLITE_OK ? error_code{} : sqlite_error(rc);
}

// Brings the schema to the newest version, one migration per transaction.
error_code migrate(sqlite3* db) {
    constexpr int newest = static_cast<int>(std::size(detail::migrations));
    if (auto ec = exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
        return ec;
    for (;;) {
        if (auto ec = exec(db, "BEGIN IMMEDIATE")) return ec;
        sqlite3_stmt* s = nullptr;
        int version = 0;
        int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
                                    &s, nullptr);
        if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            version = sqlite3_column_int(s, 0);
            rc = SQLITE_OK;
        }
        sqlite3_finalize(s);
        error_code ec;
        if (rc != SQLITE_OK) {
            ec = sqlite_error(rc);
        } else if (version > newest) {
            ec = errc::schema_too_new;
        } else if (version == newest) {
            return exec(db, "COMMIT");
        } else {
            ec = exec(db, detail::migrations[version]);
            if (!ec) {
                const std::string record = "INSERT INTO schema_version (version) VALUES (" +
                                           std::to_string(version + 1) + ")";
                ec = exec(db, record.c_str());
            }
            if (!ec) ec = exec(db, "COMMIT");
            if (!ec) continue;
        }
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        return ec;
    }
}

error_code check_version(sqlite3* db) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &s,
                                nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(s);
        return errc::not_a_database;
    }
    int version = 0;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) return sqlite_error(rc);
    if (version > static_cast<int>(std::size(detail::migrations))) return errc::schema_too_new;
    if (version < static_cast<int>(std::size(detail::migrations))) return errc::schema_too_old;
    return {};
}

}  // namespace

void address_key(std::string_view address, std::string& out) {
    out.assign(address);
    const auto at = out.rfind('@');
    if (at == std::string::npos) return;
    for (std::size_t i = at + 1; i < out.size(); ++i)
        if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] + 32);
}

std::string address_key(std::string_view address) {
    std::string out;
    address_key(address, out);
    return out;
}

boost::system::result<std::unique_ptr<event_store>> open_sqlite(const sqlite_options& o) {
    sqlite3* db = nullptr;
    const int flags =
        (o.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
        SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(o.path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_close_v2(db);
        return sqlite_error(rc);
    }
    auto fail = [db](error_code ec) -> boost::system::result<std::unique_ptr<event_store>> {
        sqlite3_close_v2(db);
        if (ec.category() == sqlite_category() && (ec.value() == SQLITE_NOTADB))
            return make_error_code(errc::not_a_database);
        return ec;
    };
    sqlite3_extended_result_codes(db, 0);
    sqlite3_busy_timeout(db, static_cast<int>(o.busy_timeout.count()));
    error_code ec;
    if (!o.read_only) {
        if ((ec = exec(db, "PRAGMA journal_mode=WAL"))) return fail(ec);
        if ((ec = exec(db, "PRAGMA synchronous=FULL"))) return fail(ec);
        if ((ec = exec(db, "PRAGMA foreign_keys=OFF"))) return fail(ec);
        if ((ec = migrate(db))) return fail(ec);
    } else if ((ec = check_version(db))) {
        return fail(ec);
    }
    // salvo_suppression_rank(reason, source), as PostgreSQL has it in SQL.
    rc = sqlite3_create_function_v2(
        db, "salvo_suppression_rank", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
        [](sqlite3_context* ctx, int, sqlite3_value** argv) {
            const auto text = [](sqlite3_value* v) {
                const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
                return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_value_bytes(v)))
                         : std::string_view();
            };
            sqlite3_result_int(ctx, detail::suppression_rank(text(argv[0]), text(argv[1])));
        },
        nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(sqlite_error(rc));
    auto store = std::make_unique<sqlite_store>(db, o);
    if ((ec = store->prepare_statements(o.read_only))) return ec;  // the store closes db
    return std::unique_ptr<event_store>(std::move(store));
}

namespace {

class store_cat final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.store"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::schema_too_new:
                return "the event database was made by a newer salvo (its schema version is "
                       "newer than this salvo knows); use that salvo, or another database";
            case errc::not_a_database:
                return "the file is not a salvo event database (run `salvo listen --db FILE` to "
                       "create one)";
            case errc::bad_address:
                return "not an email address";
            case errc::schema_too_old:
                return "the event database was made by an older salvo; open it once with "
                       "`salvo listen --db FILE` (or `salvo suppressions add|remove --db FILE`), "
                       "which upgrades it in place, then run this again";
            case errc::password_in_url:
                return "the PostgreSQL URL holds a password, which would show in `ps` and in "
                       "logs; remove it from the URL and give it in the environment variable "
                       "PGPASSWORD, or in a password file (PGPASSFILE, ~/.pgpass by default)";
        }
        return "unknown store error";
    }
};

class sqlite_cat final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "sqlite"; }
    std::string message(int ev) const override { return sqlite3_errstr(ev); }
};

}  // namespace

const boost::system::error_category& store_category() noexcept {
    static const store_cat c;
    return c;
}

const boost::system::error_category& sqlite_category() noexcept {
    static const sqlite_cat c;
    return c;
}

}  // namespace salvo::store
