// ledger::open(): a new job's files, or the recovery of an interrupted one.
//
// The journal is read record by record. A checkpoint `C <results> <journal>`
// vouches that every record before journal offset <journal> has its results
// line within the first <results> bytes of the results file, on disk. The
// records after that offset (the tail) are checked against the results
// lines after <results>: a fate whose line is there stands; an F record
// whose line is missing gets it back (the record holds the whole line); an
// accepted row of an A record whose line is missing is undecided again and,
// having been dispatched, in doubt, and an L record says so to every later
// recovery. A line with no record (the process died between the two
// writes) decides its row.
#include "ledger_format.hpp"

#include <simdjson.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <deque>
#include <map>
#include <unordered_map>

namespace salvo::engine {

using namespace detail;

namespace {

namespace sys = boost::system;

struct tail_record {
    std::uint64_t offset = 0;
    char type = 0;     // 'A' or 'F'
    std::string body;  // the payload after "X "
};

// What the journal says, record by record.
struct journal_scan {
    std::uint64_t checkpoint_results = 0;  // the last checkpoint's results bytes
    std::uint64_t checkpoint_journal = 0;  // and its journal offset
    bool rebuild = false;                  // an R record without a checkpoint after it
    bool finished = false;
    std::vector<bool> dispatched, decided;
    std::vector<std::uint64_t> notable;  // as ledger::notable_
    std::array<std::uint64_t, fate_count> counts{};
    std::uint64_t ambiguous = 0;
    std::deque<tail_record> tail;            // A and F records past the checkpoint
    std::vector<std::uint64_t> reopen_rows;  // rows of R records since the last C

    void decide(std::uint64_t row, fate f, bool amb) {
        mark(decided, row);
        if (is_notable(f, amb)) notable.push_back(notable_entry(row, f, amb));
        ++counts[static_cast<std::size_t>(f)];
        if (amb) ++ambiguous;
    }
    void undecide(std::uint64_t row, fate f, bool amb) {
        decided[row] = false;
        --counts[static_cast<std::size_t>(f)];
        if (amb) {
            --ambiguous;
            const std::uint64_t entry = notable_entry(row, f, amb);
            notable.erase(std::remove(notable.begin(), notable.end(), entry), notable.end());
        }
    }

    // A <attempts> <rows> [~ <ambiguous rows>]: calls f(row, ambiguous).
    template <class F>
    static void for_each_accepted(std::string_view body, F&& f) {
        const std::size_t sp = body.find(' ');
        if (sp == std::string_view::npos) return;
        const std::string_view rows = body.substr(sp + 1);
        std::vector<std::uint64_t> amb;
        const std::size_t tilde = rows.find('~');
        if (tilde != std::string_view::npos)
            for_each_row(rows.substr(tilde + 1), [&](std::uint64_t r) { amb.push_back(r); });
        std::sort(amb.begin(), amb.end());
        for_each_row(rows.substr(0, tilde == std::string_view::npos ? rows.size() : tilde),
                     [&](std::uint64_t r) { f(r, std::binary_search(amb.begin(), amb.end(), r)); });
    }

    // Applies one record (not the header). False when the record is damaged.
    bool apply(char type, std::string_view body, std::uint64_t offset) {
        switch (type) {
            case 'D': {
                // D <request> <attempt> <rows>
                const std::size_t a = body.find(' ');
                const std::size_t b = a == std::string_view::npos ? a : body.find(' ', a + 1);
                if (b != std::string_view::npos)
                    for_each_row(body.substr(b + 1), [&](std::uint64_t r) { mark(dispatched, r); });
                return true;
            }
            case 'U':
                for_each_row(body, [&](std::uint64_t r) {
                    if (r < dispatched.size()) dispatched[r] = false;
                });
                return true;
            case 'F': {
                const fate_record r = read_fate(body);
                if (r.row == 0 || !r.status) return false;
                if (is_set(decided, r.row)) return true;  // never two lines for a row
                decide(r.row, *r.status, r.ambiguous);
                tail.push_back({offset, 'F', std::string(body)});
                return true;
            }
            case 'A':
                for_each_accepted(body, [&](std::uint64_t row, bool amb) {
                    if (!is_set(decided, row)) decide(row, fate::accepted, amb);
                });
                tail.push_back({offset, 'A', std::string(body)});
                return true;
            case 'L': {
                // L <rows> [~ <rows>]: a recovery found these rows' A record
                // without their lines (after `~`, those it marked
                // ambiguous): undecided again and in doubt, though a later
                // checkpoint covers the A record.
                const std::size_t tilde = body.find('~');
                std::vector<std::uint64_t> amb;
                if (tilde != std::string_view::npos)
                    for_each_row(body.substr(tilde + 1),
                                 [&](std::uint64_t r) { amb.push_back(r); });
                std::sort(amb.begin(), amb.end());
                for_each_row(body.substr(0, tilde), [&](std::uint64_t row) {
                    if (is_set(decided, row))
                        undecide(row, fate::accepted,
                                 std::binary_search(amb.begin(), amb.end(), row));
                    mark(dispatched, row);
                });
                return true;
            }
            case 'R': {
                // Reopened: the row is undecided again. One that may have
                // been delivered (unknown, or ambiguous) stays in doubt.
                std::vector<std::uint64_t> reopened;
                for_each_row(body, [&](std::uint64_t row) { reopened.push_back(row); });
                std::sort(reopened.begin(), reopened.end());
                take_notable(notable, reopened, [&](std::uint64_t row, std::uint8_t code) {
                    --counts[static_cast<std::size_t>(code_fate(code))];
                    if (code & ambiguous_bit) --ambiguous;
                    decided[row] = false;
                    if (code_fate(code) == fate::unknown || (code & ambiguous_bit))
                        mark(dispatched, row);
                    else if (row < dispatched.size())
                        dispatched[row] = false;
                });
                reopen_rows.insert(reopen_rows.end(), reopened.begin(), reopened.end());
                rebuild = true;
                finished = false;
                return true;
            }
            case 'C': {
                // C <results bytes> [<journal offset>]; journals before the
                // offset existed wrote each F record before its line, so the
                // record itself is the boundary.
                const std::size_t sp = body.find(' ');
                checkpoint_results = parse_u64(body.substr(0, sp));
                checkpoint_journal =
                    sp == std::string_view::npos ? offset : parse_u64(body.substr(sp + 1));
                while (!tail.empty() && tail.front().offset < checkpoint_journal) tail.pop_front();
                reopen_rows.clear();
                rebuild = false;
                return true;
            }
            case 'E':
                finished = true;
                return true;
            default:
                return false;
        }
    }
};

// Reads the results file from `from`: the fate of every whole line, and
// where the last whole, readable line ends.
struct results_tail {
    struct line {
        fate_record fate;
        std::string text;  // without its newline
    };
    std::unordered_map<std::uint64_t, line> lines;
    std::uint64_t good_end = 0;
};

bool read_results_tail(int fd, std::uint64_t from, results_tail& out) {
    line_scan scan;
    const bool ok = for_each_line(fd, from, scan, [&](std::string_view text, std::uint64_t) {
        const fate_record r = read_fate(text);
        if (r.row == 0 || !r.status) return false;  // torn or garbage: the file ends here
        out.lines.emplace(r.row, results_tail::line{r, std::string(text)});
        return true;
    });
    out.good_end = scan.end;
    return ok;
}

// The fingerprint a header holds (to_json's object of strings), read as the
// JSON it is: a value holding a quote or a backslash reads back whole.
job_fingerprint parse_header(std::string_view body) {
    job_fingerprint old;
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (parser.parse(simdjson::padded_string(body)).get(obj) != simdjson::SUCCESS) return old;
    for (const auto field : obj) {
        std::string_view value;
        if (field.value.get_string().get(value) == simdjson::SUCCESS)
            old.parts[std::string(field.key)] = std::string(value);
    }
    return old;
}

}  // namespace

sys::result<std::unique_ptr<ledger>> ledger::open(const ledger_options& options,
                                                  const job_fingerprint& fingerprint,
                                                  ledger_state& state) {
    std::unique_ptr<ledger> l(new ledger());
    l->options_ = options;
    l->io_ = options.io != nullptr ? options.io : &system_ledger_io();
    state = ledger_state{};
    const std::string header = "H " + fingerprint.to_json();

    // Recipient data is personal data: neither file is for other users.
    l->journal_fd_.reset(::open(options.journal.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!l->journal_fd_) return last_error();
    l->results_fd_.reset(::open(options.results.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!l->results_fd_) return last_error();

    // Read the journal record by record; a bad record is only acceptable as
    // the torn end of the file.
    journal_scan scan;
    std::uint64_t good_end = 0;  // end of the last whole, valid record
    bool have_header = false, damaged = false;
    std::string recorded_header;  // the last H record
    sys::error_code failure;
    line_scan journal_lines;
    const bool read = for_each_line(
        l->journal_fd_.get(), 0, journal_lines, [&](std::string_view line, std::uint64_t at) {
            const auto payload = unframe(line);
            if (!payload || damaged) {
                // Only the torn end of the file may be bad.
                if (payload && damaged) {
                    failure = ledger_errc::corrupt_journal;
                    return false;
                }
                damaged = true;
                return true;
            }
            good_end = at + line.size() + 1;
            const char type = payload->empty() ? '?' : (*payload)[0];
            if (!have_header && type != 'H') {
                failure = ledger_errc::corrupt_journal;
                return false;
            }
            if (type == 'H') {
                // The first record; a later one is a change of server_id
                // made on a resume (below), and holds from there on.
                have_header = true;
                recorded_header.assign(payload->data(), payload->size());
                return true;
            }
            const std::string_view body =
                payload->size() > 2 ? payload->substr(2) : std::string_view{};
            if (!scan.apply(type, body, at)) {
                failure = ledger_errc::corrupt_journal;
                return false;
            }
            return true;
        });
    if (!read) return last_error();
    if (failure) return failure;

    // Another campaign's journal is refused, with the parts that differ.
    // One exception: only server_id changed (the fix after a 401), and no
    // row can have been accepted under the old one: nothing accepted or
    // unknown, no request without an outcome. The new header is appended,
    // so the journal says from where on the new server_id holds.
    bool new_server_id = false;
    if (have_header && recorded_header != header) {
        state.recorded =
            parse_header(std::string_view(recorded_header)
                             .substr(std::min<std::size_t>(2, recorded_header.size())));
        const auto differences = fingerprint.differences(state.recorded);
        for (const auto& d : differences) state.detail += (state.detail.empty() ? "" : ", ") + d;
        if (state.detail.empty()) state.detail = "fingerprint format";
        if (differences.size() != 1 || differences.front() != "server_id")
            return sys::error_code(ledger_errc::other_campaign);
        std::uint64_t unsettled = 0;  // dispatched, no outcome
        for (std::size_t row = 0; row < scan.dispatched.size(); ++row)
            if (scan.dispatched[row] && !is_set(scan.decided, row)) ++unsettled;
        state.counts = scan.counts;
        state.ambiguous = scan.ambiguous;
        state.unsettled = unsettled;
        if (scan.counts[static_cast<std::size_t>(fate::accepted)] != 0 ||
            scan.counts[static_cast<std::size_t>(fate::unknown)] != 0 || scan.ambiguous != 0 ||
            unsettled != 0)
            return sys::error_code(ledger_errc::other_campaign);
        new_server_id = true;
        state.server_id_was = state.recorded.parts["server_id"];
    }
    const std::uint64_t journal_size = journal_lines.end + journal_lines.tail.size();
    state.journal_bytes_dropped = journal_size - good_end;
    state.fresh = !have_header;
    state.finished = scan.finished;

    if (state.journal_bytes_dropped > 0 &&
        ::ftruncate(l->journal_fd_.get(), static_cast<off_t>(good_end)) != 0)
        return last_error();
    const off_t journal_end = ::lseek(l->journal_fd_.get(), 0, SEEK_END);
    if (journal_end < 0) return last_error();
    l->journal_bytes_ = static_cast<std::uint64_t>(journal_end);
    if (new_server_id) {
        std::string rec;
        frame(rec, header);
        if (auto ec = l->write_journal_locked(rec)) return ec;
    }

    struct stat st {};
    if (::fstat(l->results_fd_.get(), &st) != 0) return last_error();
    std::string lines;  // lines to append to the results file
    if (state.fresh) {
        // A new job: an old results file without a journal is not ours to keep.
        if (::ftruncate(l->results_fd_.get(), 0) != 0) return last_error();
        std::string rec;
        frame(rec, header);
        if (auto ec = l->write_journal_locked(rec)) return ec;
        l->results_bytes_ = 0;
    } else if (scan.rebuild && scan.tail.empty()) {
        // A reopen cut short after its R records: nothing was decided since
        // the checkpoint before them, and the results file in place is the
        // old one or its rebuild (renamed in before the power went), which
        // is shorter than that checkpoint says. The rebuild below makes it
        // the rebuild either way; offsets from the old file mean nothing in
        // it, so no line is read from there.
        l->results_bytes_ = static_cast<std::uint64_t>(st.st_size);
    } else {
        if (static_cast<std::uint64_t>(st.st_size) < scan.checkpoint_results)
            return sys::error_code(ledger_errc::results_mismatch);
        results_tail present;
        if (!read_results_tail(l->results_fd_.get(), scan.checkpoint_results, present))
            return last_error();
        if (::ftruncate(l->results_fd_.get(), static_cast<off_t>(present.good_end)) != 0)
            return last_error();
        l->results_bytes_ = present.good_end;
        // The records past the checkpoint, against the lines past it.
        std::vector<std::uint64_t> lost, lost_ambiguous;  // accepted rows without lines
        for (const auto& rec : scan.tail) {
            if (rec.type == 'F') {
                const std::uint64_t row = read_fate(rec.body).row;
                if (!present.lines.count(row) && is_set(scan.decided, row)) {
                    lines += rec.body;
                    lines += '\n';
                    present.lines.emplace(row, results_tail::line{read_fate(rec.body), {}});
                }
                continue;
            }
            journal_scan::for_each_accepted(rec.body, [&](std::uint64_t row, bool amb) {
                if (present.lines.count(row) || !is_set(scan.decided, row)) return;
                scan.undecide(row, fate::accepted, amb);  // no line: sent, not decided
                mark(scan.dispatched, row);
                lost.push_back(row);
                if (amb) lost_ambiguous.push_back(row);
            });
        }
        std::sort(scan.reopen_rows.begin(), scan.reopen_rows.end());
        std::string records;
        for (const auto& [row, line] : present.lines) {
            if (is_set(scan.decided, row) ||
                std::binary_search(scan.reopen_rows.begin(), scan.reopen_rows.end(), row))
                continue;
            // The line, without its record: it decides the row, and gets
            // its record now, before a checkpoint covers the line.
            scan.decide(row, *line.fate.status, line.fate.ambiguous);
            frame(records, "F " + line.text);
        }
        // The next checkpoint covers the A records whose lines are gone:
        // an L record, before it, keeps their rows undecided for every
        // later recovery (without it, a resume stopped before it re-sent
        // them left them counted accepted with no line).
        if (!lost.empty()) {
            std::sort(lost.begin(), lost.end());
            std::sort(lost_ambiguous.begin(), lost_ambiguous.end());
            std::string payload = "L";
            append_rows(payload, lost);
            if (!lost_ambiguous.empty()) {
                payload += " ~";
                append_rows(payload, lost_ambiguous);
            }
            frame(records, payload);
        }
        if (!records.empty())
            if (auto ec = l->write_journal_locked(records)) return ec;
    }
    if (::lseek(l->results_fd_.get(), 0, SEEK_END) < 0) return last_error();
    if (!lines.empty()) {
        if (!l->write_all(l->results_fd_.get(), lines)) return last_error();
        l->results_bytes_ += lines.size();
    }
    l->notable_ = std::move(scan.notable);
    if (scan.rebuild) {
        // A reopen was cut short: its rename may or may not have happened.
        std::lock_guard lock(l->mutex_);
        if (auto ec = l->rebuild_results_locked(scan.reopen_rows)) return ec;
    }

    state.decided = scan.decided;
    l->decided_ = detail::row_bits(scan.decided);
    for (std::size_t row = 0; row < scan.dispatched.size(); ++row)
        if (scan.dispatched[row] && !state.is_decided(row)) state.in_doubt.push_back(row);
    state.counts = scan.counts;
    state.ambiguous = scan.ambiguous;
    l->counts_ = state.counts;
    l->ambiguous_ = state.ambiguous;
    {
        std::lock_guard lock(l->mutex_);
        if (auto ec = l->sync_locked()) return ec;
    }
    l->opened_ = true;
    l->syncer_ = std::thread([p = l.get()] { p->sync_loop(); });
    return l;
}

}  // namespace salvo::engine
