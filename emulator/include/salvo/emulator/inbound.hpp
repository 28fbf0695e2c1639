#pragma once
/// The inbound mail the emulator posts back for accepted emails
/// (options::inbound): which email gets which message, and the message as
/// the Inbound API posts it.

#include <salvo/emulator/options.hpp>
#include <salvo/emulator/record.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace salvo::emulator {

enum class inbound_kind : std::uint8_t {
    none,
    reply,              ///< a person's answer, In-Reply-To naming the email
    auto_reply,         ///< an Outlook-shaped out-of-office
    dsn,                ///< a Postfix-shaped hard bounce (5.1.1) for the address
    arf,                ///< an ARF complaint about the email (Original-Rcpt-To)
    unsubscribe_reply,  ///< "unsubscribe" mailed to the List-Unsubscribe mailto
};

/// "none", "reply", "auto_reply", "dsn", "arf", "unsubscribe_reply".
[[nodiscard]] const char* to_string(inbound_kind k) noexcept;

/// The message `to` gets: one seeded draw by (o.seed, to) against the
/// rates in the order of inbound_kind. unsubscribe_reply is drawn whatever
/// the email's headers; inbound_post() of an email without a mailto
/// List-Unsubscribe then returns "".
[[nodiscard]] inbound_kind inbound_fate(const inbound_options& o, std::string_view to);

/// The `mailto:` address of the email's List-Unsubscribe header (without
/// `?subject=…`), or "".
[[nodiscard]] std::string unsubscribe_mailto(const recorded_email& e);

/// The Inbound API JSON post of message `k` about email `e` (SecretKey
/// from `o`); "" for inbound_kind::none or when the message cannot be made.
[[nodiscard]] std::string inbound_post(const inbound_options& o, const recorded_email& e,
                                       inbound_kind k);

}  // namespace salvo::emulator
