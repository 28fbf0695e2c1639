// The engine's pool of finished requests' buffers (engine/src/job_impl.hpp):
// a flight and its body come back reset, and a batcher writes its next
// request into the recycled body.
#include "job_impl.hpp"

#include <salvo/injection/batcher.hpp>
#include <salvo/injection/request_writer.hpp>
#include <salvo/merge/template.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace salvo::engine {
namespace {

std::shared_ptr<const injection::request_writer> local_writer() {
    injection::message_spec s;
    const auto make = [&](const char* text, merge::context where) {
        return merge::compile(text, s.fields, {where, true, false, "template"}).value();
    };
    s.from.email = make("news@example.com", merge::context::header);
    s.subject = make("Hello", merge::context::header);
    s.text_body = make("Hi", merge::context::text);
    return injection::request_writer::create(std::move(s), {12345, "key"},
                                             injection::merge_mode::local)
        .value();
}

std::unique_ptr<flight> used_flight(spare_buffers& spares) {
    auto f = spares.take_flight();
    f->meta.body.assign(100'000, 'x');
    f->meta.slots.resize(10);
    f->meta.addresses = "someone@example.com";
    f->meta.messages = 10;
    f->lines.assign(10, 3);
    f->doubt.assign(10, true);
    f->message_ids = "id";
    f->message_id_spans.assign(10, {0, 2});
    f->id = 7;
    f->attempt = 3;
    f->transport_attempts = 5;
    f->ambiguous = true;
    return f;
}

// Eleven recipients through `b`, flushed: two requests of a local-mode
// writer's ten messages and one.
std::vector<injection::outgoing_request> eleven_recipients(injection::batcher& b) {
    std::vector<injection::outgoing_request> out;
    for (std::uint64_t i = 0; i < 11; ++i) {
        std::string address = "r";
        address += std::to_string(i);
        address += "@example.com";
        EXPECT_TRUE(b.add({address, "", {}, i}));
        while (b.ready()) out.push_back(b.take());
    }
    b.flush();
    while (b.ready()) out.push_back(b.take());
    return out;
}

TEST(SpareBuffers, AFlightComesBackReset) {
    spare_buffers spares;
    auto f = used_flight(spares);
    const flight* raw = f.get();
    std::vector<std::unique_ptr<flight>> done;
    done.push_back(std::move(f));
    spares.give_back(done);
    EXPECT_TRUE(done.empty());

    auto again = spares.take_flight();
    ASSERT_EQ(again.get(), raw);
    EXPECT_TRUE(again->meta.body.empty());
    EXPECT_TRUE(again->meta.slots.empty());
    EXPECT_TRUE(again->meta.addresses.empty());
    EXPECT_EQ(again->meta.messages, 0U);
    EXPECT_TRUE(again->lines.empty());
    EXPECT_TRUE(again->doubt.empty());
    EXPECT_TRUE(again->message_ids.empty());
    EXPECT_TRUE(again->message_id_spans.empty());
    EXPECT_EQ(again->id, 0U);
    EXPECT_EQ(again->attempt, 1U);
    EXPECT_EQ(again->transport_attempts, 0U);
    EXPECT_FALSE(again->ambiguous);
    // None is spare now: a new one.
    EXPECT_NE(spares.take_flight().get(), raw);

    // At the end of a run the pool lets go of everything.
    done.push_back(std::move(again));
    spares.give_back(done);
    spares.clear();
    EXPECT_EQ(spares.size(), 0U);
    // A new flight, not the old one (whose address a new one may reuse):
    // nothing of the old one's capacity.
    EXPECT_EQ(spares.take_flight()->lines.capacity(), 0U);
}

TEST(SpareBuffers, ABatcherWritesIntoARecycledBody) {
    spare_buffers spares;
    auto f = used_flight(spares);
    const char* body = f->meta.body.data();
    std::vector<std::unique_ptr<flight>> done;
    done.push_back(std::move(f));
    spares.give_back(done);

    auto b = injection::batcher::create(local_writer()).value();
    spares.refill(b, 4);
    EXPECT_EQ(b.spares(), 1U);  // all there was
    spares.refill(b, 4);
    EXPECT_EQ(b.spares(), 1U);

    // The request being built has its buffer already; the recycled body
    // serves the one after it.
    std::vector<injection::outgoing_request> out = eleven_recipients(b);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_NE(out[0].body.data(), body);
    EXPECT_EQ(out[1].body.data(), body);
    EXPECT_EQ(out[1].slots.size(), 1U);
    EXPECT_EQ(b.spares(), 0U);
}

// An accepted request's body comes back from the network thread before the
// recorder gives back its flight: the next request is written into it at
// once, and the flight, when it comes, carries no body of its own.
TEST(SpareBuffers, ABodyGivenBackEarlyServesTheNextRequest) {
    spare_buffers spares;
    auto f = used_flight(spares);
    std::string early = std::move(f->meta.body);
    const char* body = early.data();
    spares.give_back_body(std::move(early));

    auto b = injection::batcher::create(local_writer()).value();
    spares.refill(b, 4);
    EXPECT_EQ(b.spares(), 1U);  // the body, in a request of its own
    std::vector<injection::outgoing_request> out = eleven_recipients(b);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(out[1].body.data(), body);

    // The flight comes back bodiless; the next early body goes into its
    // request rather than a new one, and an early body is not lost to a
    // bodiless request: the batcher gets one request, with the body.
    std::vector<std::unique_ptr<flight>> done;
    done.push_back(std::move(f));
    spares.give_back(done);
    std::string second(100'000, 'y');
    const char* second_data = second.data();
    spares.give_back_body(std::move(second));
    auto c = injection::batcher::create(local_writer()).value();
    spares.refill(c, 1);
    EXPECT_EQ(c.spares(), 1U);
    EXPECT_EQ(spares.size(), 0U);
    out = eleven_recipients(c);
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(out[1].body.data(), second_data);

    spares.clear();
    auto d = injection::batcher::create(local_writer()).value();
    spares.refill(d, 4);
    EXPECT_EQ(d.spares(), 0U);  // clear() let go of the early bodies too
}

// A chunk that makes more requests than its refill asked for makes new
// ones. The pool then hands out at least that many: over many chunks it
// holds no more than one chunk's requests, where a fixed ask below the
// need grew it by the difference every chunk (a 300 000-row local send
// peaked at 264 MB that way).
TEST(SpareBuffers, ThePoolHoldsNoMoreThanAChunkUses) {
    spare_buffers spares;
    auto b = injection::batcher::create(local_writer()).value();
    constexpr std::uint64_t requests_a_chunk = 8;  // 10 recipients each
    std::uint64_t id = 0;
    for (int chunk = 0; chunk < 20; ++chunk) {
        spares.refill(b, 5);  // the estimate: short of the 8 the chunk makes
        std::vector<std::unique_ptr<flight>> done;
        for (std::uint64_t i = 0; i < requests_a_chunk * 10; ++i, ++id) {
            const std::string address = (std::string{"r"} += std::to_string(id)) += "@example.com";
            ASSERT_TRUE(b.add({address, "", {}, id}));
        }
        b.flush();
        std::size_t made = 0;
        while (b.ready()) {
            auto f = spares.take_flight();
            f->meta = b.take();
            done.push_back(std::move(f));
            ++made;
        }
        ASSERT_EQ(made, requests_a_chunk);
        spares.used(made);
        spares.give_back(done);
        // Every request of the chunk is back, and the batcher holds the
        // one it builds next: never more than a chunk's worth plus that.
        EXPECT_LE(spares.size() + b.spares(), requests_a_chunk + 1) << "chunk " << chunk;
    }
}

}  // namespace
}  // namespace salvo::engine
