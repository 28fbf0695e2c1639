#pragma once
/// What the emulator records: one entry per accepted email, after merging.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace salvo::emulator {

struct recorded_header {
    std::string name;
    std::string value;
    friend bool operator==(const recorded_header&, const recorded_header&) = default;
};

/// An attachment, summarised: the content itself is not kept.
struct recorded_attachment {
    std::string name;
    std::string content_type;
    std::string content_id;
    std::size_t bytes = 0;  ///< decoded size
    friend bool operator==(const recorded_attachment&, const recorded_attachment&) = default;
};

/// One delivered email: one envelope recipient of an accepted message (a
/// To/Cc/Bcc address of a plain message, or a PerMessage row of a merge
/// message), with every field as the server would send it (placeholders
/// rendered). A stored template's content (`ApiTemplate`) is rendered too.
struct recorded_email {
    std::uint64_t request = 0;  ///< the request's number (1-based, arrival order)
    std::size_t index = 0;      ///< the message's position in `Messages`
    std::string to, to_name;    ///< envelope recipient and its display name
    std::string from, from_name;
    std::string reply_to, reply_to_name;
    std::string subject, text, html, amp;
    std::vector<recorded_header> headers;  ///< CustomHeaders, in order
    std::string mailing_id, message_id, charset, api_template;
    std::vector<recorded_attachment> attachments;
    std::vector<recorded_header> metadata;  ///< Key/Value pairs
    std::vector<std::string> tags;
    /// With options::inbound: the kind of inbound message the emulator posts
    /// for this email (inbound_kind's name: "reply", "dsn", …), or "" for none.
    std::string inbound;

    friend bool operator==(const recorded_email&, const recorded_email&) = default;
};

/// The NDJSON line of `e` (no trailing newline). Keys, in this order:
/// request, index, to, to_name, from, from_name, reply_to, reply_to_name,
/// subject, text, html, amp, headers ([{"name","value"}]), mailing_id,
/// message_id, charset, api_template, attachments ([{"name",
/// "content_type","content_id","bytes"}]), metadata ([{"key","value"}]),
/// tags. Every key is always present; absent strings are "". With
/// options::inbound, a last key `inbound` names the inbound message posted
/// for the email (absent when none is).
[[nodiscard]] std::string to_ndjson(const recorded_email& e);

}  // namespace salvo::emulator
