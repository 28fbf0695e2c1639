// base64_encode() is the one standard base64 encoder of the project: Basic
// credentials, attachments' contents and preview's RFC 2047 headers use it.
#include "salvo/transport/call.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using salvo::transport::base64_encode;
using salvo::transport::basic_authorization;

TEST(Base64, EncodesTheRfc4648Vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, BytesWithTheHighBitSetAreNotSignExtended) {
    EXPECT_EQ(base64_encode(std::string("\xFF\xFF\xFF", 3)), "////");
    EXPECT_EQ(base64_encode(std::string("\xFB\xEF", 2)), "++8=");
    EXPECT_EQ(base64_encode(std::string("\x80", 1)), "gA==");
    EXPECT_EQ(base64_encode("Gr\xC3\xBC\xC3\x9F"
                            "e User1"),
              "R3LDvMOfZSBVc2VyMQ==");
}

TEST(Base64, BasicAuthorizationEncodesUserColonPassword) {
    EXPECT_EQ(basic_authorization("Aladdin", "open sesame"),
              "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

}  // namespace
