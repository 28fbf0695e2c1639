#pragma once
/// The Marketing API's JSON, read and written without a network: contact
/// and list pages, error answers, and the contact body of an upsert.
/// Shapes (docs/marketing-and-reporting.md):
///   page:    {"total": N, "page": P, "pageSize": S, "data": [ITEM…]}
///   contact: {"id", "emailAddress", "firstName", "lastName",
///             "customFields": [{"name", "value"}]}
///   list:    {"id", "name", "contactCount"}
///   error:   {"error": CODE, "message": TEXT}

#include <boost/system/result.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::marketing {

struct custom_field {
    std::string name, value;
    friend bool operator==(const custom_field&, const custom_field&) = default;
};

struct contact {
    std::uint64_t id = 0;  ///< 0: not known (a contact to push)
    std::string email, first_name, last_name;
    std::vector<custom_field> fields;
    friend bool operator==(const contact&, const contact&) = default;
};

struct list_info {
    std::uint64_t id = 0;
    std::string name;
    std::uint64_t contact_count = 0;
};

struct contact_page {
    std::uint64_t total = 0, page = 0, page_size = 0;
    std::vector<contact> contacts;
};

struct list_page {
    std::uint64_t total = 0, page = 0, page_size = 0;
    std::vector<list_info> lists;
};

/// Why a body could not be read: plain words naming the field at fault.
struct read_error {
    std::string message;
};

[[nodiscard]] boost::system::result<contact_page, read_error> read_contact_page(
    std::string_view body);
[[nodiscard]] boost::system::result<list_page, read_error> read_list_page(std::string_view body);

/// The `message` (else `error`) of an error answer; empty when the body is
/// not one.
[[nodiscard]] std::string read_error_message(std::string_view body);

/// The upsert body of `c` (its id is not sent).
[[nodiscard]] std::string contact_json(const contact& c);

}  // namespace salvo::marketing

namespace boost::system {
[[noreturn]] inline void throw_exception_from_error(const salvo::marketing::read_error& e,
                                                    const boost::source_location&) {
    throw std::runtime_error(e.message);
}
}  // namespace boost::system
