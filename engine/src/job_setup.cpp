// job::create(): everything a run needs, prepared before anything is sent.
#include "file_crc.hpp"
#include "hash.hpp"
#include "job_impl.hpp"

#include <salvo/platform/unsubscribe_token.hpp>
#include <salvo/store/store.hpp>

#include <cstdlib>

#include <salvo/engine/campaign.hpp>
#include <salvo/merge/escape.hpp>

#include <sys/stat.h>
#include <cstdio>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;
using detail::fnv1a;

std::string hex64(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// A file's identity: size, modification time and a CRC-32 of its bytes.
std::string file_identity(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return "missing";
    const auto crc = detail::file_crc32(p);
    if (!crc) return "unreadable";
    return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ":" + hex64(*crc);
}

// Renames `p` aside to the first free `p.N` (never deletes).
bool move_aside(const fs::path& p, std::string& error) {
    std::error_code ec;
    if (!fs::exists(p, ec)) return true;
    for (int n = 1; n < 10000; ++n) {
        fs::path target = p;
        target += "." + std::to_string(n);
        if (fs::exists(target, ec)) continue;
        fs::rename(p, target, ec);
        if (ec) {
            error = "cannot rename " + p.string() + " aside: " + ec.message();
            return false;
        }
        return true;
    }
    error = "too many old copies of " + p.string();
    return false;
}

// When `t` renders a literal then the address column's value (the
// default MessageId, `<mailing_id>-%%email%%`), that literal, unescaped;
// checked on sample addresses against what the template renders, as the
// render stage would read it.
std::optional<std::string> address_suffixed(const merge::compiled_template& t,
                                            std::size_t email_column) {
    const auto& segs = t.segments();
    if (segs.size() != 2 || !segs[0].is_literal || segs[1].is_literal) return std::nullopt;
    const auto& f = segs[1].field;
    if (f.column != email_column || f.has_fallback || f.mod != merge::modifier::none)
        return std::nullopt;
    std::optional<std::string> prefix;
    std::vector<std::string_view> row(email_column + 1);
    std::string escaped, plain;
    for (const std::string_view address : {"a@example.com", "Q.o+\"x\"@b-c.example"}) {
        row[email_column] = address;
        escaped.clear();
        plain.clear();
        if (t.expand(row, escaped) || !merge::json_unescape(escaped, plain)) return std::nullopt;
        if (plain.size() < address.size() || !plain.ends_with(address)) return std::nullopt;
        plain.resize(plain.size() - address.size());
        if (prefix && *prefix != plain) return std::nullopt;
        prefix = plain;
    }
    return prefix;
}

}  // namespace

boost::system::result<std::unique_ptr<job>, run_error> job::create(
    job_config config, run_options options, std::unique_ptr<recipient_source> source) {
    auto p = std::make_unique<impl>();
    p->config = std::move(config);
    p->options = std::move(options);
    const job_config& cfg = p->config;

    if (p->options.restart && p->options.retry_failed)
        return run_error{
            "--restart and --retry-failed cannot be used together: --restart starts "
            "over, --retry-failed re-sends the failed rows of the run on record"};
    if (p->options.retry_failed) {
        // Without a journal there is nothing to retry, and running on would
        // send the whole campaign: most likely the wrong --journal path.
        std::error_code ec;
        if (!fs::exists(cfg.journal, ec) || fs::file_size(cfg.journal, ec) == 0)
            return run_error{"--retry-failed: there is no journal at " + cfg.journal.string() +
                             ", so no failed rows to retry; run without --retry-failed to send "
                             "the campaign"};
    }
    if (cfg.rate.shared.present) {
        auto password = resolve_shared_quota_password(cfg);
        if (!password) return run_error{password.error().message};
        auto endpoint = quota::parse_redis_url(cfg.rate.shared.redis);
        if (!endpoint) return run_error{"rate.shared.redis: " + endpoint.error()};
        quota::shared_quota_options q;
        q.endpoint = std::move(*endpoint);
        q.key = cfg.rate.shared.key;
        q.emails_per_second = cfg.rate.shared.emails_per_second;
        q.requests_per_second = cfg.rate.shared.requests_per_second;
        q.password = std::move(*password);
        q.give_up_after = cfg.rate.shared.give_up_after.value_or(cfg.retry.give_up_after);
        p->quota_options = std::move(q);
    }
    if (p->options.restart) {
        std::string error;
        if (!move_aside(cfg.journal, error) || !move_aside(cfg.results, error))
            return run_error{error};
    }

    // The source.
    const bool from_stdin = !source && cfg.recipients.path == "-";
    if (from_stdin) {
        std::error_code ec;
        if (fs::exists(cfg.journal, ec) && fs::file_size(cfg.journal, ec) > 0)
            return run_error{"standard input cannot be resumed, and a journal exists (" +
                             cfg.journal.string() +
                             "): give the recipients as a file, or use --restart"};
    }
    if (!source) {
        std::size_t chunk = p->options.chunk_bytes;
        if (chunk == 0) chunk = cfg.merge == merge_mode::local ? 64 * 1024 : 256 * 1024;
        auto s = open_recipients(cfg, chunk);
        if (!s) return s.error();
        source = std::move(*s);
    }
    p->source = std::move(source);

    // Validation.
    auto v = make_validator(cfg, *p->source, p->suppressed);
    if (!v) return v.error();
    p->rows_validator.emplace(std::move(*v));
    p->email_column = p->rows_validator->email_column();
    p->name_column = p->rows_validator->name_column();

    // Templates, compiled once against the source's columns and the Globals.
    auto compiled = compile_message(cfg, p->source->keys());
    if (!compiled) return compiled.error();
    if (compiled->spec.message_id) {
        p->message_id = *compiled->spec.message_id;
        p->message_id_prefix = address_suffixed(*p->message_id, p->email_column);
    }
    if (!cfg.unsubscribe.secret_env.empty()) {
        const char* secret = std::getenv(cfg.unsubscribe.secret_env.c_str());
        if (!secret || !*secret)
            return run_error{"unsubscribe.secret_env: the environment variable " +
                             cfg.unsubscribe.secret_env +
                             " is not set; it must hold the one-click unsubscribe secret (the "
                             "same one `salvo listen --unsubscribe-secret-env` reads)"};
        p->unsubscribe_secret = secret;
        p->token_mailing_id = campaign_mailing_id(cfg);
        if (cfg.unsubscribe.expiry_days > 0)
            p->token_expiry_day = platform::days_since_epoch_now() +
                                  static_cast<std::uint32_t>(cfg.unsubscribe.expiry_days);
    }
    const std::uint64_t attachments_hash = compiled->attachments_hash;

    p->limits.messages_per_request = cfg.limits.messages_per_request;
    p->limits.recipients_per_message = cfg.limits.recipients_per_message;
    p->limits.max_request_bytes = cfg.limits.max_request_bytes;
    auto w = make_request_writer(cfg, std::move(compiled->spec), std::move(p->options.api_key));
    p->options.api_key.clear();  // the writer holds it from here on
    if (!w) return w.error();
    p->writer = std::move(*w);
    p->url = cfg.endpoint;
    p->headers.push_back("Content-Type: application/json; charset=utf-8");
    if (!p->writer->authorization().empty())
        p->headers.push_back("Authorization: " + p->writer->authorization());

    // What makes this campaign this campaign (rate, retry and timeouts may change).
    job_fingerprint fp;
    std::uint64_t m = detail::fnv1a_seed;
    for (std::string_view s :
         {std::string_view(cfg.message.from.email), std::string_view(cfg.message.from.name),
          std::string_view(cfg.message.subject.content), std::string_view(cfg.message.text.content),
          std::string_view(cfg.message.html.content), std::string_view(cfg.message.amp.content),
          std::string_view(cfg.message.mailing_id), std::string_view(cfg.message.message_id),
          std::string_view(cfg.message.charset), std::string_view(cfg.unsubscribe.url),
          std::string_view(cfg.unsubscribe.mailto)})
        m = fnv1a(m, s);
    if (cfg.message.reply_to)
        m = fnv1a(fnv1a(m, cfg.message.reply_to->email), cfg.message.reply_to->name);
    for (const auto& [k, val] : cfg.message.headers) m = fnv1a(fnv1a(m, k), val);
    for (const auto& g : cfg.globals) m = fnv1a(fnv1a(m, g.name), g.value);
    for (const auto& [k, val] : cfg.message.metadata) m = fnv1a(fnv1a(m, k), val);
    for (const auto& t : cfg.message.tags) m = fnv1a(m, t);
    m = fnv1a(m, cfg.html_escape ? "escape" : "raw");
    m = fnv1a(m, cfg.missing_field == missing_field_policy::invalid ? "invalid" : "empty");
    fp.parts["message"] = hex64(m);
    fp.parts["attachments"] = hex64(attachments_hash);
    fp.parts["merge"] = cfg.merge == merge_mode::server ? "server" : "local";
    fp.parts["recipients"] = from_stdin || cfg.recipients.path.empty()
                                 ? p->source->name()
                                 : file_identity(cfg.recipients.path);
    fp.parts["columns"] =
        cfg.recipients.email + "," + cfg.recipients.name + "," + (cfg.dedupe ? "dedupe" : "all");
    // A file's identity includes its content (as before); a database is
    // named only, so events arriving during a campaign do not make its
    // resume look like another campaign.
    std::string sources;
    for (const auto& src : cfg.suppression) {
        if (!sources.empty()) sources += ';';
        sources += src.type == suppression_source::kind::db
                       ? "db:" + (store::is_postgresql_url(src.path.string())
                                      ? store::redact(src.path.string())
                                      : fs::absolute(src.path).lexically_normal().string())
                       : file_identity(src.path);
    }
    fp.parts["suppression"] = sources.empty() ? "none" : sources;
    fp.parts["server_id"] = cfg.server_id;
    // Only when sharded, so an unsharded campaign's journal stays as it was.
    if (cfg.shard.active()) fp.parts["shard"] = cfg.shard.text();

    ledger_options lo;
    lo.journal = cfg.journal;
    lo.results = cfg.results;
    lo.io = p->options.ledger_files;
    auto results_ledger = ledger::open(lo, fp, p->state);
    if (!results_ledger) {
        if (results_ledger.error() == ledger_errc::other_campaign &&
            (p->state.recorded.parts.count("shard") != 0) != cfg.shard.active())
            return run_error{
                "the journal " + cfg.journal.string() + " was written by " +
                (cfg.shard.active() ? std::string("an unsharded run")
                                    : "shard " + p->state.recorded.parts["shard"]) +
                " of this campaign, and this run is " +
                (cfg.shard.active() ? "shard " + cfg.shard.text() : std::string("unsharded")) +
                ": each shard resumes only its own journal. Check --shard/--shard-count and the "
                "journal path (shards get .shard-K-of-N in their file names)"};
        if (results_ledger.error() == ledger_errc::other_campaign && cfg.shard.active() &&
            p->state.recorded.parts["shard"] != cfg.shard.text())
            return run_error{
                "the journal " + cfg.journal.string() + " belongs to shard " +
                p->state.recorded.parts["shard"] + ", and this run is shard " + cfg.shard.text() +
                " (shard K/N: K from 0 to N-1): a shard resumes only its own journal, and "
                "changing N re-cuts every shard. Run with --shard " +
                p->state.recorded.parts["shard"] +
                " to resume that shard, or keep N and use each shard's own journal"};
        if (results_ledger.error() == ledger_errc::other_campaign &&
            p->state.detail == "server_id") {
            const auto& n = p->state.counts;
            const std::uint64_t maybe = n[static_cast<std::size_t>(fate::accepted)] +
                                        n[static_cast<std::size_t>(fate::unknown)] +
                                        p->state.unsettled;
            return run_error{
                "the journal " + cfg.journal.string() + " was written with server_id " +
                p->state.recorded.parts["server_id"] + ", and " + std::to_string(maybe) +
                " row(s) were or may have been accepted under it, so this campaign cannot go on "
                "under server_id " +
                cfg.server_id +
                " (a server_id may change on a resume only while nothing was "
                "accepted). Put server_id " +
                p->state.recorded.parts["server_id"] +
                " back to resume, or use --restart to start a new campaign (the old files are "
                "kept)"};
        }
        if (results_ledger.error() == ledger_errc::other_campaign)
            return run_error{"the journal " + cfg.journal.string() +
                             " belongs to another campaign (different: " + p->state.detail +
                             "); use --restart to start over (the old files are kept)"};
        return run_error{cfg.journal.string() + ": " + results_ledger.error().message()};
    }
    p->results_ledger = std::move(*results_ledger);
    const auto set = [](std::vector<bool>& bits, std::uint64_t row) {
        if (row >= bits.size()) bits.resize(row + 1);
        bits[row] = true;
    };
    for (const auto row : p->state.in_doubt) set(p->in_doubt, row);
    if (p->options.retry_failed) {
        auto doubt = p->results_ledger->reopen_failed(p->state);
        if (!doubt)
            return run_error{cfg.results.string() +
                             ": cannot reopen the failed rows: " + doubt.error().message()};
        for (const auto row : *doubt) {
            set(p->in_doubt, row);
            set(p->resend_anyway, row);
        }
    }
    return std::unique_ptr<job>(new job(std::move(p)));
}

job::job(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

job::~job() {
    if (impl_ && impl_->runner.joinable()) {
        cancel();
        impl_->runner.join();
    }
}

const ledger_state& job::recovered() const noexcept {
    return impl_->state;
}

report job::run() {
    return impl_->run();
}

void job::start() {
    impl_->runner = std::thread([this] { impl_->finished_report = impl_->run(); });
}

report job::wait() {
    if (impl_->runner.joinable()) impl_->runner.join();
    return impl_->finished_report.value_or(report{});
}

void job::cancel() noexcept {
    impl_->stop.set(job_status::cancelled);
    if (auto* client = impl_->client_ptr.load()) client->stop_admitting();
}

}  // namespace salvo::engine
