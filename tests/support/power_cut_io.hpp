#pragma once
// A ledger_io that models a power cut, as leveldb's fault-injection
// environment (db/fault_injection_test.cc) does: it remembers, per file,
// how many bytes the last successful fsync covered. cut() makes every later
// write and fsync fail (the machine is gone; nothing more reaches the
// disk), and power_off() then truncates every file it has seen to what was
// synced, dropping what lived only in the page cache. cut_at_sync(n) cuts
// at the n-th fsync call instead (that call fails), for seeded moments.
//
// Thread-safe: the ledger writes from several threads and syncs from its
// own. What was synced is kept per file (device and inode), and power_off()
// looks at every path a file was seen under (from /proc/self/fd): a rebuilt
// results file, synced under its temporary name and renamed into place,
// keeps what it synced, and the file it replaced is gone.

#include <salvo/engine/outcome.hpp>

#include <sys/stat.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <utility>

namespace salvo::test {

class power_cut_io final : public engine::ledger_io {
  public:
    bool write(int fd, std::string_view data) override {
        {
            std::lock_guard lock(mutex_);
            if (cut_) {
                errno = EIO;
                return false;
            }
            see(fd);
        }
        return engine::ledger_io::write(fd, data);
    }

    int sync(int fd) override {
        std::lock_guard lock(mutex_);
        if (!cut_ && cut_at_ != 0 && ++syncs_ >= cut_at_) cut_ = true;
        if (cut_) {
            errno = EIO;
            return -1;
        }
        see(fd);
        // What the fsync is sure to cover is what was written before it
        // began: a write another thread makes while it runs may miss it, so
        // the size is taken first (taking it after would count such a
        // write as synced, and hide a record that was not).
        struct stat st {};
        const bool sized = ::fstat(fd, &st) == 0;
        if (engine::ledger_io::sync(fd) != 0) return -1;
        if (sized) synced_[key_of(st)] = static_cast<std::uintmax_t>(st.st_size);
        return 0;
    }

    /// The power goes now.
    void cut() {
        std::lock_guard lock(mutex_);
        cut_ = true;
    }
    /// The power goes at the n-th fsync from now on (n >= 1).
    void cut_at_sync(unsigned n) {
        std::lock_guard lock(mutex_);
        cut_at_ = n;
        syncs_ = 0;
    }
    [[nodiscard]] bool is_cut() const {
        std::lock_guard lock(mutex_);
        return cut_;
    }

    /// After the writers are gone: every file back to what was fsynced.
    void power_off() {
        std::lock_guard lock(mutex_);
        for_each_unsynced([](const std::string& path, std::uintmax_t synced, std::uintmax_t) {
            std::error_code ec;
            std::filesystem::resize_file(path, synced, ec);
        });
    }

    /// As power_off(), but the disk had already written back part of what
    /// was not fsynced, file by file: each keeps its synced bytes and a
    /// seeded share of the rest, cut at any byte (a torn write). Which file
    /// kept more is independent of the order the program wrote them in.
    void power_off_torn(std::uint32_t seed) {
        std::lock_guard lock(mutex_);
        std::mt19937 rng(seed);
        for_each_unsynced([&](const std::string& path, std::uintmax_t synced, std::uintmax_t now) {
            const std::uintmax_t kept =
                std::uniform_int_distribution<std::uintmax_t>(0, now - synced)(rng);
            std::error_code ec;
            std::filesystem::resize_file(path, synced + kept, ec);
        });
    }

  private:
    static std::string path_of(int fd) {
        std::error_code ec;
        return std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
    }
    using file_key = std::pair<dev_t, ino_t>;
    static file_key key_of(const struct stat& st) { return {st.st_dev, st.st_ino}; }

    // A file seen for the first time was on disk as it is (an earlier run's
    // power_off() left it so, or it is new and empty).
    void see(int fd) {
        paths_.insert(path_of(fd));
        struct stat st {};
        if (::fstat(fd, &st) != 0) return;
        synced_.emplace(key_of(st), static_cast<std::uintmax_t>(st.st_size));
    }

    // f(path, synced, size) for each file, under a path it was seen at,
    // that holds more than was synced.
    template <class F>
    void for_each_unsynced(F&& f) const {
        for (const auto& path : paths_) {
            struct stat st {};
            if (::stat(path.c_str(), &st) != 0) continue;  // renamed over, or removed
            const auto it = synced_.find(key_of(st));
            const auto size = static_cast<std::uintmax_t>(st.st_size);
            if (it != synced_.end() && size > it->second) f(path, it->second, size);
        }
    }

    mutable std::mutex mutex_;
    std::map<file_key, std::uintmax_t> synced_;
    std::set<std::string> paths_;
    bool cut_ = false;
    unsigned cut_at_ = 0, syncs_ = 0;
};

}  // namespace salvo::test
