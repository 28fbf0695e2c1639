// Every ErrorCode of INJECTION_API.md §5 produced by a real request, with
// the whole response body checked exactly.

#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>

#include <gtest/gtest.h>

#include <functional>

namespace {

using salvo::emulator::fault_kind;
using salvo::emulator::options;
using salvo::emulator::server;
using salvo::injection::api_code;
using salvo::test::http_client;
using salvo::test::http_reply;

const std::string good =
    R"({"To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"})";

std::string request(const std::vector<std::string>& messages,
                    std::string creds = R"("ServerId":1,"ApiKey":"k")") {
    std::string body = "{" + creds + ",\"Messages\":[";
    for (std::size_t i = 0; i < messages.size(); ++i) body += (i ? "," : "") + messages[i];
    return body + "]}";
}

std::string plain(api_code c) {
    return R"({"ErrorCode":")" + std::string(salvo::injection::to_string(c)) +
           R"(","MessageResults":[],"TransactionReceipt":null})";
}

// A failure of the message at index 1, after an accepted one: top-level Warning.
std::string warning_at_1(api_code c) {
    return R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[{"Index":1,"ErrorCode":")" +
           std::string(salvo::injection::to_string(c)) + R"(","AddressResults":[]}]})";
}

salvo::emulator::fault_rule fault(fault_kind k) {
    salvo::emulator::fault_rule r;
    r.kind = k;
    return r;
}

struct sent {
    http_reply reply;
    salvo::emulator::stats stats;
    std::size_t recorded = 0;
};

sent send(std::string body, const std::function<void(options&)>& configure = {},
          std::vector<std::pair<std::string, std::string>> headers = {}) {
    options o;
    o.record_in_memory = true;
    o.templates["5"] = {"Stored", "Text", "", ""};
    o.templates["7"] = {"Empty", "", "", "<amp/>"};
    if (configure) configure(o);
    auto s = server::start(std::move(o));
    EXPECT_TRUE(s.has_value());
    http_client c((*s)->port());
    sent r{c.post(std::move(body), std::move(headers)), {}, 0};
    r.stats = (*s)->counters();
    r.recorded = (*s)->recorded().size();
    return r;
}

void expect(const sent& s, int status, const std::string& body) {
    EXPECT_EQ(s.reply.status, status);
    EXPECT_EQ(s.reply.body, body);
}

TEST(RequestCodes, Success) {
    const auto r = send(request({good, good}));
    expect(r, 200, plain(api_code::success));
    EXPECT_EQ(r.recorded, 2u);
    EXPECT_EQ(r.stats.by_code.at("Success"), 1u);
}

TEST(RequestCodes, InvalidDataForBadJsonWrongTypesAndEmptyHeaders) {
    expect(send("{not json"), 200, plain(api_code::invalid_data));
    expect(send(request({R"({"To":[{"EmailAddress":"a@example.com"}],"Subject":5})"})), 200,
           plain(api_code::invalid_data));
    expect(send(request({R"([1,2])"})), 200, plain(api_code::invalid_data));
    const std::string bad_header =
        R"({"To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T","CustomHeaders":[{"Name":"X-A","Value":""}]})";
    const auto r = send(request({bad_header}));
    expect(r, 200, plain(api_code::invalid_data));
    EXPECT_EQ(r.recorded, 0u);
}

TEST(RequestCodes, InvalidAuthenticationIs401) {
    const auto configured = [](options& o) {
        o.server_id = "1";
        o.api_key = "right";
    };
    expect(send(request({good}, R"("ServerId":"1","ApiKey":"right")"), configured), 200,
           plain(api_code::success));
    expect(send(request({good}, R"("ServerId":1,"ApiKey":"wrong")"), configured), 401,
           plain(api_code::invalid_authentication));
    expect(send(request({good}, R"("ServerId":2,"ApiKey":"right")"), configured), 401,
           plain(api_code::invalid_authentication));
    // No key configured: any non-empty key, but not an empty one, nor no ServerId.
    expect(send(request({good}, R"("ServerId":9,"ApiKey":"")")), 401,
           plain(api_code::invalid_authentication));
    expect(send(request({good}, R"("ApiKey":"k")")), 401, plain(api_code::invalid_authentication));
}

TEST(RequestCodes, BearerKeyNeedsTheNewKeyShape) {
    const std::string key = "abcdefghij0123456789.abcdefghij0123456789abcdefghij0123456789";
    ASSERT_EQ(key.size(), 61u);
    const auto creds = R"("ServerId":1)";
    expect(send(request({good}, creds), {}, {{"Authorization", "Bearer " + key}}), 200,
           plain(api_code::success));
    expect(send(request({good}, creds), [&](options& o) { o.api_key = key; },
                {{"Authorization", "Bearer " + key}}),
           200, plain(api_code::success));
    expect(send(request({good}, creds), {}, {{"Authorization", "Bearer short.key"}}), 401,
           plain(api_code::invalid_authentication));
    const std::string other = "zbcdefghij0123456789.abcdefghij0123456789abcdefghij0123456789";
    expect(send(request({good}, creds), [&](options& o) { o.api_key = key; },
                {{"Authorization", "Bearer " + other}}),
           401, plain(api_code::invalid_authentication));
}

TEST(RequestCodes, NoMessages) {
    expect(send(request({})), 200, plain(api_code::no_messages));
    expect(send(R"({"ServerId":1,"ApiKey":"k"})"), 200, plain(api_code::no_messages));
}

TEST(RequestCodes, EmptyMessage) {
    expect(send(request({good, "{}"})), 200, plain(api_code::empty_message));
    expect(send(request({R"({"Unknown":1,"Cc":[]})"})), 200, plain(api_code::empty_message));
}

TEST(RequestCodes, TooManyMessages) {
    expect(send(request(std::vector<std::string>(11, good))), 200,
           plain(api_code::too_many_messages));
    expect(send(request(std::vector<std::string>(3, good)),
                [](options& o) { o.limits.messages_per_request = 2; }),
           200, plain(api_code::too_many_messages));
}

TEST(RequestCodes, TooManyRecipientsForAddressesAndRows) {
    std::string to = "[";
    std::string rows = "[";
    for (int i = 0; i < 51; ++i) {
        to += std::string(i ? "," : "") + R"({"EmailAddress":"r)" + std::to_string(i) +
              R"(@example.com"})";
        rows += std::string(i ? "," : "") + R"([{"Field":"DeliveryAddress","Value":"r)" +
                std::to_string(i) + R"(@example.com"}])";
    }
    to += "]";
    rows += "]";
    const auto from = R"("From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T")";
    expect(send(request({"{\"To\":" + to + "," + from + "}"})), 200,
           plain(api_code::too_many_recipients));
    expect(send(request({R"({"To":[{"EmailAddress":"%%DeliveryAddress%%"}],)" + std::string(from) +
                         R"(,"MergeData":{"PerMessage":)" + rows + "}}"})),
           200, plain(api_code::too_many_recipients));
}

TEST(RequestCodes, NoValidRecipientsWhenEveryMessageHasNone) {
    const std::string bad =
        R"({"To":[{"EmailAddress":"bad@@x"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"})";
    const auto r = send(request({bad}));
    expect(
        r, 200,
        R"({"ErrorCode":"NoValidRecipients","TransactionReceipt":null,"MessageResults":[{"Index":0,"ErrorCode":"NoValidRecipients","AddressResults":[{"EmailAddress":"bad@@x","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})");
    EXPECT_EQ(r.recorded, 0u);
}

TEST(RequestCodes, FaultCodesAccountDisabledTooManyErrorsOverQuotaInternalError) {
    const auto code_fault = [](api_code c) {
        return [c](options& o) {
            auto f = fault(fault_kind::api_code);
            f.code = c;
            o.faults.push_back(f);
        };
    };
    expect(send(request({good}), code_fault(api_code::account_disabled)), 200,
           plain(api_code::account_disabled));
    expect(send(request({good}), code_fault(api_code::too_many_errors)), 200,
           plain(api_code::too_many_errors));
    const auto quota = send(request({good}),
                            [](options& o) { o.faults.push_back(fault(fault_kind::over_quota)); });
    expect(quota, 200, plain(api_code::over_quota));
    EXPECT_EQ(quota.recorded, 0u);
    expect(
        send(request({good}), [](options& o) { o.faults.push_back(fault(fault_kind::http_500)); }),
        500, plain(api_code::internal_error));
}

TEST(MessageCodes, WarningWithInvalidAddressListsOnlyTheRefusedAddress) {
    const std::string mixed =
        R"({"To":[{"EmailAddress":"ok@example.com"},{"EmailAddress":"no space@example.com"}],"Cc":[{"EmailAddress":"c;d@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"})";
    const auto r = send(request({good, mixed}));
    expect(
        r, 200,
        R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[{"Index":1,"ErrorCode":"Warning","AddressResults":[{"EmailAddress":"no space@example.com","Accepted":false,"ErrorCode":"InvalidAddress"},{"EmailAddress":"c;d@example.com","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})");
    EXPECT_EQ(r.recorded, 2u);  // good's recipient and ok@example.com
    EXPECT_EQ(r.stats.rejected_addresses, 2u);
}

struct message_case {
    const char* name;
    std::string message;
    api_code code;
    std::function<void(options&)> configure;
};

void PrintTo(const message_case& c, std::ostream* os) {
    *os << c.name;
}

class MessageCodes : public ::testing::TestWithParam<message_case> {};

TEST_P(MessageCodes, AnswersTheCodeForTheFailedMessageOnly) {
    const auto& c = GetParam();
    const auto r = send(request({good, c.message}), c.configure);
    expect(r, 200, warning_at_1(c.code));
    EXPECT_EQ(r.recorded, 1u);  // the good message only
    EXPECT_EQ(r.stats.message_codes.at(std::string(salvo::injection::to_string(c.code))), 1u);
}

const std::string to_from =
    R"("To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"f@example.com"})";
const std::string merge_to =
    R"("To":[{"EmailAddress":"%%DeliveryAddress%%"}],"From":{"EmailAddress":"f@example.com"})";

std::string tags(int n) {
    std::string t = "[";
    for (int i = 0; i < n; ++i) t += std::string(i ? "," : "") + "\"t" + std::to_string(i) + "\"";
    return t + "]";
}
std::string metadata(int n, std::size_t value_size) {
    std::string t = "[";
    for (int i = 0; i < n; ++i)
        t += std::string(i ? "," : "") + R"({"Key":"k)" + std::to_string(i) + R"(","Value":")" +
             std::string(value_size, 'v') + "\"}";
    return t + "]";
}

INSTANTIATE_TEST_SUITE_P(
    EveryMessageLevelCode, MessageCodes,
    ::testing::Values(
        message_case{
            "InvalidAttachmentBadBase64",
            "{" + to_from +
                R"(,"Subject":"S","TextBody":"T","Attachments":[{"Name":"a.txt","Content":"not base64!"}]})",
            api_code::invalid_attachment,
            {}},
        message_case{"InvalidAttachmentNoName",
                     "{" + to_from +
                         R"(,"Subject":"S","TextBody":"T","Attachments":[{"Content":"aGVsbG8="}]})",
                     api_code::invalid_attachment,
                     {}},
        message_case{
            "MessageTooLarge",
            "{" + to_from + R"(,"Subject":"S","TextBody":")" + std::string(200, 'x') + "\"}",
            api_code::message_too_large, [](options& o) { o.max_message_bytes = 100; }},
        message_case{"EmptySubject",
                     "{" + to_from + R"(,"Subject":"","TextBody":"T"})",
                     api_code::empty_subject,
                     {}},
        message_case{"EmptyToAddress",
                     R"({"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"})",
                     api_code::empty_to_address,
                     {}},
        message_case{"InvalidFromMissing",
                     R"({"To":[{"EmailAddress":"a@example.com"}],"Subject":"S","TextBody":"T"})",
                     api_code::invalid_from,
                     {}},
        message_case{
            "InvalidFromMalformed",
            R"({"To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"nope"},"Subject":"S","TextBody":"T"})",
            api_code::invalid_from,
            {}},
        message_case{"NoValidBodyParts",
                     "{" + to_from + R"(,"Subject":"S"})",
                     api_code::no_valid_body_parts,
                     {}},
        message_case{"NoValidBodyPartsAmpOnly",
                     "{" + to_from + R"(,"Subject":"S","AmpBody":"<amp/>"})",
                     api_code::no_valid_body_parts,
                     {}},
        message_case{
            "InvalidMergeDataNoDeliveryAddress",
            "{" + merge_to +
                R"(,"Subject":"S","TextBody":"T","MergeData":{"PerMessage":[[{"Field":"Name","Value":"A"}]]}})",
            api_code::invalid_merge_data,
            {}},
        message_case{
            "InvalidMergeDataDuplicateName",
            "{" + merge_to +
                R"(,"Subject":"S","TextBody":"T","MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@example.com"},{"Field":"deliveryaddress","Value":"b@example.com"}]]}})",
            api_code::invalid_merge_data,
            {}},
        message_case{
            "InvalidMergeDataNonString",
            "{" + merge_to +
                R"(,"Subject":"S","TextBody":"T","MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@example.com"},{"Field":"N","Value":5}]]}})",
            api_code::invalid_merge_data,
            {}},
        message_case{
            "InvalidMergeDataStrictMissingField",
            "{" + merge_to +
                R"(,"Subject":"Hi %%First%%","TextBody":"T","MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@example.com"}]]}})",
            api_code::invalid_merge_data, [](options& o) { o.strict_merge = true; }},
        message_case{"InvalidTemplateId",
                     "{" + to_from + R"(,"Subject":"S","ApiTemplate":99})",
                     api_code::invalid_template_id,
                     {}},
        message_case{"TemplateHasNoContent",
                     "{" + to_from + R"(,"ApiTemplate":"7"})",
                     api_code::template_has_no_content,
                     {}},
        message_case{"MessageBodyConflict",
                     "{" + to_from + R"(,"Subject":"S","TextBody":"T","ApiTemplate":5})",
                     api_code::message_body_conflict,
                     {}},
        message_case{"MetadataOrTagsTooManyTags",
                     "{" + to_from + R"(,"Subject":"S","TextBody":"T","Tags":)" + tags(26) + "}",
                     api_code::metadata_or_tags_are_too_large,
                     {}},
        message_case{
            "MetadataOrTagsTooManyPairs",
            "{" + to_from + R"(,"Subject":"S","TextBody":"T","Metadata":)" + metadata(11, 1) + "}",
            api_code::metadata_or_tags_are_too_large,
            {}},
        message_case{"MetadataOrTagsTooManyBytes",
                     "{" + to_from + R"(,"Subject":"S","TextBody":"T","Metadata":)" +
                         metadata(2, 6500) + "}",
                     api_code::metadata_or_tags_are_too_large,
                     {}}),
    [](const ::testing::TestParamInfo<message_case>& p) { return std::string(p.param.name); });

TEST(MessageCodes, NoValidRecipientsListsEveryRefusedAddress) {
    const std::string none =
        R"({"To":[{"EmailAddress":"x@"}],"Bcc":[{"EmailAddress":"@y"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"})";
    const std::string rows =
        "{" + merge_to +
        R"(,"Subject":"S","TextBody":"T","MergeData":{"PerMessage":[[{"Field":"DeliveryAddress","Value":"a@@b"}]]}})";
    const auto r = send(request({good, none, rows}));
    expect(
        r, 200,
        R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[)"
        R"({"Index":1,"ErrorCode":"NoValidRecipients","AddressResults":[{"EmailAddress":"x@","Accepted":false,"ErrorCode":"InvalidAddress"},{"EmailAddress":"@y","Accepted":false,"ErrorCode":"InvalidAddress"}]},)"
        R"({"Index":2,"ErrorCode":"NoValidRecipients","AddressResults":[{"EmailAddress":"a@@b","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})");
    EXPECT_EQ(r.recorded, 1u);
}

TEST(MessageCodes, RejectAddressFaultRefusesMatchingAddresses) {
    const std::string two =
        R"({"To":[{"EmailAddress":"keep@example.com"},{"EmailAddress":"Drop@Bounce.test"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"})";
    const auto r = send(request({two}), [](options& o) {
        auto f = fault(fault_kind::reject_address);
        f.pattern = "@bounce\\.test$";
        o.faults.push_back(f);
    });
    expect(
        r, 200,
        R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[{"Index":0,"ErrorCode":"Warning","AddressResults":[{"EmailAddress":"Drop@Bounce.test","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})");
    EXPECT_EQ(r.recorded, 1u);
    EXPECT_EQ(r.stats.faults.at("reject_address"), 1u);
}

}  // namespace
