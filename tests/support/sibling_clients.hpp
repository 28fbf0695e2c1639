#pragma once
// Shared by the Marketing and Reporting client tests: a transport that
// retries fast, and a 503 fault rule for the emulator. Test-only.

#include <salvo/emulator/options.hpp>
#include <salvo/transport/client.hpp>

#include <chrono>

namespace salvo::test {

inline emulator::fault_rule fail_503(double rate) {
    emulator::fault_rule r;
    r.kind = emulator::fault_kind::http_503;
    r.rate = rate;
    return r;
}

// HTTP/1.1, ten attempts, 1-5 ms backoff: retries do not slow the tests.
inline transport::client_options fast_retries() {
    transport::client_options o;
    o.http2 = false;
    o.retry.max_attempts = 10;
    o.retry.base = std::chrono::milliseconds(1);
    o.retry.cap = std::chrono::milliseconds(5);
    return o;
}

}  // namespace salvo::test
