#include <salvo/emulator/error.hpp>
#include <salvo/emulator/record.hpp>
#include <salvo/injection/response_writer.hpp>

namespace salvo::emulator {

namespace {

class emulator_category_impl final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.emulator"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::bad_tls_files:
                return "the TLS certificate or key file could not be loaded";
            case errc::bad_fault_pattern:
                return "a reject_address fault pattern is not a valid regular expression";
            case errc::record_file_failed:
                return "the record file could not be opened for writing";
            case errc::bad_options:
                return "bad emulator options (zero threads, or a fault rate outside [0, 1])";
            case errc::bad_marketing_data:
                return "the marketing data file is not valid JSON of the documented shape "
                       "({\"lists\":[{\"id\",\"name\",\"contacts\":[…]}]}); fix or remove it";
        }
        return "unknown emulator error";
    }
};

void key(std::string& out, const char* k) {
    out += ",\"";
    out += k;
    out += "\":";
}

void str(std::string& out, const char* k, const std::string& v) {
    key(out, k);
    injection::append_json_string(out, v);
}

void pairs(std::string& out, const char* k, const std::vector<recorded_header>& v,
           const char* first) {
    key(out, k);
    out += '[';
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        out += "{\"";
        out += first;
        out += "\":";
        injection::append_json_string(out, v[i].name);
        out += ",\"value\":";
        injection::append_json_string(out, v[i].value);
        out += '}';
    }
    out += ']';
}

}  // namespace

const boost::system::error_category& emulator_category() noexcept {
    static const emulator_category_impl c;
    return c;
}

std::string to_ndjson(const recorded_email& e) {
    std::string out;
    out.reserve(256 + e.subject.size() + e.text.size() + e.html.size() + e.amp.size());
    out += "{\"request\":";
    out += std::to_string(e.request);
    key(out, "index");
    out += std::to_string(e.index);
    str(out, "to", e.to);
    str(out, "to_name", e.to_name);
    str(out, "from", e.from);
    str(out, "from_name", e.from_name);
    str(out, "reply_to", e.reply_to);
    str(out, "reply_to_name", e.reply_to_name);
    str(out, "subject", e.subject);
    str(out, "text", e.text);
    str(out, "html", e.html);
    str(out, "amp", e.amp);
    pairs(out, "headers", e.headers, "name");
    str(out, "mailing_id", e.mailing_id);
    str(out, "message_id", e.message_id);
    str(out, "charset", e.charset);
    str(out, "api_template", e.api_template);
    key(out, "attachments");
    out += '[';
    for (std::size_t i = 0; i < e.attachments.size(); ++i) {
        const auto& a = e.attachments[i];
        if (i) out += ',';
        out += "{\"name\":";
        injection::append_json_string(out, a.name);
        out += ",\"content_type\":";
        injection::append_json_string(out, a.content_type);
        out += ",\"content_id\":";
        injection::append_json_string(out, a.content_id);
        out += ",\"bytes\":";
        out += std::to_string(a.bytes);
        out += '}';
    }
    out += ']';
    pairs(out, "metadata", e.metadata, "key");
    key(out, "tags");
    out += '[';
    for (std::size_t i = 0; i < e.tags.size(); ++i) {
        if (i) out += ',';
        injection::append_json_string(out, e.tags[i]);
    }
    out += ']';
    if (!e.inbound.empty()) str(out, "inbound", e.inbound);
    out += '}';
    return out;
}

}  // namespace salvo::emulator
