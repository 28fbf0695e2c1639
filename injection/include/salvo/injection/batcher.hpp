#pragma once
/// The batcher: packs recipients into requests within the limits — messages
/// per request, recipients (rows) per merge message, bytes per request — so
/// that no request it builds is one the server would refuse for size.

#include <salvo/injection/codes.hpp>
#include <salvo/injection/error.hpp>
#include <salvo/injection/message.hpp>
#include <salvo/injection/outgoing_request.hpp>
#include <salvo/injection/request_writer.hpp>

#include <boost/system/result.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace salvo::injection {

/// Where add() put a recipient, or why it could not.
struct placement {
    std::uint64_t request = 0;  ///< outgoing_request::sequence
    std::uint32_t message = 0;
    std::uint32_t row = 0;
};

/// One per pipeline thread (not thread-safe); the writer it uses is shared.
/// Requests come out in order through take(); recycle() a request after its
/// response is read so that its buffers serve a later one (no allocation in
/// the steady state).
class batcher {
  public:
    /// Checks the limits: none may be zero, and the byte cap may not exceed
    /// the server's (server_max_request_bytes).
    [[nodiscard]] static boost::system::result<batcher, error_info> create(
        std::shared_ptr<const request_writer> writer, const limits& lim = {});

    /// Adds one recipient. The result is its placement, or an error_info
    /// when the recipient is invalid (a template refused its row, a line
    /// break in its address, or errc::message_too_large when its message
    /// alone, in an otherwise empty request, is over the byte cap). Any
    /// request completed on the way is waiting in ready().
    [[nodiscard]] boost::system::result<placement, error_info> add(const recipient& r);

    /// Completes the request being built, if it holds anyone.
    void flush();

    /// Completed requests, oldest first.
    [[nodiscard]] bool ready() const noexcept { return taken_ < ready_.size(); }
    [[nodiscard]] outgoing_request take();

    /// Gives a request's buffers back for reuse.
    void recycle(outgoing_request&& r);
    /// Requests given back and not reused yet.
    [[nodiscard]] std::size_t spares() const noexcept { return spare_.size(); }

    /// Recipients in the request being built.
    [[nodiscard]] std::size_t pending() const noexcept { return current_.slots.size(); }
    [[nodiscard]] const limits& caps() const noexcept { return limits_; }

  private:
    batcher(std::shared_ptr<const request_writer> writer, const limits& lim);
    void start();
    void seal();
    [[nodiscard]] std::optional<error_info> try_add(const recipient& r, placement& where,
                                                    bool& too_big);
    [[nodiscard]] std::size_t closing_bytes() const noexcept;

    std::shared_ptr<const request_writer> writer_;
    limits limits_;
    outgoing_request current_;
    bool open_message_ = false;  // server mode: a merge message is open
    std::uint32_t rows_ = 0;     // rows in the open merge message
    // Server mode: the fields the open message leaves out of its rows, and
    // those a message may still leave out. A row that renders one of the
    // message's left-out fields differently closes the message, and that
    // field is never left out again by this batcher: at most one short
    // message per field, however the rows alternate.
    request_writer::field_mask left_out_ = 0;
    request_writer::field_mask may_leave_out_ = 0;
    // Server mode: the open message's first-row values of the fields still
    // watched (may_share_). Those whose value was the first row's in at
    // least half the other rows of the last message closed (confirmed_) go
    // in this message's Global, and rows with that value leave them out;
    // the others are not watched again, so that a column of varied values
    // costs a compare a row in one message only. An empty or absent value
    // does not count against a field: such rows carry their own anyway.
    request_writer::message_values values_;
    request_writer::share_mask may_share_ = 0;
    request_writer::share_mask confirmed_ = 0;
    std::array<std::uint32_t, 64> differed_{};  // by field: rows of the open message
    void close_message();
    std::uint64_t next_sequence_ = 0;
    std::vector<outgoing_request> ready_;  // completed, oldest first
    std::size_t taken_ = 0;                // ready_[0, taken_) were taken
    std::vector<outgoing_request> spare_;  // recycled buffers
    // The request being written. It stays with this batcher (and its
    // thread's cache); seal() copies it into the outgoing body in one move.
    // Written straight into a recycled body, each store waited for a line
    // the network thread's core had read to send that body's last request.
    std::string body_;
    // The largest body and slot count sealed so far: an outgoing body too
    // small for the one being sealed, and each request's slots, reserve
    // them, instead of growing through a chain of reallocations (each a
    // copy) when requests leave and never come back.
    std::size_t body_hint_ = 0;
    std::size_t slots_hint_ = 0;
};

}  // namespace salvo::injection
