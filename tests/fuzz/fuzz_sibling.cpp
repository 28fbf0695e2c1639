// libFuzzer target: the Marketing and Reporting API response readers. The
// first byte picks the reader; the rest is the response body. A page that
// is read is checked for consistency, and a contact read back from its own
// upsert body is the same contact.

#include <salvo/marketing/reader.hpp>
#include <salvo/reporting/reader.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    namespace mk = salvo::marketing;
    switch (data[0] & 3) {
        case 0: {
            const auto p = mk::read_contact_page(body);
            if (!p) {
                if (p.error().message.empty()) std::abort();
                break;
            }
            for (const auto& c : p->contacts) {
                // Round trip through the upsert body.
                std::string page =
                    R"({"total":1,"page":1,"pageSize":1,"data":[)" +
                    mk::contact_json(c).insert(1, "\"id\":" + std::to_string(c.id) + ",") + "]}";
                const auto again = mk::read_contact_page(page);
                if (!again || again->contacts.size() != 1 || !(again->contacts[0] == c))
                    std::abort();
            }
            break;
        }
        case 1: {
            const auto p = mk::read_list_page(body);
            if (!p && p.error().message.empty()) std::abort();
            break;
        }
        case 2:
            (void)mk::read_error_message(body);
            break;
        default: {
            const auto p = salvo::reporting::read_report_page(body);
            if (!p && p.error().message.empty()) std::abort();
            break;
        }
    }
    return 0;
}
