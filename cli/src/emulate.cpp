// `salvo emulate`: the Injection API emulator as a standalone server.
#include "commands.hpp"

#include <salvo/emulator/server.hpp>

#include <fmt/core.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include <signal.h>

namespace salvo::cli {
namespace {

std::optional<emulator::fault_kind> kind_named(std::string_view name) {
    for (std::size_t k = 0; k < emulator::fault_kind_count; ++k) {
        const auto kind = static_cast<emulator::fault_kind>(k);
        if (name == emulator::to_string(kind)) return kind;
    }
    if (name == "500") return emulator::fault_kind::http_500;
    if (name == "502") return emulator::fault_kind::http_502;
    if (name == "503") return emulator::fault_kind::http_503;
    if (name == "504") return emulator::fault_kind::http_504;
    if (name == "429") return emulator::fault_kind::throttle;
    if (name == "401") return emulator::fault_kind::invalid_authentication;
    return std::nullopt;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// "500ms", "30s", "2m" (a bare number is seconds) in milliseconds.
std::optional<std::uint64_t> duration_ms(std::string_view s) {
    std::uint64_t scale = 1000;
    if (s.ends_with("ms")) {
        scale = 1;
        s.remove_suffix(2);
    } else if (s.ends_with("s")) {
        s.remove_suffix(1);
    } else if (s.ends_with("m")) {
        scale = 60'000;
        s.remove_suffix(1);
    }
    std::uint64_t n = 0;
    if (!parse_number(s, n) || n > (std::uint64_t{1} << 40)) return std::nullopt;
    return n * scale;
}

// KIND[:RATE][@AFTER][xTIMES][~MS]; ~MS is this rule's own delay (delay, no_response).
std::optional<emulator::fault_rule> parse_fault(std::string_view spec, std::string& error) {
    emulator::fault_rule rule;
    const auto cut = spec.find_first_of(":@x~");
    const auto kind = kind_named(spec.substr(0, cut));
    if (!kind) {
        std::string known;
        for (std::size_t k = 0; k < emulator::fault_kind_count; ++k)
            known += std::string(k ? ", " : "") +
                     emulator::to_string(static_cast<emulator::fault_kind>(k));
        error = fmt::format("--fault {}: unknown kind; known: {} (or 500, 502, 503, 504, 429, 401)",
                            spec, known);
        return std::nullopt;
    }
    rule.kind = *kind;
    std::string_view rest = cut == std::string_view::npos ? "" : spec.substr(cut);
    while (!rest.empty()) {
        const char tag = rest[0];
        rest.remove_prefix(1);
        const auto next = rest.find_first_of(":@x~");
        const std::string_view value = rest.substr(0, next);
        rest = next == std::string_view::npos ? "" : rest.substr(next);
        bool ok = false;
        if (tag == ':') {
            ok = parse_number(value, rule.rate) && rule.rate >= 0 && rule.rate <= 1;
        } else if (tag == '@') {
            ok = parse_number(value, rule.after);
        } else if (tag == '~') {
            unsigned ms = 0;
            ok = parse_number(value, ms) && ms > 0;
            rule.delay = std::chrono::milliseconds(ms);
        } else {
            ok = parse_number(value, rule.times);
        }
        if (!ok) {
            error = fmt::format(
                "--fault {}: expected KIND[:RATE][@AFTER][xTIMES][~MS], RATE in 0..1", spec);
            return std::nullopt;
        }
    }
    return rule;
}

// The receiver's SecretKey and (optional) Validation Key for the poster
// `what` ("events", "inbound"), from the variables --WHAT-secret-env and
// --WHAT-validation-key-env name; false (said on stderr) when one is unset.
bool receiver_keys(std::string_view what, const std::string& secret_env,
                   const std::string& validation_env, std::string& secret,
                   std::string& validation) {
    const char* s = secret_env.empty() ? nullptr : std::getenv(secret_env.c_str());
    if (!s || !*s) {
        fmt::print(stderr,
                   "salvo: --{0}-url needs the receiver's SecretKey in an environment variable "
                   "named by --{0}-secret-env{1}\n",
                   what, secret_env.empty() ? "" : " (" + secret_env + " is not set)");
        return false;
    }
    secret = s;
    if (validation_env.empty()) return true;
    const char* v = std::getenv(validation_env.c_str());
    if (!v || !*v) {
        fmt::print(stderr, "salvo: --{}-validation-key-env {}: the variable is not set\n", what,
                   validation_env);
        return false;
    }
    validation = v;
    return true;
}

}  // namespace

int run_emulate(const emulate_args& a) {
    emulator::options o;
    o.port = emulator::default_port;
    if (std::string why; !a.listen.empty() && !split_host_port(a.listen, o.host, o.port, why)) {
        fmt::print(stderr, "salvo emulate: --listen {}: {}, e.g. 127.0.0.1:{}\n", a.listen, why,
                   emulator::default_port);
        return exit_usage;
    }
    o.threads = a.threads == 0 ? 1 : a.threads;
    o.record_file = a.record;
    o.server_id = a.server_id;
    o.discard = a.discard;
    o.seed = a.seed;
    if (!a.tls_cert.empty()) o.tls = emulator::tls_files{a.tls_cert, a.tls_key};
    if (!a.api_key_env.empty()) {
        const char* key = std::getenv(a.api_key_env.c_str());
        if (!key || !*key) {
            fmt::print(stderr, "salvo: --api-key-env {}: the variable is not set\n", a.api_key_env);
            return exit_usage;
        }
        o.api_key = key;
    }
    o.siblings.marketing_data_file = a.marketing_data;
    o.siblings.max_contacts = a.max_contacts;
    o.siblings.reporting_user = a.reporting_user;
    o.siblings.forget = a.report_forget;
    o.siblings.invent = a.report_invent;
    for (const auto& [env, key, flag] :
         {std::tuple{&a.marketing_api_key_env, &o.siblings.marketing_api_key,
                     "--marketing-api-key-env"},
          std::tuple{&a.reporting_api_key_env, &o.siblings.reporting_api_key,
                     "--reporting-api-key-env"}}) {
        if (env->empty()) continue;
        const char* v = std::getenv(env->c_str());
        if (!v || !*v) {
            fmt::print(stderr, "salvo: {} {}: the variable is not set\n", flag, *env);
            return exit_usage;
        }
        *key = v;
    }
    std::string error;
    for (const auto& spec : a.faults) {
        auto rule = parse_fault(spec, error);
        if (!rule) {
            fmt::print(stderr, "salvo: {}\n", error);
            return exit_usage;
        }
        o.faults.push_back(*rule);
    }
    for (const auto& spec : a.fail_rates) {
        const auto colon = spec.find(':');
        auto rule = colon == std::string::npos ? std::nullopt : parse_fault(spec, error);
        if (!rule) {
            fmt::print(stderr, "salvo: --fail-rate {}: expected STATUS:RATE, e.g. 503:0.2\n", spec);
            return exit_usage;
        }
        o.faults.push_back(*rule);
    }
    if (!a.pause.empty()) {
        const auto at = a.pause.find('@');
        const std::string_view length = std::string_view(a.pause).substr(0, at);
        const auto ms = duration_ms(length);
        if (!ms || *ms == 0 || at == std::string::npos ||
            !parse_number(std::string_view(a.pause).substr(at + 1), o.pause_after)) {
            fmt::print(stderr,
                       "salvo: --pause {}: expected DURATION@AFTER, e.g. 30s@500 (down for 30 s "
                       "once 500 requests came; DURATION in ms, s or m)\n",
                       a.pause);
            return exit_usage;
        }
        o.pause_for = std::chrono::milliseconds(*ms);
    }
    for (auto& f : o.faults) {
        f.retry_after_seconds = a.retry_after;
        if (f.delay.count() == 0) f.delay = std::chrono::milliseconds(a.delay_ms);
    }
    if (a.delay_ms > 0) {
        emulator::fault_rule d;
        d.kind = emulator::fault_kind::delay;
        d.delay = std::chrono::milliseconds(a.delay_ms);
        o.faults.push_back(d);
    }
    if (!a.reject_pattern.empty()) {
        emulator::fault_rule r;
        r.kind = emulator::fault_kind::reject_address;
        r.pattern = a.reject_pattern;
        o.faults.insert(o.faults.begin(), r);
    }
    if (!a.events_url.empty()) {
        emulator::event_options ev;
        ev.url = a.events_url;
        if (!receiver_keys("events", a.events_secret_env, a.events_validation_key_env,
                           ev.secret_key, ev.validation_key))
            return exit_usage;
        if (!o.server_id.empty()) ev.server_id = o.server_id;
        ev.form = a.events_format == "form";
        ev.per_second = a.events_per_second;
        ev.connections = a.events_connections;
        ev.seed = a.events_seed;
        ev.shuffle = a.events_shuffle;
        const std::pair<const std::optional<double>*, double*> rates[] = {
            {&a.hard_bounce_rate, &ev.hard_bounce_rate},
            {&a.soft_bounce_rate, &ev.soft_bounce_rate},
            {&a.deferral_rate, &ev.deferral_rate},
            {&a.complaint_rate, &ev.complaint_rate},
            {&a.open_rate, &ev.open_rate},
            {&a.click_rate, &ev.click_rate},
            {&a.unsubscribe_rate, &ev.unsubscribe_rate}};
        for (const auto& [given, target] : rates) {
            if (!*given) continue;
            if (**given < 0 || **given > 1) {
                fmt::print(stderr, "salvo: event rates are between 0 and 1\n");
                return exit_usage;
            }
            *target = **given;
        }
        if (ev.hard_bounce_rate + ev.soft_bounce_rate + ev.deferral_rate > 1) {
            fmt::print(stderr,
                       "salvo: --hard-bounce-rate + --soft-bounce-rate + --deferral-rate exceed 1 "
                       "(the rest is delivered)\n");
            return exit_usage;
        }
        o.events = std::move(ev);
    }
    if (!a.inbound_url.empty()) {
        emulator::inbound_options in;
        in.url = a.inbound_url;
        if (!receiver_keys("inbound", a.inbound_secret_env, a.inbound_validation_key_env,
                           in.secret_key, in.validation_key))
            return exit_usage;
        in.reply_rate = a.reply_rate;
        in.auto_reply_rate = a.auto_reply_rate;
        in.dsn_rate = a.dsn_rate;
        in.arf_rate = a.arf_rate;
        in.unsubscribe_reply_rate = a.unsubscribe_reply_rate;
        in.seed = a.inbound_seed;
        if (in.reply_rate + in.auto_reply_rate + in.dsn_rate + in.arf_rate +
                in.unsubscribe_reply_rate >
            1) {
            fmt::print(stderr,
                       "salvo: --reply-rate + --auto-reply-rate + --dsn-rate + --arf-rate + "
                       "--unsubscribe-reply-rate exceed 1 (each email gets at most one)\n");
            return exit_usage;
        }
        o.inbound = std::move(in);
    } else if (!a.inbound_secret_env.empty()) {
        fmt::print(stderr, "salvo: --inbound-secret-env without --inbound-url\n");
        return exit_usage;
    }
    // Block the stop signals before the server's threads exist.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    auto s = emulator::server::start(o);
    if (!s) {
        fmt::print(stderr, "salvo: cannot start the emulator on {}:{}: {}\n", o.host, o.port,
                   s.error().message());
        return exit_usage;
    }
    fmt::print("{}\n", (*s)->url());
    std::fflush(stdout);
    fmt::print(stderr, "salvo emulate: listening; stats at {}/stats; Ctrl-C stops\n",
               (*s)->base_url());
    const int sig = wait_for_signal();
    const auto saved = (*s)->save_marketing_data();
    (*s)->stop();
    if (saved)
        fmt::print(stderr, "salvo emulate: could not write --marketing-data {}: {}\n",
                   a.marketing_data, saved.message());
    const auto st = (*s)->counters();
    fmt::print(stderr, "salvo emulate: {} ({}): {} requests, {} emails recorded\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM", "stopped", st.requests, st.emails);
    return exit_ok;
}

}  // namespace salvo::cli
