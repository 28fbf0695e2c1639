// A run that refuses the journal (here: another campaign's, after the job
// was edited) must leave the journal and the results file as they were, so
// that undoing the edit finds the campaign intact. tests/cli/cli_scenarios.sh
// (other_campaign) covers the refusal itself and --restart.
#include "run_send.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <string>

namespace salvo::test {
namespace {

void replace_in_file(const std::filesystem::path& p, const std::string& from,
                     const std::string& to) {
    std::string s = read_file(p);
    const auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in " << p;
    s.replace(at, from.size(), to);
    std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

TEST(RefusedJournal, AnotherCampaignsRunLeavesTheCampaignIntact) {
    constexpr std::uint64_t rows = 300;
    salvo_campaign c(salvo_binary(), rows);
    auto emu = emulator_process::start(salvo_binary(), c.dir(), "emu", {});
    const auto first = run_send(c, emu.url(), {}, "first");
    ASSERT_TRUE(first.run.status.exited_with(0)) << describe(first.run.status) << first.run.err;
    ASSERT_EQ(first.lines.size(), rows);
    const std::string journal_before = read_file(c.journal());
    const std::string results_before = read_file(c.results());

    replace_in_file(c.job(), R"("subject": "Hello )", R"("subject": "Hi )");
    const auto refused = run_send(c, emu.url(), {}, "other");
    EXPECT_TRUE(refused.run.status.exited_with(2)) << describe(refused.run.status);
    EXPECT_NE(refused.run.err.find("another campaign"), std::string::npos) << refused.run.err;
    EXPECT_EQ(read_file(c.results()), results_before);
    EXPECT_EQ(read_file(c.journal()), journal_before) << "the refused run wrote to the journal";

    // The edit undone: the same campaign, already finished, nothing to send.
    replace_in_file(c.job(), R"("subject": "Hi )", R"("subject": "Hello )");
    const auto again = run_send(c, emu.url(), {}, "again");
    EXPECT_TRUE(again.run.status.exited_with(0)) << describe(again.run.status) << again.run.err;
    EXPECT_EQ(again.report.status, "already_finished");
    EXPECT_EQ(again.report.count("accepted"), rows);
    // A refused run once left a "C 0" checkpoint that emptied the results here.
    EXPECT_EQ(again.lines.size(), rows) << "the results file lost its lines";
    const auto counts = emu.stop();
    EXPECT_EQ(counts.emails, rows) << "a refused or finished campaign sent again";
}

}  // namespace
}  // namespace salvo::test
