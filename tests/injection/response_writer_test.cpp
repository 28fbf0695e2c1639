// The emulator's response writer: exact §5 bodies.

#include <salvo/injection/response_writer.hpp>

#include <gtest/gtest.h>

namespace {

using salvo::injection::api_code;

TEST(ResponseWriter, SuccessBodyIsExact) {
    EXPECT_EQ(salvo::injection::response_body(api_code::success),
              R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})");
    EXPECT_EQ(salvo::injection::response_body(api_code::too_many_messages),
              R"({"ErrorCode":"TooManyMessages","MessageResults":[],"TransactionReceipt":null})");
}

TEST(ResponseWriter, WarningBodyMatchesTheContractExample) {
    salvo::injection::response r;
    r.code = api_code::warning;
    r.messages.push_back(
        {3, api_code::no_valid_recipients, {{"bad@@x", api_code::invalid_address}}});
    std::string out;
    salvo::injection::write_response(r, out);
    EXPECT_EQ(out,
              R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[)"
              R"({"Index":3,"ErrorCode":"NoValidRecipients","AddressResults":[)"
              R"({"EmailAddress":"bad@@x","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})");
}

TEST(ResponseWriter, SeveralMessagesAndEscapedAddresses) {
    salvo::injection::response r;
    r.code = api_code::warning;
    r.messages.push_back({0, api_code::empty_subject, {}});
    r.messages.push_back(
        {1,
         api_code::warning,
         {{"a\"b@x", api_code::invalid_address}, {"c@", api_code::invalid_address}}});
    std::string out = "prefix:";
    salvo::injection::write_response(r, out);
    EXPECT_EQ(out, R"(prefix:{"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[)"
                   R"({"Index":0,"ErrorCode":"EmptySubject","AddressResults":[]},)"
                   R"({"Index":1,"ErrorCode":"Warning","AddressResults":[)"
                   R"({"EmailAddress":"a\"b@x","Accepted":false,"ErrorCode":"InvalidAddress"},)"
                   R"({"EmailAddress":"c@","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})");
}

TEST(ResponseWriter, JsonStringEscapesControlsAndKeepsUtf8) {
    std::string out;
    salvo::injection::append_json_string(out, std::string("a\"\\\n\r\t\b\f\x01\x1f z\xC3\xAB"));
    EXPECT_EQ(out, "\"a\\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u001f z\xC3\xAB\"");
}

}  // namespace
