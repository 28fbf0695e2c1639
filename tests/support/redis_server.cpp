#include "support/redis_server.hpp"

#include <hiredis/hiredis.h>

#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace salvo::test {

namespace {

constexpr const char* redis_binary = "/usr/bin/redis-server";

std::string reply_text(const redisReply* r) {
    if (r == nullptr) return "(null)";
    switch (r->type) {
        case REDIS_REPLY_INTEGER:
            return std::to_string(r->integer);
        case REDIS_REPLY_NIL:
            return "(nil)";
        case REDIS_REPLY_ARRAY: {
            std::string s = "[";
            for (std::size_t i = 0; i < r->elements; ++i) {
                if (i > 0) s += ", ";
                s += reply_text(r->element[i]);
            }
            return s + "]";
        }
        default:
            return std::string(r->str, r->len);
    }
}

}  // namespace

redis_server redis_server::start(const std::filesystem::path& dir, std::string password) {
    if (::access(redis_binary, X_OK) != 0)
        throw std::runtime_error(
            std::string(redis_binary) +
            " is not installed: the shared-quota tests need a real Redis. Run ./setup.sh deps "
            "(it installs the redis-server package)");
    redis_server s;
    s.dir_ = dir;
    s.socket_ = dir / "redis.sock";
    s.password_ = std::move(password);
    s.launch();
    return s;
}

void redis_server::launch() {
    ++generation_;
    const std::string tag = "redis-" + std::to_string(generation_);
    spawn_options o;
    o.argv = {redis_binary,
              "--port",
              "0",
              "--unixsocket",
              socket_.string(),
              "--unixsocketperm",
              "700",
              "--save",
              "",
              "--appendonly",
              "no",
              "--dir",
              dir_.string(),
              "--daemonize",
              "no",
              "--logfile",
              (dir_ / (tag + ".log")).string()};
    if (!password_.empty()) {
        o.argv.push_back("--requirepass");
        o.argv.push_back(password_);
    }
    o.stdout_file = dir_ / (tag + ".out");
    o.stderr_file = dir_ / (tag + ".err");
    child_ = child_process::spawn(o);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string last = "no socket yet";
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto st = child_.try_wait())
            throw std::runtime_error("redis-server exited (" + describe(*st) + "); see " +
                                     (dir_ / (tag + ".log")).string());
        if (std::filesystem::exists(socket_)) {
            try {
                redis_client c(socket_, password_);
                if (c.text({"PING"}) == "PONG") return;
            } catch (const std::exception& e) {
                last = e.what();
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    child_.kill_and_wait();
    throw std::runtime_error("redis-server did not answer PING within 10 s: " + last);
}

void redis_server::stop() {
    if (!child_.running()) return;
    child_.signal(SIGTERM);
    if (!child_.wait_for(std::chrono::seconds(5))) child_.kill_and_wait();
    std::error_code ec;
    std::filesystem::remove(socket_, ec);
}

void redis_server::start_again() {
    stop();
    launch();
}

redis_server::~redis_server() {
    if (child_.running()) stop();
}

void redis_client::reply_free::operator()(redisReply* r) const noexcept {
    freeReplyObject(r);
}

redis_client::redis_client(const std::filesystem::path& socket, const std::string& password) {
    const timeval timeout{2, 0};
    c_ = redisConnectUnixWithTimeout(socket.c_str(), timeout);
    if (c_ == nullptr || c_->err != 0) {
        const std::string why = c_ != nullptr ? c_->errstr : "out of memory";
        if (c_ != nullptr) redisFree(c_);
        c_ = nullptr;
        throw std::runtime_error("cannot connect to redis at " + socket.string() + ": " + why);
    }
    redisSetTimeout(c_, timeout);
    if (!password.empty()) {
        const std::string r = text({"AUTH", password});
        if (r != "OK") throw std::runtime_error("AUTH failed: " + r);
    }
}

redis_client::~redis_client() {
    if (c_ != nullptr) redisFree(c_);
}

redis_client::reply_ptr redis_client::run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    void* r = redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data());
    if (r == nullptr)
        throw std::runtime_error(std::string("redis command failed: ") +
                                 (c_->err != 0 ? c_->errstr : "no reply"));
    return reply_ptr(static_cast<redisReply*>(r));
}

std::string redis_client::text(const std::vector<std::string>& args) {
    return reply_text(run(args).get());
}

}  // namespace salvo::test
