#pragma once
// Shared by the fuzz targets: the input goes through a memfd, so the
// readers run their real file path (read(), the gzip sniff, iconv).

#include <salvo/engine/source.hpp>
#include <salvo/engine/validate.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace salvo::engine::fuzz {

/// Reads `data` with `options` under `name`, touching every value and
/// validating every row. Any crash, sanitizer report or broken invariant
/// aborts.
inline void read_through(const std::uint8_t* data, std::size_t size, const std::string& name,
                         const source_options& options) {
    int fd = ::memfd_create("salvo-fuzz", 0);
    if (fd < 0) std::abort();
    std::size_t off = 0;
    while (off < size) {
        ssize_t n = ::write(fd, data + off, size - off);
        if (n <= 0) std::abort();
        off += static_cast<std::size_t>(n);
    }
    ::lseek(fd, 0, SEEK_SET);
    auto src = open_fd(fd, true, name, options);
    if (!src) return;  // a job-level error is a fine answer
    auto v = validator::create((*src)->fields(), {}, nullptr, name);
    chunk c;
    std::uint64_t last_row = 0;
    std::string reason;
    for (;;) {
        auto more = (*src)->next_chunk(c);
        if (!more) return;
        for (std::size_t i = 0; i < c.size(); ++i) {
            const row_info& info = c.info(i);
            if (info.row != last_row + 1) std::abort();  // rows are numbered without gaps
            last_row = info.row;
            if (!info.valid() && info.message.empty()) std::abort();
            std::size_t total = 0;
            for (std::string_view value : c.values(i)) total += value.size();
            if (total > size * 4 + 64) std::abort();  // views stay inside the input
            if (v) (void)v->check(c, i, reason);
        }
        if (!*more) break;
    }
}

}  // namespace salvo::engine::fuzz
