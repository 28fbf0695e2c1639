// The Marketing API client against the real emulator over loopback: paging,
// credentials, the documented errors as per-contact fates, retries under
// 503s without a contact added twice, and the data file.

#include "support/sibling_clients.hpp"
#include "support/temp_dir.hpp"

#include <salvo/emulator/server.hpp>
#include <salvo/marketing/client.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace {

using namespace salvo;
using marketing::push_fate;

std::unique_ptr<emulator::server> start(emulator::options o) {
    auto s = emulator::server::start(std::move(o));
    EXPECT_TRUE(s.has_value());
    return std::move(*s);
}

using test::fail_503;
const auto fast = test::fast_retries;

marketing::client client_for(const emulator::server& s, std::string key = "k",
                             std::size_t page_size = 1000) {
    marketing::config c;
    c.endpoint = s.base_url() + "/marketing/v1";
    c.server_id = "7";
    c.api_key = std::move(key);
    c.page_size = page_size;
    return marketing::client(std::move(c), fast());
}

// A data file with list 5 (empty) and list 6 holding `n` contacts.
std::string data_file(const test::temp_dir& dir, std::size_t n) {
    const auto path = (dir.path() / "marketing.json").string();
    std::ofstream f(path);
    f << R"({"lists":[{"id":5,"name":"empty","contacts":[]},{"id":6,"name":"six","contacts":[)";
    for (std::size_t i = 0; i < n; ++i)
        f << (i ? "," : "") << R"({"id":)" << i + 1 << R"(,"emailAddress":"c)" << i
          << R"(@x.example","firstName":"F","lastName":"L","customFields":[{"name":"n","value":")"
          << i << R"("}]})";
    f << "]}]}";
    return path;
}

std::vector<marketing::contact> read_all(marketing::client& c, std::uint64_t list,
                                         std::size_t* pages = nullptr) {
    std::vector<marketing::contact> out;
    auto r = c.for_each_page(list, [&](marketing::contact_page& p) {
        if (pages) ++*pages;
        for (auto& x : p.contacts) out.push_back(std::move(x));
        return true;
    });
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return out;
}

TEST(MarketingClient, PagesThroughAListInOrder) {
    test::temp_dir dir;
    emulator::options o;
    o.siblings.marketing_data_file = data_file(dir, 25);
    auto s = start(o);
    // 25 contacts by 10: pages of 10, 10, 5; by 5: exactly 5 full pages.
    for (const std::size_t size : {10u, 5u, 25u, 1000u}) {
        auto c = client_for(*s, "k", size);
        std::size_t pages = 0;
        const auto all = read_all(c, 6, &pages);
        ASSERT_EQ(all.size(), 25u) << size;
        EXPECT_EQ(pages, (25 + size - 1) / size) << size;
        for (std::size_t i = 0; i < all.size(); ++i) {
            EXPECT_EQ(all[i].email, "c" + std::to_string(i) + "@x.example");
            ASSERT_EQ(all[i].fields.size(), 1u);
            EXPECT_EQ(all[i].fields[0].value, std::to_string(i));
        }
    }
    auto c = client_for(*s);
    std::size_t pages = 0;
    EXPECT_TRUE(read_all(c, 5, &pages).empty());
    EXPECT_EQ(pages, 1u);
    auto lists = c.lists();
    ASSERT_TRUE(lists);
    ASSERT_EQ(lists->size(), 2u);
    EXPECT_EQ((*lists)[1].contact_count, 25u);
}

TEST(MarketingClient, WrongKeyIs401WithAMessageWithoutTheKey) {
    emulator::options o;
    o.siblings.marketing_api_key = "right-key";
    auto s = start(o);
    auto c = client_for(*s, "wrong-key-123");
    auto l = c.lists();
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().http_status, 401);
    EXPECT_EQ(l.error().message.find("wrong-key-123"), std::string::npos);
    EXPECT_NE(l.error().message.find("marketing.api_key_env"), std::string::npos);
    auto ok = client_for(*s, "right-key");
    EXPECT_TRUE(ok.lists());
}

TEST(MarketingClient, UnknownListIs404) {
    auto s = start({});
    auto c = client_for(*s);
    auto r = c.for_each_page(99, [](marketing::contact_page&) { return true; });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().http_status, 404);
    const auto res = c.push(99, {{0, "a@x.example", "", "", {}}});
    EXPECT_EQ(res.at(0).fate, push_fate::list_not_found);
}

TEST(MarketingClient, PushFatesUnder503sAndAContactLimit) {
    test::temp_dir dir;
    emulator::options o;
    o.siblings.marketing_data_file = data_file(dir, 0);
    o.siblings.max_contacts = 950;
    o.faults.push_back(fail_503(0.1));
    auto s = start(o);
    auto c = client_for(*s);
    std::vector<marketing::contact> contacts;
    for (int i = 0; i < 1000; ++i)
        contacts.push_back(
            {0, "p" + std::to_string(i) + "@x.example", "F", "L", {{"i", std::to_string(i)}}});
    contacts.push_back({0, "not an address", "", "", {}});
    const auto res = c.push(5, contacts);
    ASSERT_EQ(res.size(), contacts.size());
    std::set<std::string> created;
    std::size_t over = 0, retried = 0;
    for (std::size_t i = 0; i < 1000; ++i) {
        if (res[i].fate == push_fate::created) created.insert(contacts[i].email);
        if (res[i].fate == push_fate::over_contact_limit) ++over;
        if (res[i].attempts > 1) ++retried;
    }
    EXPECT_EQ(res[1000].fate, push_fate::bad_address);
    // The account holds 950: every contact is created or refused, none twice.
    EXPECT_EQ(created.size(), 950u);
    EXPECT_EQ(over, 50u);
    EXPECT_GT(retried, 0u);
    std::set<std::string> listed;
    for (const auto& x : read_all(c, 5)) listed.insert(x.email);
    EXPECT_EQ(listed, created);
    // The same address in another case is an update, even at the limit.
    std::string upper = *created.begin();
    upper.back() = 'E';
    const auto again = c.push(5, {{0, upper, "Again", "", {}}});
    EXPECT_EQ(again.at(0).fate, push_fate::updated);
    EXPECT_EQ(s->marketing_contacts(), 950u);
    EXPECT_GT(s->counters().faults.at("http_503"), 0u);
}

TEST(MarketingClient, TheDataFileSurvivesARestart) {
    test::temp_dir dir;
    emulator::options o;
    o.siblings.marketing_data_file = data_file(dir, 3);
    {
        auto s = start(o);
        auto c = client_for(*s);
        const auto r = c.push(5, {{0, "new@x.example", "N", "", {{"k", "v"}}}});
        EXPECT_EQ(r.at(0).fate, push_fate::created);
        EXPECT_TRUE(c.unsubscribe("gone@x.example"));
        EXPECT_FALSE(s->save_marketing_data());
    }
    auto s = start(o);
    auto c = client_for(*s);
    const auto five = read_all(c, 5);
    ASSERT_EQ(five.size(), 1u);
    EXPECT_EQ(five[0].fields.at(0).value, "v");
    EXPECT_EQ(read_all(c, 6).size(), 3u);
}

TEST(MarketingClient, ABadDataFileRefusesToStart) {
    test::temp_dir dir;
    const auto path = dir.path() / "bad.json";
    std::ofstream(path) << R"({"lists":[{"id":1}]})";
    emulator::options o;
    o.siblings.marketing_data_file = path.string();
    auto s = emulator::server::start(o);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), emulator::errc::bad_marketing_data);
}

}  // namespace
