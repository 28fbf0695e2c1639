// Memory shape: a job's peak RSS does not grow with the number of rows
// (dedupe off), and dedupe adds at most 16 bytes per distinct address.
// Each job runs in a forked child so that its peak is its own. The emulator
// (`salvo emulate --discard`) is a process of its own too, as in the
// reliability suite: this process has no other thread when it forks, so no
// lock (malloc's included) can be held across the fork. A check of shape,
// not speed.
#include <salvo/engine/job.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <random>

extern char** environ;

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

class JobMemory : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("salvo-mem-" + std::to_string(rd()));
        fs::create_directories(dir_);
        // salvo emulate on a kernel-chosen port; its first stdout line is
        // its URL.
        int out[2];
        ASSERT_EQ(pipe(out), 0);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, out[0]);
        const char* argv[] = {SALVO_BINARY,  "emulate",   "--listen",
                              "127.0.0.1:0", "--discard", nullptr};
        const int spawned = posix_spawn(&emulator_pid_, SALVO_BINARY, &actions, nullptr,
                                        const_cast<char**>(argv), environ);
        posix_spawn_file_actions_destroy(&actions);
        close(out[1]);
        ASSERT_EQ(spawned, 0) << "cannot start " << SALVO_BINARY;
        char c = 0;
        while (read(out[0], &c, 1) == 1 && c != '\n') url_ += c;
        close(out[0]);
        ASSERT_EQ(url_.rfind("http://", 0), 0u) << "salvo emulate printed '" << url_ << "'";
    }
    void TearDown() override {
        if (emulator_pid_ > 0) {
            kill(emulator_pid_, SIGINT);
            int status = 0;
            waitpid(emulator_pid_, &status, 0);
        }
        fs::remove_all(dir_);
    }

    // Peak RSS in KiB of a child that runs a `rows`-row job.
    long peak_kib(std::uint64_t rows, bool dedupe, const std::string& name) {
        int fds[2];
        if (pipe(fds) != 0) return -1;
        const pid_t child = fork();
        if (child == 0) {
            close(fds[0]);
            const std::string json = R"({"endpoint": ")" + url_ + R"(",
              "server_id": 1, "recipients": "generated",
              "message": {"from": "news@example.com", "subject": "Hi %%first_name|there%%",
                          "text": "Hello %%first_name%%, your code is %%code%%."},
              "merge": "server", "dedupe": )" +
                                     std::string(dedupe ? "true" : "false") + R"(,
              "results": ")" + name + R"(.ndjson", "journal": ")" +
                                     name + R"(.journal"})";
            auto config = parse_job(json, dir_);
            if (!config) _exit(10);
            std::uint64_t next = 0;
            auto source =
                make_callback_source({"email", "first_name", "code"}, [&](chunk_writer& w) {
                    char email[64], code[32];
                    for (int i = 0; i < 4096 && next < rows; ++i, ++next) {
                        std::snprintf(email, sizeof email, "user%llu@example%llu.com",
                                      static_cast<unsigned long long>(next),
                                      static_cast<unsigned long long>(next % 1000));
                        std::snprintf(code, sizeof code, "C%llu",
                                      static_cast<unsigned long long>(next));
                        w.add_row({email, "Ann", code});
                    }
                    return next < rows;
                });
            run_options o;
            o.api_key = "k";
            auto j = job::create(*config, o, std::move(source));
            if (!j) _exit(11);
            const report r = (*j)->run();
            if (r.status != job_status::finished || r.count(fate::accepted) != rows) _exit(12);
            rusage u{};
            getrusage(RUSAGE_SELF, &u);
            const long kib = u.ru_maxrss;
            if (write(fds[1], &kib, sizeof kib) != sizeof kib) _exit(13);
            _exit(0);
        }
        close(fds[1]);
        long kib = -1;
        if (read(fds[0], &kib, sizeof kib) != sizeof kib) kib = -1;
        close(fds[0]);
        int status = 0;
        waitpid(child, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "child exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return kib;
    }

    fs::path dir_;
    pid_t emulator_pid_ = -1;
    std::string url_;
};

TEST_F(JobMemory, PeakRssIsFlatInRowsAndDedupeCostsAtMost16BytesAnAddress) {
    // The small job must be long enough to fill every bounded buffer (the
    // pipeline's tokens, the transport's send queue of up to 16 MiB), or the
    // comparison measures the buffers, not growth with rows.
    const long small = peak_kib(500'000, false, "small");
    const long big = peak_kib(5'000'000, false, "big");
    const long dedupe = peak_kib(5'000'000, true, "dedupe");
    ASSERT_GT(small, 0);
    RecordProperty("peak_kib_500k", std::to_string(small));
    RecordProperty("peak_kib_5m", std::to_string(big));
    RecordProperty("peak_kib_5m_dedupe", std::to_string(dedupe));
    std::printf("peak RSS: 500k rows %ld KiB, 5M rows %ld KiB, 5M rows with dedupe %ld KiB\n",
                small, big, dedupe);
    EXPECT_LT(static_cast<double>(big), 1.5 * static_cast<double>(small));
    EXPECT_LE(dedupe - big, 16L * 5'000'000 / 1024 + 2048);  // + 2 MiB of slack for buffers
}

}  // namespace
}  // namespace salvo::engine
