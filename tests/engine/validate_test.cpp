#include <salvo/engine/validate.hpp>

#include "source_helpers.hpp"

#include <gtest/gtest.h>

namespace salvo::engine {
namespace {

using test::temp_dir;

TEST(CheckAddress, AcceptsOrdinaryAddressesAndLiterals) {
    EXPECT_EQ(check_address("ann@example.com"), nullptr);
    EXPECT_EQ(check_address("a.b+tag@sub.example.co.uk"), nullptr);
    EXPECT_EQ(check_address("user@[192.0.2.1]"), nullptr);
    EXPECT_EQ(check_address("jos\xC3\xA9@example.com"), nullptr);
}

TEST(CheckAddress, RejectsEachRuleWithAReason) {
    EXPECT_STREQ(check_address(""), "it is empty");
    EXPECT_STREQ(check_address("ann.example.com"), "it has no '@'");
    EXPECT_STREQ(check_address("a@b@example.com"), "it has more than one '@'");
    EXPECT_STREQ(check_address("@example.com"), "nothing before the '@'");
    EXPECT_STREQ(check_address("ann@"), "nothing after the '@'");
    EXPECT_NE(check_address("a@x.io,b@x.io"), nullptr);
    EXPECT_NE(check_address("a@x.io;b@x.io"), nullptr);
    EXPECT_STREQ(check_address("ann smith@x.io"), "it holds a space");
    EXPECT_STREQ(check_address("ann@x.io\r\nBcc: evil@x.io"), "it holds a control character");
    EXPECT_STREQ(check_address(std::string_view("ann\0@x.io", 9)), "it holds a control character");
    EXPECT_STREQ(check_address("ann@localhost"), "the domain has no '.'");
    EXPECT_STREQ(check_address("ann@[192.0.2.1"), "the domain literal is not closed");
    std::string longest = std::string(64, 'a') + "@" + std::string(251, 'b') + ".com";  // 320
    EXPECT_EQ(longest.size(), 320u);
    EXPECT_EQ(check_address(longest), nullptr);
    EXPECT_STREQ(check_address("x" + longest), "it is longer than 320 characters");
}

// The rules a byte at a time, as a reference for the blocks that check
// most addresses (16 to 32 bytes) at once.
const char* check_address_by_bytes(std::string_view a) {
    if (a.empty()) return "it is empty";
    std::size_t at = std::string_view::npos;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto c = static_cast<unsigned char>(a[i]);
        if (c == '@') {
            if (at != std::string_view::npos) return "it has more than one '@'";
            at = i;
        } else if (c == ',' || c == ';') {
            return "it holds a ',' or ';' (one address per row)";
        } else if (c == ' ') {
            return "it holds a space";
        } else if (c < 0x20 || c == 0x7F) {
            return "it holds a control character";
        }
    }
    if (at == std::string_view::npos) return "it has no '@'";
    if (at == 0) return "nothing before the '@'";
    if (at + 1 == a.size()) return "nothing after the '@'";
    const std::string_view domain = a.substr(at + 1);
    if (domain.front() == '[') {
        if (domain.back() != ']' || domain.size() < 3) return "the domain literal is not closed";
    } else if (domain.find('.') == std::string_view::npos) {
        return "the domain has no '.'";
    } else if (domain.front() == '.' || domain.back() == '.') {
        return "the domain starts or ends with '.'";
    }
    return nullptr;
}

// Every byte value at every place of addresses of every length to 40,
// with the '@' early, late or doubled: the verdict and its reason are the
// byte loop's.
TEST(CheckAddress, EveryByteAtEveryPlaceGivesTheByteLoopsVerdict) {
    const auto same = [](const char* a, const char* b) {
        return (a == nullptr) == (b == nullptr) && (a == nullptr || std::string_view(a) == b);
    };
    for (std::size_t n = 1; n <= 40; ++n) {
        for (const std::size_t at : {std::size_t{1}, n / 2, n > 4 ? n - 4 : 0}) {
            std::string base(n, 'x');
            if (at < n) base[at] = '@';
            if (at + 2 < n) base[at + 2] = '.';
            for (std::size_t p = 0; p < n; ++p) {
                for (int c = 0; c < 256; ++c) {
                    std::string a = base;
                    a[p] = static_cast<char>(c);
                    const char* got = check_address(a);
                    const char* want = check_address_by_bytes(a);
                    ASSERT_TRUE(same(got, want))
                        << "length " << n << ", byte " << c << " at " << p << ": "
                        << (got ? got : "valid") << " vs " << (want ? want : "valid");
                }
            }
        }
    }
}

TEST(CanonicalAddress, LowersTheDomainOnly) {
    std::string out;
    canonical_address("Ann.Smith@Example.COM", out);
    EXPECT_EQ(out, "Ann.Smith@example.com");
}

// The domain is lowered 8 bytes at a time: every byte value, at every
// position of a word and of the tail, comes out as a byte at a time would
// make it (only A-Z change; UTF-8 and the other bytes stay).
TEST(CanonicalAddress, EveryByteOfTheDomainIsLoweredAsAsciiOnly) {
    std::string out;
    for (int c = 0; c < 256; ++c) {
        if (c == '@') continue;  // the domain is after the last one
        for (std::size_t at = 0; at < 19; ++at) {
            std::string domain(19, 'Q');
            domain[at] = static_cast<char>(c);
            std::string address = "Local.Part@";
            address += domain;
            canonical_address(address, out);
            std::string want = "Local.Part@";
            for (const char d : domain)
                want += d >= 'A' && d <= 'Z' ? static_cast<char>(d - 'A' + 'a') : d;
            ASSERT_EQ(out, want) << "byte " << c << " at " << at;
        }
    }
}

// Addresses of every length to 40 (short ones a word at a time, 16 to 32
// bytes in two overlapping blocks), with the last '@' at every place, an
// earlier '@' or none: only A-Z after the last '@' are lowered.
TEST(CanonicalAddress, EveryLengthAndPlaceOfTheLastAt) {
    const auto reference = [](const std::string& a) {
        std::string want = a;
        const auto at = a.rfind('@');
        if (at == std::string::npos) return want;
        for (std::size_t i = at + 1; i < want.size(); ++i)
            if (want[i] >= 'A' && want[i] <= 'Z') want[i] = static_cast<char>(want[i] - 'A' + 'a');
        return want;
    };
    std::string out;
    for (std::size_t n = 1; n <= 40; ++n) {
        std::string base(n, 'Q');
        for (std::size_t i = 0; i < n; i += 3) base[i] = 'z';  // lower ones too
        for (std::size_t at = 0; at <= n; ++at) {              // at == n: no '@'
            for (const bool earlier : {false, true}) {
                std::string a = base;
                if (at < n) a[at] = '@';
                if (earlier && at > 1) a[at / 2] = '@';
                canonical_address(a, out);
                ASSERT_EQ(out, reference(a)) << "length " << n << ", '@' at " << at;
            }
        }
    }
}

std::unique_ptr<recipient_source> open_csv(const temp_dir& dir, const std::string& name,
                                           const std::string& body) {
    auto src = open_source(dir.write(name, body));
    EXPECT_TRUE(src) << (src ? "" : src.error().message);
    return src ? std::move(*src) : nullptr;
}

struct outcome {
    std::vector<validity> fates;
    std::vector<std::string> reasons;
};

outcome run(recipient_source& src, validator& v, bool prepare = false) {
    outcome o;
    chunk c;
    for (;;) {
        auto more = src.next_chunk(c);
        EXPECT_TRUE(more);
        if (!more) break;
        if (prepare) v.prepare(c);
        for (std::size_t i = 0; i < c.size(); ++i) {
            std::string reason;
            auto f = v.check(c, i, reason);
            EXPECT_TRUE(f);
            o.fates.push_back(f ? *f : validity::invalid);
            o.reasons.push_back(reason);
        }
        if (!*more) break;
    }
    return o;
}

TEST(Validator, GivesEachRowItsFate) {
    temp_dir dir;
    auto src = open_csv(dir, "r.csv",
                        "Name,EMAIL\n"
                        "Ann,ann@x.io\n"    // 1 valid
                        "Ann2,ann@X.IO\n"   // 2 duplicate: domain case-insensitive
                        "Ann3,Ann@x.io\n"   // 3 valid: local part as written
                        "Bad,bob@x\n"       // 4 invalid
                        "Bob,bob@x\n"       // 5 invalid again, not duplicate
                        "Sup,stop@x.io\n"   // 6 suppressed
                        "Sup2,stop@x.io\n"  // 7 suppressed, not duplicate
                        "Empty,\n"          // 8 invalid: empty
                        "Ragged\n"          // 9 invalid: reader error
                        "Cy,cy@x.io\n");    // 10 valid
    ASSERT_TRUE(src);
    suppression_list sup;
    sup.add("STOP@X.IO");  // local part differs in case: not the same address
    sup.add("stop@X.io");
    auto v = validator::create(src->fields(), {}, &sup, src->name());
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->email_column(), 1u);
    EXPECT_EQ(v->name_column(), std::optional<std::size_t>(0));
    auto o = run(*src, *v);
    std::vector<validity> want = {validity::valid,      validity::duplicate, validity::valid,
                                  validity::invalid,    validity::invalid,   validity::suppressed,
                                  validity::suppressed, validity::invalid,   validity::invalid,
                                  validity::valid};
    EXPECT_EQ(o.fates, want);
    EXPECT_NE(o.reasons[1].find("row 2, line 3: field 'EMAIL': 'ann@X.IO' repeats row 1"),
              std::string::npos)
        << o.reasons[1];
    EXPECT_NE(o.reasons[3].find("row 4, line 5: field 'EMAIL': 'bob@x' is not a usable address: "
                                "the domain has no '.'"),
              std::string::npos)
        << o.reasons[3];
    EXPECT_NE(o.reasons[7].find("field 'EMAIL' is empty"), std::string::npos);
    EXPECT_NE(o.reasons[8].find("1 field, the header has 2"), std::string::npos);
    EXPECT_EQ(v->dedupe_set()->size(), 3u);
}

// The pipeline's way: prepare() each chunk (canonical addresses, hashes,
// prefetches, and the dedupe table sized from the file), same fates.
TEST(Validator, PreparedChunksGiveTheSameFates) {
    temp_dir dir;
    std::string body = "email,n\n";
    // The repeats spell the domain in lower case: still the same address.
    for (int i = 0; i < 30000; ++i)
        body += "u" + std::to_string(i % 20000) + (i < 20000 ? "@X" : "@x") +
                std::to_string(i % 20000 % 7) + ".io," + std::to_string(i) + "\n";
    body += ",empty\nbad@x,bad\n";
    validate_options o;
    o.input_bytes = body.size();
    std::vector<outcome> runs;
    for (const bool prepare : {false, true}) {
        auto src = open_csv(dir, "r.csv", body);
        ASSERT_TRUE(src);
        auto v = validator::create(src->fields(), o, nullptr, src->name());
        ASSERT_TRUE(v) << v.error().message;
        runs.push_back(run(*src, *v, prepare));
        EXPECT_EQ(v->dedupe_set()->size(), 20000u);
    }
    ASSERT_EQ(runs[1].fates.size(), 30002u);
    EXPECT_EQ(runs[1].fates, runs[0].fates);
    EXPECT_EQ(runs[1].reasons, runs[0].reasons);
    EXPECT_EQ(runs[1].fates[20000], validity::duplicate);
    EXPECT_EQ(runs[1].fates[30000], validity::invalid);
}

// The table is sized by the bytes a row of the input, keys and quotes
// included: an NDJSON file whose keys outweigh its values does not get a
// table for several times its rows (sized by values alone it got ~3x).
TEST(Validator, ATableSizedFromNdjsonFitsItsRows) {
    temp_dir dir;
    std::string body;
    const int rows = 60000;
    for (int i = 0; i < rows; ++i)
        body += "{\"recipient_email_address\":\"u" + std::to_string(i) +
                "@x.io\",\"recipient_first_name_for_greeting\":\"Al\"}\n";
    validate_options o;
    o.input_bytes = body.size();
    auto src = open_csv(dir, "r.ndjson", body);
    ASSERT_TRUE(src);
    o.email_column = "recipient_email_address";
    auto v = validator::create(src->fields(), o, nullptr, src->name());
    ASSERT_TRUE(v) << v.error().message;
    const auto fates = run(*src, *v, true).fates;
    ASSERT_EQ(fates.size(), static_cast<std::size_t>(rows));
    EXPECT_EQ(v->dedupe_set()->size(), static_cast<std::size_t>(rows));
    // 5-byte slots at most 75 % full, and the 1/16 margin: ~7.1 bytes an
    // address; 10 allows for the sample's rounding.
    EXPECT_LE(v->dedupe_set()->memory_bytes(), std::size_t{10} * rows + (std::size_t{1} << 20));
}

TEST(Validator, ShowsControlBytesOfABadAddressEscaped) {
    temp_dir dir;
    // An escape sequence (clear screen) and a tab inside a quoted address.
    auto src = open_csv(dir, "r.csv", "email\n\"ann\x1b[2J\t@x.io\"\n");
    ASSERT_TRUE(src);
    auto v = validator::create(src->fields(), {}, nullptr, src->name());
    ASSERT_TRUE(v) << v.error().message;
    auto o = run(*src, *v);
    ASSERT_EQ(o.fates, std::vector<validity>{validity::invalid});
    EXPECT_EQ(o.reasons[0].find('\x1b'), std::string::npos) << o.reasons[0];
    EXPECT_EQ(o.reasons[0].find('\t'), std::string::npos) << o.reasons[0];
    EXPECT_NE(o.reasons[0].find(R"('ann\x1b[2J\x09@x.io')"), std::string::npos) << o.reasons[0];
}

TEST(Validator, FindsDeliveryAddressOrANamedColumnOrFails) {
    std::vector<field> delivery = {{"DeliveryAddress", "DeliveryAddress"}, {"x", "x"}};
    auto a = validator::create(delivery, {});
    ASSERT_TRUE(a);
    EXPECT_EQ(a->email_column(), 0u);
    EXPECT_FALSE(a->name_column());
    std::vector<field> custom = {{"Work Mail", "Work_Mail"}, {"email", "email"}};
    validate_options o;
    o.email_column = "work_mail";
    auto b = validator::create(custom, o);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->email_column(), 0u);
    std::vector<field> none = {{"mail", "mail"}, {"name", "name"}};
    auto c = validator::create(none, {}, nullptr, "list.csv");
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, make_error_code(errc::no_email_column));
    EXPECT_NE(c.error().message.find("list.csv: no 'email' column (the fields are: mail, name)"),
              std::string::npos)
        << c.error().message;
    // It names the job file's key, not an option that does not exist.
    EXPECT_NE(c.error().message.find("recipients.email"), std::string::npos) << c.error().message;
    EXPECT_EQ(c.error().message.find("email_column"), std::string::npos) << c.error().message;
}

TEST(Validator, DedupeOffKeepsRepeats) {
    temp_dir dir;
    auto src = open_csv(dir, "r.csv", "email\na@x.io\na@x.io\n");
    ASSERT_TRUE(src);
    validate_options o;
    o.dedupe = false;
    auto v = validator::create(src->fields(), o);
    ASSERT_TRUE(v);
    auto out = run(*src, *v);
    EXPECT_EQ(out.fates, (std::vector<validity>{validity::valid, validity::valid}));
}

// Growth rebuilds the table from the log, with 5-byte slots and, past the
// lowered line of 1 MiB of log, 8-byte ones.
class AddressSetGrowth : public ::testing::TestWithParam<std::uint64_t> {};
INSTANTIATE_TEST_SUITE_P(SlotWidths, AddressSetGrowth,
                         ::testing::Values(std::uint64_t{0xFFFF'FFFF}, std::uint64_t{1} << 20));

TEST_P(AddressSetGrowth, IsExactAcrossTheDiskLogAndGrowth) {
    temp_dir dir;
    address_set set(dir.path(""), GetParam());
    const int n = 200000;  // ~5 MB of log: several flushes and rehashes
    for (int i = 0; i < n; ++i) {
        auto r = set.insert("user" + std::to_string(i) + "@example.com");
        ASSERT_TRUE(r);
        ASSERT_TRUE(*r) << i;
    }
    for (int i = 0; i < n; i += 7) {
        auto r = set.insert("user" + std::to_string(i) + "@example.com");
        ASSERT_TRUE(r);
        ASSERT_FALSE(*r) << i;
        // Near misses are distinct addresses.
        auto m = set.insert("user" + std::to_string(i) + "@example.con");
        ASSERT_TRUE(m);
        ASSERT_TRUE(*m) << i;
    }
    // The row an address was first seen in, from the disk log too.
    auto first = set.insert_row("user7@example.com", 999999);
    ASSERT_TRUE(first);
    EXPECT_EQ(*first, std::optional<std::uint64_t>(0));  // inserted with insert(): row 0
    auto fresh = set.insert_row("new@example.com", 424242);
    ASSERT_TRUE(fresh);
    EXPECT_FALSE(*fresh);
    for (int i = 0; i < 50000; ++i) ASSERT_TRUE(set.insert("more" + std::to_string(i) + "@x.io"));
    auto again = set.insert_row("new@example.com", 5);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, std::optional<std::uint64_t>(424242));
    const std::size_t distinct = set.size();
    EXPECT_EQ(distinct, static_cast<std::size_t>(n + (n + 6) / 7 + 1 + 50000));
    // 16 bytes per address for the table, plus the fixed 1 MiB write buffer.
    EXPECT_LE(set.memory_bytes(), 16 * distinct + (std::size_t{1} << 20) + 4096);
}

TEST(AddressSet, ASizedSetIsExactAndGrowsPastItsSize) {
    temp_dir dir;
    address_set set(dir.path(""));
    set.reserve(1000);
    const std::size_t sized = set.memory_bytes();
    for (int round = 0; round < 2; ++round)
        for (int i = 0; i < 5000; ++i) {  // five times what it was sized for
            const std::string a = "user" + std::to_string(i) + "@example.com";
            auto r = set.insert(a, address_set::hash_of(a));
            ASSERT_TRUE(r);
            EXPECT_EQ(*r, round == 0) << i;
        }
    EXPECT_EQ(set.size(), 5000u);
    EXPECT_GT(set.memory_bytes(), sized);
    set.reserve(1u << 20);  // too late: it holds addresses
    EXPECT_LT(set.memory_bytes(), std::size_t{8} << 20);
}

// Long addresses make the records straddle the 1 MiB write buffer's
// flushes, and the log passes what 5-byte slots address (lowered here from
// 4 GiB to 1 MiB): the table is rebuilt with 8-byte slots on the way, and
// every address is still found, with its row, and no near miss is.
TEST(AddressSet, FindsEveryAddressAcrossFlushesAndSlotWidths) {
    temp_dir dir;
    address_set set(dir.path(""), std::uint64_t{1} << 20);
    address_set narrow(dir.path(""));  // the same addresses in 5-byte slots
    // Sized, so that the tables (6.7 and 10.7 MB) outweigh the buffers.
    set.reserve(1'000'000);
    narrow.reserve(1'000'000);
    const auto address = [](int i) {
        // Every 97th is 3 000 bytes long, the rest short.
        std::string a = "a" + std::to_string(i);
        if (i % 97 == 0) a += std::string(3000, 'x');
        return a + "@example.com";
    };
    const int n = 20000;  // ~1.2 MB of log
    for (int i = 0; i < n; ++i) {
        auto r = set.insert_row(address(i), 1000 + static_cast<std::uint64_t>(i));
        ASSERT_TRUE(r) << r.error().message;
        ASSERT_FALSE(r->has_value()) << i;
        ASSERT_TRUE(narrow.insert(address(i)));
    }
    // The rebuilt table's 8-byte slots take 4 MB more than 5-byte ones.
    EXPECT_GE(set.memory_bytes(), narrow.memory_bytes() + 3'000'000);
    for (int i = n - 1; i >= 0; i -= 3) {
        auto r = set.insert_row(address(i), 7);
        ASSERT_TRUE(r) << r.error().message;
        ASSERT_EQ(*r, std::optional<std::uint64_t>(1000 + static_cast<std::uint64_t>(i))) << i;
        auto near = set.insert_row(address(i) + "x", 8);  // one byte longer
        ASSERT_TRUE(near);
        ASSERT_FALSE(near->has_value()) << i;
    }
    EXPECT_EQ(set.size(), static_cast<std::size_t>(n + (n + 2) / 3));
}

// The table of a sized set of 1 M addresses: 5-byte slots, at most 75%
// full (6.7 bytes an address), with the 1 MiB write buffer and the table's
// rounding to 2 MiB pages.
TEST(AddressSet, ASizedMillionTakesUnder7BytesAnAddress) {
    temp_dir dir;
    address_set set(dir.path(""));
    constexpr std::size_t n = 1'000'000;
    set.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::string a = "u";
        a += std::to_string(i);
        a += "@example.com";
        auto r = set.insert(a);
        ASSERT_TRUE(r);
        ASSERT_TRUE(*r) << i;
    }
    EXPECT_LT(set.memory_bytes(), 7 * n + (std::size_t{1} << 20) + (std::size_t{2} << 20));
}

TEST(SuppressionList, LoadsAPlainListOrACsvWithAnEmailColumn) {
    temp_dir dir;
    auto plain = suppression_list::load(dir.write("s.txt", "a@x.io\nB@Y.IO\n\nnot-an-address\n"));
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain->size(), 2u);
    EXPECT_TRUE(plain->contains("a@X.io"));
    EXPECT_TRUE(plain->contains("B@y.io"));
    EXPECT_FALSE(plain->contains("b@y.io"));
    auto csv =
        suppression_list::load(dir.write("s.csv", "reason,Email\nbounce,c@x.io\nspam,d@x.io\n"));
    ASSERT_TRUE(csv) << csv.error().message;
    EXPECT_EQ(csv->size(), 2u);
    EXPECT_TRUE(csv->contains("d@x.io"));
    auto missing = suppression_list::load(dir.path("none.txt"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, make_error_code(errc::file_not_found));
}

TEST(CallbackSource, PullsChunksFromTheHost) {
    int calls = 0;
    auto src = make_callback_source({"email", "First Name"}, [&](chunk_writer& w) {
        ++calls;
        std::string addr = "host" + std::to_string(calls) + "@x.io";
        w.add_row({addr, "Ann"});
        w.add_row({std::string_view("nokey@x.io"), std::string_view{}});  // absent name
        if (calls == 2) w.add_invalid_row("host says no", {});
        return calls < 3;
    });
    EXPECT_EQ(src->fields()[1].key, "First_Name");
    auto d = test::drain(*src);
    ASSERT_EQ(d.rows.size(), 7u);
    EXPECT_EQ(d.rows[0].at(0), "host1@x.io");  // copied: the host's string is gone
    EXPECT_EQ(d.rows[0].row, 1u);
    EXPECT_FALSE(d.rows[1].values[1].has_value());
    EXPECT_EQ(d.rows[4].error, errc::rejected_by_host);
    EXPECT_EQ(d.rows[4].message, "host says no");
    EXPECT_EQ(d.rows[6].row, 7u);
    EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace salvo::engine
