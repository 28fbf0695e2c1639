#include "salvo/quota/redis_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <charconv>

namespace salvo::quota {

namespace {

bool parse_db(std::string_view text, unsigned& db) {
    if (text.empty()) return true;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, db);
    return ec == std::errc() && p == end && db < 1'000'000;
}

using parsed = boost::system::result<redis_endpoint, std::string>;

parsed refuse(std::string why) {
    return {boost::system::in_place_error, std::move(why)};
}

}  // namespace

boost::system::result<redis_endpoint, std::string> parse_redis_url(std::string_view url) {
    auto parsed = boost::urls::parse_uri(url);
    if (!parsed)
        return refuse(
            "is not a URL; write redis://HOST:PORT/DB or unix:///path/to/redis.sock?db=N");
    const boost::urls::url_view u = *parsed;
    const std::string scheme = u.scheme();
    if (scheme == "rediss")
        return refuse(
            "rediss:// (TLS) is not supported: Debian 12's hiredis 0.14 has no TLS. Reach "
            "Redis over a private network, a unix socket, or a TLS tunnel (stunnel, "
            "spiped) on localhost, and write redis://");
    if (scheme != "redis" && scheme != "unix")
        return refuse(
            "the scheme '" + scheme +
            "' is not supported; write redis://HOST:PORT/DB or unix:///path/to/redis.sock");
    if (u.has_userinfo())
        return refuse(
            "holds a user name or password: give the password with rate.shared.password_env "
            "or rate.shared.password_file instead, so that it is never printed with the URL");
    redis_endpoint e;
    if (scheme == "unix") {
        e.unix_socket = u.path();
        if (e.unix_socket.empty() || e.unix_socket.front() != '/')
            return refuse("names no socket path; write unix:///path/to/redis.sock");
        for (auto param : u.params()) {
            if (param.key != "db")
                return refuse("has an unknown parameter '" + std::string(param.key) +
                              "'; only db=N");
            if (!parse_db(param.value, e.db) || param.value.empty())
                return refuse("db= must be a whole number");
        }
        return e;
    }
    e.host = u.host();
    if (e.host.empty()) return refuse("names no host; write redis://HOST:PORT/DB");
    if (u.host_type() == boost::urls::host_type::ipv6) e.host = u.host_address();
    if (u.has_port()) {
        if (u.port_number() == 0) return refuse("has no valid port (1-65535)");
        e.port = u.port_number();
    }
    std::string_view path = u.encoded_path();
    if (!path.empty() && path.front() == '/') path.remove_prefix(1);
    if (!parse_db(path, e.db))
        return refuse("the path must be the database number, e.g. redis://HOST:6379/0");
    if (u.has_query()) return refuse("takes no query string");
    return e;
}

std::string describe(const redis_endpoint& e) {
    if (!e.unix_socket.empty()) return "unix:" + e.unix_socket + "?db=" + std::to_string(e.db);
    const bool v6 = e.host.find(':') != std::string::npos;
    return (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port) + "/" +
           std::to_string(e.db);
}

}  // namespace salvo::quota
