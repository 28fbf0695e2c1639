// TLS: the emulator serves the configured certificate, and a client that
// trusts that certificate gets the same answers as over plain HTTP. The
// certificate is generated at test time (OpenSSL), valid for one day.

#include "support/http_client.hpp"

#include <salvo/emulator/server.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

#include <gtest/gtest.h>

#include <cstdio>

namespace {

using salvo::emulator::options;
using salvo::emulator::server;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// Writes a self-signed EC certificate for CN=127.0.0.1 and its key as PEM.
bool write_self_signed(const std::string& cert_path, const std::string& key_path) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    bool ok = key && cert;
    if (ok) {
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
        X509_gmtime_adj(X509_getm_notBefore(cert), -60);
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
        X509_set_pubkey(cert, key);
        X509_NAME* name = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
        X509_set_issuer_name(cert, name);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
        X509_EXTENSION* san =
            X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
        ok = san && X509_add_ext(cert, san, -1) == 1;
        X509_EXTENSION_free(san);
        ok = ok && X509_sign(cert, key, EVP_sha256()) > 0;
    }
    if (ok) {
        std::FILE* c = std::fopen(cert_path.c_str(), "wb");
        std::FILE* k = std::fopen(key_path.c_str(), "wb");
        ok = c && k && PEM_write_X509(c, cert) == 1 &&
             PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
        if (c) std::fclose(c);
        if (k) std::fclose(k);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    return ok;
}

TEST(Tls, ServesTheConfiguredCertificateAndAnswersLikePlainHttp) {
    salvo::test::temp_dir dir;
    const auto cert = (dir.path() / "emulator-cert.pem").string();
    const auto key = (dir.path() / "emulator-key.pem").string();
    ASSERT_TRUE(write_self_signed(cert, key));
    options o;
    o.tls = salvo::emulator::tls_files{cert, key};
    o.record_in_memory = true;
    auto s = server::start(std::move(o));
    ASSERT_TRUE(s.has_value()) << s.error().message();
    EXPECT_EQ((*s)->url(), "https://127.0.0.1:" + std::to_string((*s)->port()) + "/api/v1/email");

    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(cert);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(ioc, ctx);
    stream.set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::get_lowest_layer(stream).connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), (*s)->port()));
    boost::system::error_code ec;
    stream.async_handshake(asio::ssl::stream_base::client,
                           [&](boost::system::error_code e) { ec = e; });
    ioc.run();
    ASSERT_FALSE(ec) << ec.message();

    for (int i = 0; i < 2; ++i) {  // keep-alive over TLS
        http::request<http::string_body> req{http::verb::post, "/api/v1/email", 11};
        req.set(http::field::host, "127.0.0.1");
        req.body() =
            R"({"ServerId":1,"ApiKey":"k","Messages":[{"To":[{"EmailAddress":"a@example.com"}],"From":{"EmailAddress":"f@example.com"},"Subject":"S","TextBody":"T"}]})";
        req.prepare_payload();
        http::response<http::string_body> res;
        beast::flat_buffer buffer;
        http::async_write(stream, req, [&](boost::system::error_code e, std::size_t) { ec = e; });
        ioc.restart();
        ioc.run();
        ASSERT_FALSE(ec) << ec.message();
        http::async_read(stream, buffer, res,
                         [&](boost::system::error_code e, std::size_t) { ec = e; });
        ioc.restart();
        ioc.run();
        ASSERT_FALSE(ec) << ec.message();
        EXPECT_EQ(res.result_int(), 200u);
        EXPECT_EQ(res.body(),
                  R"({"ErrorCode":"Success","MessageResults":[],"TransactionReceipt":null})");
    }
    EXPECT_EQ((*s)->recorded().size(), 2u);
}

TEST(Tls, MissingCertificateFailsStart) {
    salvo::test::temp_dir dir;
    options o;
    o.tls = salvo::emulator::tls_files{(dir.path() / "none.pem").string(),
                                       (dir.path() / "none-key.pem").string()};
    const auto s = server::start(std::move(o));
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error(), salvo::emulator::errc::bad_tls_files);
}

}  // namespace
