// libFuzzer target: the Injection API response reader. The first byte
// picks the HTTP status; the second the request's shape (how many
// messages, and recipients per message, as the batcher builds them in
// local or server mode); the rest is the response body.

#include <salvo/injection/response_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace salvo::injection;

outgoing_request shaped(std::uint32_t messages, std::uint32_t per_message) {
    outgoing_request r;
    std::uint64_t id = 1;
    for (std::uint32_t m = 0; m < messages; ++m) {
        for (std::uint32_t j = 0; j < per_message; ++j) {
            const std::string a = "m" + std::to_string(m) + "r" + std::to_string(j) + "@x.example";
            r.slots.push_back({id++, m, j, static_cast<std::uint32_t>(r.addresses.size()),
                               static_cast<std::uint32_t>(a.size())});
            r.addresses += a;
        }
    }
    r.messages = messages;
    return r;
}

// The verdict is well formed: outcomes name real slots, in slot order,
// at most once each, and every slot has a api_result.
void check(const response_verdict& v, const outgoing_request& req) {
    std::uint32_t last = 0;
    bool first = true;
    for (const auto& o : v.rejected) {
        if (o.slot >= req.slots.size()) std::abort();
        if (!first && o.slot <= last) std::abort();
        first = false;
        last = o.slot;
    }
    for (std::uint32_t i = 0; i < req.slots.size(); ++i) {
        (void)v.fate_of(i);
        (void)v.code_of(i);
    }
    if (v.request_fate != api_result::accepted && v.detail.empty()) std::abort();  // says why
    (void)to_string(v.request_fate);
}

bool same(const response_verdict& a, const response_verdict& b) {
    if (a.request_fate != b.request_fate || a.code != b.code || a.http_status != b.http_status ||
        a.fast_path != b.fast_path || a.detail != b.detail ||
        a.rejected.size() != b.rejected.size())
        return false;
    for (std::size_t i = 0; i < a.rejected.size(); ++i)
        if (a.rejected[i].slot != b.rejected[i].slot || a.rejected[i].what != b.rejected[i].what ||
            a.rejected[i].code != b.rejected[i].code)
            return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static const int statuses[] = {200, 200, 200, 200, 400, 401, 403, 404,
                                   408, 413, 429, 500, 502, 503, 504, 0};
    const int status = statuses[data[0] & 15];
    const auto messages = static_cast<std::uint32_t>(1 + (data[1] & 15));
    const auto per_message =
        static_cast<std::uint32_t>((data[1] & 16) ? 1 + ((data[1] >> 5) & 7) : 1);
    const auto req = shaped(messages, per_message);
    const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);

    response_reader reader;
    const response_verdict first = reader.read(status, body, req);
    check(first, req);
    // The reader is reused across requests: a second read of the same
    // answer, after one of another shape, gives the same verdict.
    (void)reader.read(200, canonical_success_body, shaped(1, 1));
    if (!same(reader.read(status, body, req), first)) std::abort();
    return 0;
}
