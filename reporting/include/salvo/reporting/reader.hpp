#pragma once
/// The legacy Reporting API's JSON answer (`type=JSON`), read without a
/// network:
///   {"timestamp", "totalCount": N, "totalPages", "index": I, "count": C,
///    "collection": [{"ServerId", "DateTime", "MessageId", "MailingId",
///                    "ToAddress", "FromAddress", …}]}
/// Failed messages add "FailureType", "FailureCode", "Reason". Unknown
/// fields are ignored; a missing string field reads as empty.

#include <boost/system/result.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::reporting {

struct report_row {
    std::string date_time, message_id, mailing_id, to, from, reason;
    std::int64_t failure_type = -1;  ///< -1: not a failure row
    std::int64_t failure_code = 0;
};

struct report_page {
    std::uint64_t total = 0, index = 0, count = 0;
    std::vector<report_row> rows;
};

struct read_error {
    std::string message;
};

[[nodiscard]] boost::system::result<report_page, read_error> read_report_page(
    std::string_view body);

}  // namespace salvo::reporting

namespace boost::system {
[[noreturn]] inline void throw_exception_from_error(const salvo::reporting::read_error& e,
                                                    const boost::source_location&) {
    throw std::runtime_error(e.message);
}
}  // namespace boost::system
