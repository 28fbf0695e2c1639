// The Reporting API's JSON reader: rows, numbers as ids, failure fields, and
// the malformed shapes it refuses.

#include <salvo/reporting/reader.hpp>

#include <gtest/gtest.h>

namespace {

using namespace salvo::reporting;

TEST(ReportingReader, ReadsProcessedAndFailedRows) {
    const auto p = read_report_page(
        R"({"timestamp":"t","totalCount":1200,"totalPages":3,"index":500,"count":500,)"
        R"("collection":[{"ServerId":1,"DateTime":"2026-01-02 03:04:05","MessageId":"m",)"
        R"("MailingId":77,"ToAddress":"a@x.example","FromAddress":"f@x.example",)"
        R"("FailureType":1,"FailureCode":2001,"Reason":"Invalid address","Extra":[1]}]})");
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->total, 1200u);
    EXPECT_EQ(p->index, 500u);
    ASSERT_EQ(p->rows.size(), 1u);
    EXPECT_EQ(p->rows[0].mailing_id, "77");  // a number is read as its text
    EXPECT_EQ(p->rows[0].to, "a@x.example");
    EXPECT_EQ(p->rows[0].failure_type, 1);
    EXPECT_EQ(p->rows[0].failure_code, 2001);
    EXPECT_EQ(p->rows[0].reason, "Invalid address");
}

TEST(ReportingReader, ProcessedRowsHaveNoFailureType) {
    const auto p = read_report_page(R"({"totalCount":1,"collection":[{"ToAddress":"a@b.c"}]})");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->rows.at(0).failure_type, -1);
    EXPECT_EQ(p->rows.at(0).message_id, "");
}

TEST(ReportingReader, RefusesMalformedAnswers) {
    const struct {
        const char* body;
        const char* says;
    } cases[] = {
        {"nope", "not valid JSON"},
        {"[1]", "expected an object"},
        {R"({"collection":[]})", "totalCount"},
        {R"({"totalCount":1})", "collection"},
        {R"({"totalCount":1,"collection":[3]})", "collection[0]"},
        {R"({"totalCount":1,"collection":[{"ToAddress":[]}]})", "collection[0]"},
        {R"({"totalCount":1,"collection":[{"FailureType":"x"}]})", "FailureType"},
    };
    for (const auto& c : cases) {
        const auto p = read_report_page(c.body);
        ASSERT_FALSE(p) << c.body;
        EXPECT_NE(p.error().message.find(c.says), std::string::npos)
            << c.body << " -> " << p.error().message;
    }
}

}  // namespace
