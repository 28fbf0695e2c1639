#include <salvo/injection/batcher.hpp>

#include <algorithm>
#include <bit>
#include <string>
#include <utility>

namespace salvo::injection {

boost::system::result<batcher, error_info> batcher::create(
    std::shared_ptr<const request_writer> writer, const limits& lim, bool rows_outlive_flush) {
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
    return batcher(std::move(writer), lim, rows_outlive_flush);
}

batcher::batcher(std::shared_ptr<const request_writer> writer, const limits& lim, bool keep_rows)
    : writer_(std::move(writer)),
      limits_(lim),
      server_(writer_->mode() == merge_mode::server),
      keep_rows_(keep_rows),
      may_leave_out_(writer_->elidable_fields()),
      may_share_(writer_->sharable_fields()) {
    if (server_) groups_.resize(max_open_groups + 1);
    start();
}

void batcher::start() {
    current_.clear();
    current_.sequence = next_sequence_++;
    current_.slots.reserve(slots_hint_);
    body_.clear();
    writer_->begin_request(body_);
}

bool batcher::fits(std::size_t message_bytes) const noexcept {
    return body_.size() + parts_bytes_ + (current_.messages > 0) + message_bytes +
               request_writer::end_request_bytes <=
           limits_.max_request_bytes;
}

void batcher::finish(group& g) {
    writer_->close_merge_message(g.text, &g.values);
    // It joins the request, which is sealed first if it does not fit.
    if (current_.messages > 0 && !fits(g.text.size())) seal();
    parts_bytes_ += (current_.messages > 0) + g.text.size();
    parts_.push_back(std::move(g.text));
    if (!texts_.empty()) {
        g.text = std::move(texts_.back());  // a recycled buffer, its capacity kept
        texts_.pop_back();
    } else {
        g.text = std::string();
    }
    const auto base = static_cast<std::uint32_t>(current_.addresses.size());
    current_.addresses += g.addresses;
    for (slot s : g.slots) {
        s.message = current_.messages;
        s.address_offset += base;
        current_.slots.push_back(s);
    }
    ++current_.messages;
    // Sharing: a field whose value differed from the first row's in at
    // least half the other rows is not watched again.
    share_mask varied = 0;
    for (auto f = g.values.fields; f != 0; f &= f - 1) {
        const auto k = static_cast<std::size_t>(std::countr_zero(f));
        if (g.slots.size() > 1 && 2 * g.differed[k] >= g.slots.size() - 1)
            varied |= share_mask{1} << k;
    }
    confirmed_ = g.values.fields & ~varied;
    may_share_ &= ~varied;
    g.text.clear();
    g.slots.clear();
    g.addresses.clear();
    g.rows.clear();
    // A full request goes out now rather than waiting for the next add.
    if (current_.messages == limits_.messages_per_request) seal();
}

void batcher::close(group& g) {
    finish(g);
    g.open = false;
    --open_groups_;
}

std::optional<error_info> batcher::write_row(group& g, const recipient& r,
                                             const request_writer::row_classes& c,
                                             field_mask left_out, share_mask& varied) {
    share_mask same = 0;  // of values.fields, those r holds as kept
    varied = 0;
    const bool first = g.slots.empty();
    if (first) {
        g.left_out = left_out;
        writer_->keep_values(r, left_out, may_share_, confirmed_, g.values);
        g.differed.fill(0);
        g.text.clear();
        writer_->open_merge_message(g.text, true, left_out);
        same = g.values.fields;  // kept from this row
    } else {
        same = writer_->compare_values(r, g.values, varied);
    }
    const auto mark = g.text.size();
    auto e = writer_->append_row(g.text, r, c, first, g.left_out, g.values.in_global, same);
    if (e) g.text.resize(first ? 0 : mark);
    return e;
}

void batcher::take_row(group& g, const recipient& r, share_mask varied) {
    for (; varied != 0; varied &= varied - 1)
        ++g.differed[static_cast<std::size_t>(std::countr_zero(varied))];
    slot s;
    s.id = r.id;
    s.row = static_cast<std::uint32_t>(g.slots.size());
    s.address_offset = static_cast<std::uint32_t>(g.addresses.size());
    s.address_size = static_cast<std::uint32_t>(r.address.size());
    g.addresses += r.address;
    g.slots.push_back(s);
    if (keep_rows_) g.rows.push_back(r);
}

std::size_t batcher::alone_bytes(const group& g) const noexcept {
    return writer_->begin_request_bytes() + g.text.size() +
           writer_->close_merge_message_bytes(&g.values) + request_writer::end_request_bytes;
}

// At flush(), the open messages are short: their rows are written again
// into as few messages as they fill, which leave out what all of them
// leave out. A few dozen rows a flush (a chunk of the input, in a job) are
// written twice; each short message saved is a message's templates, and
// requests of as many rows as before. All or nothing: if a row cannot be
// written again, the messages go as they are.
bool batcher::merge_open() {
    std::size_t rows = 0;
    field_mask common = ~field_mask{0};
    for (const auto& g : groups_) {
        if (!g.open) continue;
        rows += g.slots.size();
        common &= g.left_out;
    }
    const std::size_t need =
        (rows + limits_.recipients_per_message - 1) / limits_.recipients_per_message;
    if (need >= open_groups_) return false;
    rows_.clear();
    for (const auto& g : groups_)
        if (g.open) rows_.insert(rows_.end(), g.rows.begin(), g.rows.end());
    std::sort(rows_.begin(), rows_.end(),
              [](const recipient& a, const recipient& b) { return a.id < b.id; });
    merged_.resize(need);
    for (auto& m : merged_) {
        m.text.clear();
        m.slots.clear();
        m.addresses.clear();
        m.rows.clear();
    }
    std::size_t k = 0;
    for (const auto& r : rows_) {
        group& m = merged_[k];
        share_mask varied = 0;
        if (write_row(m, r, writer_->classify(r), common, varied) ||
            alone_bytes(m) > limits_.max_request_bytes)
            return false;
        take_row(m, r, varied);
        if (m.slots.size() == limits_.recipients_per_message) ++k;
    }
    for (auto& g : groups_) {
        if (!g.open) continue;
        g.open = false;
        g.text.clear();
        g.slots.clear();
        g.addresses.clear();
        g.rows.clear();
    }
    open_groups_ = 0;
    for (auto& m : merged_)
        if (!m.slots.empty()) finish(m);
    return true;
}

// Slots in the order the rows came. Each message's are, and the messages
// of a request that holds rows of several kinds take turns between them:
// the runs are merged pairwise (a few passes over a few hundred slots).
void batcher::sort_slots() {
    auto& v = current_.slots;
    const auto by_id = [](const slot& a, const slot& b) { return a.id < b.id; };
    runs_.clear();
    for (std::size_t i = 1; i < v.size(); ++i)
        if (v[i].id < v[i - 1].id) runs_.push_back(i);
    if (runs_.empty()) return;
    runs_.insert(runs_.begin(), 0);
    runs_.push_back(v.size());
    while (runs_.size() > 2) {
        sorted_.resize(v.size());
        std::size_t kept = 0;
        for (std::size_t k = 0; k + 1 < runs_.size(); k += 2) {
            const auto a = runs_[k], b = runs_[k + 1];
            const auto c = k + 2 < runs_.size() ? runs_[k + 2] : b;
            std::merge(v.begin() + static_cast<std::ptrdiff_t>(a),
                       v.begin() + static_cast<std::ptrdiff_t>(b),
                       v.begin() + static_cast<std::ptrdiff_t>(b),
                       v.begin() + static_cast<std::ptrdiff_t>(c),
                       sorted_.begin() + static_cast<std::ptrdiff_t>(a), by_id);
            runs_[kept++] = a;
        }
        runs_[kept++] = v.size();
        runs_.resize(kept);
        v.swap(sorted_);
    }
}

void batcher::seal() {
    // One copy into the outgoing body, whose lines the network thread's
    // core read last, with room for the largest body so far plus a margin
    // so that it serves the requests after it as they vary in size. Local
    // mode copies its request buffer whole (one large copy there cost less
    // than ten 4 KB ones); server mode joins the head and the messages
    // there, each copied once instead of twice (docs/performance.md, "A
    // row scanned once").
    const std::size_t size = body_.size() + parts_bytes_ + request_writer::end_request_bytes;
    body_hint_ = std::max(body_hint_, size);
    if (current_.body.capacity() < size)
        current_.body.reserve(body_hint_ + std::max<std::size_t>(body_hint_ / 4, 16384));
    current_.body.assign(body_);
    for (std::size_t i = 0; i < parts_.size(); ++i) {
        if (i > 0) current_.body += ',';
        current_.body += parts_[i];
        parts_[i].clear();
        texts_.push_back(std::move(parts_[i]));
    }
    parts_.clear();
    parts_bytes_ = 0;
    writer_->end_request(current_.body);
    sort_slots();
    slots_hint_ = std::max(slots_hint_, current_.slots.size());
    ready_.push_back(std::move(current_));
    if (!spare_.empty()) {
        current_ = std::move(spare_.back());
        spare_.pop_back();
    } else {
        current_ = outgoing_request{};
    }
    start();
}

void batcher::flush() {
    if (keep_rows_ && open_groups_ > 1) (void)merge_open();  // else they join as they are
    // The open messages join in the order they opened.
    while (open_groups_ > 0) {
        group* first = nullptr;
        for (auto& g : groups_)
            if (g.open && (!first || g.opened < first->opened)) first = &g;
        close(*first);
    }
    if (current_.messages > 0) seal();
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

error_info batcher::too_large(std::size_t alone) const {
    return error_info{make_error_code(errc::message_too_large),
                      "the message for this recipient makes a request of " + std::to_string(alone) +
                          " bytes on its own, over the request cap of " +
                          std::to_string(limits_.max_request_bytes) + " bytes"};
}

batcher::outcome batcher::try_add_message(const recipient& r, std::optional<error_info>& e) {
    // Written in place, after the request's other messages (the common
    // case: it fits), and taken back if it does not fit beside them.
    const auto mark = body_.size();
    const bool comma = current_.messages > 0;
    if (comma) body_ += ',';
    e = writer_->append_message(body_, r, true);
    if (e) {
        body_.resize(mark);
        return outcome::refused;
    }
    const std::size_t bytes = body_.size() - mark - comma;
    const std::size_t alone =
        writer_->begin_request_bytes() + bytes + request_writer::end_request_bytes;
    if (alone > limits_.max_request_bytes) {
        body_.resize(mark);
        e = too_large(alone);
        return outcome::refused;
    }
    if (body_.size() + request_writer::end_request_bytes > limits_.max_request_bytes) {
        body_.resize(mark);
        return outcome::again;  // alone it fits: in the next request
    }
    slot s;
    s.id = r.id;
    s.message = current_.messages++;
    s.address_offset = static_cast<std::uint32_t>(current_.addresses.size());
    s.address_size = static_cast<std::uint32_t>(r.address.size());
    current_.addresses += r.address;
    current_.slots.push_back(s);
    // A full request goes out now rather than waiting for the next add.
    if (current_.messages == limits_.messages_per_request) seal();
    return outcome::added;
}

batcher::outcome batcher::try_add_row(const recipient& r, std::optional<error_info>& e) {
    using mask = field_mask;
    // The fields this row renders like their twins: it may join a message
    // that leaves out some of them, and nothing else. A message it opens
    // leaves out those that still may be (its shape).
    // Only those a message opened now may leave out, or an open one does,
    // need checking.
    mask among = may_leave_out_;
    for (const auto& g : groups_)
        if (g.open) among |= g.left_out;
    // The row's values scanned once, for the checks and the writing.
    const request_writer::row_classes classes = writer_->classify(r);
    const mask equal = among != 0 ? writer_->equal_fields(r, among, classes) : 0;
    const mask shape = equal & may_leave_out_;
    // Where it goes: the open message of its shape; else a message of its
    // own while fewer than four are open; else the open message it may
    // join that leaves out the most; else a message of its own in place of
    // the open one with the fewest rows (evicted below).
    group* exact = nullptr;
    group* fits_one = nullptr;
    group* spare = nullptr;
    for (auto& g : groups_) {
        if (!g.open) {
            spare = &g;
        } else if ((g.left_out & ~equal) == 0) {
            if (g.left_out == shape)
                exact = &g;
            else if (!fits_one || (fits_one->left_out & ~g.left_out) == 0)
                fits_one = &g;  // leaves out what the other does, and more
        }
    }
    group* g = exact;
    bool evict = false;
    if (!g && (open_groups_ < max_open_groups || !fits_one)) {
        g = spare;  // a message of its own kind
        evict = open_groups_ == max_open_groups;
    }
    if (!g) g = fits_one;

    const bool opened = !g->open;
    const auto mark = g->text.size();  // an open message's, before this row
    share_mask varied = 0;
    e = write_row(*g, r, classes, opened ? shape : g->left_out, varied);
    if (e) return outcome::refused;  // a refused row changes nothing
    // A message must fit in a request alone.
    if (alone_bytes(*g) > limits_.max_request_bytes) {
        if (!opened) {
            g->text.resize(mark);
            close(*g);  // it goes without this row, which opens another
            return outcome::again;
        }
        // Alone, in a message of its own that shares nothing: the size the
        // error gives, and the message it opens if that fits.
        std::string& own = message_;
        own.clear();
        writer_->open_merge_message(own, true, shape);
        e = writer_->append_row(own, r, classes, true, shape, 0, 0);
        if (e) return outcome::refused;
        const std::size_t own_bytes = writer_->begin_request_bytes() + own.size() +
                                      writer_->close_merge_message_bytes() +
                                      request_writer::end_request_bytes;
        if (own_bytes > limits_.max_request_bytes) {
            e = too_large(own_bytes);
            return outcome::refused;
        }
        writer_->keep_values(r, shape, 0, 0, g->values);
        g->text.swap(own);
        varied = 0;
    }
    if (opened) {
        g->open = true;
        g->opened = next_opened_++;
        ++open_groups_;
    }
    take_row(*g, r, varied);

    if (evict) {
        // A row of yet another kind: the message with the fewest rows makes
        // room, and the fields it left out that this row renders otherwise
        // are not left out by messages opened from now on. The other open
        // messages stay open for the rows that fit them.
        group* victim = nullptr;
        for (auto& o : groups_)
            if (o.open && &o != g && (!victim || o.slots.size() < victim->slots.size()))
                victim = &o;
        may_leave_out_ &= ~(victim->left_out & ~equal);
        close(*victim);
    }
    if (g->slots.size() == limits_.recipients_per_message) close(*g);
    return outcome::added;
}

boost::system::result<void, error_info> batcher::add(const recipient& r) {
    std::optional<error_info> e;
    if (!server_) {
        auto done = try_add_message(r, e);
        if (done == outcome::again) {
            seal();  // it did not fit beside the others
            done = try_add_message(r, e);
        }
        if (done == outcome::refused) return *e;
        return {};
    }
    auto done = try_add_row(r, e);
    // It did not fit in its message beside the others: that message went,
    // and the row tries again (at worst, a message of its own takes it or
    // refuses it).
    while (done == outcome::again) done = try_add_row(r, e);
    if (done == outcome::refused) return *e;
    return {};
}

}  // namespace salvo::injection
