#include "support/listen_process.hpp"

#include <signal.h>

#include <stdexcept>

namespace salvo::test {

listen_process listen_process::start(const std::filesystem::path& salvo,
                                     const std::filesystem::path& dir, const std::string& name,
                                     const std::filesystem::path& db,
                                     const std::vector<std::string>& args) {
    listen_process l;
    l.err_ = dir / (name + ".err");
    const auto out = dir / (name + ".out");
    spawn_options o;
    o.argv = {salvo.string(), "listen", "--listen", "127.0.0.1:0", "--db", db.string()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {std::string("SALVO_LISTEN_SECRET_KEY=") + secret,
             std::string("SALVO_LISTEN_VALIDATION_KEY=") + validation};
    o.stdout_file = out;
    o.stderr_file = l.err_;
    l.child_ = child_process::spawn(o);
    l.url_ = wait_for_first_line(l.child_, out, l.err_, "salvo listen", std::chrono::seconds(30));
    if (l.url_.rfind("http://127.0.0.1:", 0) != 0)
        throw std::runtime_error("salvo listen printed " + l.url_);
    return l;
}

std::uint16_t listen_process::port() const {
    return static_cast<std::uint16_t>(std::stoi(url_.substr(url_.rfind(':') + 1)));
}

listen_process::~listen_process() {
    if (child_.running()) {
        child_.signal(SIGINT);
        if (!child_.wait_for(std::chrono::seconds(10))) (void)child_.kill_and_wait();
    }
}

exit_status listen_process::stop(std::chrono::milliseconds timeout) {
    child_.signal(SIGINT);
    if (auto st = child_.wait_for(timeout)) return *st;
    return child_.kill_and_wait();
}

}  // namespace salvo::test
