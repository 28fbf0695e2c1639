#include <salvo/injection/response_reader.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace salvo::injection {
namespace {

// A request shaped like the batcher's: `rows[i]` recipients in message i,
// addresses "m<i>r<j>@x.example".
outgoing_request shaped(std::vector<std::uint32_t> rows) {
    outgoing_request r;
    std::uint64_t id = 100;
    for (std::uint32_t m = 0; m < rows.size(); ++m) {
        for (std::uint32_t j = 0; j < rows[m]; ++j) {
            std::string a = "m";
            a += std::to_string(m);
            a += 'r';
            a += std::to_string(j);
            a += "@x.example";
            r.slots.push_back({id++, m, j, static_cast<std::uint32_t>(r.addresses.size()),
                               static_cast<std::uint32_t>(a.size())});
            r.addresses += a;
        }
    }
    r.messages = static_cast<std::uint32_t>(rows.size());
    return r;
}

outgoing_request local_request(std::uint32_t n) {
    return shaped(std::vector<std::uint32_t>(n, 1));
}

std::vector<api_code> all_codes() {
    std::vector<api_code> out;
    for (int i = 0; i <= static_cast<int>(api_code::unknown); ++i)
        out.push_back(static_cast<api_code>(i));
    return out;
}

TEST(ResponseReader, CanonicalSuccessTakesTheFastPath) {
    response_reader rr;
    const auto req = local_request(10);
    const auto& v = rr.read(200, canonical_success_body, req);
    EXPECT_TRUE(v.fast_path);
    EXPECT_EQ(v.request_fate, api_result::accepted);
    EXPECT_EQ(v.code, api_code::success);
    EXPECT_TRUE(v.rejected.empty());
    EXPECT_TRUE(v.detail.empty());
}

TEST(ResponseReader, OtherSuccessSpellingsAreParsed) {
    response_reader rr;
    const auto req = local_request(2);
    const auto& v = rr.read(
        200,
        "{ \"errorcode\" : \"Success\", \"MessageResults\": null, \"TransactionReceipt\": \"t\" }",
        req);
    EXPECT_FALSE(v.fast_path);
    EXPECT_EQ(v.request_fate, api_result::accepted);
    EXPECT_TRUE(v.rejected.empty());
}

TEST(ResponseReader, EveryTopLevelCodeIsClassified) {
    response_reader rr;
    const auto req = shaped({2, 1});
    for (const auto c : all_codes()) {
        const std::string body = "{\"ErrorCode\":\"" + std::string(to_string(c)) +
                                 "\",\"MessageResults\":[],\"TransactionReceipt\":null}";
        const auto& v = rr.read(200, body, req);
        SCOPED_TRACE(std::string(to_string(c)));
        switch (c) {
            case api_code::success:
                EXPECT_EQ(v.request_fate, api_result::accepted);
                EXPECT_TRUE(v.rejected.empty());
                break;
            case api_code::warning:
                // A Warning that lists nothing does not say what failed.
                EXPECT_EQ(v.request_fate, api_result::ambiguous);
                EXPECT_TRUE(v.rejected.empty());
                break;
            case api_code::over_quota:
            case api_code::internal_error:
                EXPECT_EQ(v.request_fate, api_result::retry);
                break;
            case api_code::invalid_authentication:
            case api_code::account_disabled:
            case api_code::too_many_errors:
                EXPECT_EQ(v.request_fate, api_result::stop_job);
                EXPECT_TRUE(stops_job(c));
                break;
            case api_code::invalid_data:
            case api_code::no_messages:
            case api_code::empty_message:
            case api_code::too_many_messages:
            case api_code::too_many_recipients:
                EXPECT_EQ(v.request_fate, api_result::failed);
                break;
            case api_code::unknown:
                // "Unknown" is not a spelling the API uses.
                EXPECT_EQ(v.request_fate, api_result::ambiguous);
                EXPECT_NE(v.detail.find("unknown ErrorCode 'Unknown'"), std::string::npos);
                break;
            default:
                // Message- and address-level codes at top level refuse everyone.
                EXPECT_EQ(v.request_fate, api_result::accepted);
                ASSERT_EQ(v.rejected.size(), 3U);
                for (std::uint32_t s = 0; s < 3; ++s) {
                    EXPECT_EQ(v.fate_of(s), api_result::rejected);
                    EXPECT_EQ(v.code_of(s), c);
                }
        }
        if (c != api_code::unknown) {
            EXPECT_EQ(v.code, c);
        }
        EXPECT_EQ(stops_job(c), v.request_fate == api_result::stop_job);
    }
}

TEST(ResponseReader, InvalidFromAddressSpellingIsInvalidFrom) {
    response_reader rr;
    const auto req = local_request(3);
    const auto& v = rr.read(200,
                            R"({"ErrorCode":"Warning","MessageResults":[{"Index":1,)"
                            R"("ErrorCode":"InvalidFromAddress","AddressResults":null}]})",
                            req);
    ASSERT_EQ(v.rejected.size(), 1U);
    EXPECT_EQ(v.rejected[0].slot, 1U);
    EXPECT_EQ(v.rejected[0].code, api_code::invalid_from);
}

TEST(ResponseReader, EveryMessageLevelCodeRejectsExactlyThatMessage) {
    response_reader rr;
    const auto req = shaped({1, 3, 1, 2});
    for (const auto c : all_codes()) {
        if (c == api_code::success || c == api_code::warning || c == api_code::unknown) continue;
        const std::string body =
            "{\"ErrorCode\":\"Warning\",\"TransactionReceipt\":null,"
            "\"MessageResults\":[{\"Index\":1,\"ErrorCode\":\"" +
            std::string(to_string(c)) + "\",\"AddressResults\":[]}]}";
        const auto& v = rr.read(200, body, req);
        SCOPED_TRACE(std::string(to_string(c)));
        EXPECT_EQ(v.request_fate, api_result::accepted);
        ASSERT_EQ(v.rejected.size(), 3U);  // the three rows of message 1
        for (std::uint32_t s = 0; s < req.slots.size(); ++s) {
            const bool in_message_1 = req.slots[s].message == 1;
            EXPECT_EQ(v.fate_of(s), in_message_1 ? api_result::rejected : api_result::accepted);
            if (in_message_1) {
                EXPECT_EQ(v.code_of(s), c);
            }
        }
    }
}

TEST(ResponseReader, WarningMapsAddressResultsToExactRows) {
    response_reader rr;
    const auto req = shaped({3, 50, 2});
    // Message 1 is partly refused: two of its 50 rows. Message 2 is refused
    // whole, one address with its own code.
    const auto& v =
        rr.read(200, R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[
      {"Index":2,"ErrorCode":"NoValidRecipients","AddressResults":[
         {"EmailAddress":"m2r1@x.example","Accepted":false,"ErrorCode":"InvalidAddress"}]},
      {"Index":1,"ErrorCode":"Warning","AddressResults":[
         {"EmailAddress":"M1R7@x.example","Accepted":false,"ErrorCode":"InvalidAddress"},
         {"EmailAddress":"m1r8@x.example","Accepted":true,"ErrorCode":"Success"},
         {"EmailAddress":"m1r49@x.example","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})",
                req);
    EXPECT_EQ(v.request_fate, api_result::accepted);
    ASSERT_EQ(v.rejected.size(), 4U);
    // Sorted by slot: message 1 rows 7 and 49, then message 2 rows 0 and 1.
    EXPECT_EQ(v.rejected[0].slot, 3U + 7);
    EXPECT_EQ(v.rejected[1].slot, 3U + 49);
    EXPECT_EQ(v.rejected[2].slot, 53U);
    EXPECT_EQ(v.rejected[2].code, api_code::no_valid_recipients);
    EXPECT_EQ(v.rejected[3].slot, 54U);
    EXPECT_EQ(v.rejected[3].code, api_code::invalid_address);
    EXPECT_EQ(v.fate_of(3 + 8), api_result::accepted);
    EXPECT_EQ(v.fate_of(0), api_result::accepted);
}

// A server-mode request keeps its slots in the rows' order, and a message
// holds rows of one kind: message 1's rows are slots 1, 3 and 4 here. A
// message-level error and an address result land on exactly those.
TEST(ResponseReader, InterleavedMessagesMapToTheirOwnRows) {
    outgoing_request req;
    const std::uint32_t message_of[] = {0, 1, 0, 1, 1, 0};
    std::uint32_t rows[2] = {0, 0};
    for (std::uint32_t i = 0; i < 6; ++i) {
        std::string a = "s";  // appended: see elision_test.cpp on -Wrestrict
        a.append(std::to_string(i)).append("@x.example");
        const auto m = message_of[i];
        req.slots.push_back({100 + i, m, rows[m]++,
                             static_cast<std::uint32_t>(req.addresses.size()),
                             static_cast<std::uint32_t>(a.size())});
        req.addresses += a;
    }
    req.messages = 2;
    response_reader rr;
    const auto& whole = rr.read(200, R"({"ErrorCode":"Warning","MessageResults":[
      {"Index":1,"ErrorCode":"InvalidFromAddress","AddressResults":null}]})",
                                req);
    ASSERT_EQ(whole.rejected.size(), 3U);
    EXPECT_EQ(whole.rejected[0].slot, 1U);
    EXPECT_EQ(whole.rejected[1].slot, 3U);
    EXPECT_EQ(whole.rejected[2].slot, 4U);
    const auto& one = rr.read(200, R"({"ErrorCode":"Warning","MessageResults":[
      {"Index":0,"ErrorCode":"Warning","AddressResults":[
         {"EmailAddress":"s5@x.example","Accepted":false,"ErrorCode":"InvalidAddress"},
         {"EmailAddress":"s1@x.example","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})",
                              req);
    ASSERT_EQ(one.rejected.size(), 1U) << one.detail;
    EXPECT_EQ(one.rejected[0].slot, 5U);
    EXPECT_NE(one.detail.find("not a recipient of message 0"), std::string::npos) << one.detail;
}

TEST(ResponseReader, DuplicateAddressesMatchOneRowEach) {
    outgoing_request req;
    for (std::uint32_t j = 0; j < 3; ++j) {
        req.slots.push_back({j, 0, j, static_cast<std::uint32_t>(req.addresses.size()), 5});
        req.addresses += "a@x.y";
    }
    req.messages = 1;
    response_reader rr;
    const auto& v =
        rr.read(200, R"({"ErrorCode":"Warning","MessageResults":[{"Index":0,"ErrorCode":"Warning",
      "AddressResults":[{"EmailAddress":"a@x.y","Accepted":false,"ErrorCode":"InvalidAddress"},
                        {"EmailAddress":"a@x.y","Accepted":false,"ErrorCode":"InvalidAddress"},
                        {"EmailAddress":"zzz@x.y","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})",
                req);
    ASSERT_EQ(v.rejected.size(), 2U);
    EXPECT_EQ(v.rejected[0].slot, 0U);
    EXPECT_EQ(v.rejected[1].slot, 1U);
    EXPECT_EQ(v.fate_of(2), api_result::accepted);
    EXPECT_NE(v.detail.find("not a recipient"), std::string::npos);
}

TEST(ResponseReader, UnknownMessageCodeRejectsThatMessageAndSaysSo) {
    response_reader rr;
    const auto req = local_request(2);
    const auto& v = rr.read(
        200, R"({"ErrorCode":"Warning","MessageResults":[{"Index":0,"ErrorCode":"BrandNewCode"}]})",
        req);
    EXPECT_EQ(v.request_fate, api_result::accepted);
    ASSERT_EQ(v.rejected.size(), 1U);
    EXPECT_EQ(v.rejected[0].code, api_code::unknown);
    EXPECT_NE(v.detail.find("'BrandNewCode'"), std::string::npos);
}

TEST(ResponseReader, HttpStatusesAreClassified) {
    response_reader rr;
    const auto req = local_request(1);
    const std::pair<int, api_result> table[] = {
        {0, api_result::ambiguous}, {401, api_result::stop_job}, {408, api_result::retry},
        {429, api_result::retry},   {500, api_result::retry},    {502, api_result::retry},
        {503, api_result::retry},   {504, api_result::retry},    {413, api_result::failed},
        {400, api_result::failed},  {404, api_result::failed},   {501, api_result::failed}};
    for (const auto& [status, want] : table) {
        const auto& v = rr.read(status, R"({"ErrorCode":"InternalError"})", req);
        EXPECT_EQ(v.request_fate, want) << status;
        EXPECT_EQ(v.http_status, status);
        EXPECT_FALSE(v.detail.empty());
        EXPECT_EQ(classify_http_status(status), want);
    }
    const auto& v = rr.read(401, R"({"ErrorCode":"InvalidAuthentication"})", req);
    EXPECT_EQ(v.code, api_code::invalid_authentication);
    EXPECT_NE(v.detail.find("HTTP 401"), std::string::npos);
    // An error status with a body that is not JSON is still classified.
    EXPECT_EQ(rr.read(503, "<html>busy</html>", req).request_fate, api_result::retry);
}

TEST(ResponseReader, MalformedBodiesAreClassifiedNotCrashed) {
    response_reader rr;
    const auto req = local_request(3);
    const char* bodies[] = {
        "",
        "not json",
        "{",
        "[]",
        "null",
        R"({"MessageResults":[]})",
        R"({"ErrorCode":5})",
        R"({"ErrorCode":"Warning"})",
        R"({"ErrorCode":"Warning","MessageResults":{}})",
        R"({"ErrorCode":"Warning","MessageResults":7})",
        R"({"ErrorCode":"Warning","MessageResults":[{"ErrorCode":"InvalidFrom"}]})",
        R"({"ErrorCode":"Warning","MessageResults":[{"Index":"1","ErrorCode":"InvalidFrom"}]})",
        R"({"ErrorCode":"Warning","MessageResults":[{"Index":3,"ErrorCode":"InvalidFrom"}]})",
        R"({"ErrorCode":"Warning","MessageResults":[{"Index":-1,"ErrorCode":"InvalidFrom"}]})",
        R"({"ErrorCode":"Warning","MessageResults":[{"Index":0,"AddressResults":5}]})",
        R"({"ErrorCode":"Nope"})",
    };
    for (const char* b : bodies) {
        const auto& v = rr.read(200, b, req);
        EXPECT_EQ(v.request_fate, api_result::ambiguous) << b;
        EXPECT_FALSE(v.detail.empty()) << b;
        EXPECT_TRUE(v.rejected.empty()) << b;
    }
    // A message entry without ErrorCode still counts that message refused.
    const auto& v = rr.read(200, R"({"ErrorCode":"Warning","MessageResults":[{"Index":2}]})", req);
    EXPECT_EQ(v.request_fate, api_result::accepted);
    ASSERT_EQ(v.rejected.size(), 1U);
    EXPECT_EQ(v.rejected[0].slot, 2U);
}

TEST(ResponseReader, MutatedBodiesNeverCrash) {
    response_reader rr;
    const auto req = shaped({2, 3});
    const std::string seed =
        R"({"ErrorCode":"Warning","TransactionReceipt":null,"MessageResults":[)"
        R"({"Index":1,"ErrorCode":"Warning","AddressResults":[{"EmailAddress":)"
        R"("m1r2@x.example","Accepted":false,"ErrorCode":"InvalidAddress"}]}]})";
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; ++i) {
        std::string b = seed;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            const auto at = rng() % b.size();
            switch (rng() % 3) {
                case 0:
                    b[at] = static_cast<char>(rng() % 256);
                    break;
                case 1:
                    b.erase(at, 1 + rng() % 8);
                    break;
                default:
                    b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), "{}[]\",:0"[rng() % 8]);
            }
            if (b.empty()) b.push_back('x');
        }
        const auto& v = rr.read(200, b, req);
        for (const auto& r : v.rejected) EXPECT_LT(r.slot, req.slots.size());
    }
}

}  // namespace
}  // namespace salvo::injection
