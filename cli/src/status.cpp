// `salvo status`: a campaign's funnel, from its results file joined to the
// delivery events `salvo listen` stored.
#include "commands.hpp"

#include <salvo/engine/campaign.hpp>
#include <salvo/engine/job_config.hpp>
#include <salvo/platform/timestamp.hpp>
#include <salvo/store/store.hpp>

#include <fmt/core.h>
#include <simdjson.h>
#include <boost/json/serialize.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <array>
#include <fstream>
#include <functional>
#include <map>
#include <vector>

namespace salvo::cli {
namespace {

using platform::delivery_state;

// What the events say about one recipient.
struct outcome {
    delivery_state state = delivery_state::no_event;
    std::uint32_t opens = 0, clicks = 0;

    void add(const store::event_row& e) {
        if (e.state > state) state = e.state;
        if (e.type == platform::event_type::tracking) {
            if (e.tracking_type == platform::tracking_open) ++opens;
            if (e.tracking_type == platform::tracking_click) ++clicks;
        }
    }
};

// A 128-bit digest of a key: two independent 64-bit hashes. Two keys join
// wrongly only when both collide (about n^2 / 2^129 for n keys: 1e-25 at
// ten million), and no key string is kept, so the index costs 32 bytes a
// key instead of a node, a string and two allocations (salvo status on 1 M
// rows and 3 M events: 6.7 s and 296 MiB with std::unordered_map<string>).
struct digest {
    std::uint64_t a = 0, b = 0;
};

digest digest_of(std::string_view first, std::string_view second = {}) {
    // The separator keeps ("ab", "c") apart from ("a", "bc").
    std::uint64_t a = std::_Hash_bytes(first.data(), first.size(), 0x9e3779b97f4a7c15ULL);
    std::uint64_t b = std::_Hash_bytes(first.data(), first.size(), 0xc2b2ae3d27d4eb4fULL);
    if (!second.empty()) {
        a = std::_Hash_bytes(second.data(), second.size(), a ^ (first.size() + 1));
        b = std::_Hash_bytes(second.data(), second.size(), b ^ (first.size() + 1));
    }
    return {a, b};
}

struct digest_hash {
    using is_avalanching = void;  // already a hash: no extra mixing
    std::size_t operator()(const digest& d) const noexcept { return d.a; }
};
struct digest_equal {
    bool operator()(const digest& x, const digest& y) const noexcept {
        return x.a == y.a && x.b == y.b;
    }
};

// Boost 1.81's open-addressing map: flat slots, no node per key.
class outcome_index {
  public:
    outcome& at(const digest& d) { return map_[d]; }
    [[nodiscard]] const outcome* find(const digest& d) const {
        const auto it = map_.find(d);
        return it == map_.end() ? nullptr : &it->second;
    }

  private:
    boost::unordered_flat_map<digest, outcome, digest_hash, digest_equal> map_;
};

struct domain_counts {
    std::uint64_t accepted = 0, delivered = 0, bounced = 0, complained = 0;
};

std::string json_string(std::string_view s) {
    return boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

}  // namespace

int run_status(const status_args& a) {
    auto cfg = engine::load_job_file(a.job_file, a.sets);
    if (!cfg) {
        fmt::print(stderr, "salvo status: {}\n", cfg.error().message);
        return exit_usage;
    }
    std::string db_path = a.db;
    if (db_path.empty())
        for (const auto& s : cfg->suppression)
            if (s.type == engine::suppression_source::kind::db) db_path = s.path.string();
    if (db_path.empty()) db_path = "events.sqlite";
    store::store_options so;
    so.db = db_path;
    so.read_only = true;
    auto db = store::open_store(so);
    if (!db) {
        fmt::print(stderr, "salvo status: the event database {}: {} (give it with --db)\n",
                   store::redact(db_path), db.error().message());
        return exit_usage;
    }
    const std::string mailing_id = engine::campaign_mailing_id(*cfg);

    // The events, by (MessageId, address) and by address alone: a row joins
    // on both when its results line and the events carry a MessageId (so a
    // MessageId shared by many rows still tells them apart), else on its
    // address within the mailing.
    outcome_index by_message, by_address;
    std::optional<std::int64_t> last_event;
    std::string key;
    const auto ec = (*db)->for_each_event(mailing_id, [&](const store::event_row& e) {
        store::address_key(e.address, key);
        if (!e.message_id.empty()) by_message.at(digest_of(e.message_id, key)).add(e);
        by_address.at(digest_of(key)).add(e);
        if (e.time_ms && (!last_event || *e.time_ms > *last_event)) last_event = e.time_ms;
    });
    if (ec) {
        fmt::print(stderr, "salvo status: {}: {}\n", db_path, ec.message());
        return exit_usage;
    }

    std::ifstream results(cfg->results);
    if (!results) {
        fmt::print(
            stderr,
            "salvo status: no results file at {}: has the campaign been sent (salvo send)?\n",
            cfg->results.string());
        return exit_usage;
    }
    std::ofstream rows_out;
    if (!a.rows_file.empty()) {
        // Mode 0600 from the start: the rows are recipients' personal data.
        if (!write_text_file(a.rows_file, "")) return exit_usage;
        rows_out.open(a.rows_file, std::ios::binary | std::ios::trunc);
        if (!rows_out) {
            fmt::print(stderr, "salvo status: cannot write {}\n", a.rows_file);
            return exit_usage;
        }
    }
    std::uint64_t rows = 0, accepted = 0, opened = 0, clicked = 0;
    std::array<std::uint64_t, platform::delivery_state_count> states{};
    std::map<std::string, domain_counts, std::less<>> domains;
    simdjson::dom::parser parser;
    std::string line;
    std::uint64_t line_no = 0;
    while (std::getline(results, line)) {
        ++line_no;
        if (line.empty()) continue;
        simdjson::dom::object obj;
        if (parser.parse(line).get_object().get(obj)) {
            fmt::print(stderr, "salvo status: {}: line {} is not a results line; skipped\n",
                       cfg->results.string(), line_no);
            continue;
        }
        ++rows;
        std::string_view status, email, message_id;
        // A missing member leaves the view empty.
        if (obj["status"].get_string().get(status)) status = {};
        if (obj["email"].get_string().get(email)) email = {};
        if (obj["message_id"].get_string().get(message_id)) message_id = {};
        outcome o;
        const bool is_accepted = status == "accepted";
        if (is_accepted) {
            ++accepted;
            store::address_key(email, key);
            const outcome* found = nullptr;
            if (!message_id.empty()) found = by_message.find(digest_of(message_id, key));
            if (!found) found = by_address.find(digest_of(key));
            if (found) o = *found;
            ++states[static_cast<std::size_t>(o.state)];
            if (o.opens) ++opened;
            if (o.clicks) ++clicked;
            // The key's domain is already in lower case.
            const auto at = key.rfind('@');
            const std::string_view domain =
                at == std::string::npos ? std::string_view{} : std::string_view(key).substr(at + 1);
            auto it = domains.find(domain);
            if (it == domains.end())
                it = domains.emplace(std::string(domain), domain_counts{}).first;
            auto& d = it->second;
            ++d.accepted;
            if (o.state == delivery_state::delivered) ++d.delivered;
            if (o.state == delivery_state::bounced) ++d.bounced;
            if (o.state == delivery_state::complained) ++d.complained;
        }
        if (rows_out.is_open()) {
            const auto close = line.rfind('}');
            rows_out << line.substr(0, close) << ",\"delivery\":\""
                     << (is_accepted ? platform::to_string(o.state) : "not_sent")
                     << "\",\"opens\":" << o.opens << ",\"clicks\":" << o.clicks << "}\n";
        }
    }
    const auto count = [&](delivery_state s) { return states[static_cast<std::size_t>(s)]; };
    const std::string last = last_event ? platform::format_iso8601(*last_event) : "";
    if (a.json) {
        std::string out = "{\"mailing_id\":" + json_string(mailing_id);
        out += fmt::format(",\"rows\":{},\"accepted\":{}", rows, accepted);
        for (const auto s :
             {delivery_state::queued, delivery_state::delivered, delivery_state::deferred,
              delivery_state::soft_bounced, delivery_state::bounced, delivery_state::complained,
              delivery_state::unsubscribed, delivery_state::no_event})
            out += fmt::format(",\"{}\":{}", platform::to_string(s), count(s));
        out += fmt::format(",\"opened\":{},\"clicked\":{},\"by_domain\":[", opened, clicked);
        bool first = true;
        for (const auto& [domain, d] : domains) {
            out += first ? "" : ",";
            first = false;
            out += fmt::format(
                "{{\"domain\":{},\"accepted\":{},\"delivered\":{},\"bounced\":{},\"complained\":{}}"
                "}",
                json_string(domain), d.accepted, d.delivered, d.bounced, d.complained);
        }
        out += "],\"last_event_at\":" + (last.empty() ? std::string("null") : json_string(last));
        fmt::print("{}}}\n", out);
        return exit_ok;
    }
    fmt::print("campaign     {} (MailingId {})\n", a.job_file.string(), mailing_id);
    fmt::print("rows         {}\naccepted     {}\n", rows, accepted);
    for (const auto s :
         {delivery_state::delivered, delivery_state::queued, delivery_state::deferred,
          delivery_state::soft_bounced, delivery_state::bounced, delivery_state::complained,
          delivery_state::unsubscribed, delivery_state::no_event})
        fmt::print("  {:<12} {}\n", platform::to_string(s), count(s));
    fmt::print("opened       {}\nclicked      {}\nlast event   {}\n", opened, clicked,
               last.empty() ? "none yet" : last);
    return exit_ok;
}

}  // namespace salvo::cli
