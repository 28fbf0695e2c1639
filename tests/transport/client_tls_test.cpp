#include "client_fixture.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace {

using namespace salvo::transport;
using namespace salvo::transport::testing;
using salvo::test::http_test_server;
using salvo::test::http_test_server_options;

class ClientTls : public ::testing::Test {
  protected:
    void SetUp() override {
        identity_ = salvo::test::make_self_signed_identity();
        std::random_device rd;
        dir_ = std::filesystem::temp_directory_path() /
               ("salvo-tls-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(dir_);
        ca_file_ = dir_ / "ca.pem";
        std::ofstream(ca_file_) << identity_.cert_pem;
        http_test_server_options so;
        so.tls = &identity_;
        server_ = std::make_unique<http_test_server>(salvo::test::http_script{}, so);
    }
    void TearDown() override {
        server_.reset();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    salvo::test::tls_identity identity_;
    std::filesystem::path dir_;
    std::filesystem::path ca_file_;
    std::unique_ptr<http_test_server> server_;
};

TEST_F(ClientTls, SelfSignedServerFailsByDefaultPermanentlyAndSaysWhy) {
    client c(quick_options());
    auto r = send_and_wait(c, make_request(server_->url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::permanent);
    EXPECT_EQ(r.out.attempts, 1u);  // no retry: it will not fix itself
    // With the system's CA bundle the self-signed certificate fails to verify;
    // a minimal machine without ca-certificates has no bundle at all, and
    // then the message must say so and how to fix it.
    if (std::filesystem::exists(default_ca_bundle())) {
        EXPECT_EQ(r.out.curl_code, CURLE_PEER_FAILED_VERIFICATION);
        EXPECT_NE(r.out.message.find("certificate verification failed"), std::string::npos)
            << r.out.message;
    } else {
        EXPECT_EQ(r.out.curl_code, CURLE_SSL_CACERT_BADFILE);
        EXPECT_NE(r.out.message.find("ca-certificates"), std::string::npos) << r.out.message;
    }
    EXPECT_FALSE(r.out.whole_body_sent);
    EXPECT_EQ(server_->arrivals(), 0u);
}

TEST_F(ClientTls, MissingCaBundleIsPermanentAndNamesTheFileAndTheFix) {
    auto o = quick_options();
    const auto missing = dir_ / "no-such-bundle.pem";
    o.tls.ca_file = missing.string();
    client c(o);
    auto r = send_and_wait(c, make_request(server_->url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::permanent);
    EXPECT_EQ(r.out.curl_code, CURLE_SSL_CACERT_BADFILE);
    EXPECT_EQ(r.out.attempts, 1u);
    EXPECT_NE(r.out.message.find(missing.string()), std::string::npos) << r.out.message;
    EXPECT_NE(r.out.message.find("apt-get install ca-certificates"), std::string::npos)
        << r.out.message;
    EXPECT_EQ(server_->arrivals(), 0u);
}

TEST_F(ClientTls, SelfSignedServerPassesWithItsCaFile) {
    auto o = quick_options();
    o.tls.ca_file = ca_file_.string();
    o.http2 = true;  // ALPN offered; this server speaks HTTP/1.1 only
    client c(o);
    auto r = send_and_wait(c, make_request(server_->url("/api/v1/email"), "{\"tls\":1}"));
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    ASSERT_EQ(server_->arrivals(), 1u);
    EXPECT_EQ(server_->received()[0].body, "{\"tls\":1}");
    EXPECT_EQ(server_->last_alpn_offer(), "h2,http/1.1");
}

TEST_F(ClientTls, Http2OffIsOfferedAsHttp11Only) {
    auto o = quick_options();
    o.tls.ca_file = ca_file_.string();
    o.http2 = false;
    client c(o);
    auto r = send_and_wait(c, make_request(server_->url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
    EXPECT_EQ(server_->last_alpn_offer(), "http/1.1");
}

TEST_F(ClientTls, InsecureSwitchSkipsVerification) {
    auto o = quick_options();
    o.tls.insecure = true;
    client c(o);
    auto r = send_and_wait(c, make_request(server_->url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::success) << r.out.message;
}

TEST_F(ClientTls, MissingCaFileIsPermanent) {
    auto o = quick_options();
    o.tls.ca_file = (dir_ / "absent.pem").string();
    client c(o);
    auto r = send_and_wait(c, make_request(server_->url(), "{}"));
    EXPECT_EQ(r.out.result, disposition::permanent);
    EXPECT_EQ(r.out.attempts, 1u);
}

}  // namespace
