// The emulator's request reader: every SDK's naming and emptiness habits
// read the same, and malformed bodies are named precisely.

#include <salvo/injection/request_reader.hpp>

#include <gtest/gtest.h>

namespace {

using salvo::injection::request;
using salvo::injection::request_errc;
using salvo::injection::request_reader;

request read_ok(const std::string& body) {
    request_reader reader;
    request r;
    const auto ec = reader.read(body, r);
    EXPECT_FALSE(ec) << ec.message() << ": " << reader.detail();
    return r;
}

TEST(RequestReader, PascalAndCamelCaseReadTheSame) {
    const auto pascal = read_ok(
        R"({"ServerId":12345,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"a@x.com","FriendlyName":"A"}],"From":{"EmailAddress":"f@x.com"},"Subject":"S","TextBody":"T","HtmlBody":"H","AmpBody":"A","MailingId":"m","MessageId":"i","CharSet":"UTF-8"}]})");
    const auto camel = read_ok(
        R"({"serverId":12345,"apiKey":"k","messages":[{"to":[{"emailAddress":"a@x.com","friendlyName":"A"}],"from":{"emailAddress":"f@x.com"},"subject":"S","textBody":"T","htmlBody":"H","ampBody":"A","mailingId":"m","messageId":"i","charset":"UTF-8"}]})");
    for (const auto* r : {&pascal, &camel}) {
        EXPECT_EQ(r->server_id, "12345");
        EXPECT_EQ(r->api_key, "k");
        ASSERT_EQ(r->messages.size(), 1u);
        const auto& m = r->messages[0];
        ASSERT_EQ(m.to.size(), 1u);
        EXPECT_EQ(m.to[0].email, "a@x.com");
        EXPECT_EQ(m.to[0].name, "A");
        EXPECT_EQ(m.from.email, "f@x.com");
        EXPECT_EQ(m.subject, "S");
        EXPECT_EQ(m.text_body, "T");
        EXPECT_EQ(m.html_body, "H");
        EXPECT_EQ(m.amp_body, "A");
        EXPECT_EQ(m.mailing_id, "m");
        EXPECT_EQ(m.message_id, "i");
        EXPECT_EQ(m.charset, "UTF-8");
        EXPECT_FALSE(m.empty);
    }
}

TEST(RequestReader, StringServerIdAndNumericApiTemplate) {
    const auto r = read_ok(R"({"ServerId":"777","Messages":[{"ApiTemplate":42}]})");
    EXPECT_EQ(r.server_id, "777");
    EXPECT_EQ(r.messages[0].api_template, "42");
}

TEST(RequestReader, NullEmptyObjectAndEmptyArrayAreAbsent) {
    const auto r = read_ok(
        R"({"ServerId":1,"ApiKey":null,"Messages":[{"To":[{"EmailAddress":"a@x.com"},{}],"Cc":[],"Bcc":null,"ReplyTo":{},"From":{"EmailAddress":"f@x.com","FriendlyName":null},"Subject":null,"CustomHeaders":[],"Attachments":null,"MergeData":{},"Metadata":[],"Tags":[]}, {}, null]})");
    EXPECT_EQ(r.api_key, "");
    ASSERT_EQ(r.messages.size(), 3u);
    const auto& m = r.messages[0];
    EXPECT_EQ(m.to.size(), 1u);  // the `{}` entry carries no recipient
    EXPECT_TRUE(m.cc.empty());
    EXPECT_TRUE(m.reply_to.email.empty());
    EXPECT_EQ(m.from.name, "");
    EXPECT_FALSE(m.empty);
    EXPECT_TRUE(r.messages[1].empty);
    EXPECT_TRUE(r.messages[2].empty);
}

TEST(RequestReader, OnlyUnknownOrAbsentFieldsIsAnEmptyMessage) {
    const auto r = read_ok(R"({"Messages":[{"Whatever":1,"To":[],"Subject":null}]})");
    EXPECT_TRUE(r.messages[0].empty);
}

TEST(RequestReader, MergeDataAttachmentsHeadersMetadataTags) {
    const auto r = read_ok(
        R"({"Messages":[{"MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@x.com"},{"Field":"N","Value":3}],[]],"Global":[{"field":"G","value":"g"}]},)"
        R"("Attachments":[{"Name":"a.txt","Content":"aGk=","ContentId":"c1","ContentType":"text/plain","CustomHeaders":[{"Name":"X","Value":"1"}]}],)"
        R"("CustomHeaders":[{"Name":"X-A","Value":"v"}],"Metadata":[{"Key":"k","Value":"v"}],"Tags":["t1",null,"t2"]}]})");
    const auto& m = r.messages[0];
    ASSERT_EQ(m.per_message.size(), 2u);
    ASSERT_EQ(m.per_message[0].size(), 2u);
    EXPECT_EQ(m.per_message[0][0].name, "DeliveryAddress");
    EXPECT_EQ(m.per_message[0][0].value, "a@x.com");
    EXPECT_TRUE(m.per_message[0][0].value_is_string);
    EXPECT_FALSE(m.per_message[0][1].value_is_string);  // a number: InvalidMergeData later
    EXPECT_TRUE(m.per_message[1].empty());
    ASSERT_EQ(m.global.size(), 1u);
    EXPECT_EQ(m.global[0].name, "G");
    ASSERT_EQ(m.attachments.size(), 1u);
    EXPECT_EQ(m.attachments[0].content_id, "c1");
    EXPECT_EQ(m.attachments[0].content_type, "text/plain");
    ASSERT_EQ(m.attachments[0].headers.size(), 1u);
    EXPECT_EQ(m.custom_headers[0].name, "X-A");
    EXPECT_EQ(m.metadata[0].name, "k");
    EXPECT_EQ(m.tags, (std::vector<std::string>{"t1", "t2"}));
}

TEST(RequestReader, ErrorsNameTheFieldButNeverItsValue) {
    request_reader reader;
    request r;
    EXPECT_EQ(reader.read("{\"ServerId\":", r), request_errc::not_json);
    EXPECT_EQ(reader.read("", r), request_errc::not_json);
    EXPECT_EQ(reader.read("[]", r), request_errc::not_an_object);
    EXPECT_EQ(reader.read(R"({"Messages":[{"To":[{"EmailAddress":5}]}]})", r),
              request_errc::wrong_type);
    EXPECT_EQ(reader.detail(), "Messages[0].To[0].EmailAddress: expected a string");
    EXPECT_EQ(reader.read(R"({"ServerId":1.5})", r), request_errc::wrong_type);
    EXPECT_EQ(reader.detail(), "ServerId: expected a string or an integer");
    EXPECT_EQ(reader.read(R"({"ApiKey":"secret-key","Messages":{"a":1}})", r),
              request_errc::wrong_type);
    EXPECT_EQ(reader.detail().find("secret-key"), std::string::npos);
    EXPECT_EQ(reader.read(R"({"Messages":["x"]})", r), request_errc::not_an_object);
    EXPECT_EQ(reader.detail(), "Messages[0]: expected an object");
    // The reader is reusable after a failure.
    EXPECT_FALSE(reader.read(R"({"ServerId":1})", r));
    EXPECT_TRUE(reader.detail().empty());
    EXPECT_EQ(r.server_id, "1");
}

TEST(RequestReader, ErrorCategoryHasAName) {
    const boost::system::error_code ec = request_errc::wrong_type;
    EXPECT_STREQ(ec.category().name(), "salvo.injection.request");
    EXPECT_FALSE(ec.message().empty());
}

}  // namespace
