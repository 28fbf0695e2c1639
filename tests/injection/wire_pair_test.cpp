// The emulator's response writer and the client's response reader speak the
// same bodies: every code the writer can answer is read back as the table
// of INJECTION_API.md §6 says, and message and address results land on the
// exact recipients.
#include <salvo/injection/response_reader.hpp>
#include <salvo/injection/response_writer.hpp>

#include <gtest/gtest.h>

#include <string>

namespace salvo::injection {
namespace {

outgoing_request rows(std::vector<std::uint32_t> per_message) {
    outgoing_request r;
    for (std::uint32_t m = 0; m < per_message.size(); ++m)
        for (std::uint32_t j = 0; j < per_message[m]; ++j) {
            std::string a(1, 'm');
            a += std::to_string(m);
            a += 'r';
            a += std::to_string(j);
            a += "@x.example";
            r.slots.push_back({r.slots.size(), m, j, static_cast<std::uint32_t>(r.addresses.size()),
                               static_cast<std::uint32_t>(a.size())});
            r.addresses += a;
        }
    r.messages = static_cast<std::uint32_t>(per_message.size());
    return r;
}

TEST(WirePair, SuccessBodyIsTheFastPath) {
    EXPECT_EQ(response_body(api_code::success), canonical_success_body);
    response_reader rr;
    const auto req = rows({1, 1});
    EXPECT_TRUE(rr.read(200, response_body(api_code::success), req).fast_path);
}

TEST(WirePair, EveryTopLevelCodeReadsBackAsWritten) {
    response_reader rr;
    const auto req = rows({2, 1});
    for (int i = 0; i < static_cast<int>(api_code::unknown); ++i) {
        const auto c = static_cast<api_code>(i);
        if (c == api_code::warning) continue;  // a Warning always lists results
        const auto& v = rr.read(200, response_body(c), req);
        SCOPED_TRACE(std::string(to_string(c)));
        EXPECT_EQ(v.code, c);
        if (classify_top_level(c) == api_result::rejected) {
            // Every recipient is rejected, each with the code.
            EXPECT_EQ(v.request_fate, api_result::accepted);
            ASSERT_EQ(v.rejected.size(), req.slots.size());
            for (const auto& o : v.rejected) EXPECT_EQ(o.code, c);
        } else {
            EXPECT_EQ(v.request_fate, classify_top_level(c));
        }
    }
}

TEST(WirePair, MessageAndAddressResultsLandOnTheirRecipients) {
    response_reader rr;
    const auto req = rows({3, 2, 4, 1});
    response r;
    r.code = api_code::warning;
    r.messages.push_back({1, api_code::invalid_merge_data, {}});
    r.messages.push_back({2,
                          api_code::warning,
                          {{"m2r3@x.example", api_code::invalid_address},
                           {"m2r0@x.example", api_code::invalid_address}}});
    r.messages.push_back(
        {3, api_code::no_valid_recipients, {{"m3r0@x.example", api_code::invalid_address}}});
    std::string body;
    write_response(r, body);
    const auto& v = rr.read(200, body, req);
    ASSERT_EQ(v.request_fate, api_result::accepted) << v.detail;
    std::vector<std::pair<std::uint32_t, api_code>> got;
    for (const auto& o : v.rejected) got.emplace_back(o.slot, o.code);
    const std::vector<std::pair<std::uint32_t, api_code>> want{{3, api_code::invalid_merge_data},
                                                               {4, api_code::invalid_merge_data},
                                                               {5, api_code::invalid_address},
                                                               {8, api_code::invalid_address},
                                                               {9, api_code::invalid_address}};
    EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace salvo::injection
