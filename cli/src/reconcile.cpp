// `salvo reconcile`: the ledger (results file) and the events store against
// what the Reporting API says the platform processed and failed for the
// campaign's MailingId (docs/marketing-and-reporting.md).
#include "commands.hpp"

#include <salvo/engine/campaign.hpp>
#include <salvo/engine/job_config.hpp>
#include <salvo/merge/escape.hpp>
#include <salvo/platform/event.hpp>
#include <salvo/reporting/client.hpp>
#include <salvo/store/store.hpp>

#include <fmt/core.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

namespace salvo::cli {

namespace {

// One kind of disagreement: how many, and the first few addresses.
struct finding {
    std::uint64_t count = 0;
    std::vector<std::string> examples;
    void add(std::string_view address, std::size_t max_examples) {
        ++count;
        if (examples.size() < max_examples) examples.emplace_back(address);
    }
};

std::string json_finding(const finding& f) {
    std::string out = fmt::format("{{\"count\":{},\"examples\":[", f.count);
    for (std::size_t i = 0; i < f.examples.size(); ++i) {
        if (i) out += ',';
        out += '"';
        merge::append_json_escaped(out, f.examples[i]);
        out += '"';
    }
    return out + "]}";
}

}  // namespace

int run_reconcile(const reconcile_args& a) {
    auto cfg = engine::load_job_file(a.job_file, a.sets);
    if (!cfg) {
        fmt::print(stderr, "salvo reconcile: {}\n", cfg.error().message);
        return exit_usage;
    }
    if (cfg->reporting.user.empty()) {
        fmt::print(stderr,
                   "salvo reconcile: reporting.user is not set: the Reporting API's Basic user "
                   "is the control-panel user name (job key reporting.user, or --set "
                   "reporting.user=NAME)\n");
        return exit_usage;
    }
    auto key = engine::resolve_secret(cfg->reporting.api_key_env, cfg->reporting.api_key_file,
                                      "reporting");
    if (!key) {
        fmt::print(stderr, "salvo reconcile: {}\n", key.error().message);
        return exit_usage;
    }
    const std::string mailing_id = engine::campaign_mailing_id(*cfg);

    // The ledger: accepted rows by address key, from the results file and
    // the ones an accepted list change moved aside.
    if (!std::filesystem::exists(cfg->results)) {
        fmt::print(stderr, "salvo reconcile: no results file at {}: has the campaign been sent?\n",
                   cfg->results.string());
        return exit_usage;
    }
    std::unordered_map<std::string, std::uint64_t> accepted;  // address key → rows
    std::unordered_map<std::string, std::string> shown;       // address key → as written
    std::uint64_t ledger_accepted = 0;
    simdjson::dom::parser parser;
    for (const auto& file : results_files(cfg->results)) {
        std::ifstream results(file);
        std::string line;
        std::uint64_t line_no = 0;
        while (std::getline(results, line)) {
            ++line_no;
            if (line.empty()) continue;
            simdjson::dom::object obj;
            std::string_view status, email;
            if (parser.parse(line).get_object().get(obj) || obj["status"].get(status) ||
                obj["email"].get(email)) {
                fmt::print(stderr,
                           "salvo reconcile: {}: line {} is not a results line (status, email); "
                           "fix or remove it\n",
                           file.string(), line_no);
                return exit_usage;
            }
            if (status != "accepted") continue;
            ++ledger_accepted;
            const auto k = store::address_key(email);
            ++accepted[k];
            shown.emplace(k, std::string(email));
        }
    }
    std::error_code fec;
    const auto written = std::filesystem::last_write_time(cfg->results, fec);
    const auto age = fec ? std::chrono::seconds::max()
                         : std::chrono::duration_cast<std::chrono::seconds>(
                               std::filesystem::file_time_type::clock::now() - written);
    const bool in_grace = age < std::chrono::seconds(cfg->reporting.grace_seconds);

    // The events store, when there is one: addresses with a Failed event.
    std::string db_path = a.db;
    if (db_path.empty())
        for (const auto& s : cfg->suppression)
            if (s.type == engine::suppression_source::kind::db) db_path = s.path.string();
    bool have_events = false;
    std::unordered_set<std::string> failed_events;
    if (!db_path.empty() &&
        (store::is_postgresql_url(db_path) || std::filesystem::exists(db_path, fec))) {
        store::store_options so;
        so.db = db_path;
        so.read_only = true;
        auto db = store::open_store(so);
        if (!db) {
            fmt::print(stderr, "salvo reconcile: the event database {}: {}\n",
                       store::redact(db_path), db.error().message());
            return exit_usage;
        }
        const auto ec = (*db)->for_each_event(mailing_id, [&](const store::event_row& e) {
            if (e.type == platform::event_type::failed)
                failed_events.insert(store::address_key(e.address));
        });
        if (ec) {
            fmt::print(stderr, "salvo reconcile: {}: {}\n", db_path, ec.message());
            return exit_usage;
        }
        have_events = true;
    }

    // The platform.
    reporting::config rc;
    rc.endpoint = cfg->reporting.endpoint;
    rc.server_id = cfg->server_id;
    rc.user = cfg->reporting.user;
    rc.api_key = std::move(*key);
    reporting::client api(std::move(rc), engine::transport_options(*cfg, SALVO_VERSION));
    reporting::filter f;
    f.mailing_id = mailing_id;
    auto processed = api.fetch("messagesProcessed", f);
    if (!processed) {
        fmt::print(stderr, "salvo reconcile: messagesProcessed: {}\n", processed.error().message);
        return exit_stopped;
    }
    auto failed = api.fetch("messagesFailed", f);
    if (!failed) {
        fmt::print(stderr, "salvo reconcile: messagesFailed: {}\n", failed.error().message);
        return exit_stopped;
    }

    finding unknown_to_platform, unknown_to_ledger, failure_without_event;
    std::uint64_t pending = 0;
    // A processed row beyond the ledger's accepted rows for its address is a
    // send the ledger does not know; an accepted row beyond the platform's
    // processed and failed rows for its address is one the platform lost.
    std::unordered_map<std::string, std::uint64_t> processed_by, reported_by;
    for (const auto& r : *failed) ++reported_by[store::address_key(r.to)];
    for (const auto& r : *processed) {
        const auto k = store::address_key(r.to);
        ++reported_by[k];
        const auto it = accepted.find(k);
        if (++processed_by[k] > (it == accepted.end() ? 0 : it->second))
            unknown_to_ledger.add(r.to, a.examples);
    }
    for (const auto& [k, n] : accepted) {
        const auto it = reported_by.find(k);
        const std::uint64_t on_platform = it == reported_by.end() ? 0 : it->second;
        for (std::uint64_t i = on_platform; i < n; ++i) {
            if (in_grace)
                ++pending;
            else
                unknown_to_platform.add(shown[k], a.examples);
        }
    }
    if (have_events)
        for (const auto& r : *failed)
            if (!failed_events.contains(store::address_key(r.to)))
                failure_without_event.add(r.to, a.examples);

    const bool agree = unknown_to_platform.count == 0 && unknown_to_ledger.count == 0 &&
                       failure_without_event.count == 0;
    if (a.json) {
        std::string out = "{\"mailing_id\":\"";
        merge::append_json_escaped(out, mailing_id);
        out += fmt::format(
            "\",\"agree\":{},\"ledger_accepted\":{},\"platform_processed\":{},"
            "\"platform_failed\":{},\"events_store\":{},\"pending\":{},",
            agree, ledger_accepted, processed->size(), failed->size(), have_events, pending);
        out += "\"accepted_unknown_to_platform\":" + json_finding(unknown_to_platform);
        out += ",\"platform_unknown_to_ledger\":" + json_finding(unknown_to_ledger);
        out += ",\"failures_without_event\":" + json_finding(failure_without_event);
        fmt::print("{}}}\n", out);
    } else {
        fmt::print("campaign        {} (MailingId {})\n", a.job_file.string(), mailing_id);
        fmt::print("ledger          {} accepted\n", ledger_accepted);
        fmt::print("platform        {} processed, {} failed\n", processed->size(), failed->size());
        if (pending)
            fmt::print(
                "pending         {} accepted rows not yet reported (results file younger "
                "than reporting.grace_seconds = {})\n",
                pending, cfg->reporting.grace_seconds);
        auto show = [](const char* what, const finding& x) {
            if (!x.count) return;
            fmt::print("DISAGREE        {} {}", x.count, what);
            for (const auto& e : x.examples) fmt::print("\n                  {}", e);
            fmt::print("\n");
        };
        show("rows accepted by the Injection API that the platform does not know",
             unknown_to_platform);
        show("messages the platform processed that the ledger does not know (duplicate send?)",
             unknown_to_ledger);
        show("platform failures not seen as events", failure_without_event);
        if (!have_events) fmt::print("events          no events store: failures not compared\n");
        fmt::print("{}\n", agree ? "all agree" : "disagreement found");
    }
    return agree ? exit_ok : exit_some;
}

}  // namespace salvo::cli
