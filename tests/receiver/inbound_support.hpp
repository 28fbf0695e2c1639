#pragma once
// Inbound API posts for the receiver tests, shaped as SocketLabs sends
// them, and a raw-socket helper for bodies too large to send whole.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace salvo::test {

inline std::string base64(std::string_view in) {
    static constexpr char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto b = [&](std::size_t k) {
        return static_cast<unsigned>(static_cast<unsigned char>(in[k]));
    };
    for (; i + 3 <= in.size(); i += 3) {
        const unsigned v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += a[(v >> 6) & 63];
        out += a[v & 63];
    }
    if (in.size() - i == 1) {
        const unsigned v = b(i) << 16;
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += "==";
    } else if (in.size() - i == 2) {
        const unsigned v = (b(i) << 16) | (b(i + 1) << 8);
        out += a[(v >> 18) & 63];
        out += a[(v >> 12) & 63];
        out += a[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

/// A parsed message post: `headers` is the CustomHeaders array's JSON
/// text, `attachments` the Attachments array's.
inline std::string inbound_json(std::string_view secret, std::string_view from,
                                std::string_view rcpt, std::string_view subject,
                                std::string_view text, std::string_view headers = "",
                                std::string_view attachments = "") {
    std::string j = "{\"SecretKey\":\"";
    j += secret;
    j += "\",\"InboundMailFrom\":\"";
    j += from;
    j += "\",\"InboundRcptTo\":\"";
    j += rcpt;
    j += "\",\"InboundIpAddress\":\"192.0.2.1\",\"ErrorLog\":null,\"SpamScore\":0.1,"
         "\"SpamDetails\":\"\",\"ServerId\":\"1234\",\"Message\":{\"TextCharSet\":\"utf-8\","
         "\"Subject\":\"";
    j += subject;
    j += "\",\"TextBody\":\"";
    j += text;
    j += "\",\"HtmlBody\":null,\"MailingId\":null,\"MessageId\":null,\"CustomHeaders\":[";
    j += headers;
    j += "],\"To\":[{\"EmailAddress\":\"";
    j += rcpt;
    j += "\",\"FriendlyName\":null}],\"CC\":[],\"From\":{\"EmailAddress\":\"";
    j += from;
    j += "\",\"FriendlyName\":\"\"},\"ReplyTo\":null,\"Attachments\":[";
    j += attachments;
    j += "],\"EmbeddedMedia\":[]}}";
    return j;
}

inline std::string header_json(std::string_view name, std::string_view value) {
    return "{\"Name\":\"" + std::string(name) + "\",\"Value\":\"" + std::string(value) + "\"}";
}

inline std::string attachment_json(std::string_view name, std::string_view type,
                                   std::string_view base64_content) {
    return "{\"Name\":\"" + std::string(name) + "\",\"ContentType\":\"" + std::string(type) +
           "\",\"Content\":\"" + std::string(base64_content) +
           "\",\"CustomHeaders\":[],\"ContentId\":null}";
}

/// Sends only the head of a POST announcing `length` bytes, then reads the
/// status line; 0 when none came.
inline int status_for_announced_body(std::uint16_t port, std::string_view target,
                                     std::uint64_t length) {
    namespace asio = boost::asio;
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return 0;
    const std::string head = "POST " + std::string(target) +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                             "Content-Length: " +
                             std::to_string(length) + "\r\n\r\n";
    asio::write(s, asio::buffer(head), ec);
    if (ec) return 0;
    std::string got(64, '\0');
    const auto n = s.read_some(asio::buffer(got), ec);
    got.resize(n);
    if (got.rfind("HTTP/1.1 ", 0) != 0 || got.size() < 12) return 0;
    return std::stoi(got.substr(9, 3));
}

}  // namespace salvo::test
