#include <salvo/merge/suggest.hpp>

#include <algorithm>
#include <cctype>

namespace salvo::merge {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Optimal string alignment: insertions, deletions, substitutions and
    // transpositions of neighbours (`cdoe` is one edit from `code`).
    const std::size_t w = b.size() + 1;
    std::vector<std::size_t> d((a.size() + 1) * w);
    const auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * w + j]; };
    const auto same = [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    };
    for (std::size_t i = 0; i <= a.size(); ++i) at(i, 0) = i;
    for (std::size_t j = 0; j <= b.size(); ++j) at(0, j) = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1,
                                 at(i - 1, j - 1) + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
            if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]))
                at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
        }
    return at(a.size(), b.size());
}

std::optional<std::string> closest_name(std::string_view word,
                                        const std::vector<std::string>& names) {
    std::optional<std::string> best;
    // Near enough to be a typo: a third of the word's length, at least one.
    std::size_t best_distance = std::max<std::size_t>(1, word.size() / 3) + 1;
    for (const auto& n : names) {
        const std::size_t d = edit_distance(word, n);
        if (d < best_distance) {
            best_distance = d;
            best = n;
        }
    }
    return best;
}

}  // namespace salvo::merge
