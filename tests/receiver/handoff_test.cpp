// The reply hand-off's command runner (receiver/src/handoff.hpp): words
// split without a shell, the message on standard input only, a deadline
// that kills, exit statuses reported. Real processes, no shell in between.

#include "handoff.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

using salvo::receiver::split_command;
using salvo::receiver::detail::run_with_input;
using namespace std::chrono_literals;

std::vector<std::string> words(const std::string& line) {
    std::vector<std::string> argv;
    std::string why;
    EXPECT_FALSE(split_command(line, argv, why)) << line << ": " << why;
    return argv;
}

TEST(ReplyHandoff, CommandsAreSplitLikeAShellWithoutRunningOne) {
    EXPECT_EQ(words("tee -a '/tmp/my replies.json'"),
              (std::vector<std::string>{"tee", "-a", "/tmp/my replies.json"}));
    EXPECT_EQ(words("sh -c 'cat > \"$0\"' out"),
              (std::vector<std::string>{"sh", "-c", "cat > \"$0\"", "out"}));
    for (const char* bad :
         {"cat | grep x", "cat > out", "a; b", "echo $(id)", "echo `id`", "'unclosed", ""}) {
        std::vector<std::string> argv;
        std::string why;
        EXPECT_TRUE(split_command(bad, argv, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

TEST(ReplyHandoff, TheMessageGoesToStandardInputWhole) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("salvo-handoff-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto out = (dir / "got").string();
    // 1 MB: more than a socket buffer, so the writer must wait for the reader.
    std::string big(1 << 20, 'x');
    big.front() = '{';
    big.back() = '}';
    std::string why;
    ASSERT_TRUE(run_with_input({"dd", "of=" + out, "status=none"}, big, 10s, why)) << why;
    std::ifstream in(out, std::ios::binary);
    std::stringstream got;
    got << in.rdbuf();
    EXPECT_EQ(got.str(), big);
    std::filesystem::remove_all(dir);
}

TEST(ReplyHandoff, FailuresSayWhat) {
    std::string why;
    EXPECT_FALSE(run_with_input({"false"}, "{}", 5s, why));
    EXPECT_EQ(why, "false exited with status 1");
    EXPECT_FALSE(run_with_input({"/nonexistent/hook"}, "{}", 5s, why));
    EXPECT_NE(why.find("cannot start /nonexistent/hook"), std::string::npos) << why;
    // A command that closed its input early is judged by its exit status.
    EXPECT_TRUE(run_with_input({"true"}, std::string(1 << 20, 'x'), 5s, why)) << why;
}

TEST(ReplyHandoff, ACommandPastItsDeadlineIsKilled) {
    std::string why;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(run_with_input({"sleep", "30"}, "{}", 200ms, why));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_NE(why.find("did not finish within 200 ms"), std::string::npos) << why;
    // One that never reads its input cannot block the writer past the deadline.
    EXPECT_FALSE(run_with_input({"sleep", "30"}, std::string(4 << 20, 'x'), 200ms, why));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

}  // namespace
