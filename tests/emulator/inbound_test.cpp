// The inbound mail the emulator posts back (options::inbound): which email
// gets which message is seeded and predictable, and every message it makes
// is read by salvo's own Inbound API parser and classified as what it is
// meant to be (the receiver's whole path is in tests/cli/listen_scenarios.sh).

#include <salvo/emulator/inbound.hpp>
#include <salvo/platform/inbound.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace {

using salvo::emulator::inbound_fate;
using salvo::emulator::inbound_kind;
using salvo::emulator::inbound_options;
using salvo::emulator::inbound_post;
using salvo::emulator::recorded_email;
namespace platform = salvo::platform;

recorded_email email(const std::string& to) {
    recorded_email e;
    e.request = 3;
    e.index = 1;
    e.to = to;
    e.to_name = "Ann";
    e.from = "news@news.example.com";
    e.subject = "Spring offers";
    e.text = "Hello";
    e.mailing_id = "camp-1";
    e.message_id = "camp-1-" + to;
    e.headers = {{"List-Unsubscribe",
                  "<mailto:unsubscribe+camp-1@news.example.com?subject=unsubscribe>, "
                  "<https://u.example.com/unsubscribe?t=abc>"},
                 {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"}};
    return e;
}

inbound_options rates() {
    inbound_options o;
    o.secret_key = "sk";
    o.reply_rate = o.auto_reply_rate = o.dsn_rate = o.arf_rate = o.unsubscribe_reply_rate = 0.15;
    o.seed = 9;
    return o;
}

TEST(EmulatorInbound, FatesAreSeededByAddressAndFollowTheRates) {
    auto o = rates();
    std::map<inbound_kind, int> count;
    for (int i = 0; i < 4000; ++i) {
        const auto to = "user" + std::to_string(i) + "@example.com";
        const auto k = inbound_fate(o, to);
        EXPECT_EQ(k, inbound_fate(o, to)) << "the same address draws the same fate";
        ++count[k];
    }
    // 15 % each, 25 % none: within a few standard deviations (sd ~ 23).
    for (auto k : {inbound_kind::reply, inbound_kind::auto_reply, inbound_kind::dsn,
                   inbound_kind::arf, inbound_kind::unsubscribe_reply})
        EXPECT_NEAR(count[k], 600, 100) << to_string(k);
    EXPECT_NEAR(count[inbound_kind::none], 1000, 120);
    o.seed = 10;
    int moved = 0;
    for (int i = 0; i < 200; ++i) {
        const auto to = "user" + std::to_string(i) + "@example.com";
        auto first = rates();
        moved += inbound_fate(o, to) != inbound_fate(first, to);
    }
    EXPECT_GT(moved, 50) << "another seed, other fates";
    inbound_options none;
    EXPECT_EQ(inbound_fate(none, "a@example.com"), inbound_kind::none);
}

TEST(EmulatorInbound, TheMailtoComesFromListUnsubscribe) {
    EXPECT_EQ(salvo::emulator::unsubscribe_mailto(email("a@example.com")),
              "unsubscribe+camp-1@news.example.com");
    auto e = email("a@example.com");
    e.headers[0].value = "<https://u.example.com/unsubscribe?t=abc>";
    EXPECT_EQ(salvo::emulator::unsubscribe_mailto(e), "");
    EXPECT_EQ(inbound_post(rates(), e, inbound_kind::unsubscribe_reply), "")
        << "no mailto, no unsubscribe reply";
}

struct expectation {
    inbound_kind made;
    platform::inbound_kind read;
    const char* address;  // what the classifier reports on
};

TEST(EmulatorInbound, EachMessageIsClassifiedAsWhatItIs) {
    const auto e = email("bob@example.org");
    platform::classify_options co;
    co.unsubscribe_mailto = {"unsubscribe@news.example.com"};
    const expectation cases[] = {
        {inbound_kind::reply, platform::inbound_kind::reply, ""},
        {inbound_kind::auto_reply, platform::inbound_kind::auto_reply, ""},
        {inbound_kind::dsn, platform::inbound_kind::hard_bounce, "bob@example.org"},
        {inbound_kind::arf, platform::inbound_kind::complaint, "bob@example.org"},
        {inbound_kind::unsubscribe_reply, platform::inbound_kind::unsubscribe, "bob@example.org"},
    };
    for (const auto& c : cases) {
        const auto json = inbound_post(rates(), e, c.made);
        ASSERT_FALSE(json.empty()) << to_string(c.made);
        platform::inbound_parser parser;
        platform::inbound_message m;
        std::string reason;
        ASSERT_FALSE(parser.parse(json, m, nullptr, &reason)) << reason << "\n" << json;
        EXPECT_EQ(m.secret_key, "sk");
        for (const auto& a : m.attachments) EXPECT_EQ(a.error, "") << a.content_type;
        const auto got = platform::classify(m, co);
        EXPECT_EQ(got.kind, c.read) << to_string(c.made) << ": " << got.reason;
        if (*c.address) {
            EXPECT_EQ(got.address, c.address) << to_string(c.made);
        }
        if (c.made == inbound_kind::dsn) {
            EXPECT_EQ(got.status, "5.1.1");
        }
        if (c.made == inbound_kind::reply || c.made == inbound_kind::auto_reply) {
            EXPECT_EQ(m.header("In-Reply-To"), "<camp-1-bob@example.org@news.example.com>");
        }
        if (c.made == inbound_kind::reply) {
            // (auto-replies are stored unjoined by the classifier)
            bool joined = false;
            for (const auto& id : got.join_ids) joined |= id == e.message_id;
            EXPECT_TRUE(joined) << "the reply names the sent MessageId";
        }
    }
    EXPECT_EQ(inbound_post(rates(), e, inbound_kind::none), "");
}

}  // namespace
