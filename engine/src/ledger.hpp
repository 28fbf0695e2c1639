#pragma once
// Private to the engine: embedders see outcome.hpp through job.hpp.
/// The ledger: exactly one fate per recipient row, written so that a job
/// killed at any moment resumes where it stopped.
///
/// Two files. The *results* file is what users read: NDJSON, one line per
/// decided row. The *journal* is append-only and framed for recovery: every
/// record is one line `<crc32 as 8 hex> <payload>\n`, so a torn last record
/// is detected and cut off. Records:
///   H <json>                 header: format version and campaign fingerprint
///   D <req> <attempt> <rows> dispatch: these rows are about to be sent
///   U <rows>                 released: these dispatched rows were certainly
///                            not delivered (refused before or without sending)
///   A <attempts> <rows> [~ <rows>]  accepted: these rows' fates (after `~`,
///                            those marked ambiguous); their lines are in the
///                            results file only
///   F <results line>         any other fate: the exact results line
///   C <results> <journal>    checkpoint: every record before journal offset
///                            <journal> has its line within the first
///                            <results> bytes of the results file, on disk
///   E                        the job finished
///   R <rows>                 reopened (--retry-failed): these rows' fates are
///                            withdrawn and their lines leave the results file
///   L <rows> [~ <rows>]      lines lost: a recovery found these rows' A record
///                            but not their lines; undecided again, in doubt
/// A row list is numbers and runs `first-last`. A decision writes its
/// results lines first, then its records; a checkpoint is written only after
/// the results file's fsync, with the lengths measured before it. Recovery
/// trusts the records a checkpoint covers and checks the later ones against
/// the results lines after its length (see ledger_open.cpp): an accepted row
/// whose line did not reach the disk is undecided again and in doubt (an L
/// record says so before a checkpoint can cover its A record), an F
/// record's line is re-appended, a line without a record decides its row.
/// So a row's fate costs the journal a few bytes, not a second copy of its
/// line. A reopen writes R, syncs the journal, rebuilds the results file
/// without the reopened rows' lines beside it and renames it into place,
/// then checkpoints; an R without a checkpoint after it means the rename may
/// or may not have happened, and recovery takes the file in place as it is
/// and rebuilds again (the rebuild is idempotent). Durability against power
/// loss is group commit: a background thread fsyncs the journal as soon as a
/// dispatch record waits for it, and every `sync_interval` syncs the results
/// file and writes a checkpoint, so a decision costs latency, never one
/// fsync each. Dispatch records return a *ticket*, the journal
/// offset just past them; the listener set with on_durable() hears each
/// offset the syncer has made durable, so the caller can hold a request back
/// until its dispatch record is on disk (the transport's admission gate).

#include "row_bits.hpp"

#include <salvo/engine/outcome.hpp>

#include <boost/system/result.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace salvo::engine {

namespace detail {

// An owned file descriptor: closed when it goes, however the scope is left.
class unique_fd {
  public:
    unique_fd() = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        reset(std::exchange(other.fd_, -1));
        return *this;
    }
    ~unique_fd() { reset(); }
    [[nodiscard]] int get() const noexcept { return fd_; }
    [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

  private:
    int fd_ = -1;
};

}  // namespace detail

enum class ledger_errc {
    cannot_open = 1,   ///< a file could not be opened or created
    write_failed,      ///< write(2) or fsync(2) failed (disk full, I/O error)
    other_campaign,    ///< the journal belongs to another campaign
    corrupt_journal,   ///< a damaged record before the last one
    results_mismatch,  ///< the results file is shorter than the journal says
};
[[nodiscard]] const boost::system::error_category& ledger_category() noexcept;
[[nodiscard]] inline boost::system::error_code make_error_code(ledger_errc e) noexcept {
    return {static_cast<int>(e), ledger_category()};
}

/// D records of several requests, written by one ledger::dispatch() call
/// (one write(2)). Not thread-safe; reusable after clear().
class dispatch_batch {
  public:
    void add(std::uint64_t request, std::uint32_t attempt, std::span<const std::uint64_t> rows);
    [[nodiscard]] bool empty() const noexcept { return records_.empty(); }
    void clear() noexcept { records_.clear(); }

  private:
    friend class ledger;
    std::string records_;
};

struct ledger_options {
    std::filesystem::path journal;
    std::filesystem::path results;
    std::chrono::milliseconds sync_interval{5};
    /// The file operations; null: the system's. Borrowed: must outlive the
    /// ledger.
    ledger_io* io = nullptr;
};

/// The ledger of one job. Open it (which recovers), then record dispatches
/// and fates. Thread-safe: calls serialise on an internal mutex (they come
/// per request, not per row). Destruction syncs and closes both files.
class ledger {
  public:
    ledger(const ledger&) = delete;
    ledger& operator=(const ledger&) = delete;
    ~ledger();

    /// Opens or creates both files. With an existing journal: checks the
    /// fingerprint (ledger_errc::other_campaign, detail naming the parts),
    /// cuts a torn last record, truncates the results file to the last
    /// checkpoint and re-appends the fates recorded after it, and returns
    /// the state so the caller can skip decided rows and treat `in_doubt`
    /// rows as maybe delivered.
    [[nodiscard]] static boost::system::result<std::unique_ptr<ledger>> open(
        const ledger_options& options, const job_fingerprint& fingerprint, ledger_state& state);

    /// Records that `rows` are about to be sent as attempt `attempt` of
    /// request `request`. Must return before the request is handed over.
    [[nodiscard]] boost::system::error_code dispatch(std::uint64_t request, std::uint32_t attempt,
                                                     std::span<const std::uint64_t> rows);

    /// Writes the batch's dispatch records with one write. Returns the
    /// ticket: the journal offset just past them. The records are on disk
    /// once durable_position() (or the on_durable listener) reaches it; the
    /// syncer starts an fsync for them at once.
    [[nodiscard]] boost::system::result<std::uint64_t> dispatch(const dispatch_batch& batch);

    /// Journal bytes known to be on disk (every record before that offset).
    [[nodiscard]] std::uint64_t durable_position() const {
        std::lock_guard lock(mutex_);
        return durable_;
    }

    /// Called by the syncer thread after every fsync with the durable
    /// journal offset, or with the error when an fsync failed (the ledger
    /// then refuses every later write, and nothing more becomes durable).
    /// Set it before the first dispatch; it runs outside the ledger's lock
    /// and must not block.
    using durable_listener = std::function<void(std::uint64_t, boost::system::error_code)>;
    void on_durable(durable_listener listener);

    /// Records that dispatched `rows` certainly did not reach the server
    /// (a 401 answer, a refused connection at shutdown): a later run sends
    /// them as plain pending rows, not as maybe delivered.
    [[nodiscard]] boost::system::error_code release(std::span<const std::uint64_t> rows);

    /// Records decided rows: journal first, then results lines. A row that
    /// was already decided is ignored and counted in duplicate_decisions().
    [[nodiscard]] boost::system::error_code decide(std::span<const row_outcome> outcomes);

    /// For --retry-failed: withdraws the fates of every row whose status is
    /// `failed` or `unknown` so that the run decides them again, and takes
    /// their lines out of the results file (crash-safe: see the file
    /// comment). Updates `state` (decided rows, counts, `finished`,
    /// `reopened`). Returns the reopened rows that may have been delivered
    /// already (status `unknown`, or a line marked ambiguous): the caller
    /// re-sends those as ambiguous. With nothing to reopen, writes nothing.
    [[nodiscard]] boost::system::result<std::vector<std::uint64_t>> reopen_failed(
        ledger_state& state);

    /// Marks the job finished and syncs everything.
    [[nodiscard]] boost::system::error_code finish();

    /// Syncs both files now (results first, then the journal).
    [[nodiscard]] boost::system::error_code sync();

    /// Decided rows per fate (earlier runs included). Safe from any thread.
    [[nodiscard]] std::array<std::uint64_t, fate_count> counts() const {
        std::lock_guard lock(mutex_);
        return counts_;
    }
    [[nodiscard]] std::uint64_t ambiguous() const {
        std::lock_guard lock(mutex_);
        return ambiguous_;
    }
    [[nodiscard]] std::uint64_t duplicate_decisions() const {
        std::lock_guard lock(mutex_);
        return duplicate_decisions_;
    }

  private:
    ledger() = default;
    boost::system::error_code write_journal_locked(const std::string& records);
    boost::system::error_code checkpoint_locked(std::uint64_t results, std::uint64_t journal);
    boost::system::error_code sync_locked();
    boost::system::error_code rebuild_results_locked(std::span<const std::uint64_t> drop);
    void sync_loop();
    [[nodiscard]] bool write_all(int fd, std::string_view data);
    [[nodiscard]] bool sync_fd(int fd);

    detail::unique_fd journal_fd_;
    detail::unique_fd results_fd_;
    ledger_options options_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::thread syncer_;
    bool opened_ = false;  ///< open() succeeded: the files are ours to write
    bool stopping_ = false;
    bool dirty_ = false;
    bool urgent_ = false;              ///< a dispatch record waits for an fsync
    std::uint64_t journal_bytes_ = 0;  ///< journal length written
    std::uint64_t durable_ = 0;        ///< journal length known on disk
    durable_listener listener_;
    ledger_io* io_ = nullptr;
    std::uint64_t results_bytes_ = 0;
    std::size_t fates_since_checkpoint_ = 0;
    detail::row_bits decided_;
    /// Rows whose fate is failed or unknown or whose line is ambiguous, as
    /// `row << 8 | 1 + fate` (| 0x80 when ambiguous): what reopen_failed()
    /// needs, kept apart so that plain rows cost one bit.
    std::vector<std::uint64_t> notable_;
    std::uint64_t results_generation_ = 0;  ///< rebuilds of the results file
    std::array<std::uint64_t, fate_count> counts_{};
    std::uint64_t ambiguous_ = 0;
    std::uint64_t duplicate_decisions_ = 0;
    boost::system::error_code sync_error_;
    std::string scratch_, scratch_results_;
};

}  // namespace salvo::engine

template <>
struct boost::system::is_error_code_enum<salvo::engine::ledger_errc> : std::true_type {};
