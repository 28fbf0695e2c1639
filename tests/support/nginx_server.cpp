#include "support/nginx_server.hpp"

#include "support/emulator_process.hpp"  // read_file

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace salvo::test {
namespace {

// injection::canonical_success_body (test_support does not link injection).
constexpr const char* success_body =
    R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})";

std::filesystem::path find_nginx() {
    for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx"}) {
        if (::access(p, X_OK) == 0) return p;
    }
    throw std::runtime_error(
        "nginx is not installed: this test needs Debian's nginx (HTTP/2 over TLS); "
        "run ./setup.sh deps");
}

// A listening socket on 127.0.0.1, port chosen by the kernel, that a child
// inherits (no FD_CLOEXEC).
struct listener {
    int fd = -1;
    std::uint16_t port = 0;
    listener() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        socklen_t len = sizeof a;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            const int e = errno;
            ::close(fd);
            throw std::runtime_error(std::string("listen on 127.0.0.1: ") + std::strerror(e));
        }
        port = ntohs(a.sin_port);
    }
    ~listener() {
        if (fd >= 0) ::close(fd);
    }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
};

std::string escape_nginx_string(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

nginx_server nginx_server::start(const std::filesystem::path& dir, const nginx_options& options,
                                 std::chrono::milliseconds startup) {
    const auto nginx = find_nginx();
    nginx_server s;
    s.dir_ = dir;
    s.ca_file_ = dir / "nginx-cert.pem";
    s.error_log_ = dir / "nginx-error.log";
    s.access_log_ = dir / "nginx-access.log";
    const auto key_file = dir / "nginx-key.pem";
    const tls_identity id = make_self_signed_identity();
    std::ofstream(s.ca_file_) << id.cert_pem;
    {
        std::ofstream k(key_file);
        k << id.key_pem;
    }
    ::chmod(key_file.c_str(), 0600);

    listener l;
    s.port_ = l.port;
    const std::string d = dir.string();
    std::ostringstream conf;
    // As root, nginx's workers would run as nobody, who cannot enter the
    // private temp dir (0700) that holds the answering server's socket.
    if (::geteuid() == 0) conf << "user root;\n";
    conf << "daemon off;\nmaster_process on;\nworker_processes " << options.workers << ";\n"
         << "pid " << d << "/nginx.pid;\n"
         << "error_log " << s.error_log_.string() << " notice;\n"
         << "events { worker_connections 1024; }\n"
         << "http {\n"
         << "  client_body_temp_path " << d << "/client_body;\n"
         << "  proxy_temp_path " << d << "/proxy;\n"
         << "  fastcgi_temp_path " << d << "/fastcgi;\n"
         << "  uwsgi_temp_path " << d << "/uwsgi;\n"
         << "  scgi_temp_path " << d << "/scgi;\n"
         << "  log_format t escape=json '$status $server_protocol $content_length $connection"
         << (options.log_bodies ? " $request_body" : "") << "';\n"
         << "  client_body_buffer_size " << (options.log_bodies ? "1m" : "16k") << ";\n"
         << "  access_log " << s.access_log_.string() << " t;\n"
         << "  keepalive_requests " << options.keepalive_requests << ";\n"
         << "  client_max_body_size 30m;\n"
         << "  upstream answer { server unix:" << d << "/answer.sock; keepalive 16; }\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << l.port << " ssl" << (options.http2 ? " http2" : "") << ";\n"
         << "    ssl_certificate " << s.ca_file_.string() << ";\n"
         << "    ssl_certificate_key " << key_file.string()
         << ";\n"
         // nginx's `return` answers before it reads the body; a real API reads
         // it first. Over HTTP/2 an early answer makes curl 7.88 fail now and
         // then with CURLE_HTTP2_STREAM after the 200 (it sends DATA on the
         // stream the answer closed), which is maybe-delivered by the rules.
         // So the front reads the whole body (proxy request buffering) and
         // only then asks the answering server behind it.
         << "    location / {\n"
         << "      proxy_pass http://answer;\n"
         << "      proxy_http_version 1.1;\n"
         << "      proxy_set_header Connection \"\";\n"
         << "    }\n  }\n"
         << "  server {\n"
         << "    listen unix:" << d << "/answer.sock;\n"
         << "    access_log off;\n"
         << "    location / {\n"
         << "      default_type application/json;\n"
         << "      return " << options.status << " '"
         << escape_nginx_string(options.body.empty() ? success_body : options.body) << "';\n"
         << "    }\n  }\n}\n";
    const auto conf_file = dir / "nginx.conf";
    std::ofstream(conf_file) << conf.str();

    spawn_options o;
    o.argv = {nginx.string(), "-p", d, "-c", conf_file.string(), "-e", s.error_log_.string()};
    // The binary-upgrade hand-over: nginx uses the inherited socket for the
    // `listen` whose address it is bound to.
    o.env = {"NGINX=" + std::to_string(l.fd) + ";"};
    o.stdout_file = dir / "nginx.out";
    o.stderr_file = dir / "nginx.err";
    s.child_ = child_process::spawn(o);
    // nginx holds its own copy; closing ours (listener's destructor) makes a
    // dead nginx refuse connections instead of leaving them queued.

    const auto deadline = std::chrono::steady_clock::now() + startup;
    for (;;) {
        if (read_file(s.error_log_).find("start worker process") != std::string::npos) break;
        if (auto st = s.child_.try_wait()) {
            throw std::runtime_error("nginx exited at start (" + describe(*st) +
                                     "): " + read_file(s.error_log_) + read_file(o.stderr_file));
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("nginx started no worker within " +
                                     std::to_string(startup.count()) +
                                     " ms: " + read_file(s.error_log_));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return s;
}

nginx_server::~nginx_server() {
    if (child_.running()) {
        child_.signal(SIGQUIT);
        if (!child_.wait_for(std::chrono::seconds(10))) (void)child_.kill_and_wait();
    }
}

std::string nginx_server::url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<nginx_request> nginx_server::requests() const {
    std::vector<nginx_request> out;
    std::istringstream in(read_file(access_log_));
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        nginx_request r;
        std::string length;
        f >> r.status >> r.protocol >> length >> r.connection;
        r.content_length = length.empty() || length == "-" ? 0 : std::stoull(length);
        std::getline(f >> std::ws, r.body);
        out.push_back(r);
    }
    return out;
}

std::vector<nginx_request> nginx_server::wait_for_requests(
    std::size_t n, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto seen = requests();
        if (seen.size() >= n || std::chrono::steady_clock::now() > deadline) return seen;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
}

std::string nginx_server::error_log() const {
    return read_file(error_log_);
}

void nginx_server::stop(std::chrono::milliseconds timeout) {
    if (!child_.running()) return;
    child_.signal(SIGQUIT);
    const auto st = child_.wait_for(timeout);
    if (!st) {
        (void)child_.kill_and_wait();
        throw std::runtime_error("nginx did not stop on SIGQUIT: " + read_file(error_log_));
    }
}

}  // namespace salvo::test
