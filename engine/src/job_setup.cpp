// job::create(): everything a run needs, prepared before anything is sent.
#include "job_impl.hpp"

#include <zlib.h>

#include <sys/stat.h>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    // A separator, so that ("ab","c") and ("a","bc") differ.
    h ^= 0xff;
    h *= 0x100000001b3ULL;
    return h;
}

std::string hex64(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string read_all(const fs::path& p, bool& ok) {
    std::ifstream in(p, std::ios::binary);
    ok = static_cast<bool>(in);
    std::ostringstream s;
    if (ok) s << in.rdbuf();
    return s.str();
}

// A file's identity: size, modification time and a CRC-32 of its bytes.
std::string file_identity(const fs::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) return "missing";
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return "unreadable";
    uLong crc = crc32(0L, Z_NULL, 0);
    std::vector<unsigned char> buf(1 << 20);
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;)
        crc = crc32(crc, buf.data(), static_cast<uInt>(n));
    std::fclose(f);
    return std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ":" + hex64(crc);
}

std::string base64(std::string_view in) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const auto v = (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16) |
                       (static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (const std::size_t rest = in.size() - i; rest > 0) {
        std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
        if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
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

class template_compiler {
  public:
    template_compiler(const merge::field_set& fields, const job_config& job)
        : fields_(fields), job_(job) {}

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
        return std::move(*t);
    }

  private:
    const merge::field_set& fields_;
    const job_config& job_;
};

}  // namespace

boost::system::result<std::unique_ptr<job>, run_error> job::create(
    job_config config, run_options options, std::unique_ptr<recipient_source> source) {
    auto p = std::make_unique<impl>();
    p->config = std::move(config);
    p->options = std::move(options);
    const job_config& cfg = p->config;

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
        source_options so;
        if (!cfg.recipients.format.empty() && !parse_format(cfg.recipients.format, so.format))
            return run_error{"recipients.format: unknown format '" + cfg.recipients.format + "'"};
        so.encoding = cfg.recipients.encoding;
        so.delimiter = cfg.recipients.delimiter.empty() ? '\0' : cfg.recipients.delimiter[0];
        so.chunk_bytes = p->options.chunk_bytes;
        auto s = open_source(cfg.recipients.path.string(), so);
        if (!s) return run_error{s.error().message};
        source = std::move(*s);
    }
    p->source = std::move(source);

    // Validation.
    if (!cfg.suppression.empty()) {
        auto list = suppression_list::load(cfg.suppression.string(), cfg.recipients.email);
        if (!list) return run_error{list.error().message};
        p->suppressed = std::make_unique<suppression_list>(std::move(*list));
    }
    validate_options vo;
    vo.email_column = cfg.recipients.email;
    vo.name_column = cfg.recipients.name;
    vo.dedupe = cfg.dedupe;
    auto v = validator::create(p->source->fields(), vo, p->suppressed.get(), p->source->name());
    if (!v) return run_error{v.error().message};
    p->check.emplace(std::move(*v));
    p->email_column = p->check->email_column();
    p->name_column = p->check->name_column();

    // Templates, compiled once against the source's columns and the Globals.
    injection::message_spec spec;
    spec.fields.columns = p->source->keys();
    spec.fields.globals = cfg.globals;
    const template_compiler tc(spec.fields, cfg);
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
    if (!cfg.message.mailing_id.empty()) {
        spec.mailing_id.emplace();
        SALVO_TRY_COMPILE(*spec.mailing_id, cfg.message.mailing_id, header, "message.mailing_id");
    }
    if (!cfg.message.message_id.empty()) {
        spec.message_id.emplace();
        SALVO_TRY_COMPILE(*spec.message_id, cfg.message.message_id, header, "message.message_id");
        p->message_id = *spec.message_id;
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
    std::uint64_t attachments_hash = 0xcbf29ce484222325ULL;
    for (const auto& a : cfg.message.attachments) {
        bool ok = false;
        const std::string content = read_all(a.file, ok);
        if (!ok) return run_error{"message.attachments: cannot read '" + a.file.string() + "'"};
        injection::attachment_spec att;
        att.name = a.name;
        att.content_id = a.content_id;
        att.content_type = a.content_type.empty() ? content_type_for(a.file) : a.content_type;
        att.content_base64 = base64(content);
        attachments_hash = fnv1a(fnv1a(attachments_hash, att.name), content);
        spec.attachments.push_back(std::move(att));
    }
    for (const auto& [k, val] : cfg.message.metadata) spec.metadata.push_back({k, val});
    spec.tags = cfg.message.tags;

    // Credentials: from the host, or from the job's api_key_env / api_key_file.
    injection::credentials creds;
    if (cfg.server_id.empty()) return run_error{"server_id: is required"};
    try {
        std::size_t used = 0;
        creds.server_id = std::stoull(cfg.server_id, &used);
        if (used != cfg.server_id.size()) throw std::invalid_argument("server_id");
    } catch (const std::exception&) {
        return run_error{"server_id: expected a number, got '" + cfg.server_id + "'"};
    }
    if (p->options.api_key.empty()) {
        auto key = resolve_api_key(cfg);
        if (!key) return run_error{key.error().message};
        creds.api_key = std::move(*key);
    } else {
        creds.api_key = p->options.api_key;
    }
    p->options.api_key.clear();  // the writer holds it from here on

    p->limits.messages_per_request = cfg.limits.messages_per_request;
    p->limits.recipients_per_message = cfg.limits.recipients_per_message;
    p->limits.max_request_bytes = cfg.limits.max_request_bytes;
    auto w = injection::request_writer::create(std::move(spec), std::move(creds),
                                               cfg.merge == merge_mode::server
                                                   ? injection::merge_mode::server
                                                   : injection::merge_mode::local,
                                               p->limits);
    if (!w) return run_error{w.error().message};
    p->writer = std::move(*w);
    p->url = cfg.endpoint;
    p->headers.push_back("Content-Type: application/json; charset=utf-8");
    if (!p->writer->authorization().empty())
        p->headers.push_back("Authorization: " + p->writer->authorization());

    // What makes this campaign this campaign (rate, retry and timeouts may change).
    job_fingerprint fp;
    std::uint64_t m = 0xcbf29ce484222325ULL;
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
    fp.parts["suppression"] = cfg.suppression.empty() ? "none" : file_identity(cfg.suppression);
    fp.parts["server_id"] = cfg.server_id;

    ledger_options lo;
    lo.journal = cfg.journal;
    lo.results = cfg.results;
    auto book = ledger::open(lo, fp, p->state);
    if (!book) {
        if (book.error() == ledger_errc::other_campaign)
            return run_error{"the journal " + cfg.journal.string() +
                             " belongs to another campaign (different: " + p->state.detail +
                             "); use --restart to start over (the old files are kept)"};
        return run_error{cfg.journal.string() + ": " + book.error().message()};
    }
    p->book = std::move(*book);
    for (const auto row : p->state.in_doubt) {
        if (row >= p->in_doubt.size()) p->in_doubt.resize(row + 1);
        p->in_doubt[row] = true;
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
    int expected = 0;
    impl_->stop.compare_exchange_strong(expected, static_cast<int>(job_status::cancelled) + 1);
    if (auto* net = impl_->net_ptr.load()) net->stop_admitting();
}

}  // namespace salvo::engine
