#include <salvo/injection/batcher.hpp>

#include "spec_util.hpp"
#include "wire_model.hpp"

#include <gtest/gtest.h>

#include <string>

namespace salvo::injection {
namespace {

using test::owned_recipient;

std::shared_ptr<const request_writer> writer(merge_mode mode, std::string text = "Hi %%first%%") {
    merge::field_set f{{"first"}, {}};
    test::spec_text t;
    t.subject = "Hello %%first%%";
    t.text = std::move(text);
    auto w = request_writer::create(test::make_spec(t, f), test::legacy_credentials(), mode);
    EXPECT_TRUE(w) << (w ? "" : w.error().message);
    return *w;
}

owned_recipient person(std::size_t i, std::string first = "Ann") {
    return {"r" + std::to_string(i) + "@example.com", "", {std::move(first)}, {}, i};
}

// Feeds n recipients and collects every request, flushed at the end.
std::vector<outgoing_request> run(batcher& b, std::size_t n) {
    std::vector<outgoing_request> out;
    for (std::size_t i = 0; i < n; ++i) {
        auto r = person(i);
        auto p = b.add(r.view());
        EXPECT_TRUE(p) << (p ? "" : p.error().message);
        while (b.ready()) out.push_back(b.take());
    }
    b.flush();
    while (b.ready()) out.push_back(b.take());
    return out;
}

TEST(Batcher, LocalModePacksTenMessagesPerRequest) {
    auto b = batcher::create(writer(merge_mode::local));
    ASSERT_TRUE(b);
    const auto reqs = run(*b, 25);
    ASSERT_EQ(reqs.size(), 3U);
    EXPECT_EQ(reqs[0].messages, 10U);
    EXPECT_EQ(reqs[2].messages, 5U);
    std::uint64_t next_id = 0;
    for (std::size_t k = 0; k < reqs.size(); ++k) {
        EXPECT_EQ(reqs[k].sequence, k);
        test::wire_model m(reqs[k].body);
        ASSERT_EQ(m.emails.size(), reqs[k].slots.size());
        for (std::size_t i = 0; i < reqs[k].slots.size(); ++i) {
            const auto& s = reqs[k].slots[i];
            EXPECT_EQ(s.id, next_id++);
            EXPECT_EQ(s.message, i);
            EXPECT_EQ(s.row, 0U);
            // The slot names the recipient that the message was written for.
            EXPECT_EQ(m.emails[s.message].to, reqs[k].address(s));
        }
    }
    EXPECT_EQ(next_id, 25U);
}

TEST(Batcher, ServerModePacksFiftyRowsPerMessageAndTenMessagesPerRequest) {
    auto b = batcher::create(writer(merge_mode::server));
    ASSERT_TRUE(b);
    const auto reqs = run(*b, 1234);
    ASSERT_EQ(reqs.size(), 3U);  // 500 + 500 + 234
    std::uint64_t next_id = 0;
    for (const auto& r : reqs) {
        test::wire_model m(r.body);
        EXPECT_LE(m.messages, 10U);
        for (auto rows : m.rows_per_message) EXPECT_LE(rows, 50U);
        ASSERT_EQ(m.emails.size(), r.slots.size());
        for (std::size_t i = 0; i < r.slots.size(); ++i) {
            const auto& s = r.slots[i];
            EXPECT_EQ(s.id, next_id++);
            EXPECT_EQ(s.message, i / 50);
            EXPECT_EQ(s.row, i % 50);
            EXPECT_EQ(m.emails[i].to, r.address(s));
            EXPECT_EQ(m.emails[i].subject, "Hello Ann");
        }
    }
    EXPECT_EQ(reqs[0].slots.size(), 500U);
    EXPECT_EQ(reqs[2].slots.size(), 234U);
    EXPECT_EQ(reqs[2].messages, 5U);
}

TEST(Batcher, HonoursConfiguredCounts) {
    limits lim;
    lim.messages_per_request = 3;
    lim.recipients_per_message = 2;
    auto b = batcher::create(writer(merge_mode::server), lim);
    ASSERT_TRUE(b);
    const auto reqs = run(*b, 13);
    ASSERT_EQ(reqs.size(), 3U);  // 6 + 6 + 1
    EXPECT_EQ(reqs[0].messages, 3U);
    EXPECT_EQ(reqs[2].slots.size(), 1U);
}

TEST(Batcher, NeverExceedsTheByteCap) {
    for (auto mode : {merge_mode::local, merge_mode::server}) {
        limits lim;
        lim.max_request_bytes = 1500;
        auto b = batcher::create(writer(mode), lim);
        ASSERT_TRUE(b);
        std::size_t total = 0;
        std::vector<outgoing_request> reqs;
        for (std::size_t i = 0; i < 200; ++i) {
            auto r = person(i, std::string(i % 7 * 20, 'x'));
            ASSERT_TRUE(b->add(r.view()));
            while (b->ready()) reqs.push_back(b->take());
        }
        b->flush();
        while (b->ready()) reqs.push_back(b->take());
        for (const auto& r : reqs) {
            EXPECT_LE(r.body.size(), lim.max_request_bytes);
            test::wire_model m(r.body);
            EXPECT_EQ(m.emails.size(), r.slots.size());
            total += r.slots.size();
        }
        EXPECT_EQ(total, 200U);
        EXPECT_GT(reqs.size(), 10U);
    }
}

TEST(Batcher, OversizeRecipientIsInvalidAndTheOthersGoOn) {
    for (auto mode : {merge_mode::local, merge_mode::server}) {
        limits lim;
        lim.max_request_bytes = 2000;
        auto b = batcher::create(writer(mode), lim);
        ASSERT_TRUE(b);
        auto small = person(0);
        ASSERT_TRUE(b->add(small.view()));
        auto huge = person(1, std::string(3000, 'h'));
        auto p = b->add(huge.view());
        ASSERT_FALSE(p);
        EXPECT_EQ(p.error().code, make_error_code(errc::message_too_large));
        EXPECT_NE(p.error().message.find("over the request cap of 2000 bytes"), std::string::npos)
            << p.error().message;
        auto after = person(2);
        ASSERT_TRUE(b->add(after.view()));
        b->flush();
        ASSERT_TRUE(b->ready());
        const auto r = b->take();
        EXPECT_FALSE(b->ready());
        ASSERT_EQ(r.slots.size(), 2U);
        EXPECT_EQ(r.slots[0].id, 0U);
        EXPECT_EQ(r.slots[1].id, 2U);
        test::wire_model m(r.body);
        EXPECT_EQ(m.emails.size(), 2U);
    }
}

TEST(Batcher, InvalidRowLeavesTheRequestIntact) {
    for (auto mode : {merge_mode::local, merge_mode::server}) {
        auto b = batcher::create(writer(mode));
        ASSERT_TRUE(b);
        auto a = person(0);
        auto bad = person(1, "x\r\ny");
        auto c = person(2);
        ASSERT_TRUE(b->add(a.view()));
        auto p = b->add(bad.view());
        ASSERT_FALSE(p);
        EXPECT_EQ(p.error().code, make_error_code(merge::errc::header_injection));
        ASSERT_TRUE(b->add(c.view()));
        b->flush();
        const auto r = b->take();
        test::wire_model m(r.body);
        ASSERT_EQ(m.emails.size(), 2U);
        EXPECT_EQ(m.emails[1].to, "r2@example.com");
        EXPECT_EQ(r.slots[1].id, 2U);
    }
}

TEST(Batcher, RefusesLimitsTheServerWouldNot) {
    limits lim;
    lim.messages_per_request = 0;
    EXPECT_FALSE(batcher::create(writer(merge_mode::local), lim));
    lim = {};
    lim.max_request_bytes = server_max_request_bytes + 1;
    auto b = batcher::create(writer(merge_mode::local), lim);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code, make_error_code(errc::bad_limits));
    EXPECT_FALSE(batcher::create(nullptr));
}

TEST(Batcher, RecycledBuffersAreReused) {
    auto b = batcher::create(writer(merge_mode::local));
    ASSERT_TRUE(b);
    auto reqs = run(*b, 10);
    ASSERT_EQ(reqs.size(), 1U);
    const auto* data = reqs[0].body.data();
    const auto capacity = reqs[0].body.capacity();
    b->recycle(std::move(reqs[0]));
    // The request being built took a fresh buffer at the last seal; the
    // recycled one serves the next.
    auto more = run(*b, 20);
    ASSERT_EQ(more.size(), 2U);
    EXPECT_EQ(more[1].body.data(), data);
    EXPECT_GE(more[1].body.capacity(), capacity);
}

}  // namespace
}  // namespace salvo::injection
