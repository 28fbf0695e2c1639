#pragma once
/// Where received events and the suppression list live. `event_store` is
/// the interface the receiver, `salvo status` and the engine use; SQLite is
/// its embedded backend (open_sqlite), PostgreSQL its server backend for
/// several `salvo listen` replicas (open_postgresql); open_store() picks one
/// by the `--db` value.

#include <salvo/platform/event.hpp>
#include <salvo/platform/inbound.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::store {

/// Errors of the store beside the backend's own codes (SQLite result codes
/// come in sqlite_category(), with SQLite's message).
enum class errc {
    schema_too_new = 1,  ///< the database was made by a newer salvo
    not_a_database,      ///< the file exists and is not a salvo event store
    bad_address,         ///< add_suppression() of something that is not an address
    /// Opened read-only, the database was made by an older salvo: a
    /// read-write open (salvo listen) upgrades it in place.
    schema_too_old,
    /// A PostgreSQL URL that holds a password: it would show in `ps` and
    /// in logs; the password comes from PGPASSWORD or PGPASSFILE instead.
    password_in_url,
};

[[nodiscard]] const boost::system::error_category& store_category() noexcept;
/// SQLite result codes; message() is sqlite3_errstr().
[[nodiscard]] const boost::system::error_category& sqlite_category() noexcept;
/// PostgreSQL errors; message() is libpq's (or the server's) message, with
/// any password removed.
[[nodiscard]] const boost::system::error_category& postgresql_category() noexcept;

[[nodiscard]] inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), store_category()};
}

/// When an address goes on the suppression list by itself: a hard bounce
/// (FailureType 1), a platform suppression (2), a complaint or a tracking
/// unsubscribe at once; temporary failures after `soft_bounce_count` of
/// them within `soft_bounce_window` (by their DateTime).
struct suppression_rules {
    unsigned soft_bounce_count = 3;
    std::chrono::milliseconds soft_bounce_window = std::chrono::hours(24 * 30);
};

/// What one write() did.
struct write_result {
    std::size_t stored = 0;      ///< new events
    std::size_t duplicates = 0;  ///< redeliveries of events already stored
    std::size_t suppressed = 0;  ///< addresses newly suppressed
    /// New events by platform::event_type.
    std::array<std::size_t, platform::event_type_count> stored_by_type{};
    std::size_t inbound_stored = 0;      ///< new inbound messages
    std::size_t inbound_duplicates = 0;  ///< inbound posts already stored
};

/// One classified inbound message as the store keeps it.
struct inbound_record {
    platform::inbound_kind kind = platform::inbound_kind::reply;
    std::string kind_reason;
    std::string address;  ///< the recipient reported on, or the sender
    std::string status;   ///< a DSN's Status
    std::string mail_from, rcpt_to, subject, header_message_id;
    std::string mailing_id;  ///< as classified; replaced by the joined row's when found
    /// Candidate MessageIds of the campaign row, best first; the first that
    /// a stored event carries joins the message to its row.
    std::vector<std::string> join_ids;
    /// Message-ID + RcptTo; empty: never deduplicated.
    std::string dedupe_key;
    std::string raw;  ///< platform::stored_json()
    struct attachment {
        std::string name, content_type;
        bool embedded = false;
        std::uint64_t size = 0;
        std::string sha256, error;  ///< sha256 empty when not stored
    };
    std::vector<attachment> attachments;
    /// The event a report stands for (a DSN as Failed, an ARF as
    /// Complaint): stored (with the joined MailingId/MessageId) and
    /// suppressing as an event would, with source `dsn` or `arf`.
    std::optional<platform::event> as_event;
    /// Suppress `address` as `unsubscribe`, source `inbound-reply`.
    bool unsubscribe = false;
};

/// One thing to write: an event (with the source its suppression gets:
/// `event`, `one-click`) or an inbound message.
struct write_item {
    const platform::event* event = nullptr;
    std::string_view source = "event";
    const inbound_record* inbound = nullptr;
};

/// One suppressed address.
struct suppression {
    std::string address;  ///< local part as sent, domain lower case
    std::string reason;   ///< hard_bounce, platform_suppressed, complained, unsubscribed,
                          ///< soft_bounces, manual
    std::optional<std::int64_t> source_event;  ///< the event's id, none for `manual`
    std::int64_t added_ms = 0;
    /// Who suppressed it: event, dsn, arf, inbound-reply, one-click, manual.
    std::string source;
};

/// A suppression reason as schema 3 names it: the spellings of schemas 1-2
/// that a user may still type or have in a script ("complaint",
/// "unsubscribe") give "complained" and "unsubscribed"; any other reason is
/// returned as it is.
[[nodiscard]] inline std::string_view canonical_reason(std::string_view reason) noexcept {
    if (reason == "complaint") return "complained";
    if (reason == "unsubscribe") return "unsubscribed";
    return reason;
}

/// One stored event as `salvo status` reads it. The views point into the
/// store's row buffer and live until the callback returns.
struct event_row {
    std::string_view address;
    std::string_view message_id;
    platform::event_type type = platform::event_type::unknown;
    platform::delivery_state state = platform::delivery_state::no_event;
    std::optional<std::int64_t> tracking_type;
    std::optional<std::int64_t> time_ms;
};

/// The address form used for keys: the local part as sent, `@`, the domain
/// in ASCII lower case (as the engine compares addresses).
[[nodiscard]] std::string address_key(std::string_view address);
/// The same, into `out` (replacing its content), for loops that must not allocate.
void address_key(std::string_view address, std::string& out);

/// The storage interface. One object is used by one thread at a time (the
/// receiver's writer thread owns its own); several objects, in several
/// processes, may open the same database: readers never block the writer.
/// Every function returns an error instead of throwing; on error a write
/// has stored nothing.
class event_store {
  public:
    virtual ~event_store() = default;

    /// Stores `events` in one transaction, skipping redeliveries, and
    /// suppresses the addresses they call for (suppression_rules). When
    /// this returns a value the events are durable.
    [[nodiscard]] boost::system::result<write_result> write(std::span<const platform::event> events,
                                                            std::int64_t now_ms) {
        std::vector<write_item> items(events.size());
        for (std::size_t i = 0; i < events.size(); ++i) items[i].event = &events[i];
        return write_items(items, now_ms);
    }

    /// Stores events and inbound messages in one transaction, as write()
    /// does; an inbound message already stored (same dedupe_key) is
    /// skipped with everything it would have suppressed.
    [[nodiscard]] virtual boost::system::result<write_result> write_items(
        std::span<const write_item> items, std::int64_t now_ms) = 0;

    /// Calls `f` for every stored event of `mailing_id`, in no given order.
    [[nodiscard]] virtual boost::system::error_code for_each_event(
        std::string_view mailing_id, const std::function<void(const event_row&)>& f) = 0;

    /// Calls `f` for every suppressed address, ordered by address.
    [[nodiscard]] virtual boost::system::error_code for_each_suppression(
        const std::function<void(const suppression&)>& f) = 0;

    /// Suppresses `address` with `reason` (true), or leaves an existing
    /// entry as it is (false).
    [[nodiscard]] virtual boost::system::result<bool> add_suppression(std::string_view address,
                                                                      std::string_view reason,
                                                                      std::int64_t now_ms) = 0;
    /// Removes `address` from the list; false when it was not on it.
    [[nodiscard]] virtual boost::system::result<bool> remove_suppression(
        std::string_view address) = 0;

    /// Events stored, all mailings.
    [[nodiscard]] virtual boost::system::result<std::uint64_t> event_count() = 0;
};

/// How to open a SQLite event store.
struct sqlite_options {
    std::filesystem::path path;
    suppression_rules rules{};
    /// Open an existing database for reading only (salvo status, salvo send):
    /// no file is created and no migration runs.
    bool read_only = false;
    /// How long a statement waits for another connection's lock.
    std::chrono::milliseconds busy_timeout{10000};
};

/// Opens (creating when needed, unless read_only) a SQLite database in WAL
/// mode with synchronous=FULL, and brings its schema up to date. Errors:
/// SQLite's (sqlite_category), schema_too_new, not_a_database.
[[nodiscard]] boost::system::result<std::unique_ptr<event_store>> open_sqlite(
    const sqlite_options& options);

/// How to open a PostgreSQL event store.
struct postgresql_options {
    /// A libpq connection URI, `postgresql://[user@]host[:port]/dbname[?param=value…]`
    /// (or `postgres://…`). It must not hold a password: libpq reads
    /// PGPASSWORD or the file PGPASSFILE (~/.pgpass by default) instead.
    std::string conninfo;
    suppression_rules rules{};
    /// No migration runs, and the session is read-only.
    bool read_only = false;
};

/// Connects, brings the schema up to date (several replicas may start at
/// once: migrations are serialised by an advisory lock), and prepares the
/// statements. Errors: postgresql_category, schema_too_new, schema_too_old
/// (read-only), not_a_database, password_in_url.
[[nodiscard]] boost::system::result<std::unique_ptr<event_store>> open_postgresql(
    const postgresql_options& options);

/// True for `postgresql://…` and `postgres://…`: such a `--db` value names
/// a PostgreSQL database, anything else a SQLite file.
[[nodiscard]] bool is_postgresql_url(std::string_view db) noexcept;

/// `db` fit for messages: a PostgreSQL URL with any password (in the user
/// part or a `password=` parameter) replaced by `***`; a path as it is.
[[nodiscard]] std::string redact(std::string_view db);

/// How to open the store a `--db` value names.
struct store_options {
    std::string db;  ///< a SQLite path or a PostgreSQL URL
    suppression_rules rules{};
    bool read_only = false;
};

/// open_postgresql() when is_postgresql_url(db), else open_sqlite().
[[nodiscard]] boost::system::result<std::unique_ptr<event_store>> open_store(
    const store_options& options);

}  // namespace salvo::store

template <>
struct boost::system::is_error_code_enum<salvo::store::errc> : std::true_type {};
