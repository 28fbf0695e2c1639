#pragma once
/// SocketLabs Inbound API posts (INJECTION_API.md §8): the parsed message
/// as salvo reads it, the parser (JSON, and the form-encoded validation
/// handshake), and the classifier that tells a complaint, a bounce report,
/// an auto-reply, an unsubscribe request and a human reply apart.

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::platform {

struct inbound_header {
    std::string name, value;
};

struct inbound_address {
    std::string email, name;  ///< EmailAddress, FriendlyName
};

/// One entry of `Attachments` or `EmbeddedMedia`. The content itself is not
/// kept: it is decoded and handed to an attachment_sink while parsing.
struct inbound_attachment {
    std::string name, content_type, content_id;
    std::vector<inbound_header> headers;
    bool embedded = false;   ///< from EmbeddedMedia
    std::uint64_t size = 0;  ///< decoded bytes
    std::string sha256;      ///< hex, set by the sink that stored it
    /// Why the content could not be decoded (invalid base64 at byte N);
    /// empty when it was.
    std::string error;
    /// The decoded content of report parts (message/delivery-status,
    /// message/feedback-report, text/rfc822-headers, message/rfc822), at
    /// most 256 KiB, for the classifier; empty for other types.
    std::string text;
};

/// One parsed Inbound API post. Strings are owned copies. Field names were
/// matched ASCII case-insensitively; fields salvo does not know are kept in
/// `extra`.
struct inbound_message {
    bool validation = false;  ///< the `Type=Validation` handshake (form)
    std::string secret_key;   ///< never stored, never logged
    std::string mail_from, rcpt_to, ip_address, error_log, spam_details;
    std::string server_id, subaccount_id, ip_pool_id;
    std::optional<double> spam_score;
    std::string text_charset, html_charset, subject, text_body, html_body, mailing_id, message_id;
    std::vector<inbound_header> headers;  ///< CustomHeaders, in order
    std::vector<inbound_address> to, cc, bcc, reply_to;
    inbound_address from;
    std::vector<inbound_attachment> attachments;  ///< Attachments, then EmbeddedMedia
    /// Unknown fields as one JSON object of their JSON text: top-level ones
    /// by name, those of `Message` as "Message.Name".
    std::string extra = "{}";

    /// The first header named `name` (ASCII case-insensitive); empty when none.
    [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

/// Receives attachment contents while the parser decodes them. The parser
/// calls begin(), write() any number of times, then end() with the
/// attachment's size and error filled in; end() may set `sha256`.
class attachment_sink {
  public:
    virtual ~attachment_sink() = default;
    virtual void begin(inbound_attachment& a) = 0;
    virtual void write(const unsigned char* data, std::size_t size) = 0;
    virtual void end(inbound_attachment& a) = 0;
};

/// Reads Inbound API bodies. Keeps its simdjson parser between calls (reuse
/// one per thread); not thread-safe.
class inbound_parser {
  public:
    inbound_parser();
    ~inbound_parser();
    inbound_parser(inbound_parser&&) noexcept;
    inbound_parser& operator=(inbound_parser&&) noexcept;

    /// Parses a JSON post held in memory (copied into a padded buffer).
    /// Errors: bad_json (with `reason` naming the field), empty_body.
    [[nodiscard]] boost::system::error_code parse(std::string_view json, inbound_message& out,
                                                  attachment_sink* sink = nullptr,
                                                  std::string* reason = nullptr);
    /// Parses a JSON post from a file (the receiver's spooled body); memory
    /// is the file's size plus padding, attachments are streamed to `sink`.
    [[nodiscard]] boost::system::error_code parse_file(const std::filesystem::path& file,
                                                       inbound_message& out,
                                                       attachment_sink* sink = nullptr,
                                                       std::string* reason = nullptr);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Reads the form-encoded handshake `Type=Validation&SecretKey=…` (any
/// other form post sets only secret_key). Errors: bad_form,
/// bad_percent_encoding.
[[nodiscard]] boost::system::error_code parse_inbound_form(std::string_view body,
                                                           inbound_message& out);

/// Decodes base64 as it stands in a JSON string (the quotes excluded):
/// whitespace, `\r`, `\n` and `\/` escapes are allowed, padding optional
/// at the end. Calls `out` with decoded pieces of at most 48 KiB. Returns
/// the decoded size, or nullopt with `error` saying where it went wrong.
using base64_out = void (*)(void* ctx, const unsigned char* data, std::size_t size);
[[nodiscard]] std::optional<std::uint64_t> decode_base64_json(std::string_view in, base64_out out,
                                                              void* ctx, std::string& error);

/// What an inbound message is, first match wins (in this order).
enum class inbound_kind : std::uint8_t {
    complaint,        ///< an ARF feedback report
    hard_bounce,      ///< a DSN with a 5.x.x status
    soft_bounce,      ///< a DSN with a 4.x.x status
    delivery_report,  ///< a DSN without a failure salvo can read (2.x.x, no recipient)
    auto_reply,
    unsubscribe,  ///< an unsubscribe request by mail
    reply,        ///< a human reply
};
inline constexpr std::size_t inbound_kind_count = 7;

/// "complaint", "hard_bounce", …, "reply".
[[nodiscard]] std::string_view to_string(inbound_kind k) noexcept;

struct classify_options {
    /// The campaigns' `unsubscribe.mailto` addresses; mail to any of them
    /// (with or without a +tag) is an unsubscribe request.
    std::vector<std::string> unsubscribe_mailto;
};

struct classification {
    inbound_kind kind = inbound_kind::reply;
    /// Why this kind was chosen, e.g. "Content-Type is multipart/report;
    /// report-type=delivery-status".
    std::string reason;
    /// The address concerned: the complained-about or bounced recipient, the
    /// sender who asked to unsubscribe; empty when it could not be found.
    std::string address;
    std::string status;  ///< the DSN Status (5.1.1), empty otherwise
    /// MessageIds that may name the campaign row this message answers or
    /// reports on, best first: MessageId, X-xsMessageId of a reported
    /// message, In-Reply-To and References ids, the +tag of the recipient.
    std::vector<std::string> join_ids;
    std::string mailing_id;  ///< MailingId, or the reported message's X-xsMailingId
};

/// Classifies `m`. Pure; never fails (an unreadable report is a reply or a
/// delivery_report, with the reason saying what was missing).
[[nodiscard]] classification classify(const inbound_message& m, const classify_options& o);

/// The JSON stored for a message: every field but SecretKey, attachments
/// as their metadata (name, type, size, sha256, error) without contents.
[[nodiscard]] std::string stored_json(const inbound_message& m);

}  // namespace salvo::platform
