#include "ledger_format.hpp"

#include <salvo/merge/escape.hpp>

#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace salvo::engine {

using namespace detail;

namespace {

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

}  // namespace

ledger_io& detail::system_ledger_io() {
    static ledger_io instance;
    return instance;
}

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
    // Written once a row, by the recorder: bounded first, then written with
    // raw stores into one grow of `out` (no capacity check a piece, no
    // temporary strings for the numbers).
    const std::string_view status = to_string(o.status);
    // The keys, quotes and punctuation are 106 bytes with every key present,
    // the numbers at most 20 + 20 + 10 digits: 192 covers them.
    const std::size_t bound = 192 + status.size() +
                              merge::max_escaped_growth * (o.email.size() + o.code.size() +
                                                           o.error.size() + o.message_id.size());
    const auto write = [&](char* p) {
        const auto put = [&p](std::string_view s) {
            std::memcpy(p, s.data(), s.size());
            p += s.size();
        };
        const auto number = [&p](std::uint64_t v) { p = std::to_chars(p, p + 20, v).ptr; };
        const auto string = [&](std::string_view key, std::string_view value) {
            put(key);
            p = merge::write_json_escaped(p, value);
            *p++ = '"';
        };
        put("{\"row\":");
        number(o.row);
        put(",\"line\":");
        number(o.line);
        string(",\"email\":\"", o.email);
        put(",\"status\":\"");
        put(status);  // a fixed word: nothing to escape
        *p++ = '"';
        if (!o.code.empty()) string(",\"code\":\"", o.code);
        if (!o.error.empty()) string(",\"error\":\"", o.error);
        if (o.attempts > 0) {
            put(",\"attempts\":");
            number(o.attempts);
        }
        if (!o.message_id.empty()) string(",\"message_id\":\"", o.message_id);
        if (o.ambiguous) put(",\"ambiguous\":true");
        put("}\n");
        return p;
    };
    merge::append_written(out, bound, write);
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

ledger::~ledger() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    if (opened_) {  // never on open()'s error paths: a refused journal is not ours
        std::lock_guard lock(mutex_);
        (void)sync_locked();
    }
}

sys::error_code ledger::write_journal_locked(const std::string& records) {
    if (sync_error_) return sync_error_;  // a failed background fsync stops the ledger
    if (!write_all(journal_fd_.get(), records)) return last_error();
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

namespace {

// Builds the A records of a run of accepted outcomes: one record per run of
// equal `attempts`, its rows and, after `~`, those of them marked ambiguous.
class accepted_records {
  public:
    void add(const row_outcome& o) {
        if (!rows_.empty() && o.attempts != attempts_) flush();
        attempts_ = o.attempts;
        rows_.push_back(o.row);
        if (o.ambiguous) ambiguous_.push_back(o.row);
    }
    void flush() {
        if (rows_.empty()) return;
        payload_ = "A " + std::to_string(attempts_);
        append_rows(payload_, rows_);
        if (!ambiguous_.empty()) {
            payload_ += " ~";
            append_rows(payload_, ambiguous_);
        }
        frame(*out_, payload_);
        rows_.clear();
        ambiguous_.clear();
    }
    explicit accepted_records(std::string& out) : out_(&out) {}

  private:
    std::string* out_;
    std::string payload_;
    std::vector<std::uint64_t> rows_, ambiguous_;
    std::uint32_t attempts_ = 0;
};

}  // namespace

sys::error_code ledger::decide(std::span<const row_outcome> outcomes) {
    std::lock_guard lock(mutex_);
    scratch_.clear();
    scratch_results_.clear();
    accepted_records accepted(scratch_);
    std::string line;
    for (const auto& o : outcomes) {
        if (!decided_.set(o.row)) {
            ++duplicate_decisions_;
            continue;
        }
        if (is_notable(o.status, o.ambiguous))
            notable_.push_back(notable_entry(o.row, o.status, o.ambiguous));
        ++counts_[static_cast<std::size_t>(o.status)];
        if (o.ambiguous) ++ambiguous_;
        const std::size_t at = scratch_results_.size();
        append_results_line(scratch_results_, o);
        if (o.status == fate::accepted && o.code.empty() && o.error.empty()) {
            // The line is in the results file; the journal needs only the
            // row, its attempts and whether it was ambiguous.
            accepted.add(o);
            continue;
        }
        accepted.flush();  // keep the journal in decision order
        line.assign("F ");
        line.append(scratch_results_, at, scratch_results_.size() - at - 1);
        frame(scratch_, line);
    }
    accepted.flush();
    if (scratch_.empty()) return {};
    if (sync_error_) return sync_error_;
    // The results first: a fate record never exists without its line before
    // it (recovery finds the line of every record a checkpoint covers).
    if (!write_all(results_fd_.get(), scratch_results_)) return last_error();
    results_bytes_ += scratch_results_.size();
    fates_since_checkpoint_ += outcomes.size();
    return write_journal_locked(scratch_);
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
        decided_.reset(row);
        if (row < state.decided.size()) state.decided[row] = false;
    });
    if (auto ec = rebuild_results_locked(reopened)) return ec;
    if (auto ec = sync_locked()) return ec;
    state.counts = counts_;
    state.ambiguous = ambiguous_;
    state.finished = false;
    state.reopened = reopened.size();
    return doubt;
}

sys::error_code ledger::rebuild_results_locked(std::span<const std::uint64_t> drop) {
    // The journal first: the new results file must never be on disk while
    // the R records that explain it are not.
    if (!sync_fd(journal_fd_.get())) return last_error();
    std::filesystem::path next = options_.results;
    next += ".rebuild";
    const unique_fd out(::open(next.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out) return last_error();
    // Every line but those of the dropped rows (sorted), in file order.
    std::string buffer;
    std::uint64_t size = 0;
    bool ok = true;
    line_scan lines;
    const bool read =
        for_each_line(results_fd_.get(), 0, lines, [&](std::string_view line, std::uint64_t) {
            if (std::binary_search(drop.begin(), drop.end(), read_fate(line).row)) return true;
            buffer.append(line);
            buffer.push_back('\n');
            if (buffer.size() >= (1u << 20)) {
                ok = write_all(out.get(), buffer);
                size += buffer.size();
                buffer.clear();
            }
            return ok;
        });
    if (ok && read) {
        buffer += lines.tail;  // a torn last line stays as it was
        ok = write_all(out.get(), buffer);
        size += buffer.size();
    }
    if (!ok || !read || !sync_fd(out.get())) return last_error();
    // Rename into place, then make the rename itself durable.
    if (::rename(next.c_str(), options_.results.c_str()) != 0) return last_error();
    const auto dir = options_.results.has_parent_path() ? options_.results.parent_path()
                                                        : std::filesystem::path(".");
    if (const unique_fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); d)
        (void)::fsync(d.get());
    const unique_fd fd(::open(options_.results.c_str(), O_RDWR | O_CLOEXEC));
    if (!fd || ::lseek(fd.get(), 0, SEEK_END) < 0) return last_error();
    // The same descriptor number from here on: the syncer may be fsyncing it.
    if (::dup2(fd.get(), results_fd_.get()) < 0) return last_error();
    results_bytes_ = size;
    ++results_generation_;  // a checkpoint measured on the old file is void
    return {};
}

sys::error_code ledger::checkpoint_locked(std::uint64_t results, std::uint64_t journal) {
    fates_since_checkpoint_ = 0;
    std::string rec;
    frame(rec, "C " + std::to_string(results) + " " + std::to_string(journal));
    return write_journal_locked(rec);
}

sys::error_code ledger::finish() {
    std::lock_guard lock(mutex_);
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
    // Results, then the checkpoint that vouches for them, then the journal.
    const std::uint64_t results = results_bytes_, journal = journal_bytes_;
    if (!sync_fd(results_fd_.get())) return last_error();
    if (auto ec = checkpoint_locked(results, journal)) return ec;
    if (!sync_fd(journal_fd_.get())) return last_error();
    dirty_ = false;
    durable_ = journal_bytes_;
    return {};
}

void ledger::sync_loop() {
    std::unique_lock lock(mutex_);
    auto next_checkpoint = std::chrono::steady_clock::now() + options_.sync_interval;
    while (!stopping_) {
        // A dispatch record waiting for the disk is synced at once (the
        // requests behind it are held back until then): the journal alone,
        // one fsync. Every sync_interval the results file is synced too and
        // a checkpoint written for it.
        if (!urgent_) wake_.wait_until(lock, next_checkpoint);
        if (stopping_) break;
        const auto now = std::chrono::steady_clock::now();
        const bool periodic = now >= next_checkpoint;
        if (periodic) {
            next_checkpoint = now + options_.sync_interval;
            if (fates_since_checkpoint_ > 0 && !sync_error_) {
                // The checkpoint says: every record before `journal` has its
                // results line within the first `results` bytes, on disk. So
                // it is written only after the results file's fsync, with
                // what was measured before it.
                const std::uint64_t results = results_bytes_, journal = journal_bytes_;
                const std::uint64_t generation = results_generation_;
                lock.unlock();
                const bool ok = sync_fd(results_fd_.get());
                const sys::error_code ec = ok ? sys::error_code{} : last_error();
                lock.lock();
                if (!ok && !sync_error_) sync_error_ = ec;
                if (ok && generation == results_generation_)
                    (void)checkpoint_locked(results, journal);
            }
        }
        if (!dirty_ || !(urgent_ || periodic)) {
            urgent_ = false;
            continue;
        }
        dirty_ = false;
        urgent_ = false;
        const std::uint64_t covered = journal_bytes_;
        // fsync outside the lock: decisions and dispatches go on while the
        // disk catches up, and share the next fsync.
        lock.unlock();
        const bool ok = sync_fd(journal_fd_.get());
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
