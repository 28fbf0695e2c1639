#include <salvo/injection/batcher.hpp>

#include <algorithm>
#include <bit>
#include <string>
#include <utility>

namespace salvo::injection {

boost::system::result<batcher, error_info> batcher::create(
    std::shared_ptr<const request_writer> writer, const limits& lim) {
    const auto bad = [](std::string m) {
        return error_info{make_error_code(errc::bad_limits), std::move(m)};
    };
    if (!writer) return bad("batcher: no request writer");
    if (lim.messages_per_request == 0) return bad("limits: messages_per_request is 0");
    if (lim.recipients_per_message == 0) return bad("limits: recipients_per_message is 0");
    if (lim.max_request_bytes == 0) return bad("limits: max_request_bytes is 0");
    if (lim.max_request_bytes > server_max_request_bytes) {
        return bad("limits: max_request_bytes " + std::to_string(lim.max_request_bytes) +
                   " is over the server's cap of " + std::to_string(server_max_request_bytes) +
                   " bytes, which answers 413");
    }
    return batcher(std::move(writer), lim);
}

batcher::batcher(std::shared_ptr<const request_writer> writer, const limits& lim)
    : writer_(std::move(writer)),
      limits_(lim),
      may_leave_out_(writer_->elidable_fields()),
      may_share_(writer_->sharable_fields()) {
    start();
}

void batcher::close_message() {
    writer_->close_merge_message(body_, &values_);
    open_message_ = false;
    request_writer::share_mask varied = 0;
    for (auto f = values_.fields; f != 0; f &= f - 1) {
        const auto k = static_cast<std::size_t>(std::countr_zero(f));
        if (rows_ > 1 && 2 * differed_[k] >= rows_ - 1)
            varied |= request_writer::share_mask{1} << k;
    }
    confirmed_ = values_.fields & ~varied;
    may_share_ &= ~varied;
}

void batcher::start() {
    current_.clear();
    current_.sequence = next_sequence_++;
    open_message_ = false;
    rows_ = 0;
    body_.clear();
    writer_->begin_request(body_);
}

std::size_t batcher::closing_bytes() const noexcept {
    return request_writer::end_request_bytes +
           (open_message_ ? writer_->close_merge_message_bytes(&values_) : 0);
}

void batcher::seal() {
    if (open_message_) close_message();
    writer_->end_request(body_);
    // The outgoing body gets room for the largest body so far plus a margin,
    // so that a recycled body serves the requests after it as they vary in
    // size; it is kept unless it is smaller than this one.
    body_hint_ = std::max(body_hint_, body_.size());
    if (current_.body.capacity() < body_.size())
        current_.body.reserve(body_hint_ + std::max<std::size_t>(body_hint_ / 4, 16384));
    current_.body.assign(body_);
    slots_hint_ = std::max(slots_hint_, current_.slots.size());
    ready_.push_back(std::move(current_));
    if (!spare_.empty()) {
        current_ = std::move(spare_.back());
        spare_.pop_back();
    } else {
        current_ = outgoing_request{};
    }
    current_.slots.reserve(slots_hint_);
    start();
}

void batcher::flush() {
    if (!current_.slots.empty()) seal();
}

outgoing_request batcher::take() {
    outgoing_request r = std::move(ready_[taken_++]);
    if (taken_ == ready_.size()) {  // all taken: start over, keeping the capacity
        ready_.clear();
        taken_ = 0;
    }
    return r;
}

void batcher::recycle(outgoing_request&& r) {
    r.clear();
    spare_.push_back(std::move(r));
}

std::optional<error_info> batcher::try_add(const recipient& r, placement& where, bool& too_big) {
    auto& body = body_;
    const bool server = writer_->mode() == merge_mode::server;
    // Make room by count first: these never depend on the recipient.
    if (server && open_message_ && rows_ == limits_.recipients_per_message) close_message();
    const request_writer::field_mask equal =
        server && may_leave_out_ != 0 ? writer_->equal_fields(r, may_leave_out_) : 0;
    // This row renders a left-out field differently from its twin: the
    // message ends here, and once the row is taken the field is sent from
    // now on (a row the writer refuses changes nothing of that).
    const request_writer::field_mask differs =
        server && open_message_ ? left_out_ & ~equal : request_writer::field_mask{0};
    if (differs != 0) close_message();
    if (!open_message_ && current_.messages == limits_.messages_per_request) seal();

    const auto mark = body.size();
    const bool opened = server && !open_message_;
    request_writer::share_mask row_varied = 0;
    request_writer::share_mask same = 0;  // of values_.fields, those r holds as kept
    std::optional<error_info> e;
    if (!server) {
        e = writer_->append_message(body, r, current_.messages == 0);
    } else {
        if (opened) {
            left_out_ = equal;
            writer_->keep_values(r, left_out_, may_share_, confirmed_, values_);
            for (auto f = values_.fields; f != 0; f &= f - 1)
                differed_[static_cast<std::size_t>(std::countr_zero(f))] = 0;
            writer_->open_merge_message(body, current_.messages == 0, left_out_);
            open_message_ = true;
            rows_ = 0;
            same = values_.fields;  // kept from this row
        } else {
            same = writer_->compare_values(r, values_, row_varied);
        }
        e = writer_->append_row(body, r, rows_ == 0, left_out_, values_.in_global, same);
    }
    const auto undo = [&] {
        body.resize(mark);
        if (opened) open_message_ = false;
    };
    if (e) {
        undo();
        return e;
    }
    may_leave_out_ &= ~differs;
    if (body.size() + closing_bytes() > limits_.max_request_bytes) {
        too_big = true;
        // The size of a request holding this recipient alone: the bytes just
        // written without their separator, plus the fixed parts.
        std::size_t alone =
            body.size() - mark + writer_->begin_request_bytes() + request_writer::end_request_bytes;
        if (server) alone += writer_->close_merge_message_bytes();
        if (current_.messages > 0 && (!server || opened)) alone -= 1;
        undo();
        if (server && !opened) {
            // Added to an open message. Alone it would open its own, which
            // may leave out more fields: measure that message.
            writer_->open_merge_message(body, true, equal);
            if (!writer_->append_row(body, r, true, equal))
                alone = body.size() - mark + writer_->begin_request_bytes() +
                        request_writer::end_request_bytes + writer_->close_merge_message_bytes();
            body.resize(mark);
        }
        if (alone <= limits_.max_request_bytes) return std::nullopt;  // caller seals, retries
        return error_info{make_error_code(errc::message_too_large),
                          "the message for this recipient makes a request of " +
                              std::to_string(alone) +
                              " bytes on its own, over the request cap of " +
                              std::to_string(limits_.max_request_bytes) + " bytes"};
    }
    too_big = false;
    for (; row_varied != 0; row_varied &= row_varied - 1)
        ++differed_[static_cast<std::size_t>(std::countr_zero(row_varied))];
    where.request = current_.sequence;
    where.message = server ? current_.messages - (opened ? 0U : 1U) : current_.messages;
    where.row = server ? rows_ : 0;
    if (!server || opened) ++current_.messages;
    if (server) ++rows_;
    slot s;
    s.id = r.id;
    s.message = where.message;
    s.row = where.row;
    s.address_offset = static_cast<std::uint32_t>(current_.addresses.size());
    s.address_size = static_cast<std::uint32_t>(r.address.size());
    current_.addresses += r.address;
    current_.slots.push_back(s);
    // A full request goes out now rather than waiting for the next add.
    if (current_.messages == limits_.messages_per_request &&
        (!server || rows_ == limits_.recipients_per_message))
        seal();
    return std::nullopt;
}

boost::system::result<placement, error_info> batcher::add(const recipient& r) {
    placement where;
    bool too_big = false;
    auto e = try_add(r, where, too_big);
    if (e) return *e;
    if (!too_big) return where;
    // It did not fit beside the others: complete the request and try alone.
    seal();
    e = try_add(r, where, too_big);
    if (e) return *e;
    return where;
}

}  // namespace salvo::injection
