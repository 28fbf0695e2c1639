#pragma once
/// A local Injection API server (INJECTION_API.md): `POST /api/v1/email`
/// over HTTP/1.1 keep-alive (optionally TLS), with the API's validation,
/// server-side merge, recording of every accepted email, seeded fault
/// injection, and counters at `GET /stats`.

#include <salvo/emulator/error.hpp>
#include <salvo/emulator/options.hpp>
#include <salvo/emulator/record.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace salvo::emulator {

/// The counters behind `GET /stats`.
struct stats {
    std::uint64_t requests = 0;                    ///< every HTTP request whose headers were read
    std::uint64_t messages = 0;                    ///< elements of `Messages` in processed requests
    std::uint64_t emails = 0;                      ///< emails recorded (accepted deliveries)
    std::uint64_t rejected_addresses = 0;          ///< AddressResults entries written
    std::uint64_t missing_merge_fields = 0;        ///< placeholders rendered empty
    std::map<std::string, std::uint64_t> by_code;  ///< top-level ErrorCode of each answer
    std::map<std::string, std::uint64_t> message_codes;  ///< MessageResults ErrorCodes
    std::map<int, std::uint64_t> by_status;              ///< HTTP status of each answer
    std::map<std::string, std::uint64_t> faults;         ///< fault_kind name → hits
    /// With options::events: events made for accepted emails, posted (each once, retries not
    /// counted), acknowledged (answered 200), and the delivery state each
    /// email's events add up to ("delivered", "bounced", …), as salvo
    /// status counts them.
    std::uint64_t events_generated = 0, events_posted = 0, events_acknowledged = 0;
    std::map<std::string, std::uint64_t> event_states;
    std::string events_error;  ///< why posting stopped, if it did
    /// With options::inbound: inbound messages made, acknowledged (answered
    /// 200), how many of each inbound_kind, and why posting stopped, if it did.
    std::uint64_t inbound_generated = 0, inbound_acknowledged = 0;
    std::map<std::string, std::uint64_t> inbound_kinds;
    std::string inbound_error;
};

/// The running emulator. start() binds and spawns `options::threads` I/O
/// threads; stop() (or the destructor) closes the listener and every
/// connection and joins the threads. All members are thread-safe.
/// Errors: start() returns the bind/listen system error, or an errc for bad
/// TLS files, a bad fault pattern, an unwritable record file, bad options.
class server {
  public:
    [[nodiscard]] static boost::system::result<std::unique_ptr<server>> start(options opts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    /// The bound port (the real one when options::port was 0).
    [[nodiscard]] std::uint16_t port() const noexcept;
    /// "http://127.0.0.1:PORT/api/v1/email" ("https://…" with TLS).
    [[nodiscard]] std::string url() const;
    /// "http://127.0.0.1:PORT" without the path.
    [[nodiscard]] std::string base_url() const;

    /// Stops accepting, closes every connection, joins the threads.
    /// Idempotent.
    void stop();

    [[nodiscard]] stats counters() const;

    /// Writes options::siblings.marketing_data_file now (stop() writes it
    /// too, silently); empty when there is none or it was written.
    [[nodiscard]] boost::system::error_code save_marketing_data() const;
    /// Contacts in all Marketing API lists.
    [[nodiscard]] std::size_t marketing_contacts() const;
    /// Every email recorded so far (options::record_in_memory), in order.
    [[nodiscard]] std::vector<recorded_email> recorded() const;

    struct impl;

  private:
    explicit server(std::unique_ptr<impl> p);
    std::unique_ptr<impl> impl_;
};

}  // namespace salvo::emulator
