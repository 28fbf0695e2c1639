#pragma once
// A small synchronous HTTP/1.1 client for the server tests (emulator, receiver) (Beast over a
// real loopback socket), plus a temp directory. Test-only.

#include "support/temp_dir.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace salvo::test {

struct http_reply {
    int status = 0;
    std::string body;
    std::string retry_after;
    std::string connection;
    boost::system::error_code error;  // set when no complete response came
};

// One keep-alive connection to 127.0.0.1:port.
class http_client {
  public:
    explicit http_client(std::uint16_t port) : stream_(ioc_) {
        stream_.expires_after(std::chrono::seconds(10));
        stream_.connect(
            boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    }

    http_reply request(boost::beast::http::verb verb, std::string target, std::string body,
                       std::vector<std::pair<std::string, std::string>> headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        namespace http = boost::beast::http;
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, "127.0.0.1");
        req.set(http::field::user_agent, "salvo-test/1");
        if (verb == http::verb::post)
            req.set(http::field::content_type, "application/json; charset=utf-8");
        for (auto& [k, v] : headers) req.set(k, v);
        req.body() = std::move(body);
        req.prepare_payload();
        http_reply r;
        stream_.expires_after(timeout);
        http::async_write(stream_, req,
                          [&](boost::system::error_code ec, std::size_t) { r.error = ec; });
        run();
        if (r.error) return r;
        return read(timeout);
    }

    http_reply post(std::string body, std::vector<std::pair<std::string, std::string>> headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return request(boost::beast::http::verb::post, "/api/v1/email", std::move(body),
                       std::move(headers), timeout);
    }

    http_reply get(std::string target) {
        return request(boost::beast::http::verb::get, std::move(target), {});
    }

    http_reply read(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        namespace http = boost::beast::http;
        http_reply r;
        http::response<http::string_body> res;
        stream_.expires_after(timeout);
        http::async_read(stream_, buffer_, res,
                         [&](boost::system::error_code ec, std::size_t) { r.error = ec; });
        run();
        if (r.error) return r;
        r.status = static_cast<int>(res.result_int());
        r.body = res.body();
        r.retry_after = std::string(res[http::field::retry_after]);
        r.connection = std::string(res[http::field::connection]);
        return r;
    }

    boost::beast::tcp_stream& stream() { return stream_; }
    boost::beast::flat_buffer& buffer() { return buffer_; }

    // Runs the pending asynchronous operation to completion: Beast's
    // timeouts apply to asynchronous operations only.
    void run() {
        ioc_.restart();
        ioc_.run();
    }

  private:
    boost::asio::io_context ioc_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
};

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline std::filesystem::path data_dir() {
    return std::filesystem::path(__FILE__).parent_path().parent_path() / "data";
}

}  // namespace salvo::test
