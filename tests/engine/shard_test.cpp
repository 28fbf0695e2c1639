// Shards: the partition of a campaign's rows (validator + shard_spec), the
// hash it is cut by, and the job-file and path forms of a shard.
#include <salvo/engine/job_config.hpp>
#include <salvo/engine/validate.hpp>

#include "source_helpers.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace salvo::engine {
namespace {

using test::temp_dir;

// The partition is a contract between processes, builds and machines: the
// hash is XXH3-64 with seed 0. The empty string's value is xxHash's own
// published test vector; the others pin what every salvo must compute.
TEST(ShardHash, IsXxh3OfTheCanonicalAddressAndNeverChanges) {
    EXPECT_EQ(address_set::hash_of(""), 0x2d06800538d394c2ULL);
    EXPECT_EQ(address_set::hash_of("user1@example.com"), 0x7203e992f8610a14ULL);
    EXPECT_EQ(address_set::hash_of("Ann.Smith@example.com"), 0x88f55629d01b3c62ULL);
    EXPECT_EQ(shard_of_hash(0x7203e992f8610a14ULL, 8), 4u);
    EXPECT_EQ(shard_of_row(10, 3), 1u);
}

struct shard_run {
    std::map<std::uint64_t, validity> rows;  // this shard's rows only
    std::uint64_t others = 0;
};

// Rows 1..: every 7th has no usable address, every 5th repeats row 1's
// address with the domain in upper case (a duplicate after canonicalising),
// every 11th repeats the previous row; row 13 is a ragged record.
std::string campaign_csv(int rows) {
    std::string csv = "email,name\n";
    for (int i = 1; i <= rows; ++i) {
        if (i == 13)
            csv += "ragged\n";
        else if (i % 7 == 0)
            csv += "not-an-address-" + std::to_string(i) + ",X\n";
        else if (i % 5 == 0)
            csv += "first@EXAMPLE.com,Dup\n";
        else if (i % 11 == 0)
            csv += "user" + std::to_string(i - 1) + "@example.com,Again\n";
        else if (i == 1)
            csv += "first@example.com,First\n";
        else
            csv += "user" + std::to_string(i) + "@example.com,N\n";
    }
    return csv;
}

shard_run run_shard(const temp_dir& dir, const std::string& file, std::uint32_t k, std::uint32_t n,
                    bool prepare, bool dedupe = true) {
    auto src = open_source(dir.path(file));
    EXPECT_TRUE(src);
    validate_options o;
    o.shard_index = k;
    o.shard_count = n;
    o.dedupe = dedupe;
    auto v = validator::create((*src)->fields(), o, nullptr, file);
    EXPECT_TRUE(v) << (v ? "" : v.error().message);
    shard_run out;
    chunk c;
    std::string reason;
    for (;;) {
        auto more = (*src)->next_chunk(c);
        EXPECT_TRUE(more);
        if (!more) break;
        if (prepare) v->prepare(c);
        for (std::size_t i = 0; i < c.size(); ++i) {
            auto f = v->check(c, i, reason);
            EXPECT_TRUE(f);
            if (!f) continue;
            if (*f == validity::other_shard)
                ++out.others;
            else
                out.rows[c.info(i).row] = *f;
        }
        if (!*more) break;
    }
    return out;
}

TEST(Shards, EveryRowIsDecidedInExactlyOneShardAndDuplicatesMeet) {
    temp_dir dir;
    constexpr int rows = 700;
    dir.write("r.csv", campaign_csv(rows));
    for (const bool prepare : {false, true}) {
        constexpr std::uint32_t n = 3;
        std::map<std::uint64_t, std::uint32_t> owner;
        std::map<std::uint64_t, validity> sharded;
        for (std::uint32_t k = 0; k < n; ++k) {
            const auto s = run_shard(dir, "r.csv", k, n, prepare);
            EXPECT_EQ(s.rows.size() + s.others, static_cast<std::size_t>(rows));
            // A shard must not be the whole campaign (the hash spreads).
            EXPECT_GT(s.rows.size(), static_cast<std::size_t>(rows) / n / 2) << "shard " << k;
            for (const auto& [row, f] : s.rows) {
                EXPECT_TRUE(owner.emplace(row, k).second) << "row " << row << " in two shards";
                sharded[row] = f;
                // Rows without a usable address go by row number.
                if (f == validity::invalid) {
                    EXPECT_EQ(row % n, k) << "row " << row;
                }
            }
        }
        ASSERT_EQ(owner.size(), static_cast<std::size_t>(rows)) << "prepare " << prepare;
        // Row by row the fates of one unsharded pass: dedupe stays exact.
        const auto whole = run_shard(dir, "r.csv", 0, 0, prepare);
        EXPECT_EQ(whole.others, 0u);
        EXPECT_EQ(sharded, whole.rows);
        int duplicates = 0;
        for (const auto& [row, f] : sharded) duplicates += f == validity::duplicate ? 1 : 0;
        EXPECT_GT(duplicates, 100);
        // Every repeat of first@example.com is in row 1's shard, and a duplicate.
        for (int i = 5; i <= rows; i += 5) {
            if (i % 7 == 0 || i == 13) continue;
            EXPECT_EQ(owner[static_cast<std::uint64_t>(i)], owner[1]) << "row " << i;
        }
    }
}

TEST(Shards, WithoutDedupeTheSamePartition) {
    temp_dir dir;
    dir.write("r.csv", campaign_csv(300));
    std::set<std::uint64_t> seen;
    for (std::uint32_t k = 0; k < 4; ++k) {
        const auto with = run_shard(dir, "r.csv", k, 4, true, true);
        const auto without = run_shard(dir, "r.csv", k, 4, true, false);
        ASSERT_EQ(with.rows.size(), without.rows.size()) << "shard " << k;
        for (const auto& [row, f] : without.rows) {
            EXPECT_TRUE(with.rows.count(row)) << "row " << row;
            EXPECT_TRUE(seen.insert(row).second);
        }
    }
    EXPECT_EQ(seen.size(), 300u);
}

TEST(Shards, OneShardOfOneIsTheWholeCampaign) {
    temp_dir dir;
    dir.write("r.csv", campaign_csv(100));
    const auto s = run_shard(dir, "r.csv", 0, 1, true);
    EXPECT_EQ(s.rows.size(), 100u);
    EXPECT_EQ(s.others, 0u);
}

TEST(Shards, ValidatorRefusesAShardPastTheCount) {
    temp_dir dir;
    dir.write("r.csv", campaign_csv(3));
    auto src = open_source(dir.path("r.csv"));
    ASSERT_TRUE(src);
    validate_options o;
    o.shard_index = 3;
    o.shard_count = 3;
    auto v = validator::create((*src)->fields(), o);
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message.find("below 3"), std::string::npos) << v.error().message;
}

TEST(ShardSpec, ParsesKOfNAndSaysWhatIsWrong) {
    auto s = parse_shard("2/8", "--shard");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->index, 2u);
    EXPECT_EQ(s->count, 8u);
    EXPECT_EQ(s->text(), "2/8");
    const auto error_of = [](std::string_view t) {
        auto r = parse_shard(t, "--shard");
        EXPECT_FALSE(r) << t;
        return r ? std::string() : r.error();
    };
    EXPECT_NE(error_of("3/2").find("shard K must be below N (shards are 0 to 1)"),
              std::string::npos);
    EXPECT_NE(error_of("0/0").find("N is 0"), std::string::npos);
    EXPECT_NE(error_of("2").find("give K/N"), std::string::npos);
    EXPECT_NE(error_of("-1/3").find("give K/N"), std::string::npos);
    EXPECT_NE(error_of("1/3x").find("give K/N"), std::string::npos);
    EXPECT_NE(error_of("").find("--shard"), std::string::npos);
}

TEST(ShardSpec, InsertsTheShardBeforeTheExtension) {
    const shard_spec s{2, 8};
    EXPECT_EQ(sharded_path("results.ndjson", s), "results.shard-2-of-8.ndjson");
    EXPECT_EQ(sharded_path("/data/campaign.journal", s), "/data/campaign.shard-2-of-8.journal");
    EXPECT_EQ(sharded_path("/data/out", s), "/data/out.shard-2-of-8");
    EXPECT_EQ(unsharded_path("/data/results.shard-2-of-8.ndjson", s), "/data/results.ndjson");
    EXPECT_EQ(unsharded_path("/data/results.ndjson", s), "/data/results.ndjson");
}

TEST(ShardSpec, TheJobKeyShardsTheResultsAndTheJournal) {
    temp_dir dir;
    const std::string json = R"({"server_id": 1, "recipients": "r.csv", "shard": "1/3",
        "message": {"from": "a@example.com", "subject": "s", "text": "t"}})";
    auto c = parse_job(json, dir.path(""));
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(c->shard, (shard_spec{1, 3}));
    EXPECT_EQ(c->results.filename(), "results.shard-1-of-3.ndjson");
    EXPECT_EQ(c->journal.filename(), "campaign.shard-1-of-3.journal");
    // --set shard=… and a results path given with it.
    const std::vector<std::string> sets = {"shard=0/2", "results=out.ndjson"};
    auto d = parse_job(R"({"server_id": 1, "recipients": "r.csv",
        "message": {"from": "a@example.com", "subject": "s", "text": "t"}})",
                       dir.path(""), sets);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->results.filename(), "out.shard-0-of-2.ndjson");
    auto bad = parse_job(R"({"server_id": 1, "recipients": "r.csv", "shard": "3/3",
        "message": {"from": "a@example.com", "subject": "s", "text": "t"}})",
                         dir.path(""));
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().key, "shard");
}

}  // namespace
}  // namespace salvo::engine
