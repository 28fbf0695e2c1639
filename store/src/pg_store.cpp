// The PostgreSQL backend of event_store, for several `salvo listen`
// replicas writing one database: idempotent inserts (ON CONFLICT DO
// NOTHING on the event's identity), suppressions that end the same
// whichever replica writes last (an upsert ranked by salvo_suppression_rank),
// and a batch sent as one pipeline (libpq's pipeline mode): BEGIN, one
// prepared statement per event, COMMIT, one round trip.
#include <salvo/store/store.hpp>

#include "migrations.hpp"
#include "suppression_reason.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace salvo::store {
namespace {

using boost::system::error_code;

// libpq reports errors as text. The category keeps each distinct text once
// (bounded) and the code's value names it, so error_code::message() gives
// libpq's own words.
class pg_messages {
  public:
    int intern(std::string text) {
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        if (text.empty()) text = "PostgreSQL error";
        const std::lock_guard lock(mutex_);
        const auto it = std::find(texts_.begin(), texts_.end(), text);
        if (it != texts_.end()) return static_cast<int>(it - texts_.begin()) + 1;
        if (texts_.size() >= 4096) return 0;
        texts_.push_back(std::move(text));
        return static_cast<int>(texts_.size());
    }
    std::string text(int v) const {
        const std::lock_guard lock(mutex_);
        if (v <= 0 || static_cast<std::size_t>(v) > texts_.size())
            return "PostgreSQL error (too many distinct messages to keep)";
        return texts_[static_cast<std::size_t>(v) - 1];
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> texts_;
};

pg_messages& messages() {
    static pg_messages m;
    return m;
}

error_code pg_error(std::string text) {
    return {messages().intern(std::move(text)), postgresql_category()};
}

error_code conn_error(PGconn* c) {
    return pg_error(PQerrorMessage(c));
}

boost::system::result<bool> bool_error(error_code ec) noexcept {
    return {boost::system::in_place_error, ec};
}

struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using result_ptr = std::unique_ptr<PGresult, result_deleter>;

// SQLSTATEs a whole batch is retried on: another replica's transaction
// took the same rows in the other order, or the connection's transaction
// could not be serialised.
bool retryable(const PGresult* r) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return state && (std::string_view(state) == "40P01" || std::string_view(state) == "40001");
}

error_code result_error(PGconn* c, const PGresult* r) {
    const char* m = r ? PQresultErrorMessage(r) : nullptr;
    return pg_error(m && *m ? m : PQerrorMessage(c));
}

// The parameters of one statement, as text.
class params {
  public:
    void text(std::string_view v) {
        owned_.emplace_back(v);
        is_null_.push_back(false);
    }
    void integer(std::int64_t v) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        text(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
    }
    void optional(const std::optional<std::int64_t>& v) {
        if (v)
            integer(*v);
        else
            null();
    }
    void optional_text(std::string_view v) {
        if (v.empty())
            null();
        else
            text(v);
    }
    void null() {
        owned_.emplace_back();
        is_null_.push_back(true);
    }
    // Pointers for PQsendQueryPrepared; valid until the next change.
    const std::vector<const char*>& values() {
        values_.clear();
        for (std::size_t i = 0; i < owned_.size(); ++i)
            values_.push_back(is_null_[i] ? nullptr : owned_[i].c_str());
        return values_;
    }
    int size() const noexcept { return static_cast<int>(owned_.size()); }

  private:
    std::vector<std::string> owned_;
    std::vector<bool> is_null_;
    std::vector<const char*> values_;
};

// One event: stored unless already there, and the suppression it calls for
// (when stored) upserted by rank. Returns (the new event's id or NULL, 1
// when the address was newly suppressed).
//   $1-$18 the event's columns, $19 the suppression reason or NULL,
//   $20 its source, $21 source_inbound, $22 the soft-bounce count,
//   $23 the soft-bounce window's start (exclusive).
// A data-modifying CTE's sub-statements do not see each other's rows, so
// the soft-bounce count adds this event itself (SQLite counts after the
// insert); earlier statements of the transaction, and commits of other
// replicas, are seen.
// The event's insert, $1-$18.
#define SALVO_INSERT_EVENT                                                                      \
    "INSERT INTO events (type, kind, state, date_time, occurred_at, received_at, server_id,"    \
    " mailing_id, message_id, address, address_key, failure_type, failure_code, tracking_type," \
    " url, reason, identity, raw)"                                                              \
    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)"                  \
    " ON CONFLICT DO NOTHING RETURNING id"
// A suppression already there is replaced only by one that outranks it.
#define SALVO_UPSERT_RANKED                                                \
    " ON CONFLICT (address) DO UPDATE SET reason = excluded.reason,"       \
    " source_event = excluded.source_event, added_at = excluded.added_at," \
    " source = excluded.source, source_inbound = excluded.source_inbound"  \
    " WHERE (salvo_suppression_rank(s.reason, s.source),"                  \
    " coalesce(excluded.source_event, 9223372036854775807),"               \
    " coalesce(excluded.source_inbound, 9223372036854775807))"             \
    " < (salvo_suppression_rank(excluded.reason, excluded.source),"        \
    " coalesce(s.source_event, 9223372036854775807),"                      \
    " coalesce(s.source_inbound, 9223372036854775807))"                    \
    " RETURNING (xmax = 0) AS inserted"

constexpr const char* insert_event_sql =
    "WITH ins AS (" SALVO_INSERT_EVENT
    "),"
    " sup AS ("
    " INSERT INTO suppressions AS s (address, reason, source_event, added_at, source,"
    " source_inbound)"
    " SELECT $11, $19::text, ins.id, $6, $20::text, $21::bigint FROM ins"
    " WHERE $19::text IS NOT NULL AND $10 <> '' AND ($19::text <> 'soft_bounces' OR"
    " (SELECT count(*) FROM events e WHERE e.address_key = $11 AND e.state = $3"
    " AND e.occurred_at > $23::bigint AND e.occurred_at <= $5) + 1 >= "
    "$22::bigint)" SALVO_UPSERT_RANKED
    ")"
    " SELECT (SELECT id FROM ins), (SELECT count(*) FROM sup WHERE inserted)";

// An event that suppresses nothing (most: Queued, Delivered, opens):
// stored unless already there, without insert_event_sql's second insert.
// $1-$18 as there; one row (its id) when stored, none when a redelivery.
constexpr const char* insert_plain_event_sql = SALVO_INSERT_EVENT ", 0";

// An inbound unsubscribe, ranked as an event's suppression.
constexpr const char* upsert_suppression_sql =
    "INSERT INTO suppressions AS s (address, reason, source_event, added_at, source,"
    " source_inbound) VALUES ($1, $2, NULL, $3, $4, $5)" SALVO_UPSERT_RANKED;

#undef SALVO_INSERT_EVENT
#undef SALVO_UPSERT_RANKED

struct named_statement {
    const char* name;
    const char* sql;
};

constexpr named_statement write_statements[] = {
    {"salvo_insert_event", insert_event_sql},
    {"salvo_insert_plain_event", insert_plain_event_sql},
    {"salvo_upsert_suppression", upsert_suppression_sql},
    // salvo suppressions add: leaves an existing entry as it is, as SQLite.
    {"salvo_add_suppression",
     "INSERT INTO suppressions (address, reason, source_event, added_at, source, source_inbound)"
     " VALUES ($1, $2, NULL, $3, 'manual', NULL) ON CONFLICT DO NOTHING"},
    {"salvo_remove_suppression", "DELETE FROM suppressions WHERE address = $1"},
    {"salvo_insert_inbound",
     "INSERT INTO inbound_messages (received_at, kind, kind_reason, address, status, mail_from,"
     " rcpt_to, subject, header_message_id, mailing_id, message_id, dedupe_key, raw)"
     " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) ON CONFLICT DO NOTHING RETURNING id"},
    {"salvo_insert_attachment",
     "INSERT INTO inbound_attachments (inbound_id, position, name, content_type, embedded, size,"
     " sha256, error) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"},
    {"salvo_find_row", "SELECT mailing_id FROM events WHERE message_id = $1 LIMIT 1"},
};

constexpr named_statement read_statements[] = {
    {"salvo_select_events",
     "SELECT address, message_id, kind, state, tracking_type, occurred_at FROM events"
     " WHERE mailing_id = $1"},
    {"salvo_select_suppressions",
     "SELECT address, reason, source_event, added_at, source FROM suppressions"
     " ORDER BY address COLLATE \"C\""},
    {"salvo_count_events", "SELECT count(*) FROM events"},
};

std::optional<std::int64_t> get_optional(const PGresult* r, int row, int col) {
    if (PQgetisnull(r, row, col)) return std::nullopt;
    return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}

std::string_view get_text(const PGresult* r, int row, int col) {
    return {PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col))};
}

class pg_store final : public event_store {
  public:
    pg_store(PGconn* c, const postgresql_options& o) : conn_(c), rules_(o.rules) {}
    ~pg_store() override { PQfinish(conn_); }

    error_code prepare_statements(bool read_only) {
        auto prepare = [this](const named_statement& s) -> error_code {
            result_ptr r(PQprepare(conn_, s.name, s.sql, 0, nullptr));
            if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return result_error(conn_, r.get());
            return {};
        };
        if (!read_only)
            for (const auto& s : write_statements)
                if (auto ec = prepare(s)) return ec;
        for (const auto& s : read_statements)
            if (auto ec = prepare(s)) return ec;
        return {};
    }

    boost::system::result<write_result> write_items(std::span<const write_item> items,
                                                    std::int64_t now_ms) override {
        if (items.empty()) return write_result{};
        const bool has_inbound =
            std::any_of(items.begin(), items.end(), [](const write_item& i) { return i.inbound; });
        // Another replica storing the same events in another order can
        // deadlock with this one; PostgreSQL then aborts one of the two,
        // which stored nothing and is run again.
        for (int attempt = 0;; ++attempt) {
            write_result r;
            bool retry = false;
            const error_code ec = has_inbound ? write_one_by_one(items, now_ms, r, retry)
                                              : write_pipelined(items, now_ms, r, retry);
            if (!ec) return r;
            if (!retry || attempt == 4) return ec;
        }
    }

    error_code for_each_event(std::string_view mailing_id,
                              const std::function<void(const event_row&)>& f) override {
        const std::string id(mailing_id);
        const char* values[] = {id.c_str()};
        if (!PQsendQueryPrepared(conn_, "salvo_select_events", 1, values, nullptr, nullptr, 0))
            return conn_error(conn_);
        // Row by row: a campaign of millions of events is never held whole.
        PQsetSingleRowMode(conn_);
        error_code ec;
        while (result_ptr r{PQgetResult(conn_)}) {
            const auto st = PQresultStatus(r.get());
            if (st == PGRES_SINGLE_TUPLE) {
                if (ec) continue;
                event_row row;
                row.address = get_text(r.get(), 0, 0);
                row.message_id = get_text(r.get(), 0, 1);
                row.type = static_cast<platform::event_type>(std::atoi(PQgetvalue(r.get(), 0, 2)));
                row.state =
                    static_cast<platform::delivery_state>(std::atoi(PQgetvalue(r.get(), 0, 3)));
                row.tracking_type = get_optional(r.get(), 0, 4);
                row.time_ms = get_optional(r.get(), 0, 5);
                f(row);
            } else if (st != PGRES_TUPLES_OK && !ec) {
                ec = result_error(conn_, r.get());
            }
        }
        return ec;
    }

    error_code for_each_suppression(const std::function<void(const suppression&)>& f) override {
        if (!PQsendQueryPrepared(conn_, "salvo_select_suppressions", 0, nullptr, nullptr, nullptr,
                                 0))
            return conn_error(conn_);
        PQsetSingleRowMode(conn_);
        error_code ec;
        suppression row;
        while (result_ptr r{PQgetResult(conn_)}) {
            const auto st = PQresultStatus(r.get());
            if (st == PGRES_SINGLE_TUPLE) {
                if (ec) continue;
                row.address = get_text(r.get(), 0, 0);
                row.reason = get_text(r.get(), 0, 1);
                row.source_event = get_optional(r.get(), 0, 2);
                row.added_ms = std::strtoll(PQgetvalue(r.get(), 0, 3), nullptr, 10);
                row.source = get_text(r.get(), 0, 4);
                f(row);
            } else if (st != PGRES_TUPLES_OK && !ec) {
                ec = result_error(conn_, r.get());
            }
        }
        return ec;
    }

    boost::system::result<bool> add_suppression(std::string_view address, std::string_view reason,
                                                std::int64_t now_ms) override {
        const auto at = address.find('@');
        if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
            address.find_first_of(" \t\r\n,;") != std::string_view::npos)
            return bool_error(errc::bad_address);
        params p;
        p.text(address_key(address));
        p.text(reason);
        p.integer(now_ms);
        auto r = exec(p, "salvo_add_suppression");
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
            return bool_error(result_error(conn_, r.get()));
        return std::string_view(PQcmdTuples(r.get())) != "0";
    }

    boost::system::result<bool> remove_suppression(std::string_view address) override {
        params p;
        p.text(address_key(address));
        auto r = exec(p, "salvo_remove_suppression");
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
            return bool_error(result_error(conn_, r.get()));
        return std::string_view(PQcmdTuples(r.get())) != "0";
    }

    boost::system::result<std::uint64_t> event_count() override {
        params p;
        auto r = exec(p, "salvo_count_events");
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return result_error(conn_, r.get());
        return static_cast<std::uint64_t>(std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10));
    }

  private:
    result_ptr exec(params& p, const char* name) {
        const auto& v = p.values();
        return result_ptr(PQexecPrepared(conn_, name, p.size(), v.data(), nullptr, nullptr, 0));
    }

    error_code simple(const char* sql) {
        result_ptr r(PQexec(conn_, sql));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return result_error(conn_, r.get());
        return {};
    }

    // The parameters for `e`, and the statement they are for:
    // insert_event_sql when it may suppress, else insert_plain_event_sql.
    const char* event_params(const platform::event& e, std::string_view source,
                             std::optional<std::int64_t> inbound_id, std::int64_t now_ms,
                             params& p) {
        const auto state = platform::state_of(e);
        p.text(e.type_name);
        p.integer(static_cast<std::int64_t>(e.type));
        p.integer(static_cast<std::int64_t>(state));
        p.text(e.date_time);
        p.optional(e.time_ms);
        p.integer(now_ms);
        p.text(e.server_id);
        p.text(e.mailing_id);
        p.text(e.message_id);
        p.text(e.address);
        p.text(address_key(e.address));
        p.optional(e.failure_type);
        p.optional(e.failure_code);
        p.optional(e.tracking_type);
        p.optional_text(e.url);
        p.optional_text(e.reason);
        p.text(platform::identity_extra(e));
        p.text(e.raw);
        const char* reason = detail::suppression_reason(e, rules_);
        if (!reason || e.address.empty()) return "salvo_insert_plain_event";
        p.text(reason);
        p.text(source);
        p.optional(inbound_id);
        p.integer(rules_.soft_bounce_count);
        p.integer(e.time_ms.value_or(0) - rules_.soft_bounce_window.count());
        return "salvo_insert_event";
    }

    static void count_event(const PGresult* res, const platform::event& e, write_result& r) {
        if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
            ++r.duplicates;
            return;
        }
        ++r.stored;
        ++r.stored_by_type[static_cast<std::size_t>(e.type)];
        if (std::string_view(PQgetvalue(res, 0, 1)) != "0") ++r.suppressed;
    }

    // Events only: BEGIN, the inserts and COMMIT sent at once, then the
    // answers read; one round trip for the batch.
    error_code write_pipelined(std::span<const write_item> items, std::int64_t now_ms,
                               write_result& r, bool& retry) {
        if (!PQenterPipelineMode(conn_)) return conn_error(conn_);
        error_code ec;
        const auto order = lock_order(items);
        std::vector<const platform::event*> sent;
        sent.reserve(order.size());
        bool ok = PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0);
        for (const std::size_t i : order) {
            if (!ok) break;
            const auto& item = items[i];
            params p;
            const char* statement = event_params(*item.event, item.source, std::nullopt, now_ms, p);
            const auto& v = p.values();
            ok = PQsendQueryPrepared(conn_, statement, p.size(), v.data(), nullptr, nullptr, 0);
            sent.push_back(item.event);
        }
        ok = ok && PQsendQueryParams(conn_, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0);
        ok = ok && PQpipelineSync(conn_);
        if (!ok) {
            ec = conn_error(conn_);
            // Nothing reached the server's COMMIT; leave pipeline mode on a
            // connection that may be broken.
            drain_pipeline();
            reset_if_broken();
            return ec;
        }
        // BEGIN, one result per event, COMMIT, then the sync point; each
        // query's results end with a NULL.
        std::size_t next = 0;
        for (std::size_t q = 0; q < sent.size() + 2; ++q) {
            while (result_ptr res{PQgetResult(conn_)}) {
                const auto st = PQresultStatus(res.get());
                if (st == PGRES_TUPLES_OK && q >= 1 && q <= sent.size() && !ec) {
                    count_event(res.get(), *sent[next], r);
                } else if (st == PGRES_PIPELINE_ABORTED) {
                    // A query before this one failed; its error is kept.
                } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !ec) {
                    retry = retryable(res.get());
                    ec = result_error(conn_, res.get());
                }
            }
            if (q >= 1 && q <= sent.size()) ++next;
        }
        drain_pipeline();
        if (ec) {
            // The failed COMMIT (or an aborted one) rolled the transaction
            // back; make sure of it outside the pipeline.
            simple("ROLLBACK");
            reset_if_broken();
            r = write_result{};
        }
        return ec;
    }

    // The events of `items` (validation handshakes left out) in one order
    // every replica uses: by address, then time, then the rest of the
    // event's identity. Two replicas storing overlapping batches then take
    // their row locks (the events' unique key, the address's suppression)
    // in the same order and cannot deadlock; and an address's soft bounces
    // in one batch are counted oldest first.
    static std::vector<std::size_t> lock_order(std::span<const write_item> items) {
        struct key {
            std::string address;
            std::int64_t time;
            std::string identity;
            std::size_t index;
        };
        std::vector<key> keys;
        keys.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            const auto* e = items[i].event;
            if (!e || e->type == platform::event_type::validation) continue;
            std::string identity = e->type_name;
            for (const std::string_view part :
                 {std::string_view(e->message_id), std::string_view(e->date_time),
                  std::string_view(e->mailing_id), std::string_view(e->address)}) {
                identity += '\x1f';
                identity += part;
            }
            identity += '\x1f';
            identity += platform::identity_extra(*e);
            keys.push_back({address_key(e->address),
                            e->time_ms.value_or(std::numeric_limits<std::int64_t>::min()),
                            std::move(identity), i});
        }
        std::sort(keys.begin(), keys.end(), [](const key& a, const key& b) {
            return std::tie(a.address, a.time, a.identity) <
                   std::tie(b.address, b.time, b.identity);
        });
        std::vector<std::size_t> order;
        order.reserve(keys.size());
        for (const auto& k : keys) order.push_back(k.index);
        return order;
    }

    // Reads up to the sync point and leaves pipeline mode.
    void drain_pipeline() {
        for (int guard = 0; guard < 1'000'000; ++guard) {
            result_ptr res{PQgetResult(conn_)};
            if (!res) {
                if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF || PQexitPipelineMode(conn_)) break;
                if (PQstatus(conn_) != CONNECTION_OK) break;
                continue;
            }
            if (PQresultStatus(res.get()) == PGRES_PIPELINE_SYNC) {
                PQexitPipelineMode(conn_);
                break;
            }
        }
        if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF) PQexitPipelineMode(conn_);
    }

    // A lost connection (the server restarted) is made again for the next
    // batch; this batch has failed and is answered 503.
    void reset_if_broken() {
        if (PQstatus(conn_) == CONNECTION_BAD) {
            PQreset(conn_);
            if (PQstatus(conn_) == CONNECTION_OK) prepare_statements(false);
        }
    }

    // With inbound messages: statement by statement, in one transaction.
    error_code write_one_by_one(std::span<const write_item> items, std::int64_t now_ms,
                                write_result& r, bool& retry) {
        if (auto ec = simple("BEGIN")) {
            reset_if_broken();
            return ec;
        }
        auto fail = [&](const PGresult* res) {
            retry = retryable(res);
            const auto ec = result_error(conn_, res);
            simple("ROLLBACK");
            reset_if_broken();
            r = write_result{};
            return ec;
        };
        for (const auto& item : items) {
            if (item.inbound) {
                if (auto res = insert_inbound(*item.inbound, now_ms, r)) return fail(res.get());
            } else if (item.event && item.event->type != platform::event_type::validation) {
                params p;
                auto res = exec(p, event_params(*item.event, item.source, std::nullopt, now_ms, p));
                if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) return fail(res.get());
                count_event(res.get(), *item.event, r);
            }
        }
        result_ptr res(PQexec(conn_, "COMMIT"));
        if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return fail(res.get());
        return {};
    }

    // Null on success, else the failed statement's result.
    result_ptr insert_inbound(const inbound_record& in, std::int64_t now_ms, write_result& r) {
        std::string message_id, mailing_id = in.mailing_id;
        for (const auto& id : in.join_ids) {
            params p;
            p.text(id);
            auto res = exec(p, "salvo_find_row");
            if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) return res;
            if (PQntuples(res.get()) > 0) {
                message_id = id;
                mailing_id = get_text(res.get(), 0, 0);
                break;
            }
        }
        std::int64_t id = 0;
        {
            params p;
            p.integer(now_ms);
            p.text(platform::to_string(in.kind));
            p.text(in.kind_reason);
            p.optional_text(in.address);
            p.optional_text(in.status);
            p.text(in.mail_from);
            p.text(in.rcpt_to);
            p.text(in.subject);
            p.optional_text(in.header_message_id);
            p.optional_text(mailing_id);
            p.optional_text(message_id);
            p.optional_text(in.dedupe_key);
            p.text(in.raw);
            auto res = exec(p, "salvo_insert_inbound");
            if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) return res;
            if (PQntuples(res.get()) == 0) {
                ++r.inbound_duplicates;
                return nullptr;
            }
            id = std::strtoll(PQgetvalue(res.get(), 0, 0), nullptr, 10);
        }
        ++r.inbound_stored;
        std::int64_t position = 0;
        for (const auto& a : in.attachments) {
            params p;
            p.integer(id);
            p.integer(position++);
            p.text(a.name);
            p.text(a.content_type);
            p.integer(a.embedded ? 1 : 0);
            p.integer(static_cast<std::int64_t>(a.size));
            p.optional_text(a.sha256);
            p.optional_text(a.error);
            auto res = exec(p, "salvo_insert_attachment");
            if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return res;
        }
        if (in.as_event) {
            platform::event e = *in.as_event;
            if (e.message_id.empty()) e.message_id = message_id;
            if (e.mailing_id.empty()) e.mailing_id = mailing_id;
            const char* source = in.kind == platform::inbound_kind::complaint ? "arf" : "dsn";
            params p;
            auto res = exec(p, event_params(e, source, id, now_ms, p));
            if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) return res;
            count_event(res.get(), e, r);
            return nullptr;
        }
        if (in.unsubscribe && !in.address.empty()) {
            params p;
            p.text(address_key(in.address));
            p.text("unsubscribed");
            p.integer(now_ms);
            p.text("inbound-reply");
            p.integer(id);
            auto res = exec(p, "salvo_upsert_suppression");
            if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) return res;
            if (PQntuples(res.get()) > 0 && std::string_view(PQgetvalue(res.get(), 0, 0)) == "t")
                ++r.suppressed;
        }
        return nullptr;
    }

    PGconn* conn_;
    suppression_rules rules_;
};

// One number for pg_advisory_xact_lock: salvo's migrations, one at a time
// across replicas starting together.
constexpr const char* lock_sql = "SELECT pg_advisory_xact_lock(7305843009213693951)";

// The schema version, or -1 when there is no schema_version table.
boost::system::result<int> schema_version(PGconn* c) {
    result_ptr r(PQexec(c, "SELECT to_regclass('schema_version') IS NOT NULL"));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return result_error(c, r.get());
    if (std::string_view(PQgetvalue(r.get(), 0, 0)) != "t") return -1;
    r.reset(PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version"));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) return result_error(c, r.get());
    return std::atoi(PQgetvalue(r.get(), 0, 0));
}

error_code exec(PGconn* c, const char* sql) {
    result_ptr r(PQexec(c, sql));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return result_error(c, r.get());
    return {};
}

// Brings the schema to the newest version, one migration per transaction,
// under an advisory lock so that two replicas starting at once do not both
// apply it.
error_code migrate(PGconn* c) {
    constexpr int newest = static_cast<int>(std::size(detail::pg_migrations));
    for (;;) {
        error_code ec = exec(c, "BEGIN");
        if (ec) return ec;
        if (!(ec = exec(c, lock_sql)) &&
            !(ec = exec(c,
                        "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"))) {
            const auto version = schema_version(c);
            if (!version) {
                ec = version.error();
            } else if (*version > newest) {
                ec = errc::schema_too_new;
            } else if (*version == newest) {
                return exec(c, "COMMIT");
            } else {
                ec = exec(c, detail::pg_migrations[*version]);
                if (!ec) {
                    const std::string record = "INSERT INTO schema_version (version) VALUES (" +
                                               std::to_string(*version + 1) + ")";
                    ec = exec(c, record.c_str());
                }
                if (!ec) ec = exec(c, "COMMIT");
                if (!ec) continue;
            }
        }
        exec(c, "ROLLBACK");
        return ec;
    }
}

error_code check_version(PGconn* c) {
    const auto version = schema_version(c);
    if (!version) return version.error();
    if (*version < 0) return errc::not_a_database;
    if (*version > static_cast<int>(std::size(detail::pg_migrations))) return errc::schema_too_new;
    if (*version < static_cast<int>(std::size(detail::pg_migrations))) return errc::schema_too_old;
    return {};
}

// Does the URL hold a password: `user:password@` or `password=`?
bool has_password(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return false;
    std::string_view rest = url.substr(scheme + 3);
    const auto end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, end);
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos)
        return true;
    const auto q = url.find('?');
    if (q == std::string_view::npos) return false;
    std::string_view query = url.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto item = query.substr(0, amp);
        if (item.starts_with("password=")) return true;
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return false;
}

class pg_cat final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "postgresql"; }
    std::string message(int ev) const override { return messages().text(ev); }
};

}  // namespace

const boost::system::error_category& postgresql_category() noexcept {
    static const pg_cat c;
    return c;
}

bool is_postgresql_url(std::string_view db) noexcept {
    return db.starts_with("postgresql://") || db.starts_with("postgres://");
}

std::string redact(std::string_view db) {
    if (!is_postgresql_url(db)) return std::string(db);
    std::string out(db);
    const auto scheme = out.find("://") + 3;
    const auto end = out.find_first_of("/?", scheme);
    const auto at = out.rfind('@', end == std::string::npos ? out.size() : end);
    if (at != std::string::npos && at > scheme) {
        const auto colon = out.find(':', scheme);
        if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
    for (auto q = out.find('?'); q != std::string::npos;) {
        const auto start = q + 1;
        const auto amp = out.find('&', start);
        if (out.compare(start, 9, "password=") == 0) {
            const auto value = start + 9;
            out.replace(value, (amp == std::string::npos ? out.size() : amp) - value, "***");
        }
        q = out.find('&', start);
    }
    return out;
}

boost::system::result<std::unique_ptr<event_store>> open_postgresql(const postgresql_options& o) {
    if (has_password(o.conninfo)) return make_error_code(errc::password_in_url);
    PGconn* c = PQconnectdb(o.conninfo.c_str());
    if (!c) return pg_error("out of memory connecting to PostgreSQL");
    if (PQstatus(c) != CONNECTION_OK) {
        const auto ec = conn_error(c);
        PQfinish(c);
        return ec;
    }
    auto fail = [c](error_code ec) -> boost::system::result<std::unique_ptr<event_store>> {
        PQfinish(c);
        return ec;
    };
    // Our own messages, not the server's NOTICEs on stderr.
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr);
    error_code ec;
    if (!o.read_only) {
        if ((ec = migrate(c))) return fail(ec);
    } else {
        if ((ec = exec(c, "SET default_transaction_read_only = on"))) return fail(ec);
        if ((ec = check_version(c))) return fail(ec);
    }
    auto store = std::make_unique<pg_store>(c, o);
    if ((ec = store->prepare_statements(o.read_only))) return ec;  // the store closes c
    return std::unique_ptr<event_store>(std::move(store));
}

boost::system::result<std::unique_ptr<event_store>> open_store(const store_options& o) {
    if (is_postgresql_url(o.db)) {
        postgresql_options po;
        po.conninfo = o.db;
        po.rules = o.rules;
        po.read_only = o.read_only;
        return open_postgresql(po);
    }
    sqlite_options so;
    so.path = o.db;
    so.rules = o.rules;
    so.read_only = o.read_only;
    return open_sqlite(so);
}

}  // namespace salvo::store
