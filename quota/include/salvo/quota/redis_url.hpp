#pragma once
/// Where the shared quota's Redis is: `redis://HOST[:PORT][/DB]` or
/// `unix:///path/to/redis.sock[?db=N]`, read with Boost.URL.

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace salvo::quota {

/// A Redis server to connect to: a TCP host and port, or a unix socket.
struct redis_endpoint {
    std::string host;  ///< empty for a unix socket
    std::uint16_t port = 6379;
    std::string unix_socket;  ///< the socket's path; empty for TCP
    unsigned db = 0;          ///< SELECTed after connecting when not 0
};

/// Parses a Redis URL. Refused, with a sentence saying what to do instead:
/// `rediss://` (Debian 12's hiredis 0.14 has no TLS), a user name or a
/// password in the URL (the password comes from `password_env` or
/// `password_file`, so that it is never printed with the URL), any other
/// scheme, a database that is not a whole number. The message never repeats
/// the URL's userinfo.
[[nodiscard]] boost::system::result<redis_endpoint, std::string> parse_redis_url(
    std::string_view url);

/// `host:port/db` or `unix:path?db=N`, for messages (holds no secret).
[[nodiscard]] std::string describe(const redis_endpoint& e);

}  // namespace salvo::quota
