#include <salvo/injection/response_reader.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <string>

namespace salvo::injection {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto x = static_cast<unsigned char>(a[i]);
        auto y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

// A code from the wire, quoted safely for a message: printable ASCII only,
// at most 64 bytes.
std::string quoted(std::string_view s) {
    std::string out = "'";
    for (std::size_t i = 0; i < s.size() && i < 64; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
    if (s.size() > 64) out += "...";
    return out + "'";
}

// Whether a JSON value stands for "absent" (null, {} or []), as the API's
// SDKs send it.
bool is_absent_value(simdjson::dom::element e) {
    switch (e.type()) {
        case simdjson::dom::element_type::NULL_VALUE:
            return true;
        case simdjson::dom::element_type::ARRAY:
            return simdjson::dom::array(e).size() == 0;
        case simdjson::dom::element_type::OBJECT:
            return simdjson::dom::object(e).size() == 0;
        default:
            return false;
    }
}

}  // namespace

std::string_view to_string(api_result f) noexcept {
    switch (f) {
        case api_result::accepted:
            return "accepted";
        case api_result::rejected:
            return "rejected";
        case api_result::retry:
            return "retry";
        case api_result::stop_job:
            return "stop_job";
        case api_result::failed:
            return "failed";
        case api_result::ambiguous:
            return "ambiguous";
    }
    return "?";
}

api_result response_verdict::fate_of(std::uint32_t i) const noexcept {
    if (request_fate != api_result::accepted) return request_fate;
    for (const auto& r : rejected)
        if (r.slot == i) return r.what;
    return api_result::accepted;
}

api_code response_verdict::code_of(std::uint32_t i) const noexcept {
    if (request_fate != api_result::accepted) return code;
    for (const auto& r : rejected)
        if (r.slot == i) return r.code;
    return api_code::success;
}

api_result classify_top_level(api_code c) noexcept {
    switch (c) {
        case api_code::success:
        case api_code::warning:
            return api_result::accepted;
        case api_code::over_quota:
        case api_code::internal_error:
            return api_result::retry;
        case api_code::invalid_authentication:
        case api_code::account_disabled:
        case api_code::too_many_errors:
            return api_result::stop_job;
        case api_code::invalid_data:
        case api_code::no_messages:
        case api_code::empty_message:
        case api_code::too_many_messages:
        case api_code::too_many_recipients:
            return api_result::failed;
        case api_code::no_valid_recipients:
        case api_code::invalid_attachment:
        case api_code::message_too_large:
        case api_code::empty_subject:
        case api_code::empty_to_address:
        case api_code::invalid_from:
        case api_code::no_valid_body_parts:
        case api_code::invalid_merge_data:
        case api_code::invalid_template_id:
        case api_code::template_has_no_content:
        case api_code::message_body_conflict:
        case api_code::metadata_or_tags_are_too_large:
        case api_code::invalid_address:
            return api_result::rejected;
        case api_code::unknown:
            return api_result::ambiguous;
    }
    return api_result::ambiguous;
}

api_result classify_http_status(int status) noexcept {
    if (status >= 200 && status < 300) return api_result::accepted;
    switch (status) {
        case 0:
            return api_result::ambiguous;  // no HTTP answer at all
        case 401:
            return api_result::stop_job;
        case 408:
        case 429:
        case 500:
        case 502:
        case 503:
        case 504:
            return api_result::retry;
        default:
            return api_result::failed;
    }
}

struct response_reader::impl {
    simdjson::dom::parser parser;
    std::string padded;               // the body copied with simdjson's padding
    std::vector<unsigned char> used;  // per slot: already has an outcome
    // The slots of each message, in row order: message m's are
    // by_message[first[m], first[m + 1]). A server-mode message's rows need
    // not be next to each other in the request. Built, in one pass, for the
    // first message that needs its slots.
    std::vector<std::uint32_t> first;
    std::vector<std::uint32_t> by_message;
    bool indexed = false;
    void index_slots(const outgoing_request& req);
    response_verdict verdict;

    void reject(std::uint32_t slot, api_code c) {
        if (used[slot]) return;
        used[slot] = 1;
        verdict.rejected.push_back({slot, api_result::rejected, c});
    }

    void note(const std::string& s) {
        if (!verdict.detail.empty()) verdict.detail += "; ";
        verdict.detail += s;
    }

    void fail(api_result f, std::string why) {
        verdict.request_fate = f;
        verdict.rejected.clear();
        note(why);
    }

    // Reads `{"ErrorCode": …}` of the root; false when there is none.
    bool top_code(simdjson::dom::element root, std::string_view& out) {
        simdjson::dom::element e;
        if (root.at_key_case_insensitive("ErrorCode").get(e)) return false;
        return !e.get_string().get(out);
    }

    bool read_messages(simdjson::dom::array results, const outgoing_request& req);
    void read(int http_status, std::string_view body, const outgoing_request& req);
};

void response_reader::impl::index_slots(const outgoing_request& req) {
    first.assign(req.messages + 1, 0);
    for (const auto& s : req.slots)
        if (s.message < req.messages) ++first[s.message + 1];
    for (std::size_t m = 1; m < first.size(); ++m) first[m] += first[m - 1];
    by_message.resize(first.back());
    auto next = first;  // where each message's next slot goes
    for (std::uint32_t s = 0; s < req.slots.size(); ++s)
        if (req.slots[s].message < req.messages) by_message[next[req.slots[s].message]++] = s;
    indexed = true;
}

bool response_reader::impl::read_messages(simdjson::dom::array results,
                                          const outgoing_request& req) {
    indexed = false;
    std::size_t position = 0;
    for (simdjson::dom::element m : results) {
        const auto here = position++;
        // Built only for a message that needs explaining.
        const auto where = [here] { return "MessageResults[" + std::to_string(here) + "]"; };
        std::int64_t index = -1;
        simdjson::dom::element e;
        if (m.at_key_case_insensitive("Index").get(e) || e.get_int64().get(index)) {
            fail(api_result::ambiguous, where() + " has no integer Index");
            return false;
        }
        if (index < 0 || static_cast<std::uint64_t>(index) >= req.messages) {
            fail(api_result::ambiguous, where() + ".Index " + std::to_string(index) +
                                            " is out of range for a request of " +
                                            std::to_string(req.messages) + " messages");
            return false;
        }
        std::string_view code_text;
        api_code mcode = api_code::unknown;
        if (m.at_key_case_insensitive("ErrorCode").get(e) || e.get_string().get(code_text)) {
            note(where() + " has no ErrorCode; its recipients are counted rejected");
        } else {
            mcode = parse_api_code(code_text);
            if (mcode == api_code::unknown)
                note(where() + " has the unknown ErrorCode " + quoted(code_text));
        }
        if (mcode == api_code::success) continue;

        const auto msg = static_cast<std::uint32_t>(index);
        if (!indexed) index_slots(req);
        const std::span<const std::uint32_t> members(by_message.data() + first[msg],
                                                     first[msg + 1] - first[msg]);

        // Address results name exact recipients; duplicates match in order.
        simdjson::dom::array addresses;
        bool has_addresses = false;
        if (!m.at_key_case_insensitive("AddressResults").get(e) && !is_absent_value(e)) {
            if (e.get_array().get(addresses)) {
                fail(api_result::ambiguous, where() + ".AddressResults is not an array");
                return false;
            }
            has_addresses = true;
        }
        if (has_addresses) {
            std::size_t ai = 0;
            for (simdjson::dom::element a : addresses) {
                const auto ahere = ai++;
                const auto awhere = [&] {
                    return where() + ".AddressResults[" + std::to_string(ahere) + "]";
                };
                std::string_view email;
                if (a.at_key_case_insensitive("EmailAddress").get(e) || e.get_string().get(email)) {
                    note(awhere() + " has no EmailAddress");
                    continue;
                }
                bool accepted = false;
                bool has_accepted =
                    !a.at_key_case_insensitive("Accepted").get(e) && !e.get_bool().get(accepted);
                api_code acode = api_code::unknown;
                std::string_view atext;
                if (!a.at_key_case_insensitive("ErrorCode").get(e) && !e.get_string().get(atext)) {
                    acode = parse_api_code(atext);
                    if (acode == api_code::unknown)
                        note(awhere() + " has the unknown ErrorCode " + quoted(atext));
                }
                if (!has_accepted) accepted = acode == api_code::success;
                if (accepted) continue;
                bool matched = false;
                for (auto it = members.begin(); it != members.end() && !matched; ++it) {
                    const auto s = *it;
                    if (used[s] || !iequals(req.address(req.slots[s]), email)) continue;
                    reject(s, acode);
                    matched = true;
                }
                if (!matched)
                    note(awhere() + " names an address that is not a recipient of message " +
                         std::to_string(msg));
            }
        }
        // A message-level error refuses the whole message; a message-level
        // Warning refuses only the addresses it lists.
        if (mcode != api_code::warning)
            for (const auto s : members) reject(s, mcode);
    }
    return true;
}

void response_reader::impl::read(int http_status, std::string_view body,
                                 const outgoing_request& req) {
    verdict.request_fate = api_result::accepted;
    verdict.code = api_code::unknown;
    verdict.http_status = http_status;
    verdict.fast_path = false;
    verdict.rejected.clear();
    verdict.detail.clear();

    if (http_status == 200 && body == canonical_success_body) {
        verdict.code = api_code::success;
        verdict.fast_path = true;
        return;
    }

    padded.assign(body.data(), body.size());
    padded.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::dom::element root;
    const auto parse_error = parser.parse(padded.data(), body.size(), false).get(root);
    std::string_view code_text;
    const bool has_code = !parse_error && root.is_object() && top_code(root, code_text);
    if (has_code) verdict.code = parse_api_code(code_text);

    const auto by_status = classify_http_status(http_status);
    if (by_status != api_result::accepted) {
        verdict.request_fate = by_status;
        if (http_status == 401) verdict.code = api_code::invalid_authentication;
        std::string why =
            http_status == 0 ? "no HTTP status" : "HTTP " + std::to_string(http_status);
        if (has_code) why += " with ErrorCode " + quoted(code_text);
        note(why);
        return;
    }
    if (parse_error) {
        fail(api_result::ambiguous, "HTTP " + std::to_string(http_status) +
                                        " with a body that is not JSON (" +
                                        std::string(simdjson::error_message(parse_error)) + ")");
        return;
    }
    if (!root.is_object()) {
        fail(api_result::ambiguous, "the response body is not a JSON object");
        return;
    }
    if (!has_code) {
        fail(api_result::ambiguous, "the response has no string ErrorCode");
        return;
    }
    const auto top = classify_top_level(verdict.code);
    if (verdict.code == api_code::unknown) {
        fail(api_result::ambiguous, "the response has the unknown ErrorCode " + quoted(code_text));
        return;
    }
    if (top != api_result::accepted && top != api_result::rejected) {
        fail(top, "the API answered " + std::string(to_string(verdict.code)));
        return;
    }

    used.assign(req.slots.size(), 0);
    simdjson::dom::element results;
    const bool has_results =
        !root.at_key_case_insensitive("MessageResults").get(results) && !is_absent_value(results);
    if (has_results) {
        simdjson::dom::array arr;
        if (results.get_array().get(arr)) {
            fail(api_result::ambiguous, "MessageResults is not an array");
            return;
        }
        if (!read_messages(arr, req)) return;
    } else if (verdict.code == api_code::warning) {
        // A partial failure that does not say what failed.
        fail(api_result::ambiguous, "a Warning response without MessageResults");
        return;
    }
    if (top == api_result::rejected) {
        // A message-level code at top level refuses every message.
        for (std::uint32_t s = 0; s < req.slots.size(); ++s) reject(s, verdict.code);
        note("the API answered " + std::string(to_string(verdict.code)));
    }
    std::sort(
        verdict.rejected.begin(), verdict.rejected.end(),
        [](const recipient_outcome& a, const recipient_outcome& b) { return a.slot < b.slot; });
}

response_reader::response_reader() : impl_(std::make_unique<impl>()) {}
response_reader::~response_reader() = default;
response_reader::response_reader(response_reader&&) noexcept = default;
response_reader& response_reader::operator=(response_reader&&) noexcept = default;

const response_verdict& response_reader::read(int http_status, std::string_view body,
                                              const outgoing_request& req) {
    impl_->read(http_status, body, req);
    return impl_->verdict;
}

}  // namespace salvo::injection
