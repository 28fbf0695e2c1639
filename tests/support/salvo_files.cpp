#include "support/salvo_files.hpp"

#include <simdjson.h>

#include <fstream>
#include <stdexcept>

namespace salvo::test {
namespace {

namespace dom = simdjson::dom;

[[noreturn]] void fail(const std::filesystem::path& p, std::uint64_t line,
                       const std::string& what) {
    throw std::runtime_error(p.string() + ":" + std::to_string(line) + ": " + what);
}

std::string string_of(dom::object o, const char* key) {
    std::string_view v;
    if (o[key].get_string().get(v) != simdjson::SUCCESS) return {};
    return std::string(v);
}

// Each line of `p` parsed as one JSON object; `f(object, line_number)`.
template <typename F>
void for_each_object(const std::filesystem::path& p, F&& f) {
    std::ifstream in(p, std::ios::binary);
    dom::parser parser;
    std::uint64_t n = 0;
    for (std::string text; std::getline(in, text);) {
        ++n;
        dom::object o;
        if (parser.parse(text).get_object().get(o) != simdjson::SUCCESS)
            fail(p, n, "not a JSON object: " + text.substr(0, 200));
        f(o, n);
    }
    if (in.bad()) fail(p, n, "read error");
}

std::uint64_t required_uint(const std::filesystem::path& p, std::uint64_t n, dom::object o,
                            const char* key) {
    std::uint64_t v = 0;
    if (o[key].get_uint64().get(v) != simdjson::SUCCESS)
        fail(p, n, std::string("no unsigned \"") + key + "\"");
    return v;
}

}  // namespace

const std::vector<std::string>& fate_names() {
    static const std::vector<std::string> names{"accepted",  "rejected",   "failed", "invalid",
                                                "duplicate", "suppressed", "unknown"};
    return names;
}

std::vector<result_line> read_results(const std::filesystem::path& p) {
    std::vector<result_line> out;
    for_each_object(p, [&](dom::object o, std::uint64_t n) {
        result_line r;
        r.row = required_uint(p, n, o, "row");
        r.line = required_uint(p, n, o, "line");
        r.email = string_of(o, "email");
        r.status = string_of(o, "status");
        if (r.status.empty()) fail(p, n, "no status");
        r.code = string_of(o, "code");
        r.error = string_of(o, "error");
        r.message_id = string_of(o, "message_id");
        std::uint64_t attempts = 0;
        if (o["attempts"].get_uint64().get(attempts) == simdjson::SUCCESS) r.attempts = attempts;
        bool ambiguous = false;
        if (o["ambiguous"].get_bool().get(ambiguous) == simdjson::SUCCESS) r.ambiguous = ambiguous;
        out.push_back(std::move(r));
    });
    return out;
}

send_report read_report(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) fail(p, 0, "cannot open");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    dom::parser parser;
    dom::object o;
    if (parser.parse(text).get_object().get(o) != simdjson::SUCCESS)
        fail(p, 1, "not a JSON object: " + text.substr(0, 200));
    send_report r;
    r.status = string_of(o, "status");
    if (r.status.empty()) fail(p, 1, "no status");
    r.stop_detail = string_of(o, "stop_detail");
    r.rows_read = required_uint(p, 1, o, "rows_read");
    for (const auto& f : fate_names()) r.fates[f] = required_uint(p, 1, o, f.c_str());
    r.pending = required_uint(p, 1, o, "pending");
    r.ambiguous = required_uint(p, 1, o, "ambiguous");
    r.requests = required_uint(p, 1, o, "requests");
    r.retries = required_uint(p, 1, o, "retries");
    return r;
}

std::vector<recorded_email> read_record(const std::filesystem::path& p) {
    std::vector<recorded_email> out;
    for_each_object(p, [&](dom::object o, std::uint64_t n) {
        recorded_email e;
        e.request = required_uint(p, n, o, "request");
        e.to = string_of(o, "to");
        if (e.to.empty()) fail(p, n, "no \"to\"");
        e.subject = string_of(o, "subject");
        e.message_id = string_of(o, "message_id");
        out.push_back(std::move(e));
    });
    return out;
}

std::uint64_t line_counter::update() {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    if (ec) return lines_;
    if (size < offset_) offset_ = lines_ = 0;  // truncated (a resume's recovery): count again
    std::ifstream in(path_, std::ios::binary);
    if (!in) return lines_;
    in.seekg(static_cast<std::streamoff>(offset_));
    char buf[1 << 16];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        const auto got = static_cast<std::size_t>(in.gcount());
        for (std::size_t i = 0; i < got; ++i) lines_ += buf[i] == '\n';
        offset_ += got;
    }
    return lines_;
}

}  // namespace salvo::test
