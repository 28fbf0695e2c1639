#include "support/emulator_process.hpp"

#include <algorithm>

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace salvo::test {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

emulator_process emulator_process::start(const std::filesystem::path& salvo,
                                         const std::filesystem::path& dir, const std::string& name,
                                         const std::vector<std::string>& args,
                                         const std::vector<std::string>& env,
                                         std::chrono::milliseconds startup) {
    emulator_process e;
    e.record_ = dir / (name + ".record.ndjson");
    e.err_ = dir / (name + ".err");
    const auto out = dir / (name + ".out");
    spawn_options o;
    // A `--listen` among `args` (a port chosen earlier) replaces 127.0.0.1:0.
    const bool listen_given = std::find(args.begin(), args.end(), "--listen") != args.end();
    o.argv = {salvo.string(), "emulate", "--record", e.record_.string()};
    if (!listen_given) o.argv.insert(o.argv.end(), {"--listen", "127.0.0.1:0"});
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = env;
    o.stdout_file = out;
    o.stderr_file = e.err_;
    e.child_ = child_process::spawn(o);
    e.url_ = wait_for_first_line(e.child_, out, e.err_, "salvo emulate", startup);
    if (e.url_.rfind("http://127.0.0.1:", 0) != 0)
        throw std::runtime_error("salvo emulate printed " + e.url_);
    return e;
}

emulator_process::~emulator_process() {
    if (child_.running()) {
        child_.signal(SIGINT);
        if (!child_.wait_for(std::chrono::seconds(10))) (void)child_.kill_and_wait();
    }
}

emulator_process::counts emulator_process::stop(std::chrono::milliseconds timeout) {
    if (stopped_) return counts_;
    child_.signal(SIGINT);
    const auto st = child_.wait_for(timeout);
    if (!st) {
        (void)child_.kill_and_wait();
        throw std::runtime_error("salvo emulate did not stop on SIGINT");
    }
    if (!st->exited_with(0))
        throw std::runtime_error("salvo emulate: " + describe(*st) + ": " + read_file(err_));
    // Last line: "salvo emulate: SIGINT (stopped): N requests, M emails recorded"
    const std::string text = read_file(err_);
    const auto at = text.rfind("(stopped): ");
    unsigned long long requests = 0;
    unsigned long long emails = 0;
    if (at == std::string::npos ||
        std::sscanf(text.c_str() + at, "(stopped): %llu requests, %llu emails", &requests,
                    &emails) != 2)
        throw std::runtime_error("salvo emulate: no counts in its stderr: " + text);
    counts_ = {requests, emails};
    stopped_ = true;
    return counts_;
}

}  // namespace salvo::test
