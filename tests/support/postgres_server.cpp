#include "support/postgres_server.hpp"

#include <libpq-fe.h>

#include <pwd.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace salvo::test {
namespace {

const std::filesystem::path bin_dir = "/usr/lib/postgresql/15/bin";

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs a shell command; its exit code (-1 when it did not exit).
int shell(const std::string& command) {
    const int rc = std::system(command.c_str());
    return rc != -1 && WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct conn_deleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct result_deleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};

}  // namespace

std::unique_ptr<postgres_server> postgres_server::start() {
    if (!std::filesystem::exists(bin_dir / "initdb") ||
        !std::filesystem::exists(bin_dir / "pg_ctl"))
        throw std::runtime_error(
            "PostgreSQL 15 is not installed (no " + (bin_dir / "initdb").string() +
            "): run `./setup.sh deps`, which installs the `postgresql` package the store tests "
            "need");
    std::unique_ptr<postgres_server> s(new postgres_server);
    std::string templ = (std::filesystem::temp_directory_path() / "salvo-pg-XXXXXX").string();
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    s->dir_ = templ;
    if (::geteuid() == 0) {
        // initdb refuses root: run the server as an unprivileged user.
        const char* user = ::getpwnam("postgres") ? "postgres" : "nobody";
        const passwd* pw = ::getpwnam(user);
        if (!pw) throw std::runtime_error("running as root and no `postgres` or `nobody` user");
        if (::chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0)
            throw std::runtime_error("cannot chown " + s->dir_.string() + " to " + user);
        s->run_as_ = std::string("runuser -u ") + user + " -- ";
    }
    const std::string data = (s->dir_ / "data").string();
    const std::string log = (s->dir_ / "log").string();
    const std::string init = s->run_as_ + (bin_dir / "initdb").string() + " -D '" + data +
                             "' -U salvo --auth=trust --no-sync -E UTF8 --locale=C > '" +
                             (s->dir_ / "initdb.log").string() + "' 2>&1";
    if (shell(init) != 0)
        throw std::runtime_error("initdb failed: " + slurp(s->dir_ / "initdb.log"));
    // -w: pg_ctl polls until the server accepts connections (30 s at most).
    const std::string options = "-c listen_addresses='' -c unix_socket_directories='" +
                                s->dir_.string() +
                                "' -c fsync=off -c synchronous_commit=on -c full_page_writes=off "
                                "-c max_connections=50 -c shared_buffers=32MB";
    const std::string start = s->run_as_ + (bin_dir / "pg_ctl").string() + " -D '" + data +
                              "' -l '" + log + "' -w -t 60 -o \"" + options + "\" start > '" +
                              (s->dir_ / "pg_ctl.log").string() + "' 2>&1";
    const int rc = shell(start);
    s->started_ = true;  // stop it even when -w timed out
    if (rc != 0)
        throw std::runtime_error("pg_ctl start failed: " + slurp(s->dir_ / "pg_ctl.log") +
                                 slurp(log));
    // pg_ctl -w has seen it ready; confirm through libpq, briefly.
    const std::string conninfo = s->url("postgres");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (PQping(conninfo.c_str()) != PQPING_OK) {
        if (std::chrono::steady_clock::now() > deadline)
            throw std::runtime_error("PostgreSQL does not answer on " + s->dir_.string() + ": " +
                                     slurp(log));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return s;
}

postgres_server::~postgres_server() {
    if (started_)
        shell(run_as_ + (bin_dir / "pg_ctl").string() + " -D '" + (dir_ / "data").string() +
              "' stop -m immediate -w -t 30 > /dev/null 2>&1");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string postgres_server::url(const std::string& name) const {
    return "postgresql://salvo@/" + name + "?host=" + dir_.string();
}

void postgres_server::exec(const std::string& name, const std::string& sql) const {
    std::unique_ptr<PGconn, conn_deleter> c(PQconnectdb(url(name).c_str()));
    if (PQstatus(c.get()) != CONNECTION_OK)
        throw std::runtime_error("connecting to " + name + ": " + PQerrorMessage(c.get()));
    std::unique_ptr<PGresult, result_deleter> r(PQexec(c.get(), sql.c_str()));
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
}

std::string postgres_server::query(const std::string& name, const std::string& sql) const {
    std::unique_ptr<PGconn, conn_deleter> c(PQconnectdb(url(name).c_str()));
    if (PQstatus(c.get()) != CONNECTION_OK)
        throw std::runtime_error("connecting to " + name + ": " + PQerrorMessage(c.get()));
    std::unique_ptr<PGresult, result_deleter> r(PQexec(c.get(), sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) < 1)
        throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
    return PQgetvalue(r.get(), 0, 0);
}

std::string postgres_server::create_database() {
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++next_);
    exec("postgres", "CREATE DATABASE " + name + " TEMPLATE template0");
    return url(name);
}

std::unique_ptr<postgres_server>& postgres_environment::instance() {
    static std::unique_ptr<postgres_server> s;
    return s;
}

std::string& postgres_environment::failure() {
    static std::string f;
    return f;
}

void postgres_environment::SetUp() {
    try {
        instance() = postgres_server::start();
    } catch (const std::exception& e) {
        failure() = e.what();
    }
}

void postgres_environment::TearDown() {
    instance().reset();
}

postgres_server* postgres_environment::server() {
    if (!instance())
        ADD_FAILURE() << "no PostgreSQL server for this test: "
                      << (failure().empty() ? "the environment was not set up" : failure());
    return instance().get();
}

}  // namespace salvo::test
