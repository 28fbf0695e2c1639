// libFuzzer target: the one-click unsubscribe token reader. Whatever the
// input, reading never crashes; a token it accepts re-encodes to the same
// text (one spelling per token), and a token made from its claims reads
// back to them.

#include <salvo/platform/unsubscribe_token.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace salvo::platform;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    constexpr std::string_view secret = "fuzz-secret";
    const auto c = read_unsubscribe_token(secret, input, 20000);
    if (c) {
        if (make_unsubscribe_token(secret, c->mailing_id, c->address, c->expiry_day) != input)
            std::abort();
    }
    // The input as an address: a fresh token always reads back.
    if (input.empty() || input.size() > 1400)
        return 0;  // no token; or over the 2 KiB a reader takes
    const auto t = make_unsubscribe_token(secret, "camp", input, 0);
    const auto back = read_unsubscribe_token(secret, t, 20000);
    if (!back || back->address != input || back->mailing_id != "camp") std::abort();
    return 0;
}
