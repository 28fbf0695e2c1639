// Throughput of salvo::transport against an in-process discard HTTP server on
// loopback: 47 KB bodies (about ten rendered emails) over keep-alive
// connections. The server reads each request, drops the body and answers a
// fixed Injection-API success, so the figure is the client's (plus loopback).

#include "salvo/transport/client.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <sys/resource.h>

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// CPU time of the whole process (client, in-process server, kernel work
// charged to both): an efficiency figure that a busy machine does not skew.
double process_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    const auto sec = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    };
    return sec(u.ru_utime) + sec(u.ru_stime);
}

constexpr std::string_view answer_body =
    R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})";

const std::string& answer() {
    static const std::string text =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
        std::to_string(answer_body.size()) + "\r\n\r\n" + std::string(answer_body);
    return text;
}

// One connection: read headers, skip Content-Length bytes, answer, repeat.
class discard_session : public std::enable_shared_from_this<discard_session> {
  public:
    explicit discard_session(tcp::socket s) : socket_(std::move(s)) {}
    void start() { read(); }

  private:
    void read() {
        socket_.async_read_some(
            asio::buffer(buffer_.data() + used_, buffer_.size() - used_),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                if (ec) return;
                self->used_ += n;
                self->consume();
            });
    }

    void consume() {
        std::size_t replies = 0;
        std::size_t pos = 0;  // consumed bytes of buffer_; compacted once at the end
        for (;;) {
            if (body_left_ > 0) {
                const std::size_t take = std::min(body_left_, used_ - pos);
                body_left_ -= take;
                pos += take;
                if (body_left_ > 0) break;
                ++replies;
                continue;
            }
            const std::string_view data(buffer_.data() + pos, used_ - pos);
            const auto end = data.find("\r\n\r\n");
            if (end == std::string_view::npos) break;
            body_left_ = content_length(data.substr(0, end));
            pos += end + 4;
            if (body_left_ == 0) ++replies;
        }
        std::memmove(buffer_.data(), buffer_.data() + pos, used_ - pos);
        used_ -= pos;
        if (replies == 0) {
            read();
            return;
        }
        out_.clear();
        for (std::size_t i = 0; i < replies; ++i) out_.append(answer());
        asio::async_write(socket_, asio::buffer(out_),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (!ec) self->read();
                          });
    }

    static std::size_t content_length(std::string_view head) {
        constexpr std::string_view name = "content-length:";
        for (std::size_t i = 0; i + name.size() <= head.size(); ++i) {
            bool match = true;
            for (std::size_t j = 0; j < name.size() && match; ++j)
                match = std::tolower(static_cast<unsigned char>(head[i + j])) == name[j];
            if (!match) continue;
            std::size_t k = i + name.size();
            while (k < head.size() && head[k] == ' ') ++k;
            std::size_t v = 0;
            while (k < head.size() && head[k] >= '0' && head[k] <= '9')
                v = v * 10 + static_cast<std::size_t>(head[k++] - '0');
            return v;
        }
        return 0;
    }

    tcp::socket socket_;
    std::array<char, 64 * 1024> buffer_{};
    std::size_t used_ = 0;
    std::size_t body_left_ = 0;
    std::string out_;
};

class discard_server {
  public:
    discard_server() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        accept();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~discard_server() {
        io_.stop();
        thread_.join();
    }
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
               "/api/v1/email";
    }

  private:
    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
            if (ec) return;
            std::make_shared<discard_session>(std::move(s))->start();
            accept();
        });
    }
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

discard_server& server() {
    static discard_server instance;
    return instance;
}

// Sends batches of requests through a client with the given window and
// connection cap; each iteration is one batch, waited for in full.
void BM_Client_KeepAlive47KB(benchmark::State& state) {
    const auto window = static_cast<std::size_t>(state.range(0));
    const auto connections = state.range(1);
    salvo::transport::client_options o;
    o.version = "bench";
    o.max_in_flight = window;
    o.max_host_connections = connections;
    o.http2 = false;
    salvo::transport::client c(o);
    const std::string body(47 * 1024, 'm');
    const std::string url = server().url();
    const std::size_t batch = window * 4;

    std::mutex mutex;
    std::condition_variable all_done;
    std::size_t done = 0;
    std::atomic<std::size_t> failures{0};
    const auto on_done = [&](salvo::transport::request&&, salvo::transport::outcome&& out) {
        if (out.result != salvo::transport::disposition::success) ++failures;
        std::lock_guard lock(mutex);
        ++done;
        all_done.notify_one();
    };

    // Steady state: submit() blocks while the window is full, so the client
    // always has `window` requests in flight; only the last drain is extra.
    std::size_t submitted = 0;
    const double cpu_start = process_cpu_seconds();
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch; ++i) {
            salvo::transport::request r;
            r.url = url;
            r.headers = {"Content-Type: application/json; charset=utf-8"};
            r.body = body;
            if (c.submit(std::move(r), on_done)) state.SkipWithError("submit refused");
            ++submitted;
        }
    }
    {
        std::unique_lock lock(mutex);
        all_done.wait(lock, [&] { return done == submitted; });
    }
    const double cpu_used = process_cpu_seconds() - cpu_start;
    if (failures.load() != 0) state.SkipWithError("some requests failed");
    const auto requests =
        static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(batch);
    state.SetItemsProcessed(requests);
    state.SetBytesProcessed(requests * static_cast<std::int64_t>(body.size()));
    const auto stats = c.stats();
    state.counters["cpu_us_per_req"] =
        requests > 0 ? cpu_used * 1e6 / static_cast<double>(requests) : 0.0;
    state.counters["connections"] = static_cast<double>(stats.connections_opened);
    state.counters["p50_us"] = static_cast<double>(stats.latency_p50.count());
    state.counters["p99_us"] = static_cast<double>(stats.latency_p99.count());
}
BENCHMARK(BM_Client_KeepAlive47KB)
    ->Args({16, 4})
    ->Args({64, 8})
    ->Args({64, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
