// libFuzzer target: the Inbound API parser and the classifier. Checks that
// an accepted body gives a stored JSON that is valid JSON without a
// SecretKey member, that a refusal comes with a reason, and that attachment
// sizes agree with the bytes handed to the sink.

#include <salvo/platform/inbound.hpp>

#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

struct counting_sink final : salvo::platform::attachment_sink {
    std::uint64_t bytes = 0;
    void begin(salvo::platform::inbound_attachment&) override { bytes = 0; }
    void write(const unsigned char*, std::size_t n) override { bytes += n; }
    void end(salvo::platform::inbound_attachment& a) override {
        if (a.error.empty() && a.size != bytes) std::abort();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static salvo::platform::inbound_parser parser;  // reused, as a pool thread reuses it
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    salvo::platform::inbound_message m;
    counting_sink sink;
    std::string reason;
    if (parser.parse(body, m, &sink, &reason)) {
        if (reason.empty()) std::abort();
        return 0;
    }
    salvo::platform::classify_options o;
    o.unsubscribe_mailto = {"unsubscribe@news.example.com"};
    const auto c = salvo::platform::classify(m, o);
    (void)c;
    const auto stored = salvo::platform::stored_json(m);
    simdjson::dom::parser check;
    simdjson::dom::element doc;
    if (check.parse(stored).get(doc)) std::abort();
    simdjson::dom::element secret;
    if (doc["SecretKey"].get(secret) == simdjson::SUCCESS) std::abort();
    salvo::platform::inbound_message form;
    (void)salvo::platform::parse_inbound_form(body, form);
    return 0;
}
