// The Marketing API's JSON readers: pages of contacts and lists, error
// answers, and the contact body, with the malformed shapes they refuse.

#include <salvo/marketing/reader.hpp>

#include <gtest/gtest.h>

namespace {

using namespace salvo::marketing;

TEST(MarketingReader, ReadsAContactPageWithCustomFields) {
    const auto p = read_contact_page(
        R"({"total":3,"page":2,"pageSize":2,"data":[{"id":9,"emailAddress":"a@x.example",)"
        R"("firstName":"A","lastName":null,"customFields":[{"name":"city","value":"Oslo"}]}]})");
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->total, 3u);
    EXPECT_EQ(p->page, 2u);
    EXPECT_EQ(p->page_size, 2u);
    ASSERT_EQ(p->contacts.size(), 1u);
    EXPECT_EQ(p->contacts[0].id, 9u);
    EXPECT_EQ(p->contacts[0].email, "a@x.example");
    EXPECT_EQ(p->contacts[0].first_name, "A");
    EXPECT_EQ(p->contacts[0].last_name, "");
    ASSERT_EQ(p->contacts[0].fields.size(), 1u);
    EXPECT_EQ(p->contacts[0].fields[0].value, "Oslo");
}

TEST(MarketingReader, AnEmptyLastPageIsFine) {
    const auto p = read_contact_page(R"({"total":0,"page":1,"pageSize":1000,"data":[]})");
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->contacts.empty());
}

TEST(MarketingReader, RefusesMalformedPagesNamingTheField) {
    const struct {
        const char* body;
        const char* says;
    } cases[] = {
        {"", "not valid JSON"},
        {"[]", "expected an object"},
        {R"({"page":1,"pageSize":1,"data":[]})", "\"total\""},
        {R"({"total":-1,"page":1,"pageSize":1,"data":[]})", "\"total\""},
        {R"({"total":1,"page":1,"pageSize":1,"data":{}})", "\"data\""},
        {R"({"total":1,"page":1,"pageSize":1,"data":[{"id":1}]})", "data[0].emailAddress"},
        {R"({"total":1,"page":1,"pageSize":1,"data":[{"emailAddress":"a@b.c"}]})", "data[0].id"},
        {R"({"total":1,"page":1,"pageSize":1,"data":[{"id":1,"emailAddress":"a@b.c","customFields":[{"name":"x"}]}]})",
         "customFields"},
        {R"({"total":1,"page":1,"pageSize":1,"data":[{"id":1,"emailAddress":"a@b.c","firstName":5}]})",
         "firstName"},
    };
    for (const auto& c : cases) {
        const auto p = read_contact_page(c.body);
        ASSERT_FALSE(p) << c.body;
        EXPECT_NE(p.error().message.find(c.says), std::string::npos)
            << c.body << " -> " << p.error().message;
    }
}

TEST(MarketingReader, ReadsAListPage) {
    const auto p = read_list_page(
        R"({"total":2,"page":1,"pageSize":100,"data":[{"id":1,"name":"a","contactCount":5},)"
        R"({"id":2,"name":"b\"c","contactCount":0}]})");
    ASSERT_TRUE(p);
    ASSERT_EQ(p->lists.size(), 2u);
    EXPECT_EQ(p->lists[1].name, "b\"c");
    EXPECT_EQ(p->lists[0].contact_count, 5u);
    EXPECT_FALSE(read_list_page(R"({"total":1,"page":1,"pageSize":1,"data":[{"id":1}]})"));
}

TEST(MarketingReader, ErrorMessages) {
    EXPECT_EQ(read_error_message(R"({"error":"NotFound","message":"no list"})"), "no list");
    EXPECT_EQ(read_error_message(R"({"error":"NotFound"})"), "NotFound");
    EXPECT_EQ(read_error_message("<html>"), "");
}

TEST(MarketingReader, ContactJsonReadsBackTheSame) {
    contact c{0, "q\"uote@x.example", "Å", "line\nbreak", {{"a,b", "\\"}, {"empty", ""}}};
    const std::string page = R"({"total":1,"page":1,"pageSize":1,"data":[)" +
                             contact_json(c).insert(1, "\"id\":0,") + "]}";
    const auto p = read_contact_page(page);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->contacts.at(0), c);
}

}  // namespace
