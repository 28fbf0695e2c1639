#pragma once
/// Small helpers for the sibling-API clients (marketing, reporting) that use
/// the client one request at a time, or many with a wait at the end.

#include "salvo/transport/client.hpp"

#include <string>
#include <string_view>

namespace salvo::transport {

/// Submits `req` and waits for its outcome. A submission refused because the
/// client is shutting down comes back as a `cancelled` outcome. Must not be
/// called on the client's network thread (from a completion).
[[nodiscard]] outcome call(client& c, request req);

/// The header line `Authorization: Basic <base64(user:password)>`. The line
/// holds a secret: it goes into a request's headers and nowhere else.
[[nodiscard]] std::string basic_authorization(std::string_view user, std::string_view password);

/// Standard base64 with padding.
[[nodiscard]] std::string base64_encode(std::string_view in);

}  // namespace salvo::transport
