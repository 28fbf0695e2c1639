#include "metrics.hpp"

#include <cstdio>

namespace salvo::receiver::detail {

void metrics::answered(unsigned status) noexcept {
    switch (status) {
        case 200:
            bump(s200);
            break;
        case 400:
            bump(s400);
            break;
        case 401:
            bump(s401);
            break;
        case 404:
            bump(s404);
            break;
        case 405:
            bump(s405);
            break;
        case 408:
            bump(s408);
            break;
        case 413:
            bump(s413);
            break;
        case 503:
            bump(s503);
            break;
        default:
            break;
    }
}

void metrics::committed(std::chrono::steady_clock::duration took) noexcept {
    const double seconds = std::chrono::duration<double>(took).count();
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) ++i;
    bump(commit_buckets[i]);
    bump(commit_micros, static_cast<std::uint64_t>(
                            std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
    bump(commits);
}

std::string metrics::text() const {
    std::string out;
    char line[160];
    const auto add = [&](const char* fmt, auto... args) {
        std::snprintf(line, sizeof line, fmt, args...);
        out += line;
    };
    const auto load = [](const counter& c) {
        return static_cast<unsigned long long>(c.load(std::memory_order_relaxed));
    };
    out +=
        "# HELP salvo_listen_events_total Events stored, by Type (redeliveries not counted).\n"
        "# TYPE salvo_listen_events_total counter\n";
    for (std::size_t t = 0; t < platform::event_type_count; ++t)
        add("salvo_listen_events_total{type=\"%s\"} %llu\n",
            std::string(platform::to_string(static_cast<platform::event_type>(t))).c_str(),
            load(stored_by_type[t]));
    out +=
        "# HELP salvo_listen_duplicate_events_total Redelivered events, not stored again.\n"
        "# TYPE salvo_listen_duplicate_events_total counter\n";
    add("salvo_listen_duplicate_events_total %llu\n", load(duplicates));
    out +=
        "# HELP salvo_listen_suppressed_total Addresses put on the suppression list.\n"
        "# TYPE salvo_listen_suppressed_total counter\n";
    add("salvo_listen_suppressed_total %llu\n", load(suppressed));
    out +=
        "# HELP salvo_listen_inbound_total Inbound API messages stored, and redelivered ones.\n"
        "# TYPE salvo_listen_inbound_total counter\n";
    add("salvo_listen_inbound_total{result=\"stored\"} %llu\n", load(inbound_stored));
    add("salvo_listen_inbound_total{result=\"duplicate\"} %llu\n", load(inbound_duplicates));
    out +=
        "# HELP salvo_listen_one_click_total Valid one-click unsubscribe POSTs.\n"
        "# TYPE salvo_listen_one_click_total counter\n";
    add("salvo_listen_one_click_total %llu\n", load(one_click));
    out +=
        "# HELP salvo_listen_reply_handoff_total Human replies handed on (--on-reply, "
        "--forward-url), by outcome.\n# TYPE salvo_listen_reply_handoff_total counter\n";
    const std::pair<const char*, const counter*> handoffs[] = {
        {"to=\"command\",result=\"ok\"", &command_ok},
        {"to=\"command\",result=\"retried\"", &command_retried},
        {"to=\"command\",result=\"failed\"", &command_failed},
        {"to=\"forward\",result=\"ok\"", &forward_ok},
        {"to=\"forward\",result=\"retried\"", &forward_retried},
        {"to=\"forward\",result=\"failed\"", &forward_failed},
        {"to=\"any\",result=\"dropped\"", &handoff_dropped}};
    for (const auto& [labels, c] : handoffs)
        add("salvo_listen_reply_handoff_total{%s} %llu\n", labels, load(*c));
    out +=
        "# HELP salvo_listen_responses_total Answers to POST /notifications and other "
        "requests, by status.\n# TYPE salvo_listen_responses_total counter\n";
    const std::pair<const char*, const counter*> statuses[] = {
        {"200", &s200}, {"400", &s400}, {"401", &s401}, {"404", &s404},
        {"405", &s405}, {"408", &s408}, {"413", &s413}, {"503", &s503}};
    for (const auto& [code, c] : statuses)
        add("salvo_listen_responses_total{code=\"%s\"} %llu\n", code, load(*c));
    out +=
        "# HELP salvo_listen_commit_seconds Time to commit one batch of events.\n"
        "# TYPE salvo_listen_commit_seconds histogram\n";
    unsigned long long cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += load(commit_buckets[i]);
        add("salvo_listen_commit_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], cumulative);
    }
    cumulative += load(commit_buckets[bounds.size()]);
    add("salvo_listen_commit_seconds_bucket{le=\"+Inf\"} %llu\n", cumulative);
    add("salvo_listen_commit_seconds_sum %.6f\n", static_cast<double>(load(commit_micros)) / 1e6);
    add("salvo_listen_commit_seconds_count %llu\n", load(commits));
    out +=
        "# HELP salvo_listen_commit_failures_total Batches the store refused (answered 503).\n"
        "# TYPE salvo_listen_commit_failures_total counter\n";
    add("salvo_listen_commit_failures_total %llu\n", load(commit_failures));
    out +=
        "# HELP salvo_listen_queue_depth Events waiting for their commit.\n"
        "# TYPE salvo_listen_queue_depth gauge\n";
    add("salvo_listen_queue_depth %lld\n", static_cast<long long>(queue_depth.load()));
    out +=
        "# HELP salvo_listen_connections Open connections.\n"
        "# TYPE salvo_listen_connections gauge\n";
    add("salvo_listen_connections %lld\n", static_cast<long long>(connections.load()));
    return out;
}

}  // namespace salvo::receiver::detail
