// compile_message() and make_request_writer(): a job's message, ready to render.
#include <salvo/engine/campaign.hpp>
#include "hash.hpp"
#include "input.hpp"

#include <salvo/transport/call.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;
using detail::fnv1a;

std::string read_all(const fs::path& p, bool& ok) {
    std::ifstream in(p, std::ios::binary);
    ok = static_cast<bool>(in);
    std::ostringstream s;
    if (ok) s << in.rdbuf();
    return s.str();
}

std::string content_type_for(const fs::path& p) {
    std::string ext = p.extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".png") return "image/png";
    if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
    if (ext == ".gif") return "image/gif";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".pdf") return "application/pdf";
    if (ext == ".txt") return "text/plain";
    if (ext == ".html" || ext == ".htm") return "text/html";
    if (ext == ".csv") return "text/csv";
    return "application/octet-stream";
}

class template_compiler {
  public:
    template_compiler(const merge::field_set& fields, const job_config& job,
                      std::vector<merge::compile_warning>& warnings)
        : fields_(fields), job_(job), warnings_(warnings) {}

    boost::system::result<merge::compiled_template, run_error> compile(std::string_view text,
                                                                       merge::context where,
                                                                       std::string label) const {
        merge::compile_options o;
        o.where = where;
        o.html_escape = job_.html_escape;
        o.empty_is_invalid = job_.missing_field == missing_field_policy::invalid;
        o.label = std::move(label);
        auto t = merge::compile(text, fields_, o);
        if (!t) return run_error{t.error().message};
        warnings_.insert(warnings_.end(), t->warnings().begin(), t->warnings().end());
        return std::move(*t);
    }

  private:
    const merge::field_set& fields_;
    const job_config& job_;
    std::vector<merge::compile_warning>& warnings_;
};

// The column holding the address, as the validator finds it.
std::optional<std::string> email_column_of(const std::vector<std::string>& columns,
                                           const std::string& wanted) {
    const auto same = [](std::string_view a, std::string_view b) {
        return a.size() == b.size() &&
               std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) ==
                          std::tolower(static_cast<unsigned char>(y));
               });
    };
    for (const std::string_view name :
         {std::string_view(wanted), std::string_view("DeliveryAddress")})
        for (const auto& c : columns)
            if (same(c, name)) return c;
    return std::nullopt;
}

}  // namespace

std::string campaign_mailing_id(const job_config& job) {
    if (!job.message.mailing_id.empty()) return job.message.mailing_id;
    std::error_code ec;
    const auto abs = [&ec](const fs::path& p) {
        return p.empty() ? std::string() : fs::absolute(p, ec).lexically_normal().string();
    };
    // Every shard of a campaign has the campaign's MailingId (the results
    // path before its .shard-K-of-N): one mailing in the events and the
    // reports. MessageIds stay unique per row across shards, as an address
    // is sent by one shard only.
    const fs::path results =
        job.shard.active() ? unsharded_path(job.results, job.shard) : job.results;
    std::uint64_t h = detail::fnv1a_seed;
    h = fnv1a(h, abs(job.job_file));
    h = fnv1a(h, abs(results));
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return std::string("salvo-") + buf;
}

boost::system::result<validator, run_error> make_validator(
    const job_config& job, const recipient_source& source,
    std::unique_ptr<suppression_list>& suppressed) {
    suppressed.reset();
    if (!job.suppression.empty()) {
        suppressed = std::make_unique<suppression_list>();
        for (const auto& src : job.suppression) {
            auto e = src.type == suppression_source::kind::db
                         ? suppressed->load_db(src.path.string())
                         : suppressed->load_file(src.path.string(), job.recipients.email);
            if (e) return run_error{e->message};
        }
    }
    validate_options vo;
    vo.email_column = job.recipients.email;
    vo.name_column = job.recipients.name;
    vo.dedupe = job.dedupe;
    vo.shard_index = job.shard.index;
    vo.shard_count = job.shard.count;
    // The dedupe table is sized once from this (validator::prepare); a
    // gzipped file counts by its uncompressed size.
    if (job.dedupe && !job.recipients.path.empty())
        vo.input_bytes = detail::input_size_hint(job.recipients.path.string());
    auto v = validator::create(source.fields(), vo, suppressed.get(), source.name());
    if (!v) return run_error{v.error().message};
    return std::move(*v);
}

boost::system::result<std::unique_ptr<recipient_source>, run_error> open_recipients(
    const job_config& job, std::size_t chunk_bytes) {
    source_options so;
    if (!job.recipients.format.empty() && !parse_format(job.recipients.format, so.format))
        return run_error{"recipients.format: unknown format '" + job.recipients.format + "'"};
    so.encoding = job.recipients.encoding;
    so.delimiter = job.recipients.delimiter.empty() ? '\0' : job.recipients.delimiter[0];
    if (chunk_bytes > 0) so.chunk_bytes = chunk_bytes;
    auto s = open_source(job.recipients.path.string(), so);
    if (!s) return run_error{s.error().message};
    // A source may be empty; a campaign from an empty file is a mistake
    // (the wrong file, a failed export), and its templates could not say so.
    if ((*s)->fields().empty())
        return run_error{(*s)->name() +
                         ": the file is empty: no header row or record names any field"};
    return std::move(*s);
}

boost::system::result<compiled_message, run_error> compile_message(
    const job_config& job, const std::vector<std::string>& columns) {
    const job_config& cfg = job;
    compiled_message out;
    injection::message_spec& spec = out.spec;
    spec.fields.columns = columns;
    // The built-in per-row field, after the source's own (job::impl fills it).
    if (!cfg.unsubscribe.secret_env.empty())
        spec.fields.columns.emplace_back(unsubscribe_token_field);
    spec.fields.globals = cfg.globals;
    const template_compiler tc(spec.fields, cfg, out.warnings);
    const auto header = merge::context::header;
#define SALVO_TRY_COMPILE(target, text, where, label)          \
    do {                                                       \
        auto compiled_ = tc.compile((text), (where), (label)); \
        if (!compiled_) return compiled_.error();              \
        target = std::move(*compiled_);                        \
    } while (false)
    SALVO_TRY_COMPILE(spec.from.email, cfg.message.from.email, header, "message.from.email");
    if (!cfg.message.from.name.empty()) {
        spec.from.name.emplace();
        SALVO_TRY_COMPILE(*spec.from.name, cfg.message.from.name, header, "message.from.name");
    }
    if (cfg.message.reply_to) {
        spec.reply_to.emplace();
        SALVO_TRY_COMPILE(spec.reply_to->email, cfg.message.reply_to->email, header,
                          "message.reply_to.email");
        if (!cfg.message.reply_to->name.empty()) {
            spec.reply_to->name.emplace();
            SALVO_TRY_COMPILE(*spec.reply_to->name, cfg.message.reply_to->name, header,
                              "message.reply_to.name");
        }
    }
    SALVO_TRY_COMPILE(spec.subject, cfg.message.subject.content, header,
                      cfg.message.subject.origin.empty() ? "subject" : cfg.message.subject.origin);
    const auto body =
        [&](const template_text& t, merge::context where, const char* name,
            std::optional<merge::compiled_template>& target) -> std::optional<run_error> {
        if (!t.present) return std::nullopt;
        auto c = tc.compile(t.content, where, t.origin.empty() ? name : t.origin);
        if (!c) return c.error();
        target = std::move(*c);
        return std::nullopt;
    };
    if (auto e = body(cfg.message.text, merge::context::text, "text body", spec.text_body))
        return *e;
    if (auto e = body(cfg.message.html, merge::context::html, "html body", spec.html_body))
        return *e;
    if (auto e = body(cfg.message.amp, merge::context::html, "amp body", spec.amp_body)) return *e;
    // The join to delivery events (campaign_mailing_id).
    const std::string mailing_id = campaign_mailing_id(cfg);
    spec.mailing_id.emplace();
    SALVO_TRY_COMPILE(*spec.mailing_id, mailing_id, header, "message.mailing_id");
    const auto email = email_column_of(columns, cfg.recipients.email);
    if (email) {
        const auto at = std::find(columns.begin(), columns.end(), *email);
        spec.address_column = static_cast<std::size_t>(at - columns.begin());
    }
    if (!cfg.message.message_id.empty()) {
        spec.message_id.emplace();
        SALVO_TRY_COMPILE(*spec.message_id, cfg.message.message_id, header, "message.message_id");
    } else if (email) {
        spec.message_id.emplace();
        SALVO_TRY_COMPILE(*spec.message_id, mailing_id + "-%%" + *email + "%%", header,
                          "message.message_id (derived)");
    }
    spec.charset = cfg.message.charset;
    for (const auto& [name, value] : cfg.message.headers) {
        injection::custom_header h;
        h.name = name;
        SALVO_TRY_COMPILE(h.value, value, header, "header " + name);
        spec.custom_headers.push_back(std::move(h));
    }
    if (!cfg.unsubscribe.url.empty() || !cfg.unsubscribe.mailto.empty()) {
        // RFC 2369 List-Unsubscribe, and RFC 8058 one-click when there is a URL.
        std::string value;
        if (!cfg.unsubscribe.mailto.empty()) value += "<mailto:" + cfg.unsubscribe.mailto + ">";
        if (!cfg.unsubscribe.url.empty())
            value += (value.empty() ? "<" : ", <") + cfg.unsubscribe.url + ">";
        injection::custom_header h;
        h.name = "List-Unsubscribe";
        SALVO_TRY_COMPILE(h.value, value, header, "unsubscribe");
        spec.custom_headers.push_back(std::move(h));
        if (!cfg.unsubscribe.url.empty()) {
            injection::custom_header post;
            post.name = "List-Unsubscribe-Post";
            SALVO_TRY_COMPILE(post.value, "List-Unsubscribe=One-Click", header, "unsubscribe");
            spec.custom_headers.push_back(std::move(post));
        }
    }
#undef SALVO_TRY_COMPILE
    std::uint64_t& attachments_hash = out.attachments_hash;
    attachments_hash = detail::fnv1a_seed;
    for (const auto& a : cfg.message.attachments) {
        bool ok = false;
        const std::string content = read_all(a.file, ok);
        if (!ok) return run_error{"message.attachments: cannot read '" + a.file.string() + "'"};
        injection::attachment_spec att;
        att.name = a.name;
        att.content_id = a.content_id;
        att.content_type = a.content_type.empty() ? content_type_for(a.file) : a.content_type;
        att.content_base64 = transport::base64_encode(content);
        attachments_hash = fnv1a(fnv1a(attachments_hash, att.name), content);
        spec.attachments.push_back(std::move(att));
    }
    for (const auto& [k, val] : cfg.message.metadata) spec.metadata.push_back({k, val});
    spec.tags = cfg.message.tags;
    return out;
}

boost::system::result<std::shared_ptr<const injection::request_writer>, run_error>
make_request_writer(const job_config& job, injection::message_spec spec, std::string api_key) {
    const job_config& cfg = job;
    // Credentials: from the host, or from the job's api_key_env / api_key_file.
    injection::credentials creds;
    if (cfg.server_id.empty()) return run_error{"server_id: is required"};
    try {
        std::size_t used = 0;
        creds.server_id = std::stoull(cfg.server_id, &used);
        if (used != cfg.server_id.size()) throw std::invalid_argument("server_id");
    } catch (const std::exception&) {
        return run_error{(cfg.job_file.empty() ? std::string() : cfg.job_file.string() + ": ") +
                         "server_id: expected a whole number (the server's id in SocketLabs), "
                         "got '" +
                         cfg.server_id + "'"};
    }
    if (api_key.empty()) {
        auto key = resolve_api_key(cfg);
        if (!key) return run_error{key.error().message};
        creds.api_key = std::move(*key);
    } else {
        creds.api_key = std::move(api_key);
    }
    injection::limits limits;
    limits.messages_per_request = cfg.limits.messages_per_request;
    limits.recipients_per_message = cfg.limits.recipients_per_message;
    limits.max_request_bytes = cfg.limits.max_request_bytes;
    auto w = injection::request_writer::create(std::move(spec), std::move(creds),
                                               cfg.merge == merge_mode::server
                                                   ? injection::merge_mode::server
                                                   : injection::merge_mode::local,
                                               limits);
    if (!w) return run_error{w.error().message};
    return std::move(*w);
}

}  // namespace salvo::engine
