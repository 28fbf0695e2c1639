#pragma once
/// A private PostgreSQL 15 server for tests: `initdb` and `pg_ctl` from
/// /usr/lib/postgresql/15/bin (Debian's `postgresql` package) in a temp
/// dir, listening only on a unix socket in that dir (no TCP port), fsync
/// off, trust authentication for the superuser `salvo`. initdb refuses to
/// run as root, so as root the server runs as the `postgres` user the
/// package creates (else `nobody`), with the dir chowned to it.
///
/// One server per test binary: postgres_environment is a GoogleTest global
/// environment that starts it before the first test and stops it
/// (`pg_ctl stop -m immediate`) after the last; each test takes a fresh
/// database from create_database(). When PostgreSQL is missing, start()
/// throws with a message saying to run `./setup.sh deps`, and the
/// environment fails every test with it (never skips).

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

namespace salvo::test {

class postgres_server {
  public:
    /// initdb, start, and wait (polling the socket) until it accepts
    /// connections. Throws std::runtime_error saying what failed.
    [[nodiscard]] static std::unique_ptr<postgres_server> start();
    ~postgres_server();
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;

    /// `CREATE DATABASE … TEMPLATE template0` under a new name; its URL.
    /// Throws std::runtime_error on failure.
    [[nodiscard]] std::string create_database();
    /// The URL of database `name`: postgresql://salvo@/NAME?host=DIR.
    [[nodiscard]] std::string url(const std::string& name) const;
    /// Runs `sql` in database `name` (statements without results); throws
    /// std::runtime_error with the server's message on failure.
    void exec(const std::string& name, const std::string& sql) const;
    /// The first column of the first row of `sql` in database `name`.
    [[nodiscard]] std::string query(const std::string& name, const std::string& sql) const;

    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }

  private:
    postgres_server() = default;
    std::filesystem::path dir_;
    std::string run_as_;  // "" when not root
    int next_ = 0;
    bool started_ = false;
};

/// The GoogleTest global environment holding the binary's one server.
class postgres_environment : public ::testing::Environment {
  public:
    void SetUp() override;
    void TearDown() override;
    /// The server; fails the calling test (ADD_FAILURE, with the reason the
    /// server could not start) and returns null when there is none.
    [[nodiscard]] static postgres_server* server();

  private:
    static std::unique_ptr<postgres_server>& instance();
    static std::string& failure();
};

}  // namespace salvo::test
