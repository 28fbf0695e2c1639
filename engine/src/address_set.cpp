// The exact dedupe set: 5-byte slots in memory (8-byte ones once the log
// passes 4 GiB), the addresses in a log on disk (see validate.hpp for the
// costs). Small jobs never touch the disk:
// the log is only written once its buffer fills.

#include <salvo/engine/validate.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>

// Header-only (XXH_INLINE_ALL): nothing to link, nothing for the installed
// package to find_dependency.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace salvo::engine {
namespace {

constexpr std::size_t buffer_limit = std::size_t{1} << 20;
constexpr std::size_t min_slots = 1024;
// Log records start on 4-byte boundaries, so a slot holds offset / 4 and
// its two bits more go to the tag.
constexpr std::size_t record_align = 4;

[[nodiscard]] constexpr std::size_t padded(std::size_t bytes) noexcept {
    return (bytes + record_align - 1) & ~(record_align - 1);
}

[[nodiscard]] std::size_t home(std::uint64_t h, std::size_t n) noexcept {
    // Lemire's multiply-shift: an index in [0, n) from the hash's high bits.
    __extension__ using u128 = unsigned __int128;
    return static_cast<std::size_t>((static_cast<u128>(h) * n) >> 64);
}

/// The slot table: zero-filled slots, each a hash tag above a log offset
/// over 4, plus one (0 is empty). Narrow slots are 5 bytes, a 10-bit tag
/// over a 30-bit offset, for a log of under 4 GiB (about 100 M addresses); wide
/// ones 8 bytes, a 24-bit tag over a 40-bit offset. A large table is its
/// own anonymous mapping, 2 MiB-aligned and marked MADV_HUGEPAGE: every
/// probe lands on a random slot, and with 4 KiB pages nearly every probe of
/// a 10 M-address table is also a TLB miss and a page walk. Debian's kernel
/// has transparent huge pages in "madvise" mode, so the advice is needed.
class slot_table {
  public:
    slot_table() = default;
    slot_table(const slot_table&) = delete;
    slot_table& operator=(const slot_table&) = delete;
    ~slot_table() { release(); }

    /// n zero slots, wide or narrow; the old ones are freed first. Throws
    /// std::bad_alloc.
    void reset(std::size_t n, bool wide) {
        release();
        wide_ = wide;
        offset_bits_ = wide ? 40 : 30;
        width_ = wide ? 8 : 5;
        // A narrow slot is read as 8 bytes: 3 bytes of slack after the last.
        const std::size_t bytes = n * width_ + 8;
        if (bytes < huge_from) {
            small_.assign((bytes + 7) / 8, 0);
            data_ = reinterpret_cast<unsigned char*>(small_.data());
            size_ = n;
            return;
        }
        const std::size_t length = (bytes + huge - 1) / huge * huge;
        // Over-map by one huge page and trim, so the table starts on a 2 MiB
        // boundary whatever address the kernel picks.
        void* raw = ::mmap(nullptr, length + huge, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw == MAP_FAILED) throw std::bad_alloc();
        auto* base = static_cast<char*>(raw);
        const auto addr = reinterpret_cast<std::uintptr_t>(base);
        char* aligned = base + ((huge - addr % huge) % huge);
        if (aligned > base) ::munmap(base, static_cast<std::size_t>(aligned - base));
        const std::size_t tail =
            static_cast<std::size_t>(base + length + huge - (aligned + length));
        if (tail > 0) ::munmap(aligned + length, tail);
        (void)::madvise(aligned, length, MADV_HUGEPAGE);  // advice only: 4 KiB pages still work
        data_ = reinterpret_cast<unsigned char*>(aligned);
        size_ = n;
        mapped_ = length;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool wide() const noexcept { return wide_; }
    [[nodiscard]] std::size_t bytes() const noexcept {
        return mapped_ != 0 ? mapped_ : small_.capacity() * sizeof(std::uint64_t);
    }
    [[nodiscard]] const void* address_of(std::size_t i) const noexcept {
        return data_ + width_ * i;
    }
    [[nodiscard]] std::uint64_t tag_of(std::uint64_t h) const noexcept {
        return h & (wide_ ? 0xFFFFFFu : 0x3FFu);
    }
    /// The slot for a hash and a log offset.
    [[nodiscard]] std::uint64_t make(std::uint64_t h, std::uint64_t offset) const noexcept {
        return (tag_of(h) << offset_bits_) | (offset / record_align + 1);
    }
    [[nodiscard]] std::uint64_t tag_in(std::uint64_t slot) const noexcept {
        return slot >> offset_bits_;
    }
    /// The log offset a full slot holds.
    [[nodiscard]] std::uint64_t offset_in(std::uint64_t slot) const noexcept {
        return ((slot & ((std::uint64_t{1} << offset_bits_) - 1)) - 1) * record_align;
    }
    [[nodiscard]] std::uint64_t get(std::size_t i) const noexcept {
        std::uint64_t v;
        std::memcpy(&v, data_ + width_ * i, sizeof v);
        return wide_ ? v : v & 0xFF'FFFF'FFFFu;
    }
    void set(std::size_t i, std::uint64_t slot) noexcept {
        if (wide_)
            std::memcpy(data_ + 8 * i, &slot, 8);
        else
            std::memcpy(data_ + 5 * i, &slot, 5);  // little-endian: the low 40 bits
    }

  private:
    static constexpr std::size_t huge = std::size_t{2} << 20;
    static constexpr std::size_t huge_from = std::size_t{4} << 20;

    void release() noexcept {
        if (mapped_ != 0) ::munmap(data_, mapped_);
        mapped_ = 0;
        small_.clear();
        small_.shrink_to_fit();
        data_ = nullptr;
        size_ = 0;
    }

    std::vector<std::uint64_t> small_;
    unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t mapped_ = 0;  // bytes of the huge-page mapping, 0 when small_
    std::size_t width_ = 5;
    unsigned offset_bits_ = 30;
    bool wide_ = false;
};

}  // namespace

struct address_set::impl {
    // A log record: the address's length (2 bytes, little-endian), the row
    // it came from (8 bytes, host order: the log never outlives the
    // process), the address, and zeros to the next 4-byte boundary.
    static constexpr std::size_t header = 2 + sizeof(std::uint64_t);

    std::string dir;
    int fd = -1;
    slot_table slots;
    std::uint64_t narrow_log_limit = 0;  // the log bytes narrow slots can serve
    std::size_t count = 0;
    std::uint64_t flushed = 0;  // log bytes in the file; the rest are in `pending`
    std::string pending;
    std::string scratch;

    // A tag match below `flushed` is confirmed with a pread of its record.
    // A read-only mapping of the log was faster on its own (52.6 against
    // 79.6 ns a row at 10 M addresses with 10 % repeats, sized), but every
    // page it touched stayed mapped, with the 64 KiB the kernel maps around
    // each fault, and counted in the process's resident size: a 10 M-row
    // send with 9 % repeats peaked at 562 MB against 210 MB without.

    ~impl() {
        if (fd >= 0) ::close(fd);
    }

    source_error io_error(const char* what) const {
        return {make_error_code(errc::read_failed),
                fmt::format("dedupe log in {}: {}: {}", dir, what, std::strerror(errno))};
    }

    boost::system::result<void, source_error> flush() {
        if (pending.empty()) return {};
        if (fd < 0) {
            fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
            if (fd < 0) {
                std::string tmpl = dir + "/salvo-dedupe-XXXXXX";
                fd = ::mkstemp(tmpl.data());
                if (fd < 0) return io_error("cannot create");
                ::unlink(tmpl.c_str());
            }
        }
        std::size_t off = 0;
        while (off < pending.size()) {
            ssize_t n = ::pwrite(fd, pending.data() + off, pending.size() - off,
                                 static_cast<off_t>(flushed + off));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return io_error("cannot write");
            off += static_cast<std::size_t>(n);
        }
        flushed += pending.size();
        pending.clear();
        return {};
    }

    /// True when the log record at `offset` holds exactly `s`; sets `row`
    /// to the row that record came from.
    boost::system::result<bool, source_error> equals(std::uint64_t offset, std::string_view s,
                                                     std::uint64_t& row) {
        const std::size_t want = header + s.size();
        const char* rec = nullptr;
        if (offset >= flushed) {
            rec = pending.data() + (offset - flushed);
        } else {
            scratch.resize(want);
            ssize_t n;
            do {
                n = ::pread(fd, scratch.data(), want, static_cast<off_t>(offset));
            } while (n < 0 && errno == EINTR);
            if (n < 0) return io_error("cannot read");
            if (static_cast<std::size_t>(n) < header) return false;
            scratch.resize(static_cast<std::size_t>(n));
            rec = scratch.data();
        }
        std::size_t len = static_cast<unsigned char>(rec[0]) |
                          (static_cast<std::size_t>(static_cast<unsigned char>(rec[1])) << 8);
        if (len != s.size() || (rec == scratch.data() && scratch.size() < want)) return false;
        if (std::memcmp(rec + header, s.data(), s.size()) != 0) return false;
        std::memcpy(&row, rec + 2, sizeof row);
        return true;
    }

    void place(std::uint64_t h, std::uint64_t offset) noexcept {
        std::size_t i = home(h, slots.size());
        while (slots.get(i) != 0) i = i + 1 == slots.size() ? 0 : i + 1;
        slots.set(i, slots.make(h, offset));
    }

    /// Wide slots once the next record could start past what narrow ones
    /// can address (the longest record is header + 65 535 bytes).
    [[nodiscard]] bool wants_wide() const noexcept {
        return slots.wide() || flushed + pending.size() + header + 0xFFFF >= narrow_log_limit;
    }

    /// Rebuilds the table with n slots, re-placing every address read back
    /// from the log (the slots keep no full hash).
    boost::system::result<void, source_error> rebuild(std::size_t n) {
        slots.reset(n, wants_wide());  // frees the old table before the new one exists
        auto f = flush();
        if (!f) return f.error();
        std::string block;
        std::uint64_t pos = 0;  // log offset of block[0]
        std::size_t used = 0;   // bytes of block consumed
        while (pos + used < flushed) {
            block.erase(0, used);
            pos += used;
            used = 0;
            std::size_t have = block.size();
            std::size_t want = static_cast<std::size_t>(
                std::min<std::uint64_t>(buffer_limit, flushed - pos - have));
            block.resize(have + want);
            ssize_t r;
            do {
                r = ::pread(fd, block.data() + have, want, static_cast<off_t>(pos + have));
            } while (r < 0 && errno == EINTR);
            if (r <= 0) return io_error("cannot read");
            block.resize(have + static_cast<std::size_t>(r));
            // A batch of records hashed and their home slots prefetched
            // before any is placed: each placement is a random access into
            // the new table, and one at a time each waits for memory.
            std::array<std::pair<std::uint64_t, std::uint64_t>, 32> regrow_batch;  // (hash, offset)
            std::size_t batched = 0;
            while (used + header <= block.size()) {
                std::size_t len =
                    static_cast<unsigned char>(block[used]) |
                    (static_cast<std::size_t>(static_cast<unsigned char>(block[used + 1])) << 8);
                if (used + padded(header + len) > block.size()) break;
                const std::uint64_t h =
                    address_set::hash_of(std::string_view(block.data() + used + header, len));
                __builtin_prefetch(slots.address_of(home(h, slots.size())));
                regrow_batch[batched++] = {h, pos + used};
                if (batched == regrow_batch.size()) {
                    for (const auto& [bh, offset] : regrow_batch) place(bh, offset);
                    batched = 0;
                }
                used += padded(header + len);
            }
            for (std::size_t k = 0; k < batched; ++k)
                place(regrow_batch[k].first, regrow_batch[k].second);
        }
        return {};
    }
};

address_set::address_set(std::string temp_dir, std::uint64_t narrow_log_bytes)
    : impl_(std::make_unique<impl>()) {
    // A narrow slot holds offset / 4 + 1 in 30 bits.
    impl_->narrow_log_limit = std::min<std::uint64_t>(narrow_log_bytes, 0xFFFF'FFF8u);
    impl_->slots.reset(min_slots, false);
    if (temp_dir.empty()) {
        const char* env = std::getenv("TMPDIR");
        temp_dir = env != nullptr && *env != '\0' ? env : "/tmp";
    }
    impl_->dir = std::move(temp_dir);
}

address_set::address_set(address_set&&) noexcept = default;
address_set& address_set::operator=(address_set&&) noexcept = default;
address_set::~address_set() = default;

std::size_t address_set::size() const noexcept {
    return impl_->count;
}

std::size_t address_set::memory_bytes() const noexcept {
    return impl_->slots.bytes() + impl_->pending.capacity() + impl_->scratch.capacity();
}

std::uint64_t address_set::hash_of(std::string_view s) noexcept {
    if (s.size() > 0xFFFF) s = s.substr(0, 0xFFFF);  // as insert_row() keeps it
    // Shards are cut by this value (validate.hpp): it must never change
    // between salvo versions, so not std::hash, whose value is the
    // library's to change.
    return XXH3_64bits(s.data(), s.size());
}

void address_set::prefetch(std::uint64_t h) const noexcept {
    __builtin_prefetch(impl_->slots.address_of(home(h, impl_->slots.size())));
}

void address_set::reserve(std::size_t addresses) {
    impl& m = *impl_;
    if (m.count != 0) return;
    // 75% full after `addresses` inserts. insert_row() grows only past 80%,
    // so an estimate a few percent short costs a few longer probes at the
    // end, not a rebuild (which would take the table to 1.5 × its size).
    const std::size_t n = std::max(min_slots, addresses / 3 * 4 + 8);
    if (n <= m.slots.size()) return;
    m.slots.reset(n, m.wants_wide());
}

boost::system::result<bool, source_error> address_set::insert(std::string_view canonical) {
    return insert(canonical, hash_of(canonical));
}

boost::system::result<bool, source_error> address_set::insert(std::string_view canonical,
                                                              std::uint64_t hash) {
    auto earlier = insert_row(canonical, 0, hash);
    if (!earlier) return earlier.error();
    return !earlier->has_value();
}

boost::system::result<std::optional<std::uint64_t>, source_error> address_set::insert_row(
    std::string_view s, std::uint64_t row) {
    return insert_row(s, row, hash_of(s));
}

boost::system::result<std::optional<std::uint64_t>, source_error> address_set::insert_row(
    std::string_view s, std::uint64_t row, std::uint64_t h) {
    impl& m = *impl_;
    if (s.size() > 0xFFFF) s = s.substr(0, 0xFFFF);  // check_address caps real ones far lower
    if ((m.count + 1) * 5 > m.slots.size() * 4) {
        auto g = m.rebuild(m.slots.size() + m.slots.size() / 2);  // grows by half, to 53%
        if (!g) return g.error();
    } else if (!m.slots.wide() && m.wants_wide()) {
        auto g = m.rebuild(m.slots.size());  // the same size, wide
        if (!g) return g.error();
    }
    const std::uint64_t tag = m.slots.tag_of(h);
    std::size_t i = home(h, m.slots.size());
    for (;;) {
        const std::uint64_t slot = m.slots.get(i);
        if (slot == 0) break;
        if (m.slots.tag_in(slot) == tag) {
            std::uint64_t earlier = 0;
            auto same = m.equals(m.slots.offset_in(slot), s, earlier);
            if (!same) return same.error();
            if (*same) return std::optional<std::uint64_t>(earlier);
        }
        i = i + 1 == m.slots.size() ? 0 : i + 1;
    }
    const std::size_t bytes = padded(impl::header + s.size());
    if (m.pending.size() + bytes > buffer_limit) {
        auto f = m.flush();
        if (!f) return f.error();
    }
    if (m.pending.size() + bytes > m.pending.capacity()) {
        // Grow by doubling, never past the flush limit (a small job stays small).
        m.pending.reserve(std::min(
            buffer_limit,
            std::max({std::size_t{4096}, 2 * m.pending.capacity(), m.pending.size() + bytes})));
    }
    const std::uint64_t offset = m.flushed + m.pending.size();
    m.pending += static_cast<char>(s.size() & 0xFF);
    m.pending += static_cast<char>(s.size() >> 8);
    m.pending.append(reinterpret_cast<const char*>(&row), sizeof row);
    m.pending.append(s);
    m.pending.append(bytes - impl::header - s.size(), '\0');
    m.slots.set(i, m.slots.make(h, offset));
    ++m.count;
    return std::optional<std::uint64_t>();
}

}  // namespace salvo::engine
