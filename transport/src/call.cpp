#include "salvo/transport/call.hpp"

#include <future>

namespace salvo::transport {

outcome call(client& c, request req) {
    std::promise<outcome> done;
    auto result = done.get_future();
    if (const auto ec = c.submit(
            std::move(req), [&done](request&&, outcome&& o) { done.set_value(std::move(o)); })) {
        outcome o;
        o.result = disposition::cancelled;
        o.error = ec;
        o.message = "the client is shutting down";
        return o;
    }
    return result.get();
}

std::string base64_encode(std::string_view in) {
    static constexpr char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    const auto byte = [&](std::size_t k) {
        return static_cast<unsigned>(static_cast<unsigned char>(in[k]));
    };
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (i < in.size()) {
        unsigned v = byte(i) << 16;
        if (i + 1 < in.size()) v |= byte(i + 1) << 8;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += i + 1 < in.size() ? table[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
    std::string plain(user);
    plain += ':';
    plain += password;
    return "Authorization: Basic " + base64_encode(plain);
}

}  // namespace salvo::transport
