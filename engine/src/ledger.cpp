#include <salvo/engine/ledger.hpp>

#include <salvo/merge/escape.hpp>

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
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

bool write_fd_all(int fd, std::string_view data) {
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

// Rows whose fate is failed or unknown, or whose line is ambiguous, are
// kept in ledger::notable_ as `row << 8 | code`, code = 1 + fate, with the
// high bit when the line is ambiguous: sparse, because most rows are plain.
constexpr std::uint8_t ambiguous_bit = 0x80;

bool is_notable(fate f, bool ambiguous) {
    return ambiguous || f == fate::failed || f == fate::unknown;
}

std::uint64_t notable_entry(std::uint64_t row, fate f, bool ambiguous) {
    return row << 8 | ((static_cast<unsigned>(f) + 1) | (ambiguous ? ambiguous_bit : 0));
}

fate code_fate(std::uint8_t code) {
    return static_cast<fate>((code & ~ambiguous_bit) - 1);
}

bool is_set(const std::vector<bool>& bits, std::uint64_t row) {
    return row < bits.size() && bits[row];
}

// Takes the entries of `rows` (ascending) out of `notable`, calling
// f(row, code) for each one found.
template <class F>
void take_notable(std::vector<std::uint64_t>& notable, std::span<const std::uint64_t> rows, F&& f) {
    std::sort(notable.begin(), notable.end());
    auto out = notable.begin();
    auto want = rows.begin();
    for (auto it = notable.begin(); it != notable.end(); ++it) {
        const std::uint64_t row = *it >> 8;
        while (want != rows.end() && *want < row) ++want;
        if (want != rows.end() && *want == row) {
            f(row, static_cast<std::uint8_t>(*it & 0xFF));
            continue;
        }
        *out++ = *it;
    }
    notable.erase(out, notable.end());
}

// Appends ` <row>` for each row: the row lists of D, U and R records.
void append_rows(std::string& payload, std::span<const std::uint64_t> rows) {
    char digits[24];
    for (const auto r : rows) {
        payload += ' ';
        payload.append(digits, std::to_chars(digits, digits + sizeof digits, r).ptr);
    }
}

// Calls f(row) for each number in a space-separated list.
template <class F>
void for_each_row(std::string_view list, F&& f) {
    for (std::size_t i = 0; i < list.size();) {
        const std::size_t sp = std::min(list.find(' ', i), list.size());
        if (sp > i) f(parse_u64(list.substr(i, sp - i)));
        i = sp + 1;
    }
}

// Reads a journal record by record (framed lines), calling f(payload) for
// each valid one. Stops at the first invalid record (open() has already cut
// a torn end). Returns false on a read error.
template <class F>
bool read_records(int fd, F&& f) {
    std::string pending;
    char chunk[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) return true;
        pending.append(chunk, static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
            const auto payload = unframe(std::string_view(pending.data() + start, nl - start));
            if (!payload) return true;
            f(*payload);
        }
        pending.erase(0, start);
    }
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

ledger_io& system_io() {
    static ledger_io instance;
    return instance;
}

}  // namespace

bool ledger_io::write(int fd, std::string_view data) {
    return write_fd_all(fd, data);
}

int ledger_io::sync(int fd) {
    return ::fsync(fd);
}

bool ledger::write_all(int fd, std::string_view data) {
    return io_->write(fd, data);
}

bool ledger::sync_fd(int fd) {
    return io_->sync(fd) == 0;
}

void dispatch_batch::add(std::uint64_t request, std::uint32_t attempt,
                         std::span<const std::uint64_t> rows) {
    std::string payload = "D " + std::to_string(request) + " " + std::to_string(attempt);
    append_rows(payload, rows);
    frame(records_, payload);
}

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
    l->io_ = options.io != nullptr ? options.io : &system_io();
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
    std::vector<bool> decided;           // as ledger::decided_
    std::vector<std::uint64_t> notable;  // as ledger::notable_
    bool rebuild = false;                // an R record without a checkpoint after it
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
                case 'U':
                    for_each_row(body, [&](std::uint64_t row) {
                        if (row < dispatched.size()) dispatched[row] = false;
                    });
                    break;
                case 'F': {
                    const fate_record r = read_fate(body);
                    if (r.row == 0 || !r.status)
                        return sys::error_code(ledger_errc::corrupt_journal);
                    if (is_set(decided, r.row)) break;  // never two lines for a row
                    mark(decided, r.row);
                    if (is_notable(*r.status, r.ambiguous))
                        notable.push_back(notable_entry(r.row, *r.status, r.ambiguous));
                    ++state.counts[static_cast<std::size_t>(*r.status)];
                    if (r.ambiguous) ++state.ambiguous;
                    since_checkpoint.emplace_back(body);
                    break;
                }
                case 'R': {
                    // Reopened: the row is undecided again. One that may have
                    // been delivered (unknown, or ambiguous) stays in doubt.
                    std::vector<std::uint64_t> reopened;
                    for_each_row(body, [&](std::uint64_t row) { reopened.push_back(row); });
                    std::sort(reopened.begin(), reopened.end());
                    take_notable(notable, reopened, [&](std::uint64_t row, std::uint8_t code) {
                        ++l->withdrawn_[row];
                        --state.counts[static_cast<std::size_t>(code_fate(code))];
                        if (code & ambiguous_bit) --state.ambiguous;
                        decided[row] = false;
                        if (code_fate(code) == fate::unknown || (code & ambiguous_bit))
                            mark(dispatched, row);
                        else if (row < dispatched.size())
                            dispatched[row] = false;
                    });
                    rebuild = true;
                    state.finished = false;
                    break;
                }
                case 'C':
                    checkpoint = parse_u64(body);
                    since_checkpoint.clear();
                    rebuild = false;
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
    const off_t journal_end = ::lseek(l->journal_fd_, 0, SEEK_END);
    if (journal_end < 0) return last_error();
    l->journal_bytes_ = static_cast<std::uint64_t>(journal_end);

    struct stat st {};
    if (::fstat(l->results_fd_, &st) != 0) return last_error();
    l->notable_ = std::move(notable);
    if (state.fresh) {
        // A new job: an old results file without a journal is not ours to keep.
        if (::ftruncate(l->results_fd_, 0) != 0) return last_error();
        std::string rec;
        frame(rec, header);
        if (auto ec = l->write_journal_locked(rec)) return ec;
    } else if (rebuild) {
        // A reopen was cut short: its rename may or may not have happened.
        since_checkpoint.clear();
        std::lock_guard lock(l->mutex_);
        if (auto ec = l->rebuild_results_locked()) return ec;
    } else {
        if (static_cast<std::uint64_t>(st.st_size) < checkpoint)
            return sys::error_code(ledger_errc::results_mismatch);
        if (::ftruncate(l->results_fd_, static_cast<off_t>(checkpoint)) != 0) return last_error();
    }
    if (!rebuild) {
        if (::lseek(l->results_fd_, 0, SEEK_END) < 0) return last_error();
        l->results_bytes_ = state.fresh ? 0 : checkpoint;
    }

    // Fates decided after the last checkpoint go back into the results file.
    std::string lines;
    for (const auto& f : since_checkpoint) {
        lines += f;
        lines += '\n';
    }
    if (!lines.empty()) {
        if (!l->write_all(l->results_fd_, lines)) return last_error();
        l->results_bytes_ += lines.size();
    }
    state.decided = decided;
    l->decided_ = std::move(decided);
    for (std::size_t row = 0; row < dispatched.size(); ++row)
        if (dispatched[row] && !state.is_decided(row)) state.in_doubt.push_back(row);

    l->counts_ = state.counts;
    l->ambiguous_ = state.ambiguous;
    {
        std::lock_guard lock(l->mutex_);
        if (auto ec = l->checkpoint_locked()) return ec;
        if (auto ec = l->sync_locked()) return ec;
    }
    l->opened_ = true;
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
    if (opened_) {  // never on open()'s error paths: a refused journal is not ours
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
    journal_bytes_ += records.size();
    dirty_ = true;
    return {};
}

sys::result<std::uint64_t> ledger::dispatch(const dispatch_batch& batch) {
    std::unique_lock lock(mutex_);
    if (!batch.records_.empty()) {
        if (auto ec = write_journal_locked(batch.records_)) return ec;
        urgent_ = true;
    }
    const std::uint64_t ticket = journal_bytes_;
    lock.unlock();
    wake_.notify_all();
    return ticket;
}

void ledger::on_durable(durable_listener listener) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(listener);
}

sys::error_code ledger::dispatch(std::uint64_t request, std::uint32_t attempt,
                                 std::span<const std::uint64_t> rows) {
    dispatch_batch one;
    one.add(request, attempt, rows);
    auto ticket = dispatch(one);
    return ticket ? sys::error_code{} : ticket.error();
}

sys::error_code ledger::release(std::span<const std::uint64_t> rows) {
    if (rows.empty()) return {};
    std::lock_guard lock(mutex_);
    std::string payload = "U";
    append_rows(payload, rows);
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
        if (is_set(decided_, o.row)) {
            ++duplicate_decisions_;
            continue;
        }
        mark(decided_, o.row);
        if (is_notable(o.status, o.ambiguous))
            notable_.push_back(notable_entry(o.row, o.status, o.ambiguous));
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

sys::result<std::vector<std::uint64_t>> ledger::reopen_failed(ledger_state& state) {
    std::lock_guard lock(mutex_);
    std::vector<std::uint64_t> reopened, doubt;
    std::sort(notable_.begin(), notable_.end());
    for (const std::uint64_t entry : notable_) {
        const auto code = static_cast<std::uint8_t>(entry & 0xFF);
        const fate f = code_fate(code);
        if (f != fate::failed && f != fate::unknown) continue;
        reopened.push_back(entry >> 8);
        if (f == fate::unknown || (code & ambiguous_bit)) doubt.push_back(entry >> 8);
    }
    if (reopened.empty()) return doubt;

    // R records of a bounded size, then the results file without the lines.
    std::string records, payload;
    for (std::size_t i = 0; i < reopened.size(); i += 4096) {
        payload.clear();
        payload.push_back('R');
        append_rows(payload, std::span(reopened).subspan(
                                 i, std::min<std::size_t>(4096, reopened.size() - i)));
        frame(records, payload);
    }
    if (auto ec = write_journal_locked(records)) return ec;
    take_notable(notable_, reopened, [&](std::uint64_t row, std::uint8_t code) {
        --counts_[static_cast<std::size_t>(code_fate(code))];
        if (code & ambiguous_bit) --ambiguous_;
        decided_[row] = false;
        ++withdrawn_[row];
        if (row < state.decided.size()) state.decided[row] = false;
    });
    if (auto ec = rebuild_results_locked()) return ec;
    if (auto ec = checkpoint_locked()) return ec;
    if (auto ec = sync_locked()) return ec;
    state.counts = counts_;
    state.ambiguous = ambiguous_;
    state.finished = false;
    state.reopened = reopened.size();
    return doubt;
}

sys::error_code ledger::rebuild_results_locked() {
    // The journal first: the new results file must never be on disk while
    // the R records that explain it are not.
    if (!sync_fd(journal_fd_)) return last_error();
    const int in = ::open(options_.journal.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return last_error();
    std::filesystem::path next = options_.results;
    next += ".rebuild";
    const int out = ::open(next.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        const auto ec = last_error();
        ::close(in);
        return ec;
    }
    // A row's live line is its first F record after the last R naming it.
    std::map<std::uint64_t, std::uint32_t> seen;
    std::vector<bool> written;
    std::string buffer;
    bool ok = true;
    std::uint64_t size = 0;
    const bool read_ok = read_records(in, [&](std::string_view record) {
        if (record.size() < 2 || !ok) return;
        const std::string_view body = record.substr(2);
        if (record[0] == 'R') {
            for_each_row(body, [&](std::uint64_t row) {
                ++seen[row];
                if (row < written.size()) written[row] = false;
            });
            return;
        }
        if (record[0] != 'F') return;
        const std::uint64_t row = read_fate(body).row;
        if (row < written.size() && written[row]) return;
        if (const auto w = withdrawn_.find(row); w != withdrawn_.end()) {
            const auto s = seen.find(row);
            if ((s == seen.end() ? 0 : s->second) != w->second) return;  // withdrawn later
        }
        mark(written, row);
        buffer.append(body);
        buffer.push_back('\n');
        if (buffer.size() >= (1u << 20)) {
            ok = write_all(out, buffer);
            size += buffer.size();
            buffer.clear();
        }
    });
    ::close(in);
    if (ok && read_ok) {
        ok = write_all(out, buffer);
        size += buffer.size();
    }
    if (!ok || !read_ok || !sync_fd(out)) {
        const auto ec = last_error();
        ::close(out);
        return ec;
    }
    ::close(out);
    // Rename into place, then make the rename itself durable.
    if (::rename(next.c_str(), options_.results.c_str()) != 0) return last_error();
    const auto dir = options_.results.has_parent_path() ? options_.results.parent_path()
                                                        : std::filesystem::path(".");
    if (const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
        (void)::fsync(d);
        ::close(d);
    }
    const int fd = ::open(options_.results.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return last_error();
    if (::lseek(fd, 0, SEEK_END) < 0) {
        const auto ec = last_error();
        ::close(fd);
        return ec;
    }
    // The same descriptor number from here on: the syncer may be fsyncing it.
    if (::dup2(fd, results_fd_) < 0) {
        const auto ec = last_error();
        ::close(fd);
        return ec;
    }
    ::close(fd);
    results_bytes_ = size;
    fates_since_checkpoint_ = 0;
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
    if (!sync_fd(results_fd_)) return last_error();
    if (!sync_fd(journal_fd_)) return last_error();
    dirty_ = false;
    durable_ = journal_bytes_;
    return {};
}

void ledger::sync_loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        // A dispatch record waiting for the disk is synced at once (the
        // requests behind it are held back until then); fates alone wait
        // for the interval, so many decisions share one fsync.
        if (!urgent_) wake_.wait_for(lock, options_.sync_interval);
        if (stopping_) break;
        if (!dirty_) {
            urgent_ = false;
            continue;
        }
        if (fates_since_checkpoint_ > 0) (void)checkpoint_locked();
        dirty_ = false;
        urgent_ = false;
        const std::uint64_t covered = journal_bytes_;
        // fsync outside the lock: decisions and dispatches go on while the
        // disk catches up, and share the next fsync.
        lock.unlock();
        const bool ok = sync_fd(results_fd_) && sync_fd(journal_fd_);
        const sys::error_code ec = ok ? sys::error_code{} : last_error();
        lock.lock();
        if (!ok && !sync_error_) sync_error_ = ec;
        if (ok && covered > durable_) durable_ = covered;
        if (listener_) {
            const auto listener = listener_;
            const std::uint64_t durable = durable_;
            const sys::error_code error = sync_error_;
            lock.unlock();
            listener(durable, error);
            lock.lock();
        }
    }
}

}  // namespace salvo::engine
