#pragma once
// The Marketing API (lists, contacts, custom fields, unsubscribes) and the
// legacy Reporting API served by the emulator next to the injection route.
// Socket-free: server.cpp hands each request's method, target, body and
// Authorization here and sends back the answer.

#include <salvo/emulator/options.hpp>
#include <salvo/emulator/record.hpp>

#include "events.hpp"

#include <boost/system/error_code.hpp>

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace salvo::emulator::detail {

struct sibling_reply {
    unsigned status = 200;
    std::string body;
};

// True for targets this file answers: `/marketing/v1/…` and `/v1/…`.
[[nodiscard]] bool is_sibling_path(std::string_view path) noexcept;

// "user:password" of a `Basic` Authorization value; false when absent or not
// valid base64.
[[nodiscard]] bool basic_credentials(std::string_view authorization, std::string& user,
                                     std::string& password);

class siblings {
  public:
    explicit siblings(const sibling_options& opts, std::string server_id);

    // Loads options::marketing_data_file when it exists.
    [[nodiscard]] boost::system::error_code load();
    // Writes the marketing data file (temp file + rename); no-op without one.
    [[nodiscard]] boost::system::error_code save() const;

    // Accepted and refused emails of one injection request (thread-safe).
    void record(const std::vector<recorded_email>& accepted,
                const std::vector<recorded_email>& refused);

    // The opens and clicks the event poster made for these accepted emails
    // (messagesOpenClick), thread-safe.
    void record_opens_clicks(const std::vector<recorded_email>& accepted,
                             const std::vector<post_batch::tracking>& opens_clicks);

    // Answers one request that no fault decided.
    [[nodiscard]] sibling_reply handle(std::string_view method, std::string_view target,
                                       std::string_view body, std::string_view authorization);

    // Contacts in all lists (for tests).
    [[nodiscard]] std::size_t contact_count() const;

    struct field {
        std::string name, value;
    };
    struct contact {
        std::uint64_t id = 0;
        std::string email, first_name, last_name;
        std::vector<field> fields;
    };
    struct contact_list {
        std::uint64_t id = 0;
        std::string name;
        std::vector<contact> contacts;                       // in insertion order
        std::unordered_map<std::string, std::size_t> index;  // lower-cased email → position
    };
    struct report_entry {
        std::string date;  // "yyyy-mm-dd hh:mm:ss" UTC, sorts as a string
        std::string to, from, mailing_id, message_id;
        int tracking_type = -1;  // messagesOpenClick: 0 click, 1 open
        std::string url;         // a click's
    };

  private:
    sibling_reply marketing(std::string_view method, std::string_view path, std::string_view query,
                            std::string_view body);
    sibling_reply reporting(std::string_view method, std::string_view name, std::string_view query);
    sibling_reply upsert(contact_list& list, std::string_view contact_id, std::string_view body);

    sibling_options opts_;
    std::string server_id_;
    mutable std::mutex mutex_;
    std::map<std::uint64_t, contact_list> lists_;
    std::vector<std::string> unsubscribed_;
    std::vector<std::string> custom_fields_;  // every name seen, in order
    std::uint64_t next_list_id_ = 1, next_contact_id_ = 1;
    std::size_t total_contacts_ = 0;

    std::vector<report_entry> processed_, failed_, opens_clicks_;
    std::uint64_t forgotten_ = 0;
    bool invented_ = false;
};

// Decodes standard base64 (padding optional); false on a bad character.
[[nodiscard]] bool base64_decode(std::string_view in, std::string& out);

}  // namespace salvo::emulator::detail
