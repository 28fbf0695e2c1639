#pragma once
/// "Did you mean …?" for a misspelt name: a key of the job file, a field of
/// a template, a column. Pure functions: safe from any thread.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::merge {

/// The edit distance between `a` and `b` (insertions, deletions,
/// substitutions, transpositions of neighbours), ASCII letters compared
/// without case.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The name in `names` nearest to `word` when it is near enough to be a typo
/// of it (at most a third of the word's length in edits, at least one);
/// nothing otherwise. An exact match (ignoring case) is returned too.
[[nodiscard]] std::optional<std::string> closest_name(std::string_view word,
                                                      const std::vector<std::string>& names);

}  // namespace salvo::merge
