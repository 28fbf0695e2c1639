// Server-side merge (INJECTION_API.md §3) as a user sees it: what the
// emulator records for PerMessage and Global fields.

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

struct merged {
    std::vector<recorded_email> emails;
    salvo::emulator::stats stats;
};

merged send_message(const std::string& message) {
    options o;
    o.record_in_memory = true;
    auto s = server::start(std::move(o));
    EXPECT_TRUE(s.has_value());
    http_client c((*s)->port());
    const auto r = c.post(R"({"ServerId":1,"ApiKey":"k","Messages":[)" + message + "]}");
    EXPECT_EQ(r.body, success);
    return {(*s)->recorded(), (*s)->counters()};
}

TEST(ServerMerge, PlaceholderScanMatchesTheTemplateGrammar) {
    const std::string text =
        "%%Name%%|%%name%%|50%% off, 20%% more|%%%%|%%%Name%%|%%First "
        "Name%%|%%1abc%%|%%Name|%%Name%%%%|"
        "%%Missing%%|%%a-b_c%%|%%%%Name%%";
    const auto m = send_message(
        R"({"To":[{"EmailAddress":"%%DeliveryAddress%%"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":")" +
        text +
        R"(","MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@example.com"},{"Field":"NAME","Value":"Ann"},{"Field":"A-B_C","Value":"dash"}]]}})");
    ASSERT_EQ(m.emails.size(), 1u);
    EXPECT_EQ(
        m.emails[0].text,
        "Ann|Ann|50%% off, 20%% more|%%%%|%Ann|%%First Name%%|%%1abc%%|%%Name|Ann%%||dash|%%Ann");
    EXPECT_EQ(m.stats.missing_merge_fields, 1u);
}

TEST(ServerMerge, EveryRenderedPlaceIsRenderedPerRow) {
    const auto m = send_message(
        R"({"To":[{"EmailAddress":"%%DeliveryAddress%%","FriendlyName":"%%RecipientName%%"}],)"
        R"("From":{"EmailAddress":"%%Sender%%@example.com","FriendlyName":"%%Team%% team"},)"
        R"("ReplyTo":{"EmailAddress":"reply+%%Code%%@example.com","FriendlyName":"%%Team%%"},)"
        R"("Subject":"Hi %%RecipientName%%","HtmlBody":"<b>%%Code%%</b>","AmpBody":"<amp>%%Code%%</amp>","TextBody":"t",)"
        R"("MailingId":"m-%%Code%%","MessageId":"id-%%Code%%","CustomHeaders":[{"Name":"X-Code","Value":"c=%%Code%%"}],)"
        R"("MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@example.com"},{"Field":"RecipientName","Value":"Ann"},{"Field":"Code","Value":"A1"}],)"
        R"([{"Field":"DeliveryAddress","Value":"b@example.com"},{"Field":"Code","Value":"B2"},{"Field":"Team","Value":"Row"}]],)"
        R"("Global":[{"Field":"Sender","Value":"news"},{"Field":"Team","Value":"Global"}]}})");
    ASSERT_EQ(m.emails.size(), 2u);
    const auto& a = m.emails[0];
    EXPECT_EQ(a.to, "a@example.com");
    EXPECT_EQ(a.to_name, "Ann");
    EXPECT_EQ(a.from, "news@example.com");
    EXPECT_EQ(a.from_name, "Global team");
    EXPECT_EQ(a.reply_to, "reply+A1@example.com");
    EXPECT_EQ(a.reply_to_name, "Global");
    EXPECT_EQ(a.subject, "Hi Ann");
    EXPECT_EQ(a.html, "<b>A1</b>");
    EXPECT_EQ(a.amp, "<amp>A1</amp>");
    EXPECT_EQ(a.mailing_id, "m-A1");
    EXPECT_EQ(a.message_id, "id-A1");
    ASSERT_EQ(a.headers.size(), 1u);
    EXPECT_EQ(a.headers[0].value, "c=A1");
    const auto& b = m.emails[1];
    EXPECT_EQ(b.to, "b@example.com");
    EXPECT_EQ(b.to_name, "");
    EXPECT_EQ(b.from_name, "Row team");  // the row overrides Global
    EXPECT_EQ(b.subject, "Hi ");
    EXPECT_EQ(b.message_id, "id-B2");
    EXPECT_EQ(m.stats.missing_merge_fields, 2u);  // RecipientName twice in row 2
}

TEST(ServerMerge, GlobalAloneRendersAPlainMessageForEveryRecipient) {
    const auto m = send_message(
        R"({"To":[{"EmailAddress":"a@example.com"},{"EmailAddress":"b@example.com"}],"From":{"EmailAddress":"f@example.com"},)"
        R"("Subject":"From %%Company%%","TextBody":"t","MergeData":{"Global":[{"Field":"company","Value":"ACME"}]}})");
    ASSERT_EQ(m.emails.size(), 2u);
    EXPECT_EQ(m.emails[0].subject, "From ACME");
    EXPECT_EQ(m.emails[1].subject, "From ACME");
    EXPECT_EQ(m.emails[1].to, "b@example.com");
}

TEST(ServerMerge, WithoutMergeDataPlaceholdersStayAsWritten) {
    const auto m = send_message(
        R"({"To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"Keep %%Name%%","TextBody":"%%X%%"})");
    ASSERT_EQ(m.emails.size(), 1u);
    EXPECT_EQ(m.emails[0].subject, "Keep %%Name%%");
    EXPECT_EQ(m.emails[0].text, "%%X%%");
    EXPECT_EQ(m.stats.missing_merge_fields, 0u);
}

TEST(ServerMerge, ValuesAreCopiedVerbatim) {
    const auto m = send_message(
        R"({"To":[{"EmailAddress":"%%DeliveryAddress%%"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","HtmlBody":"<p>%%V%%</p>",)"
        R"("MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@example.com"},{"Field":"V","Value":"Zo\u00eb \"q\" <&> 100% \ud83d\ude80 %%V%%"}]]}})");
    ASSERT_EQ(m.emails.size(), 1u);
    // A value is inserted as is (not rescanned, not escaped).
    EXPECT_EQ(m.emails[0].html, "<p>Zo\xC3\xAB \"q\" <&> 100% \xF0\x9F\x9A\x80 %%V%%</p>");
}

TEST(ServerMerge, InvalidRowAddressIsRefusedOthersDelivered) {
    options o;
    o.record_in_memory = true;
    auto s = server::start(std::move(o));
    ASSERT_TRUE(s.has_value());
    http_client c((*s)->port());
    const auto r = c.post(
        R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"%%DeliveryAddress%%"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T",)"
        R"("MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"good@example.com"}],[{"Field":"DeliveryAddress","Value":"bad"}]]}}]})");
    EXPECT_EQ(
        r.body,
        R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[{"Index":0,"ErrorCode":"Warning","AddressResults":[{"EmailAddress":"bad","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})");
    ASSERT_EQ((*s)->recorded().size(), 1u);
    EXPECT_EQ((*s)->recorded()[0].to, "good@example.com");
}

}  // namespace
