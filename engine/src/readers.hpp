#pragma once
// What the file readers share: how they are made and how they word their
// messages. Private to engine/.

#include "input.hpp"

#include <salvo/engine/source.hpp>

#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <string>

namespace salvo::engine::detail {

/// Everything open_fd() learned before picking a reader: the byte stream,
/// the bytes already read from it (BOM removed), and the options.
struct reader_setup {
    std::unique_ptr<byte_input> in;
    std::string prefix;  // first bytes of the decoded input
    bool eof = false;    // the prefix is the whole input
    source_options options;
    std::string name;  // for messages
    bool tsv = false;  // the name ends in .tsv (or .tsv.gz)
    text_encoding encoding = text_encoding::utf8;
};

using source_result = boost::system::result<std::unique_ptr<recipient_source>, source_error>;

[[nodiscard]] source_result make_csv_source(reader_setup&& setup);
[[nodiscard]] source_result make_json_source(reader_setup&& setup, bool ndjson);

/// "people.csv: row 3, line 4: " + what
template <class... Args>
[[nodiscard]] std::string row_message(const std::string& name, std::uint64_t row,
                                      std::uint64_t line, fmt::format_string<Args...> what,
                                      Args&&... args) {
    std::string out = fmt::format("{}: row {}, line {}: ", name, row, line);
    fmt::format_to(std::back_inserter(out), what, std::forward<Args>(args)...);
    return out;
}

/// The fields of a reader: names as given, keys for templates.
[[nodiscard]] std::vector<field> make_fields(const std::vector<std::string>& names);

/// True when the first rows of `c` are mostly invalid UTF-8.
[[nodiscard]] bool mostly_bad_utf8(const chunk& c) noexcept;

}  // namespace salvo::engine::detail
