#pragma once
// Helpers for the source tests: a temp directory with real files, and a
// reader that drains a source into plain values.

#include <salvo/engine/source.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace salvo::engine::test {

/// A fresh directory under the system temp dir, removed at the end.
class temp_dir {
  public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "salvo-src-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    /// Writes `bytes` to `name` inside the directory; returns the full path.
    std::string write(const std::string& name, std::string_view bytes) const {
        std::string p = (path_ / name).string();
        std::ofstream out(p, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        return p;
    }
    [[nodiscard]] std::string path(const std::string& name) const {
        return (path_ / name).string();
    }

  private:
    std::filesystem::path path_;
};

struct plain_row {
    std::uint64_t row = 0;
    std::uint64_t line = 0;
    errc error{};
    std::string message;
    std::vector<std::optional<std::string>> values;  // nullopt: absent

    [[nodiscard]] bool valid() const { return error == errc{}; }
    /// The value of column `i`, "<absent>" when absent.
    [[nodiscard]] std::string at(std::size_t i) const {
        return i < values.size() && values[i] ? *values[i] : std::string("<absent>");
    }
};

struct drained {
    std::vector<field> fields;
    std::vector<plain_row> rows;
    std::size_t max_chunk_memory = 0;
    std::size_t chunks = 0;
};

/// Pulls every chunk of `src` (reusing one chunk, as a pipeline would recycle
/// them) and copies the rows out.
inline drained drain(recipient_source& src) {
    drained d;
    d.fields = src.fields();
    chunk c;
    for (;;) {
        auto more = src.next_chunk(c);
        if (!more) {
            ADD_FAILURE() << "job error while reading: " << more.error().message;
            break;
        }
        d.max_chunk_memory = std::max(d.max_chunk_memory, c.memory_bytes());
        for (std::size_t i = 0; i < c.size(); ++i) {
            plain_row r;
            r.row = c.info(i).row;
            r.line = c.info(i).line;
            r.error = c.info(i).error;
            r.message = std::string(c.info(i).message);
            for (std::string_view v : c.values(i)) {
                if (merge::is_absent(v)) {
                    r.values.emplace_back(std::nullopt);
                } else {
                    r.values.emplace_back(std::string(v));
                }
            }
            d.rows.push_back(std::move(r));
        }
        if (!c.empty()) ++d.chunks;
        if (!*more) break;
    }
    return d;
}

/// Opens `path` and drains it; a job error fails the test.
inline drained read_all(const std::string& path, const source_options& o = {}) {
    auto src = open_source(path, o);
    if (!src) {
        ADD_FAILURE() << "open failed: " << src.error().message;
        return {};
    }
    return drain(**src);
}

}  // namespace salvo::engine::test
