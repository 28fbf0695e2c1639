#include "salvo/quota/redis_url.hpp"

#include <gtest/gtest.h>

using salvo::quota::parse_redis_url;

TEST(RedisUrl, ReadsHostPortAndDatabase) {
    auto e = parse_redis_url("redis://redis.internal:6380/3");
    ASSERT_TRUE(e) << e.error();
    EXPECT_EQ(e->host, "redis.internal");
    EXPECT_EQ(e->port, 6380);
    EXPECT_EQ(e->db, 3u);
    EXPECT_TRUE(e->unix_socket.empty());
    EXPECT_EQ(salvo::quota::describe(*e), "redis.internal:6380/3");
}

TEST(RedisUrl, DefaultsToPort6379AndDatabase0) {
    auto e = parse_redis_url("redis://10.0.0.7");
    ASSERT_TRUE(e) << e.error();
    EXPECT_EQ(e->port, 6379);
    EXPECT_EQ(e->db, 0u);
    auto v6 = parse_redis_url("redis://[::1]:7000/1");
    ASSERT_TRUE(v6) << v6.error();
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(salvo::quota::describe(*v6), "[::1]:7000/1");
}

TEST(RedisUrl, ReadsUnixSocketWithDatabase) {
    auto e = parse_redis_url("unix:///run/redis/redis.sock?db=2");
    ASSERT_TRUE(e) << e.error();
    EXPECT_EQ(e->unix_socket, "/run/redis/redis.sock");
    EXPECT_EQ(e->db, 2u);
}

TEST(RedisUrl, RefusesTlsAndSaysWhy) {
    auto e = parse_redis_url("rediss://redis.example.com:6380/0");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("hiredis 0.14 has no TLS"), std::string::npos) << e.error();
}

TEST(RedisUrl, RefusesPasswordInUrlWithoutRepeatingIt) {
    auto e = parse_redis_url("redis://:hunter2secret@redis:6379/0");
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("password_env"), std::string::npos) << e.error();
    EXPECT_EQ(e.error().find("hunter2secret"), std::string::npos) << e.error();
    EXPECT_FALSE(parse_redis_url("redis://user@redis:6379/0"));
}

TEST(RedisUrl, RefusesWhatItCannotUse) {
    for (const char* bad : {"http://redis:6379", "redis://redis:6379/x", "redis:///0",
                            "redis://redis:6379/0?timeout=1", "unix://", "not a url",
                            "unix:///tmp/r.sock?db=x", "redis://redis:0/0"}) {
        auto e = parse_redis_url(bad);
        EXPECT_FALSE(e) << bad;
    }
}
