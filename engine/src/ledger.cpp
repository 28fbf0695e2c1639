#include <salvo/engine/ledger.hpp>

#include <salvo/merge/escape.hpp>

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <charconv>

namespace salvo::engine {
namespace {

namespace sys = boost::system;

constexpr std::string_view fate_names[fate_count] = {"accepted",  "rejected",   "failed", "invalid",
                                                     "duplicate", "suppressed", "unknown"};

sys::error_code last_error() {
    return {errno, sys::system_category()};
}

std::uint32_t crc_of(std::string_view payload) {
    return static_cast<std::uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(payload.data()),
                                            static_cast<uInt>(payload.size())));
}

// Appends one journal record: `<crc32 8 hex> <payload>\n`.
void frame(std::string& out, std::string_view payload) {
    static constexpr char hex[] = "0123456789abcdef";
    const std::uint32_t crc = crc_of(payload);
    char head[9];
    for (int i = 0; i < 8; ++i) head[i] = hex[(crc >> (28 - 4 * i)) & 0xF];
    head[8] = ' ';
    out.append(head, 9);
    out.append(payload);
    out.push_back('\n');
}

// Parses a framed line (without its newline); the payload on success.
std::optional<std::string_view> unframe(std::string_view line) {
    if (line.size() < 9 || line[8] != ' ') return std::nullopt;
    std::uint32_t crc = 0;
    auto [p, ec] = std::from_chars(line.data(), line.data() + 8, crc, 16);
    if (ec != std::errc() || p != line.data() + 8) return std::nullopt;
    const std::string_view payload = line.substr(9);
    if (crc_of(payload) != crc) return std::nullopt;
    return payload;
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

std::uint64_t parse_u64(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

void mark(std::vector<bool>& bits, std::uint64_t row) {
    if (row >= bits.size()) bits.resize(std::max<std::size_t>(row + 1, bits.size() * 2));
    bits[row] = true;
}

class ledger_category_impl final : public sys::error_category {
  public:
    const char* name() const noexcept override { return "salvo.ledger"; }
    std::string message(int ev) const override {
        switch (static_cast<ledger_errc>(ev)) {
            case ledger_errc::cannot_open:
                return "cannot open the journal or results file";
            case ledger_errc::write_failed:
                return "cannot write the journal or results file";
            case ledger_errc::other_campaign:
                return "the journal belongs to another campaign";
            case ledger_errc::corrupt_journal:
                return "the journal is damaged before its end";
            case ledger_errc::results_mismatch:
                return "the results file is shorter than the journal's last checkpoint";
        }
        return "unknown salvo.ledger error";
    }
};

// What a fate record says: the row, its status and whether it was ambiguous.
// The record's payload is the exact results line, which starts
// `{"row":N,` and carries `"status":"…"`.
struct fate_record {
    std::uint64_t row = 0;
    std::optional<fate> status;
    bool ambiguous = false;
};

fate_record read_fate(std::string_view line) {
    fate_record r;
    constexpr std::string_view row_key = "{\"row\":";
    if (line.substr(0, row_key.size()) == row_key) r.row = parse_u64(line.substr(row_key.size()));
    constexpr std::string_view status_key = "\"status\":\"";
    if (const auto at = line.find(status_key); at != std::string_view::npos) {
        const auto start = at + status_key.size();
        const auto end = line.find('"', start);
        if (end != std::string_view::npos) r.status = parse_fate(line.substr(start, end - start));
    }
    r.ambiguous = line.find("\"ambiguous\":true") != std::string_view::npos;
    return r;
}

}  // namespace

const sys::error_category& ledger_category() noexcept {
    static const ledger_category_impl instance;
    return instance;
}

std::string_view to_string(fate f) noexcept {
    return fate_names[static_cast<std::size_t>(f)];
}

std::optional<fate> parse_fate(std::string_view s) noexcept {
    for (std::size_t i = 0; i < fate_count; ++i)
        if (fate_names[i] == s) return static_cast<fate>(i);
    return std::nullopt;
}

void append_results_line(std::string& out, const row_outcome& o) {
    const auto add_string = [&](std::string_view key, std::string_view value) {
        out += ",\"";
        out += key;
        out += "\":\"";
        merge::append_json_escaped(out, value);
        out += '"';
    };
    out += "{\"row\":";
    out += std::to_string(o.row);
    out += ",\"line\":";
    out += std::to_string(o.line);
    add_string("email", o.email);
    add_string("status", to_string(o.status));
    if (!o.code.empty()) add_string("code", o.code);
    if (!o.error.empty()) add_string("error", o.error);
    if (o.attempts > 0) {
        out += ",\"attempts\":";
        out += std::to_string(o.attempts);
    }
    if (!o.message_id.empty()) add_string("message_id", o.message_id);
    if (o.ambiguous) out += ",\"ambiguous\":true";
    out += "}\n";
}

std::string job_fingerprint::to_json() const {
    std::string out = "{";
    for (const auto& [name, value] : parts) {
        if (out.size() > 1) out += ',';
        out += '"';
        merge::append_json_escaped(out, name);
        out += "\":\"";
        merge::append_json_escaped(out, value);
        out += '"';
    }
    out += '}';
    return out;
}

std::vector<std::string> job_fingerprint::differences(const job_fingerprint& other) const {
    std::vector<std::string> names;
    for (const auto& [name, value] : parts) {
        auto it = other.parts.find(name);
        if (it == other.parts.end() || it->second != value) names.push_back(name);
    }
    for (const auto& [name, value] : other.parts)
        if (!parts.count(name)) names.push_back(name);
    return names;
}

sys::result<std::unique_ptr<ledger>> ledger::open(const ledger_options& options,
                                                  const job_fingerprint& fingerprint,
                                                  ledger_state& state) {
    std::unique_ptr<ledger> l(new ledger());
    l->options_ = options;
    state = ledger_state{};
    const std::string header = "H " + fingerprint.to_json();

    l->journal_fd_ = ::open(options.journal.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->journal_fd_ < 0) return last_error();
    l->results_fd_ = ::open(options.results.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->results_fd_ < 0) return last_error();

    // Read the journal record by record.
    std::uint64_t good_end = 0;                 // end of the last whole, valid record
    std::uint64_t checkpoint = 0;               // results length at the last checkpoint
    std::vector<std::string> since_checkpoint;  // fate lines after it
    std::vector<bool> dispatched;
    bool have_header = false;
    std::string buffer, pending;
    std::uint64_t offset = 0;  // file offset of pending's first byte
    char chunk[1 << 16];
    bool damaged = false;
    for (;;) {
        const ssize_t n = ::read(l->journal_fd_, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            return last_error();
        }
        if (n == 0) break;
        pending.append(chunk, static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
            const std::string_view line(pending.data() + start, nl - start);
            const auto payload = unframe(line);
            if (!payload || damaged) {
                // A bad record is only acceptable as the torn end of the file.
                if (payload && damaged) return sys::error_code(ledger_errc::corrupt_journal);
                damaged = true;
                continue;
            }
            good_end = offset + nl + 1;
            const char type = payload->empty() ? '?' : (*payload)[0];
            const std::string_view body =
                payload->size() > 2 ? payload->substr(2) : std::string_view{};
            if (!have_header) {
                if (type != 'H') return sys::error_code(ledger_errc::corrupt_journal);
                have_header = true;
                if (*payload != header) {
                    job_fingerprint old;
                    // Parts are compared by name; the header is our own JSON.
                    std::string_view rest = body;
                    while (true) {
                        const auto k1 = rest.find('"');
                        if (k1 == std::string_view::npos) break;
                        const auto k2 = rest.find('"', k1 + 1);
                        const auto v1 = rest.find('"', k2 + 1);
                        const auto v2 = rest.find('"', v1 + 1);
                        if (k2 == std::string_view::npos || v1 == std::string_view::npos ||
                            v2 == std::string_view::npos)
                            break;
                        old.parts[std::string(rest.substr(k1 + 1, k2 - k1 - 1))] =
                            std::string(rest.substr(v1 + 1, v2 - v1 - 1));
                        rest.remove_prefix(v2 + 1);
                    }
                    std::string detail;
                    for (const auto& d : fingerprint.differences(old))
                        detail += (detail.empty() ? "" : ", ") + d;
                    state.detail = detail.empty() ? std::string("fingerprint format") : detail;
                    return sys::error_code(ledger_errc::other_campaign);
                }
                continue;
            }
            switch (type) {
                case 'D': {
                    // D <request> <attempt> <row>…
                    std::size_t field = 0;
                    for (std::size_t i = 0; i <= body.size();) {
                        const std::size_t sp = std::min(body.find(' ', i), body.size());
                        if (field++ >= 2) mark(dispatched, parse_u64(body.substr(i, sp - i)));
                        i = sp + 1;
                    }
                    break;
                }
                case 'F': {
                    const fate_record r = read_fate(body);
                    if (r.row == 0 || !r.status)
                        return sys::error_code(ledger_errc::corrupt_journal);
                    if (state.is_decided(r.row)) break;  // never two lines for a row
                    mark(state.decided, r.row);
                    ++state.counts[static_cast<std::size_t>(*r.status)];
                    if (r.ambiguous) ++state.ambiguous;
                    since_checkpoint.emplace_back(body);
                    break;
                }
                case 'C':
                    checkpoint = parse_u64(body);
                    since_checkpoint.clear();
                    break;
                case 'E':
                    state.finished = true;
                    break;
                default:
                    return sys::error_code(ledger_errc::corrupt_journal);
            }
        }
        offset += start;
        pending.erase(0, start);
    }
    const std::uint64_t journal_size = offset + pending.size();
    state.journal_bytes_dropped = journal_size - good_end;
    state.fresh = !have_header;

    if (state.journal_bytes_dropped > 0 &&
        ::ftruncate(l->journal_fd_, static_cast<off_t>(good_end)) != 0)
        return last_error();
    if (::lseek(l->journal_fd_, 0, SEEK_END) < 0) return last_error();

    struct stat st {};
    if (::fstat(l->results_fd_, &st) != 0) return last_error();
    if (state.fresh) {
        // A new job: an old results file without a journal is not ours to keep.
        if (::ftruncate(l->results_fd_, 0) != 0) return last_error();
        std::string rec;
        frame(rec, header);
        if (auto ec = l->write_journal_locked(rec)) return ec;
    } else {
        if (static_cast<std::uint64_t>(st.st_size) < checkpoint)
            return sys::error_code(ledger_errc::results_mismatch);
        if (::ftruncate(l->results_fd_, static_cast<off_t>(checkpoint)) != 0) return last_error();
    }
    if (::lseek(l->results_fd_, 0, SEEK_END) < 0) return last_error();
    l->results_bytes_ = state.fresh ? 0 : checkpoint;

    // Fates decided after the last checkpoint go back into the results file.
    std::string lines;
    for (const auto& f : since_checkpoint) {
        lines += f;
        lines += '\n';
    }
    if (!lines.empty()) {
        if (!write_all(l->results_fd_, lines)) return last_error();
        l->results_bytes_ += lines.size();
    }
    for (std::size_t row = 0; row < dispatched.size(); ++row)
        if (dispatched[row] && !state.is_decided(row)) state.in_doubt.push_back(row);

    l->decided_ = state.decided;
    l->counts_ = state.counts;
    l->ambiguous_ = state.ambiguous;
    {
        std::lock_guard lock(l->mutex_);
        if (auto ec = l->checkpoint_locked()) return ec;
        if (auto ec = l->sync_locked()) return ec;
    }
    l->syncer_ = std::thread([p = l.get()] { p->sync_loop(); });
    return l;
}

ledger::~ledger() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    if (journal_fd_ >= 0) {
        std::lock_guard lock(mutex_);
        (void)checkpoint_locked();
        (void)sync_locked();
    }
    if (journal_fd_ >= 0) ::close(journal_fd_);
    if (results_fd_ >= 0) ::close(results_fd_);
}

sys::error_code ledger::write_journal_locked(const std::string& records) {
    if (sync_error_) return sync_error_;  // a failed background fsync stops the ledger
    if (!write_all(journal_fd_, records)) return last_error();
    dirty_ = true;
    return {};
}

sys::error_code ledger::dispatch(std::uint64_t request, std::uint32_t attempt,
                                 std::span<const std::uint64_t> rows) {
    std::lock_guard lock(mutex_);
    std::string payload = "D " + std::to_string(request) + " " + std::to_string(attempt);
    for (const auto r : rows) {
        payload += ' ';
        payload += std::to_string(r);
    }
    scratch_.clear();
    frame(scratch_, payload);
    return write_journal_locked(scratch_);
}

sys::error_code ledger::decide(std::span<const row_outcome> outcomes) {
    std::lock_guard lock(mutex_);
    scratch_.clear();
    scratch_results_.clear();
    std::string line;
    for (const auto& o : outcomes) {
        if (o.row < decided_.size() && decided_[o.row]) {
            ++duplicate_decisions_;
            continue;
        }
        mark(decided_, o.row);
        ++counts_[static_cast<std::size_t>(o.status)];
        if (o.ambiguous) ++ambiguous_;
        line.clear();
        append_results_line(line, o);
        scratch_results_ += line;
        line.pop_back();  // the journal frames it with its own newline
        line.insert(0, "F ");
        frame(scratch_, line);
    }
    if (scratch_.empty()) return {};
    // The journal first: a results line never exists without its record.
    if (auto ec = write_journal_locked(scratch_)) return ec;
    if (!write_all(results_fd_, scratch_results_)) return last_error();
    results_bytes_ += scratch_results_.size();
    fates_since_checkpoint_ += outcomes.size();
    if (fates_since_checkpoint_ >= options_.checkpoint_every) return checkpoint_locked();
    return {};
}

sys::error_code ledger::checkpoint_locked() {
    fates_since_checkpoint_ = 0;
    std::string rec;
    frame(rec, "C " + std::to_string(results_bytes_));
    return write_journal_locked(rec);
}

sys::error_code ledger::finish() {
    std::lock_guard lock(mutex_);
    if (auto ec = checkpoint_locked()) return ec;
    std::string rec;
    frame(rec, "E");
    if (auto ec = write_journal_locked(rec)) return ec;
    return sync_locked();
}

sys::error_code ledger::sync() {
    std::lock_guard lock(mutex_);
    return sync_locked();
}

sys::error_code ledger::sync_locked() {
    // Results before journal: a synced checkpoint never claims more results
    // bytes than are on disk.
    if (::fsync(results_fd_) != 0) return last_error();
    if (::fsync(journal_fd_) != 0) return last_error();
    dirty_ = false;
    return {};
}

void ledger::sync_loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, options_.sync_interval);
        if (stopping_ || !dirty_) continue;
        if (fates_since_checkpoint_ > 0) (void)checkpoint_locked();
        dirty_ = false;
        // fsync outside the lock: decisions go on while the disk catches up.
        lock.unlock();
        const bool ok = ::fsync(results_fd_) == 0 && ::fsync(journal_fd_) == 0;
        lock.lock();
        if (!ok && !sync_error_) sync_error_ = last_error();
    }
}

}  // namespace salvo::engine
