// Memory shape: a job's peak RSS does not grow with the number of rows
// (dedupe off), and dedupe adds at most 16 bytes per distinct address.
// Each job runs in a child process so that its peak is its own; the
// emulator (discard mode) runs in this process. A check of shape, not speed.
#include <salvo/emulator/server.hpp>
#include <salvo/engine/job.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <filesystem>
#include <random>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

class JobMemory : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("salvo-mem-" + std::to_string(rd()));
        fs::create_directories(dir_);
        emulator::options o;
        o.discard = true;
        auto s = emulator::server::start(o);
        ASSERT_TRUE(s) << s.error().message();
        emulator_ = std::move(*s);
    }
    void TearDown() override {
        emulator_.reset();
        fs::remove_all(dir_);
    }

    // Peak RSS in KiB of a child that runs a `rows`-row job.
    long peak_kib(std::uint64_t rows, bool dedupe, const std::string& name) {
        int fds[2];
        if (pipe(fds) != 0) return -1;
        const pid_t child = fork();
        if (child == 0) {
            close(fds[0]);
            const std::string json = R"({"endpoint": ")" + emulator_->url() + R"(",
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
    std::unique_ptr<emulator::server> emulator_;
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
