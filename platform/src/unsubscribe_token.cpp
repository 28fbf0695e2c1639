// One-click unsubscribe tokens: base64url of a small payload and a
// truncated HMAC-SHA-256 (OpenSSL).
#include <salvo/platform/unsubscribe_token.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <chrono>

namespace salvo::platform {
namespace {

constexpr unsigned char version = 1;
constexpr std::size_t mac_bytes = 16;
constexpr std::size_t header_bytes = 1 + 4 + 1;

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view in) {
    std::string out;
    out.reserve((in.size() * 4 + 2) / 3);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(in[k]));
    };
    for (; i + 3 <= in.size(); i += 3) {
        const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (in.size() - i == 1) {
        const std::uint32_t v = byte(i) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (in.size() - i == 2) {
        const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

std::optional<std::string> unbase64url(std::string_view in) {
    if (in.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(in.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : in) {
        const auto pos = alphabet.find(c);
        if (pos == std::string_view::npos) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(pos);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    // Non-canonical trailing bits would let two spellings name one token.
    if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::array<unsigned char, 32> hmac(std::string_view secret, std::string_view data) {
    std::array<unsigned char, 32> mac{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &len);
    return mac;
}

}  // namespace

std::string make_unsubscribe_token(std::string_view secret, std::string_view mailing_id,
                                   std::string_view address, std::uint32_t expiry_day) {
    if (secret.empty() || mailing_id.size() > 255 || address.empty()) return {};
    std::string payload;
    payload.reserve(header_bytes + mailing_id.size() + address.size() + mac_bytes);
    payload += static_cast<char>(version);
    for (int shift = 24; shift >= 0; shift -= 8)
        payload += static_cast<char>((expiry_day >> shift) & 0xff);
    payload += static_cast<char>(mailing_id.size());
    payload += mailing_id;
    payload += address;
    const auto mac = hmac(secret, payload);
    payload.append(reinterpret_cast<const char*>(mac.data()), mac_bytes);
    return base64url(payload);
}

boost::system::result<unsubscribe_claims, token_error> read_unsubscribe_token(
    std::string_view secret, std::string_view token, std::uint32_t today) {
    if (token.size() > 2048) return token_error::malformed;
    const auto raw = unbase64url(token);
    if (!raw || raw->size() < header_bytes + mac_bytes + 1 ||
        static_cast<unsigned char>((*raw)[0]) != version)
        return token_error::malformed;
    const std::string_view bytes(*raw);
    const std::size_t mlen = static_cast<unsigned char>(bytes[5]);
    if (header_bytes + mlen + mac_bytes >= bytes.size()) return token_error::malformed;
    const auto signed_part = bytes.substr(0, bytes.size() - mac_bytes);
    const auto mac = hmac(secret, signed_part);
    if (secret.empty() ||
        CRYPTO_memcmp(mac.data(), bytes.data() + signed_part.size(), mac_bytes) != 0)
        return token_error::forged;
    unsubscribe_claims c;
    for (std::size_t i = 1; i < 5; ++i)
        c.expiry_day = (c.expiry_day << 8) | static_cast<unsigned char>(bytes[i]);
    if (c.expiry_day != 0 && today > c.expiry_day) return token_error::expired;
    c.mailing_id = std::string(bytes.substr(header_bytes, mlen));
    c.address = std::string(signed_part.substr(header_bytes + mlen));
    return c;
}

std::uint32_t days_since_epoch_now() noexcept {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::hours>(now).count() /
                                      24);
}

std::string_view to_string(token_error e) noexcept {
    switch (e) {
        case token_error::malformed:
            return "the unsubscribe token is malformed";
        case token_error::forged:
            return "the unsubscribe token is not one this sender made (altered, or another secret)";
        case token_error::expired:
            return "the unsubscribe link has expired";
    }
    return "the unsubscribe token is not valid";
}

}  // namespace salvo::platform
