#pragma once
/// What a campaign sends: the message fields as compiled merge templates,
/// the account's credentials, and one recipient as the writer sees it.

#include <salvo/injection/codes.hpp>
#include <salvo/injection/error.hpp>
#include <salvo/merge/template.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::injection {

/// An address whose parts are templates (context::header). `name` is
/// optional: without it no FriendlyName is written.
struct address_template {
    merge::compiled_template email;
    std::optional<merge::compiled_template> name;
};

/// A custom header: a fixed name and a value template (context::header).
struct custom_header {
    std::string name;
    merge::compiled_template value;
};

/// An attachment, the same for every recipient. `content_base64` is already
/// base64; a non-empty `content_id` makes it an inline part.
struct attachment_spec {
    std::string name;
    std::string content_base64;
    std::string content_type;
    std::string content_id;
};

struct metadata_entry {
    std::string key;
    std::string value;
};

/// The campaign's message: every field of INJECTION_API.md §2 that salvo
/// sends. Templates must be compiled for the context their field needs
/// (subject, names, addresses, ids and header values: header; text body:
/// text; HTML and AMP bodies: html) against `fields`, which also carries the
/// job's Global values. Plain value: build it once per job, then share it
/// read-only between threads.
struct message_spec {
    merge::field_set fields;
    /// The column each recipient's address comes from, when there is one:
    /// server mode writes a plain `%%<that column>%%` as `%%DeliveryAddress%%`
    /// (the same text, already in every row) instead of a second field.
    std::optional<std::size_t> address_column;
    address_template from;
    std::optional<address_template> reply_to;
    merge::compiled_template subject;
    std::optional<merge::compiled_template> text_body;
    std::optional<merge::compiled_template> html_body;
    std::optional<merge::compiled_template> amp_body;
    std::optional<merge::compiled_template> mailing_id;
    std::optional<merge::compiled_template> message_id;
    std::string charset;  ///< empty: not sent (the API's default is UTF-8)
    std::vector<custom_header> custom_headers;
    std::vector<attachment_spec> attachments;
    std::vector<metadata_entry> metadata;
    std::vector<std::string> tags;
};

/// How the API key travels (INJECTION_API.md §1).
enum class auth_form : std::uint8_t {
    body_api_key,  ///< legacy: "ApiKey" in the body
    bearer,        ///< a 61-character `<20>.<40>` key: `Authorization: Bearer`
};

/// The account's credentials. Never printed: no message of this module
/// quotes the key.
struct credentials {
    std::uint64_t server_id = 0;
    std::string api_key;

    /// The form the key's shape calls for.
    [[nodiscard]] auth_form form() const noexcept;
    /// The `Authorization` header value ("Bearer <key>") for auth_form::bearer,
    /// empty for the legacy form.
    [[nodiscard]] std::string authorization() const;
};

/// True for a key shaped `<20 chars>.<40 chars>` (61 in all).
[[nodiscard]] bool is_bearer_key(std::string_view key) noexcept;

/// Checks a non-zero ServerId and a non-empty key of printable ASCII
/// (anything else could break the Authorization header). The error message
/// describes the problem without quoting the key.
[[nodiscard]] boost::system::result<void, error_info> validate(const credentials& c);

/// Checks the spec against the contract (INJECTION_API.md §2, §4): From and
/// Subject present, a Text or Html body (Amp alone is not enough), each
/// template compiled for its field's context, header names non-empty and
/// without `:`, CR or LF, attachments named, Metadata and Tags within
/// `max_metadata`, `max_tags` and `max_metadata_and_tags_bytes`.
[[nodiscard]] boost::system::result<void, error_info> validate(const message_spec& spec,
                                                               const limits& lim);

/// One recipient as the writer takes it. Views, owned by the caller for the
/// duration of the call that takes them; the writer copies what it keeps.
struct recipient {
    std::string_view address;  ///< the delivery address
    std::string_view name;     ///< empty: no FriendlyName / RecipientName
    merge::row_view row;       ///< one value per column of message_spec::fields
    std::uint64_t id = 0;      ///< the caller's id (a row number), echoed in results
};

}  // namespace salvo::injection
