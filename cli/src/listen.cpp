// `salvo listen`: the Event Webhook receiver as a standalone server, and
// `salvo suppressions`: the suppression list in its database.
#include "commands.hpp"

#include <salvo/receiver/server.hpp>
#include <salvo/store/store.hpp>

#include <fmt/core.h>
#include <simdjson.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <signal.h>

namespace salvo::cli {
namespace {

std::string option_of(const std::string& what) {
    if (what == "secret key") return "secret-key";
    if (what == "validation key") return "validation-key";
    return "unsubscribe-secret";
}

// A secret from a file (trimmed) or else an environment variable; the
// error names the file or variable, never a secret.
std::optional<std::string> secret_from(const std::string& what, const std::string& file,
                                       const std::string& env) {
    std::string value;
    if (!file.empty()) {
        std::ifstream in(file, std::ios::binary);
        if (!in) {
            fmt::print(stderr, "salvo listen: cannot read the {} file {}\n", what, file);
            return std::nullopt;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        value = ss.str();
    } else {
        const char* v = std::getenv(env.c_str());
        if (!v || !*v) {
            fmt::print(stderr,
                       "salvo listen: the {} is not set: put it in the environment variable {} "
                       "(or name another with --{}-env, or a file with --{}-file)\n",
                       what, env, option_of(what), option_of(what));
            return std::nullopt;
        }
        value = v;
    }
    const auto first = value.find_first_not_of(" \t\r\n");
    const auto last = value.find_last_not_of(" \t\r\n");
    if (first == std::string::npos) {
        fmt::print(stderr, "salvo listen: the {} is empty\n", what);
        return std::nullopt;
    }
    return value.substr(first, last - first + 1);
}

// Fills unset members of `a` from a JSON config file; false (with a
// message) on a bad file or key.
bool read_config(listen_args& a) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (auto err = parser.load(a.config_file).get(doc)) {
        fmt::print(stderr, "salvo listen: {}: {}\n", a.config_file, simdjson::error_message(err));
        return false;
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) {
        fmt::print(stderr, "salvo listen: {}: expected a JSON object\n", a.config_file);
        return false;
    }
    for (auto field : obj) {
        const std::string key(field.key);
        std::string_view s;
        std::uint64_t n = 0;
        const bool is_string = field.value.get_string().get(s) == simdjson::SUCCESS;
        const bool is_number = field.value.get_uint64().get(n) == simdjson::SUCCESS;
        auto set = [&](std::optional<std::string>& target) {
            if (!is_string) return false;
            if (!target) target = std::string(s);
            return true;
        };
        bool ok = true;
        if (key == "listen")
            ok = set(a.listen);
        else if (key == "db")
            ok = set(a.db);
        else if (key == "secret_key_env")
            ok = set(a.secret_key_env);
        else if (key == "secret_key_file")
            ok = set(a.secret_key_file);
        else if (key == "validation_key_env")
            ok = set(a.validation_key_env);
        else if (key == "validation_key_file")
            ok = set(a.validation_key_file);
        else if (key == "tls_cert")
            ok = set(a.tls_cert);
        else if (key == "inbound_dir")
            ok = set(a.inbound_dir);
        else if (key == "unsubscribe_secret_env")
            ok = set(a.unsubscribe_secret_env);
        else if (key == "unsubscribe_secret_file")
            ok = set(a.unsubscribe_secret_file);
        else if (key == "unsubscribe_mailto") {
            ok = is_string;
            if (ok && a.unsubscribe_mailto.empty()) a.unsubscribe_mailto.emplace_back(s);
        } else if (key == "on_reply")
            ok = set(a.on_reply);
        else if (key == "forward_url")
            ok = set(a.forward_url);
        else if (key == "reply_concurrency") {
            ok = is_number && n > 0 && n <= 64;
            if (ok && !a.reply_concurrency) a.reply_concurrency = static_cast<std::size_t>(n);
        } else if (key == "reply_timeout") {
            ok = is_number && n > 0;
            if (ok && !a.reply_timeout) a.reply_timeout = static_cast<unsigned>(n);
        } else if (key == "reply_attempts") {
            ok = is_number && n > 0;
            if (ok && !a.reply_attempts) a.reply_attempts = static_cast<unsigned>(n);
        } else if (key == "tls_key")
            ok = set(a.tls_key);
        else if (key == "server_id") {
            if (is_number) {
                if (!a.server_id) a.server_id = std::to_string(n);
            } else {
                ok = set(a.server_id);
            }
        } else if (key == "threads") {
            ok = is_number && n > 0;
            if (ok && !a.threads) a.threads = static_cast<std::size_t>(n);
        } else if (key == "soft_bounce_count") {
            ok = is_number;
            if (ok && !a.soft_bounce_count) a.soft_bounce_count = static_cast<unsigned>(n);
        } else if (key == "soft_bounce_days") {
            ok = is_number && n > 0;
            if (ok && !a.soft_bounce_days) a.soft_bounce_days = static_cast<unsigned>(n);
        } else if (key == "secret_key" || key == "validation_key") {
            fmt::print(stderr,
                       "salvo listen: {}: \"{}\" is never written in a config file; use "
                       "\"{}_env\" (an environment variable's name) or \"{}_file\"\n",
                       a.config_file, key, key, key);
            return false;
        } else {
            fmt::print(stderr,
                       "salvo listen: {}: unknown key \"{}\" (known: listen, db, secret_key_env, "
                       "secret_key_file, validation_key_env, validation_key_file, server_id, "
                       "tls_cert, tls_key, threads, soft_bounce_count, soft_bounce_days, "
                       "inbound_dir, unsubscribe_secret_env, unsubscribe_secret_file, "
                       "unsubscribe_mailto, on_reply, forward_url, reply_concurrency, "
                       "reply_timeout, reply_attempts)\n",
                       a.config_file, key);
            return false;
        }
        if (!ok) {
            fmt::print(stderr, "salvo listen: {}: \"{}\" has the wrong type\n", a.config_file, key);
            return false;
        }
    }
    return true;
}

}  // namespace

static store::store_options store_options(const listen_args& a) {
    store::store_options so;
    so.db = a.db.value_or("events.sqlite");
    if (a.soft_bounce_count) so.rules.soft_bounce_count = *a.soft_bounce_count;
    if (a.soft_bounce_days)
        so.rules.soft_bounce_window = std::chrono::hours(24) * *a.soft_bounce_days;
    return so;
}

int run_listen(listen_args a) {
    if (!a.config_file.empty() && !read_config(a)) return exit_usage;
    receiver::options o;
    const std::string listen =
        a.listen.value_or("127.0.0.1:" + std::to_string(receiver::default_port));
    if (std::string why; !split_host_port(listen, o.host, o.port, why)) {
        fmt::print(stderr, "salvo listen: --listen {}: {}, e.g. 127.0.0.1:{}\n", listen, why,
                   receiver::default_port);
        return exit_usage;
    }
    if (a.threads) o.threads = *a.threads;
    if (a.server_id) o.server_id = *a.server_id;
    if (a.tls_cert.has_value() != a.tls_key.has_value()) {
        fmt::print(stderr, "salvo listen: --tls-cert and --tls-key go together\n");
        return exit_usage;
    }
    if (a.tls_cert) o.tls = receiver::tls_files{*a.tls_cert, *a.tls_key};
    auto secret = secret_from("secret key", a.secret_key_file.value_or(""),
                              a.secret_key_env.value_or("SALVO_LISTEN_SECRET_KEY"));
    if (!secret) return exit_usage;
    auto validation = secret_from("validation key", a.validation_key_file.value_or(""),
                                  a.validation_key_env.value_or("SALVO_LISTEN_VALIDATION_KEY"));
    if (!validation) return exit_usage;
    o.secret_key = std::move(*secret);
    o.validation_key = std::move(*validation);
    if (a.unsubscribe_secret_env || a.unsubscribe_secret_file) {
        auto u = secret_from("unsubscribe secret", a.unsubscribe_secret_file.value_or(""),
                             a.unsubscribe_secret_env.value_or(""));
        if (!u) return exit_usage;
        o.unsubscribe_secret = std::move(*u);
    }
    o.unsubscribe_mailto = a.unsubscribe_mailto;
    o.on_reply = a.on_reply.value_or("");
    if (!o.on_reply.empty()) {
        std::vector<std::string> argv;
        std::string why;
        if (receiver::split_command(o.on_reply, argv, why)) {
            fmt::print(stderr, "salvo listen: --on-reply: {}\n", why);
            return exit_usage;
        }
    }
    o.forward_url = a.forward_url.value_or("");
    if (!o.forward_url.empty() && o.forward_url.rfind("http://", 0) != 0 &&
        o.forward_url.rfind("https://", 0) != 0) {
        fmt::print(stderr, "salvo listen: --forward-url {}: expected an http:// or https:// URL\n",
                   o.forward_url);
        return exit_usage;
    }
    if (a.reply_concurrency) o.reply_concurrency = *a.reply_concurrency;
    if (a.reply_timeout) o.reply_timeout = std::chrono::seconds(*a.reply_timeout);
    if (a.reply_attempts) o.reply_attempts = *a.reply_attempts;

    const auto so = store_options(a);
    // Beside a SQLite file; in the working directory for a PostgreSQL
    // database (replicas share it through a volume: see
    // docs/listen-postgresql.md).
    o.inbound_dir = a.inbound_dir.value_or(
        store::is_postgresql_url(so.db) ? std::string("salvo-listen.inbound") : so.db + ".inbound");
    auto db = store::open_store(so);
    if (!db) {
        fmt::print(stderr, "salvo listen: cannot open the event database {}: {}\n",
                   store::redact(so.db), db.error().message());
        return exit_usage;
    }
    // Block the stop signals before the server's threads exist.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    auto s = receiver::server::start(o, std::move(*db));
    if (!s) {
        fmt::print(stderr, "salvo listen: cannot start on {}: {}{}\n", listen, s.error().message(),
                   o.tls ? " (check --tls-cert and --tls-key: PEM files)" : "");
        return exit_usage;
    }
    fmt::print("{}\n", (*s)->base_url());
    std::fflush(stdout);
    fmt::print(stderr,
               "salvo listen: events to {0}/notifications and inbound mail to {0}/inbound are "
               "stored in {1} (attachments in {2}){3}; metrics at {0}/metrics; Ctrl-C stops\n",
               (*s)->base_url(), store::redact(so.db), (o.inbound_dir / "attachments").string(),
               o.unsubscribe_secret.empty() ? "" : ", one-click unsubscribes at /unsubscribe");
    const int sig = wait_for_signal();
    (*s)->stop();
    const auto st = (*s)->counters();
    fmt::print(stderr,
               "salvo listen: stopped ({}): {} events stored, {} redelivered, {} inbound "
               "messages, {} one-click unsubscribes, {} refused (401), "
               "{} bad (400), {} too large (413), {} store failures (503)\n",
               sig == SIGINT ? "SIGINT" : "SIGTERM", st.events_stored, st.duplicates,
               st.inbound_stored, st.one_click, st.answered_401, st.answered_400, st.answered_413,
               st.answered_503);
    if (!o.on_reply.empty() || !o.forward_url.empty())
        fmt::print(stderr,
                   "salvo listen: replies handed on: commands {} ok, {} failed ({} reruns); "
                   "forwards {} ok, {} failed ({} retries); {} not handed on{}{}\n",
                   st.command_ok, st.command_failed, st.command_retried, st.forward_ok,
                   st.forward_failed, st.forward_retried, st.handoff_dropped,
                   st.last_handoff_error.empty() ? "" : "; last failure: ", st.last_handoff_error);
    return exit_ok;
}

int run_suppressions(const suppressions_args& a) {
    store::store_options so;
    so.db = a.db;
    so.read_only = a.action == "export";
    auto db = store::open_store(so);
    if (!db) {
        fmt::print(stderr, "salvo suppressions: {}: {}\n", store::redact(a.db),
                   db.error().message());
        return exit_usage;
    }
    if (a.action == "export") {
        std::FILE* out = stdout;
        if (!a.out.empty() && !(out = std::fopen(a.out.c_str(), "wb"))) {
            fmt::print(stderr, "salvo suppressions: cannot write {}\n", a.out);
            return exit_usage;
        }
        std::size_t n = 0;
        const auto ec = (*db)->for_each_suppression([&](const store::suppression& s) {
            if (a.with_source)
                fmt::print(out, "{},{},{}\n", s.address, s.reason, s.source);
            else if (a.with_reason)
                fmt::print(out, "{},{}\n", s.address, s.reason);
            else
                fmt::print(out, "{}\n", s.address);
            ++n;
        });
        if (out != stdout) std::fclose(out);
        if (ec) {
            fmt::print(stderr, "salvo suppressions: {}: {}\n", a.db, ec.message());
            return exit_usage;
        }
        fmt::print(stderr, "salvo suppressions: {} addresses\n", n);
        return exit_ok;
    }
    std::vector<std::string> addresses = a.addresses;
    if (!a.file.empty()) {
        std::ifstream in(a.file);
        if (!in) {
            fmt::print(stderr, "salvo suppressions: cannot read {}\n", a.file);
            return exit_usage;
        }
        for (std::string line; std::getline(in, line);) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) addresses.push_back(line);
        }
    }
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    std::size_t changed = 0;
    for (const auto& address : addresses) {
        auto r = a.action == "add"
                     ? (*db)->add_suppression(address, store::canonical_reason(a.reason), now)
                     : (*db)->remove_suppression(address);
        if (!r) {
            fmt::print(stderr, "salvo suppressions: {}: {}\n", address, r.error().message());
            return exit_usage;
        }
        if (*r) ++changed;
    }
    fmt::print(stderr, "salvo suppressions: {} {} ({} unchanged)\n",
               a.action == "add" ? "added" : "removed", changed, addresses.size() - changed);
    return exit_ok;
}

}  // namespace salvo::cli
