#pragma once
/// One-click unsubscribe tokens (RFC 8058): a compact, URL-safe token
/// (base64url, no padding) naming a campaign (its MailingId) and an
/// address, authenticated with HMAC-SHA-256 under a secret shared by
/// `salvo send` (which puts it in `%%salvo_unsubscribe_token%%`) and
/// `salvo listen` (which verifies it on `POST /unsubscribe?t=…`).
///
/// Layout before encoding: version (1 byte, 1), expiry day (4 bytes, big
/// endian, days since 1970-01-01 UTC; 0 = never), MailingId length (1
/// byte), MailingId, address, then the first 16 bytes of
/// HMAC-SHA-256(secret, everything before it).

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace salvo::platform {

/// What a valid token names.
struct unsubscribe_claims {
    std::string mailing_id;
    std::string address;
    std::uint32_t expiry_day = 0;  ///< 0: never expires
};

/// Why a token was refused. All are permanent (400).
enum class token_error {
    malformed = 1,  ///< not base64url, too short, wrong version or lengths
    forged,         ///< the MAC does not match (altered or another secret)
    expired,
};

/// Makes a token. `expiry_day` 0 never expires. Pure; thread-safe. An
/// empty secret or address, or a MailingId over 255 bytes, gives an empty
/// string.
[[nodiscard]] std::string make_unsubscribe_token(std::string_view secret,
                                                 std::string_view mailing_id,
                                                 std::string_view address,
                                                 std::uint32_t expiry_day = 0);

/// Reads and verifies a token against `secret` at `today` (days since the
/// epoch, UTC). The MAC is compared in constant time. Thread-safe.
[[nodiscard]] boost::system::result<unsubscribe_claims, token_error> read_unsubscribe_token(
    std::string_view secret, std::string_view token, std::uint32_t today);

/// Days since 1970-01-01 UTC, now.
[[nodiscard]] std::uint32_t days_since_epoch_now() noexcept;

/// "the token is malformed", … for answers and logs.
[[nodiscard]] std::string_view to_string(token_error e) noexcept;

}  // namespace salvo::platform
