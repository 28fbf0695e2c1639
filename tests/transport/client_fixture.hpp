#pragma once
// Helpers for the client's integration tests: send a request and wait for its
// outcome, with a bound on every wait.

#include "salvo/transport/client.hpp"
#include "support/http_test_server.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>

namespace salvo::transport::testing {

struct finished {
    request req;
    outcome out;
};

inline client_options quick_options() {
    client_options o;
    o.version = "9.8.7";
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.request_timeout = std::chrono::milliseconds(5000);
    o.retry.base = std::chrono::milliseconds(5);
    o.retry.cap = std::chrono::milliseconds(20);
    o.retry.max_attempts = 3;
    o.http2 = false;
    return o;
}

inline request make_request(const std::string& url, std::string body) {
    request r;
    r.url = url;
    r.headers = {"Content-Type: application/json; charset=utf-8"};
    r.body = std::move(body);
    return r;
}

inline std::future<finished> send(client& c, request r) {
    auto p = std::make_shared<std::promise<finished>>();
    auto f = p->get_future();
    const auto ec = c.submit(std::move(r), [p](request&& q, outcome&& o) {
        p->set_value(finished{std::move(q), std::move(o)});
    });
    EXPECT_FALSE(ec) << ec.message();
    if (ec) p->set_value(finished{});
    return f;
}

inline finished wait(std::future<finished>& f,
                     std::chrono::milliseconds limit = std::chrono::milliseconds(15000)) {
    if (f.wait_for(limit) != std::future_status::ready) {
        ADD_FAILURE() << "no outcome within " << limit.count() << " ms";
        return {};
    }
    return f.get();
}

inline finished send_and_wait(client& c, request r) {
    auto f = send(c, std::move(r));
    return wait(f);
}

}  // namespace salvo::transport::testing
