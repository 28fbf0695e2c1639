#include <salvo/injection/response_writer.hpp>

namespace salvo::injection {

void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0;  // start of the pending unescaped stretch
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

void write_response(const response& r, std::string& out) {
    out += "{\"ErrorCode\":\"";
    out += to_string(r.code);
    if (r.messages.empty()) {
        out += "\",\"MessageResults\":[],\"TransactionReceipt\":null}";
        return;
    }
    out += "\",\"TransactionReceipt\":null,\"MessageResults\":[";
    bool first_message = true;
    for (const auto& m : r.messages) {
        if (!first_message) out += ',';
        first_message = false;
        out += "{\"Index\":";
        out += std::to_string(m.index);
        out += ",\"ErrorCode\":\"";
        out += to_string(m.code);
        out += "\",\"AddressResults\":[";
        bool first_address = true;
        for (const auto& a : m.addresses) {
            if (!first_address) out += ',';
            first_address = false;
            out += "{\"EmailAddress\":";
            append_json_string(out, a.email);
            out += ",\"Accepted\":false,\"ErrorCode\":\"";
            out += to_string(a.code);
            out += "\"}";
        }
        out += "]}";
    }
    out += "]}";
}

std::string response_body(api_code code) {
    std::string out;
    write_response(response{code, {}}, out);
    return out;
}

}  // namespace salvo::injection
