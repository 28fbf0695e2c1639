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
#include <string>
#include <vector>

namespace salvo::injection {

/// One per pipeline thread (not thread-safe); the writer it uses is shared.
/// Requests come out in order through take(); recycle() a request after its
/// response is read so that its buffers serve a later one (no allocation in
/// the steady state).
class batcher {
  public:
    /// Checks the limits: none may be zero, and the byte cap may not exceed
    /// the server's (server_max_request_bytes). `rows_outlive_flush`: the
    /// caller keeps every recipient added (its views) valid until the next
    /// flush(), which may then write the rows of the short messages still
    /// open into fewer messages.
    [[nodiscard]] static boost::system::result<batcher, error_info> create(
        std::shared_ptr<const request_writer> writer, const limits& lim = {},
        bool rows_outlive_flush = false);

    /// Adds one recipient, or gives an error_info when the recipient is
    /// invalid (a template refused its row, a line break in its address, or
    /// errc::message_too_large when its message alone, in an otherwise empty
    /// request, is over the byte cap). Any request completed on the way is
    /// waiting in ready(). Where the recipient sits (its slot) is known once
    /// its request is: a server-mode row joins one of several open messages.
    [[nodiscard]] boost::system::result<void, error_info> add(const recipient& r);

    /// Completes the messages still open and the request being built.
    void flush();

    /// Completed requests, oldest first.
    [[nodiscard]] bool ready() const noexcept { return taken_ < ready_.size(); }
    [[nodiscard]] outgoing_request take();

    /// Gives a request's buffers back for reuse.
    void recycle(outgoing_request&& r);
    /// Requests given back and not reused yet.
    [[nodiscard]] std::size_t spares() const noexcept { return spare_.size(); }

    [[nodiscard]] const limits& caps() const noexcept { return limits_; }

  private:
    // Server mode: one merge message being filled. Its rows leave out the
    // same fields (left_out): a row goes to an open message whose left-out
    // fields it renders like their twins, or opens one of its own, so that a
    // row with an O'Neil in it does not make the clean rows around it carry
    // the twin. It is written apart, and joins the request being built when
    // it closes: full, evicted, or at flush(). Its rows are not in a request
    // until then, so a request's rows need not be one run of the input; a
    // request's slots are sorted back into the order the rows came.
    struct group {
        std::string text;  // `{"To":…` through its last row: no comma, no tail
        request_writer::field_mask left_out = 0;
        // The first row's values of the fields watched for sharing (see
        // may_share_), and by field, the rows that held another.
        request_writer::message_values values;
        std::array<std::uint32_t, 64> differed{};
        std::vector<slot> slots;  // message not set; offsets into `addresses`
        std::string addresses;
        std::vector<recipient> rows;  // with rows_outlive_flush: for merge_open()
        std::uint64_t opened = 0;     // the order messages join the request at flush()
        bool open = false;
    };
    // Open messages at most: each ends short at flush() (once a chunk of
    // input, in a job), so a few.
    static constexpr std::size_t max_open_groups = 4;

    enum class outcome : std::uint8_t { added, refused, again };

    batcher(std::shared_ptr<const request_writer> writer, const limits& lim, bool keep_rows);
    using field_mask = request_writer::field_mask;
    using share_mask = request_writer::share_mask;
    // Writes r (whose values classify `c`) into g (opening it, leaving out
    // `left_out`, when empty) and sets `varied` to the shared fields r holds
    // another value of; on an error g is as it was.
    [[nodiscard]] std::optional<error_info> write_row(group& g, const recipient& r,
                                                      const request_writer::row_classes& c,
                                                      field_mask left_out, share_mask& varied);
    // Records r, just written into g, as g's last row.
    void take_row(group& g, const recipient& r, share_mask varied);
    // The size of a request holding g alone.
    [[nodiscard]] std::size_t alone_bytes(const group& g) const noexcept;
    [[nodiscard]] bool merge_open();
    // Closes g's message and appends it, with its recipients, to the
    // request: sealed first if the message does not fit, and after if full.
    void finish(group& g);
    void start();
    void seal();
    void sort_slots();
    [[nodiscard]] outcome try_add_message(const recipient& r, std::optional<error_info>& e);
    [[nodiscard]] outcome try_add_row(const recipient& r, std::optional<error_info>& e);
    // Whether a message of this size fits in the request beside the others.
    [[nodiscard]] bool fits(std::size_t message_bytes) const noexcept;
    [[nodiscard]] error_info too_large(std::size_t alone) const;
    void close(group& g);

    std::shared_ptr<const request_writer> writer_;
    limits limits_;
    bool server_ = false;
    outgoing_request current_;  // its slots; its body is written at seal()
    // The request being built: its head, and in local mode the messages
    // joined so far. It stays with this batcher (and its thread's cache);
    // seal() copies it into the outgoing body. Written straight into a recycled
    // body, each store waited for a line the network thread's core had read
    // to send that body's last request.
    std::string body_;
    // Server mode: body_ holds the head; the request's closed messages wait
    // here, each in the buffer it was written in, and seal() joins them
    // into the outgoing body: one copy of each message, not two.
    std::vector<std::string> parts_;
    std::size_t parts_bytes_ = 0;     // with the commas between them
    std::vector<std::string> texts_;  // message buffers parts_ gave back
    std::uint32_t open_groups_ = 0;
    std::uint64_t next_opened_ = 0;
    std::vector<group> groups_;      // server mode: max_open_groups + 1, some open
    bool keep_rows_ = false;         // rows_outlive_flush
    std::vector<group> merged_;      // merge_open(): the messages written again
    std::vector<recipient> rows_;    // merge_open(): the open messages' rows
    std::vector<std::size_t> runs_;  // sort_slots(): where each run of slots starts
    std::vector<slot> sorted_;       // sort_slots(): the merged runs
    // Server mode: the fields a message opened from now on may leave out.
    // An open message is closed early (evicted) only when a row fits none
    // of them and no other may open; the fields it left out that the row
    // renders otherwise are then not left out again by this batcher, so
    // that rows of too many kinds cost one short message per field at most.
    request_writer::field_mask may_leave_out_ = 0;
    // Server mode: the fields still watched for sharing. A message keeps its
    // first row's values of them; those whose value was the first row's in
    // at least half the other rows of the last message closed (confirmed_)
    // go in its Global, and rows with that value leave them out; the others
    // are not watched again, so that a column of varied values costs a
    // compare a row in one message only. An empty or absent value does not
    // count against a field: such rows carry their own anyway.
    request_writer::share_mask may_share_ = 0;
    request_writer::share_mask confirmed_ = 0;
    std::uint64_t next_sequence_ = 0;
    std::vector<outgoing_request> ready_;  // completed, oldest first
    std::size_t taken_ = 0;                // ready_[0, taken_) were taken
    std::vector<outgoing_request> spare_;  // recycled buffers
    // Server mode: a row's message alone, measured when it does not fit.
    std::string message_;
    // The largest body and slot count sealed so far: a request whose body
    // or slots are smaller reserves them, instead of growing through a
    // chain of reallocations (each a copy) when requests leave and never
    // come back.
    std::size_t body_hint_ = 0;
    std::size_t slots_hint_ = 0;
};

}  // namespace salvo::injection
