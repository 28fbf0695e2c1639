#include "salvo/transport/error.hpp"

#include <curl/curl.h>

#include <string>

namespace salvo::transport {
namespace {

class transport_category_impl final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.transport"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::shut_down:
                return "the transport is shutting down";
            case errc::window_full:
                return "every in-flight slot is taken";
            case errc::http_status:
                return "the server answered with an error status";
            case errc::no_response:
                return "the transfer ended without an HTTP response";
            case errc::retries_exhausted:
                return "retries exhausted (attempts or total time)";
            case errc::retry_budget:
                return "retry budget spent: too many recent retries";
            case errc::rejected_by_hook:
                return "the answer's body reports a failure";
            case errc::cancelled:
                return "cancelled by shutdown";
            case errc::invalid_request:
                return "the request cannot be sent as built";
            case errc::curl_setup:
                return "libcurl could not set up the transfer";
        }
        return "unknown transport error";
    }
};

class curl_category_impl final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "curl"; }
    std::string message(int ev) const override {
        return curl_easy_strerror(static_cast<CURLcode>(ev));
    }
};

class curl_multi_category_impl final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "curl-multi"; }
    std::string message(int ev) const override {
        return curl_multi_strerror(static_cast<CURLMcode>(ev));
    }
};

}  // namespace

const boost::system::error_category& transport_category() noexcept {
    static const transport_category_impl instance;
    return instance;
}

const boost::system::error_category& curl_category() noexcept {
    static const curl_category_impl instance;
    return instance;
}

const boost::system::error_category& curl_multi_category() noexcept {
    static const curl_multi_category_impl instance;
    return instance;
}

}  // namespace salvo::transport
