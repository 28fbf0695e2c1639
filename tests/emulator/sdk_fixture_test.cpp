// The request bodies the official SDKs send (INJECTION_API.md §2), sent over
// a real loopback socket: every one is accepted, and what is recorded is
// what the SDK meant to deliver.

#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>

#include <gtest/gtest.h>

namespace {

using salvo::emulator::options;
using salvo::emulator::recorded_email;
using salvo::emulator::server;
using salvo::test::http_client;

constexpr const char* success =
    R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})";
const std::string bearer_key = "AAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";

std::unique_ptr<server> start_sdk_server() {
    options o;
    o.server_id = "12345";
    o.record_in_memory = true;
    o.templates["5"] = {"Stored subject", "Stored text", "<p>Stored html</p>", ""};
    auto s = server::start(std::move(o));
    EXPECT_TRUE(s.has_value()) << s.error().message();
    return std::move(*s);
}

std::vector<recorded_email> send_fixture(const std::string& name) {
    auto s = start_sdk_server();
    http_client c(s->port());
    std::vector<std::pair<std::string, std::string>> headers;
    if (name.find("bearer") != std::string::npos)
        headers.emplace_back("Authorization", "Bearer " + bearer_key);
    const auto r = c.post(salvo::test::read_file(salvo::test::data_dir() / "sdk" / name), headers);
    EXPECT_EQ(r.status, 200) << name;
    EXPECT_EQ(r.body, success) << name;
    return s->recorded();
}

TEST(SdkFixtures, CSharpPlainWithEmptyArraysAndEmptyReplyTo) {
    const auto e = send_fixture("csharp_plain.json");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].to, "ann@example.com");
    EXPECT_EQ(e[0].to_name, "Ann");
    EXPECT_EQ(e[0].from_name, "News");
    EXPECT_EQ(e[0].reply_to, "");
    EXPECT_EQ(e[0].subject, "Hello from C#");
    EXPECT_EQ(e[0].text, "Plain text");
    EXPECT_EQ(e[0].html, "<p>Html</p>");
}

TEST(SdkFixtures, CSharpBulkRendersEachRow) {
    const auto e = send_fixture("csharp_bulk.json");
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].to, "a@example.com");
    EXPECT_EQ(e[0].to_name, "Ann");
    EXPECT_EQ(e[0].subject, "Hi Ann");
    EXPECT_EQ(e[0].text, "Your code is X1");
    EXPECT_EQ(e[0].mailing_id, "spring-2026");
    EXPECT_EQ(e[0].message_id, "msg-1");
    EXPECT_EQ(e[1].to, "b@example.com");
    EXPECT_EQ(e[1].to_name, "");  // no RecipientName in the row: rendered empty
    EXPECT_EQ(e[1].subject, "Hi Bob");
}

TEST(SdkFixtures, PythonStringServerIdAndCamelCase) {
    const auto e = send_fixture("python_plain.json");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].to, "bob@example.com");
    EXPECT_EQ(e[0].subject, "Hello from Python");
    ASSERT_EQ(e[0].headers.size(), 1u);
    EXPECT_EQ(e[0].headers[0].name, "X-Campaign");
    EXPECT_EQ(e[0].headers[0].value, "spring");
    ASSERT_EQ(e[0].metadata.size(), 1u);
    EXPECT_EQ(e[0].metadata[0].name, "k1");
    EXPECT_EQ(e[0].tags, std::vector<std::string>{"spring"});
}

TEST(SdkFixtures, NodeBulkWithGlobal) {
    const auto e = send_fixture("node_bulk.json");
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].html, "<p>Code X1 from ACME</p>");
    EXPECT_EQ(e[1].html, "<p>Code Y2 from ACME</p>");
    EXPECT_EQ(e[1].subject, "Hi Bob");
}

TEST(SdkFixtures, GoAttachmentsCcBccAndReplyTo) {
    const auto e = send_fixture("go_attachments.json");
    ASSERT_EQ(e.size(), 3u);  // To, Cc and Bcc each receive the message
    EXPECT_EQ(e[0].to, "carol@example.com");
    EXPECT_EQ(e[1].to, "dave@example.com");
    EXPECT_EQ(e[2].to, "erin@example.com");
    EXPECT_EQ(e[0].reply_to, "reply@example.com");
    EXPECT_EQ(e[0].amp, "<html amp4email></html>");
    EXPECT_EQ(e[0].charset, "UTF-8");
    EXPECT_EQ(e[0].mailing_id, "mail-7");
    ASSERT_EQ(e[0].attachments.size(), 2u);
    EXPECT_EQ(e[0].attachments[0].name, "logo.png");
    EXPECT_EQ(e[0].attachments[0].content_id, "logo");
    EXPECT_EQ(e[0].attachments[0].bytes, 8u);
    EXPECT_EQ(e[0].attachments[1].bytes, 5u);
}

TEST(SdkFixtures, JavaNullsAndNumericApiTemplate) {
    const auto e = send_fixture("java_template.json");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].api_template, "5");
    EXPECT_EQ(e[0].subject, "Stored subject");
    EXPECT_EQ(e[0].text, "Stored text");
    EXPECT_EQ(e[0].html, "<p>Stored html</p>");
}

TEST(SdkFixtures, PhpRowOverridesGlobalEvenWhenEmptyAndKeepsLiteralPercents) {
    const auto e = send_fixture("php_bulk_global.json");
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].subject, " Gina");  // the row's empty greeting wins over Global
    EXPECT_EQ(e[1].subject, "Hello Hugo");
    EXPECT_EQ(e[1].to, "h@example.com");  // DeliveryAddress matched case-insensitively
    EXPECT_EQ(e[0].text, "Offer: 50%% off, 20%% more");
    EXPECT_EQ(e[0].from_name, "ACME News");
}

TEST(SdkFixtures, RubyBearerKeyWithEmptyApiKey) {
    const auto e = send_fixture("ruby_bearer.json");
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].to, "ivy@example.com");
    EXPECT_EQ(e[0].tags, (std::vector<std::string>{"ruby", "bearer"}));
}

TEST(SdkFixtures, ContractMergeExample) {
    const auto e = send_fixture("contract_merge.json");
    ASSERT_EQ(e.size(), 2u);
    EXPECT_EQ(e[0].subject, "Hi Ann");
    EXPECT_EQ(e[0].html, "<p>Code X1 from ACME</p>");
    EXPECT_EQ(e[1].to, "b@example.com");
    EXPECT_EQ(e[1].html, "<p>Code Y2 from ACME</p>");
}

}  // namespace
