// libFuzzer target: the Event Webhook parser (platform::event_parser). The
// first byte picks the encoding; the rest is a notification body. Checks
// that an accepted body gives events with a Type and a raw JSON object
// (valid JSON) that never holds a SecretKey member, and that a refusal comes
// with a reason and leaves the output alone.

#include <salvo/platform/event.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static salvo::platform::event_parser parser;  // reused, as a session reuses it
    const auto format =
        (data[0] & 1) ? salvo::platform::body_format::form : salvo::platform::body_format::json;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<salvo::platform::event> out(1);
    std::string reason;
    const auto ec = parser.parse(body, format, out, &reason);
    if (ec) {
        if (out.size() != 1 || reason.empty()) std::abort();
        return 0;
    }
    for (std::size_t i = 1; i < out.size(); ++i) {
        const auto& e = out[i];
        if (e.type_name.empty()) std::abort();
        static simdjson::dom::parser json;
        simdjson::dom::object raw;
        if (json.parse(e.raw).get_object().get(raw)) std::abort();  // raw is a JSON object
        for (auto field : raw) {
            const std::string_view k = field.key;
            if (k.size() == 9 && std::equal(k.begin(), k.end(), "secretkey", [](char a, char b) {
                    return (a >= 'A' && a <= 'Z' ? a + 32 : a) == b;
                }))
                std::abort();  // the secret is never kept
        }
        (void)salvo::platform::state_of(e);
        (void)salvo::platform::identity_extra(e);
    }
    return 0;
}
