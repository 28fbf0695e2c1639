// The record: every accepted email as one NDJSON line, in a file and in
// memory, with the request number.

#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>

#include <gtest/gtest.h>

namespace {

using salvo::emulator::options;
using salvo::emulator::recorded_email;
using salvo::emulator::server;
using salvo::test::http_client;

TEST(Record, NdjsonLineHasEveryFieldEscaped) {
    recorded_email e;
    e.request = 7;
    e.index = 2;
    e.to = "a@example.com";
    e.to_name = "Ann \"A\"";
    e.from = "f@example.com";
    e.subject = "line\nbreak\ttab \\ slash \x01";
    e.html = "<p>Zo\xC3\xAB</p>";
    e.headers = {{"X-A", "1"}};
    e.attachments = {{"a.png", "image/png", "logo", 8}};
    e.metadata = {{"k", "v"}};
    e.tags = {"t1", "t2"};
    EXPECT_EQ(
        salvo::emulator::to_ndjson(e),
        R"({"request":7,"index":2,"to":"a@example.com","to_name":"Ann \"A\"","from":"f@example.com","from_name":"",)"
        R"("reply_to":"","reply_to_name":"","subject":"line\nbreak\ttab \\ slash \u0001","text":"",)"
        "\"html\":\"<p>Zo\xC3\xAB</p>\","
        R"("amp":"","headers":[{"name":"X-A","value":"1"}],"mailing_id":"","message_id":"","charset":"",)"
        R"("api_template":"","attachments":[{"name":"a.png","content_type":"image/png","content_id":"logo","bytes":8}],)"
        R"("metadata":[{"key":"k","value":"v"}],"tags":["t1","t2"]})");
}

TEST(Record, FileHoldsOneLinePerAcceptedEmailInOrder) {
    salvo::test::temp_dir dir;
    const auto path = dir.path() / "record.ndjson";
    options o;
    o.record_file = path.string();
    o.record_in_memory = true;
    auto s = server::start(std::move(o));
    ASSERT_TRUE(s.has_value());
    http_client c((*s)->port());
    const std::string one =
        R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"a@example.com"},{"EmailAddress":"bad"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S1","TextBody":"T"}]})";
    const std::string two =
        R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"b@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S2","TextBody":"T"},)"
        R"({"To":[{"EmailAddress":"c@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S3","TextBody":"T"}]})";
    ASSERT_EQ(c.post(one).status, 200);
    ASSERT_EQ(c.post("{broken").status, 200);  // InvalidData: nothing recorded
    ASSERT_EQ(c.post(two).status, 200);
    const auto recorded = (*s)->recorded();
    ASSERT_EQ(recorded.size(), 3u);
    EXPECT_EQ(recorded[0].request, 1u);
    EXPECT_EQ(recorded[1].request, 3u);
    EXPECT_EQ(recorded[2].index, 1u);
    EXPECT_EQ(recorded[2].subject, "S3");
    std::string expected;
    for (const auto& e : recorded) expected += salvo::emulator::to_ndjson(e) + "\n";
    EXPECT_EQ(salvo::test::read_file(path), expected);
}

TEST(Record, UnwritableRecordFileFailsStart) {
    salvo::test::temp_dir dir;
    options o;
    o.record_file = (dir.path() / "missing-dir" / "record.ndjson").string();
    const auto s = server::start(std::move(o));
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error(), salvo::emulator::errc::record_file_failed);
}

}  // namespace
