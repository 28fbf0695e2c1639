#include <salvo/platform/unsubscribe_token.hpp>

#include <gtest/gtest.h>

namespace salvo::platform {
namespace {

TEST(UnsubscribeToken, RoundTripsAndIsUrlSafe) {
    const auto t = make_unsubscribe_token("secret", "salvo-0123456789abcdef", "Ann+x@Example.com");
    ASSERT_FALSE(t.empty());
    EXPECT_EQ(
        t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos)
        << t;
    const auto c = read_unsubscribe_token("secret", t, 20000);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->mailing_id, "salvo-0123456789abcdef");
    EXPECT_EQ(c->address, "Ann+x@Example.com");
    EXPECT_EQ(c->expiry_day, 0u);
}

TEST(UnsubscribeToken, EveryOneByteChangeIsRefused) {
    const auto t = make_unsubscribe_token("secret", "camp-1", "bob@example.org");
    for (std::size_t i = 0; i < t.size(); ++i) {
        auto bad = t;
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        const auto c = read_unsubscribe_token("secret", bad, 20000);
        EXPECT_FALSE(c) << "position " << i;
    }
    EXPECT_FALSE(read_unsubscribe_token("secret", t.substr(0, t.size() - 1), 20000));
    EXPECT_FALSE(read_unsubscribe_token("secret", t + "A", 20000));
    EXPECT_FALSE(read_unsubscribe_token("secret", "", 20000));
    EXPECT_FALSE(read_unsubscribe_token("secret", "%%%", 20000));
}

TEST(UnsubscribeToken, AnotherSecretIsForged) {
    const auto t = make_unsubscribe_token("secret", "camp-1", "bob@example.org");
    const auto c = read_unsubscribe_token("other", t, 20000);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), token_error::forged);
    EXPECT_EQ(read_unsubscribe_token("", t, 20000).error(), token_error::forged);
    EXPECT_EQ(make_unsubscribe_token("", "camp-1", "bob@example.org"), "");
}

TEST(UnsubscribeToken, ExpiresAfterItsDay) {
    const auto t = make_unsubscribe_token("secret", "camp-1", "bob@example.org", 20010);
    EXPECT_TRUE(read_unsubscribe_token("secret", t, 20010));
    const auto c = read_unsubscribe_token("secret", t, 20011);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), token_error::expired);
}

}  // namespace
}  // namespace salvo::platform
