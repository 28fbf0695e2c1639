// --listen HOST:PORT for `salvo emulate` and `salvo listen`.
#include "commands.hpp"

#include <boost/url/parse.hpp>

#include <netdb.h>
#include <sys/socket.h>
#include <charconv>
#include <memory>

namespace salvo::cli {

bool split_host_port(const std::string& spec, std::string& host, std::uint16_t& port,
                     std::string& error) {
    // Boost.URL's authority grammar: `127.0.0.1:0`, `localhost:8465`,
    // `[::1]:0`; a bare IPv6 address needs its brackets.
    auto authority = boost::urls::parse_authority(spec);
    if (!authority || authority->has_userinfo()) {
        error = "expected HOST:PORT (an IPv6 address in brackets: [::1]:PORT)";
        return false;
    }
    const std::string_view port_text = authority->port();
    if (!authority->has_port() || port_text.empty()) {
        error = "no port: add :PORT (:0 lets the system pick a free one)";
        return false;
    }
    const auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (r.ec != std::errc{} || r.ptr != port_text.data() + port_text.size()) {
        error = "the port is not a number from 0 to 65535";
        return false;
    }
    switch (authority->host_type()) {
        case boost::urls::host_type::ipv4:
        case boost::urls::host_type::ipv6:
            host = authority->host_address();
            return true;
        case boost::urls::host_type::name:
            break;
        default:
            error = "expected HOST:PORT";
            return false;
    }
    // A name: its first address, IPv4 preferred (what `localhost` means to
    // the curl and the browsers that will connect to it).
    const std::string name = authority->host_address();
    if (name.empty()) return true;  // `:PORT`: the default address
    for (const int family : {AF_INET, AF_INET6}) {
        addrinfo hints{};
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (::getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0 || !found) continue;
        const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> hold(found, &::freeaddrinfo);
        char text[NI_MAXHOST];
        if (::getnameinfo(found->ai_addr, found->ai_addrlen, text, sizeof text, nullptr, 0,
                          NI_NUMERICHOST) == 0) {
            host = text;
            return true;
        }
    }
    error = "cannot resolve the host name '" + name + "'; use an address such as 127.0.0.1";
    return false;
}

}  // namespace salvo::cli
