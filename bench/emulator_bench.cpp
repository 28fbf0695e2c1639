// Benchmarks of the Injection API emulator, in process over loopback, and
// a `--serve` mode that runs the emulator alone for an external load
// generator (bench/wrk/post.lua):
//   salvo_emulator_bench --serve PORT [--discard] [--threads N]
// serves 127.0.0.1:PORT until SIGINT or SIGTERM.

#include <salvo/emulator/server.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// The same ~47 KB request as bench/wrk/post.lua: 10 messages of ~4.7 KB.
std::string request_body() {
    std::string html;
    for (int i = 0; i < 85; ++i) html += "<p>Hello from salvo, this is a benchmark paragraph.</p>";
    std::string body = R"({"ServerId":12345,"ApiKey":"bench-key","Messages":[)";
    for (int i = 1; i <= 10; ++i) {
        const auto n = std::to_string(i);
        if (i > 1) body += ',';
        body +=
            R"({"To":[{"EmailAddress":"user)" + n + R"(@example.com","FriendlyName":"User )" + n +
            R"("}],"From":{"EmailAddress":"news@example.com","FriendlyName":"News"},"Subject":"Benchmark )" +
            n + R"(","HtmlBody":")" + html + "\"}";
    }
    return body + "]}";
}

void post_loop(benchmark::State& state, bool discard) {
    salvo::emulator::options o;
    o.discard = discard;
    o.threads = 1;
    auto server = salvo::emulator::server::start(o);
    if (!server) {
        state.SkipWithError("emulator did not start");
        return;
    }
    boost::asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  (*server)->port()));
    stream.socket().set_option(boost::asio::ip::tcp::no_delay(true));
    http::request<http::string_body> req{http::verb::post, "/api/v1/email", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::content_type, "application/json; charset=utf-8");
    req.body() = request_body();
    req.prepare_payload();
    beast::flat_buffer buffer;
    for (auto _ : state) {
        http::write(stream, req);
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        if (res.result_int() != 200) state.SkipWithError("unexpected status");
        benchmark::DoNotOptimize(res.body().data());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * req.body().size()));
    state.counters["emails_per_s"] = benchmark::Counter(
        static_cast<double>(state.iterations() * 10), benchmark::Counter::kIsRate);
}

void BM_Emulator_DiscardPost(benchmark::State& state) {
    post_loop(state, true);
}
void BM_Emulator_ValidateAndRecordPost(benchmark::State& state) {
    post_loop(state, false);
}
BENCHMARK(BM_Emulator_DiscardPost)->UseRealTime();
BENCHMARK(BM_Emulator_ValidateAndRecordPost)->UseRealTime();

int serve(int argc, char** argv) {
    salvo::emulator::options o;
    o.port = salvo::emulator::default_port;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--serve") == 0 && i + 1 < argc)
            o.port = static_cast<std::uint16_t>(std::stoi(argv[++i]));
        else if (std::strcmp(argv[i], "--discard") == 0)
            o.discard = true;
        else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            o.threads = std::stoul(argv[++i]);
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before the I/O threads start
    auto server = salvo::emulator::server::start(o);
    if (!server) {
        std::fprintf(stderr, "emulator: %s\n", server.error().message().c_str());
        return 1;
    }
    std::printf("emulator listening on %s (%s, %zu threads)\n", (*server)->url().c_str(),
                o.discard ? "discard" : "validate", o.threads);
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    (*server)->stop();
    const auto st = (*server)->counters();
    std::printf("requests %llu\n", static_cast<unsigned long long>(st.requests));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--serve") == 0) return serve(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
